package admin

import (
	"sync"
	"time"
)

// loginThrottle limits password guessing per username: once a name has
// maxFails failed logins within window, further logins for it are refused
// (429) without looking at the password until the oldest of those failures
// leaves the window (a sliding window). A successful login clears the name.
//
// The state is in memory and per node: it is not replicated through Raft and
// a restart forgets it, so across a cluster of n nodes a client can make up to
// n*maxFails guesses per window. Memory is bounded: at most maxNames names are
// tracked, each holding at most maxFails timestamps. When the table is full,
// names whose failures have all expired are dropped first, then the least
// recently attempted name. An attacker who makes more than maxNames distinct
// failed logins within a window can therefore push a name out early; each of
// those attempts costs an argon2 verification, which bounds the rate.
type loginThrottle struct {
	mu       sync.Mutex
	window   time.Duration
	maxFails int
	maxNames int
	names    map[string]*throttleEntry
}

type throttleEntry struct {
	fails    []time.Time // failures within the window, oldest first, len <= maxFails
	pending  int         // attempts admitted and not yet finished
	lastSeen time.Time
}

func newLoginThrottle(window time.Duration, maxFails, maxNames int) *loginThrottle {
	return &loginThrottle{
		window:   window,
		maxFails: maxFails,
		maxNames: maxNames,
		names:    make(map[string]*throttleEntry),
	}
}

// admit reports whether a login attempt for name may check the password. If
// not, retryAfter is how long until it may. An admitted attempt must be
// finished with done. Attempts in flight count as potential failures, so
// concurrent guesses cannot exceed the limit.
func (t *loginThrottle) admit(name string, now time.Time) (ok bool, retryAfter time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.names[name]
	if e == nil {
		if len(t.names) >= t.maxNames {
			t.evictLocked(now)
		}
		e = &throttleEntry{}
		t.names[name] = e
	}
	e.lastSeen = now
	e.prune(now, t.window)
	if len(e.fails)+e.pending >= t.maxFails {
		retryAfter = time.Second // only attempts in flight block: they end soon
		if len(e.fails) >= t.maxFails {
			retryAfter = e.fails[len(e.fails)-t.maxFails].Add(t.window).Sub(now)
		}
		return false, retryAfter
	}
	e.pending++
	return true, 0
}

// done records the outcome of an attempt that admit let through.
func (t *loginThrottle) done(name string, now time.Time, success bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.names[name]
	if e == nil { // evicted meanwhile
		if success {
			return
		}
		if len(t.names) >= t.maxNames {
			t.evictLocked(now)
		}
		e = &throttleEntry{lastSeen: now}
		t.names[name] = e
	} else if e.pending > 0 {
		e.pending--
	}
	if success {
		e.fails = nil
		if e.pending == 0 {
			delete(t.names, name)
		}
		return
	}
	e.prune(now, t.window)
	if len(e.fails) == t.maxFails {
		copy(e.fails, e.fails[1:])
		e.fails = e.fails[:t.maxFails-1]
	}
	e.fails = append(e.fails, now)
}

// cancel ends an admitted attempt that never checked the password.
func (t *loginThrottle) cancel(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.names[name]; e != nil && e.pending > 0 {
		e.pending--
	}
}

// evictLocked makes room for one more name.
func (t *loginThrottle) evictLocked(now time.Time) {
	for name, e := range t.names {
		e.prune(now, t.window)
		if len(e.fails) == 0 && e.pending == 0 {
			delete(t.names, name)
		}
	}
	for len(t.names) >= t.maxNames {
		var oldest string
		var oldestSeen time.Time
		first := true
		for name, e := range t.names {
			if first || e.lastSeen.Before(oldestSeen) {
				oldest, oldestSeen, first = name, e.lastSeen, false
			}
		}
		delete(t.names, oldest)
	}
}

// size is the number of tracked names (tests).
func (t *loginThrottle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.names)
}

func (e *throttleEntry) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(e.fails) && !now.Before(e.fails[i].Add(window)) {
		i++
	}
	if i > 0 {
		e.fails = append(e.fails[:0], e.fails[i:]...)
	}
}
