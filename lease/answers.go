package lease

import (
	"sync"
	"time"
)

// Answers remembers when this node answered status questions, by term. A
// node's answer in term T acknowledges the lease of T's leader; a new
// leader's hand-over needs, from a majority of the voters, a bound on when
// each last acknowledged an earlier term (Leader).
type Answers struct {
	clock Clock

	mu    sync.Mutex
	term  uint64 // the newest term answered in
	last  Time   // the latest answer in term
	older Time   // at or after the latest answer in an earlier term
}

// NewAnswers returns a record that starts now: whatever an earlier process
// on this data dir answered, it answered before.
func NewAnswers(clock Clock) *Answers {
	return &Answers{clock: clock, older: clock.Now()}
}

// Answer reads the term with read and records an answer in it now, both
// under one lock (so that no answer in an earlier term can be recorded
// after an answer in a later one that was read first); it returns the
// term and how long ago, on this node's clock, it last answered in an
// earlier term.
func (a *Answers) Answer(read func() uint64) (term uint64, olderAge time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	term = read()
	now := a.clock.Now()
	switch {
	case term > a.term:
		a.older = max(a.older, a.last)
		a.term, a.last = term, now
	case term == a.term:
		a.last = now
	default: // a term read under the lock never goes back; be safe anyway
		a.older = max(a.older, now)
	}
	return term, now.Sub(a.older)
}

// Older returns a time at or after this node's last answer in a term
// before term.
func (a *Answers) Older(term uint64) Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case term > a.term:
		return max(a.older, a.last)
	case term == a.term:
		return a.older
	}
	return a.clock.Now()
}
