package lease

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s4/s4/internal/wake"
)

// Server is one member of the Raft configuration, as the leader lease
// counts it.
type Server struct {
	ID    string
	Voter bool
}

// Leader is the lease a Raft leader serves under (see the package doc): it
// holds while a majority of the voters, this node counted, acknowledged
// this node's term in answers to questions sent within the lease, timed
// from when each question was sent. In a new term it also waits for the
// hand-over, until no leader of an earlier term can still serve: every
// other server acknowledged the term (none leads in an earlier one any
// more), or the lease plus a margin passed since the last moment at which
// an earlier leader may have been acknowledged. That moment is bounded by
// the time of election (Begin), and also, once servers making up a
// majority of the voters acknowledged the new term, by the latest time any
// of them last answered a question in an earlier term (every majority an
// earlier leader's lease rests on includes one of them).
//
// Writers (Begin, Ack) are serialised; readers (Valid, Left, WaitHandover)
// read one immutable state through an atomic pointer.
type Leader struct {
	clock  Clock
	self   string
	length time.Duration // the auth lease
	margin time.Duration // added by whoever waits out another node's lease

	mu      sync.Mutex // serialises writers
	state   atomic.Pointer[leaderState]
	changed wake.Signal // fired by every change of state
}

type leaderState struct {
	term    uint64
	begin   Time // when this node first saw itself leading in term
	servers []Server
	// Per server that acknowledged term: the latest question it
	// acknowledged, by send time, and a time at or after its last answer
	// in an earlier term (this node's own too). Maps are never written
	// after the state is published.
	acks  map[string]Time
	older map[string]Time
	// Derived by publish.
	expiry     Time // the lease holds before it
	handedOver bool // every other server acknowledged term
	handBound  Time // the hand-over is done at this time at the latest
}

// NewLeader returns the leader lease of the node self, length long (the
// auth lease), whose hand-over waits length+margin at most.
func NewLeader(clock Clock, self string, length, margin time.Duration) *Leader {
	return &Leader{clock: clock, self: self, length: length, margin: margin}
}

// Begin records that this node leads in term with servers as the
// configuration; selfOlder is at or after the last time this node answered
// a question in an earlier term (Answers). The first call for a term
// starts its hand-over clock (call it only after this node was seen
// leading in term, so that the reading is later than the election); later
// calls for the same term update the configuration. Calls for an older
// term than the latest are ignored.
func (l *Leader) Begin(term uint64, servers []Server, selfOlder Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.state.Load()
	switch {
	case old != nil && term < old.term:
		return
	case old != nil && term == old.term:
		if slices.Equal(old.servers, servers) {
			return
		}
		next := *old
		next.servers = slices.Clone(servers)
		l.publish(&next)
		return
	}
	l.publish(&leaderState{term: term, begin: l.clock.Now(), servers: slices.Clone(servers),
		acks: map[string]Time{}, older: map[string]Time{l.self: selfOlder}})
}

// Ack records that server id acknowledged term in its answer to a question
// sent at sent (read before the question left), and that its last answer
// in an earlier term was at or before older (the answer's arrival minus
// the age the server reported).
func (l *Leader) Ack(term uint64, id string, sent, older Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.state.Load()
	if old == nil || old.term != term || id == l.self {
		return
	}
	prevSent, acked := old.acks[id]
	prevOlder := old.older[id]
	if acked && prevSent >= sent && prevOlder <= older {
		return
	}
	next := *old
	next.acks, next.older = maps.Clone(old.acks), maps.Clone(old.older)
	next.acks[id] = max(prevSent, sent)
	if acked {
		older = min(older, prevOlder) // each answer bounds it: keep the tightest
	}
	next.older[id] = older
	l.publish(&next)
}

// publish derives s's expiry and hand-over, stores s and wakes waiters.
// Called with mu held.
func (l *Leader) publish(s *leaderState) {
	// An unknown configuration (no servers yet) hands nothing over.
	s.expiry, s.handedOver = 0, len(s.servers) > 0
	s.handBound = s.begin.Add(l.length + l.margin)
	var voters, selfVotes, known int
	var acked []Time
	lastOlder := s.older[l.self]
	for _, srv := range s.servers {
		at, ok := s.acks[srv.ID]
		if srv.ID == l.self {
			ok = true
		} else if !ok {
			s.handedOver = false
		}
		if ok {
			lastOlder = max(lastOlder, s.older[srv.ID])
		}
		if !srv.Voter {
			continue
		}
		voters++
		switch {
		case srv.ID == l.self:
			selfVotes, known = 1, known+1
		case ok:
			known++
			acked = append(acked, at)
		}
	}
	need := voters/2 + 1 - selfVotes // acknowledgements besides this node's own
	switch {
	case voters == 0 || selfVotes == 0:
		// Not a voter of its own configuration (being removed): no lease.
	case need <= 0:
		s.expiry = never
	case len(acked) >= need:
		slices.Sort(acked)
		// The need-th latest: a majority acknowledged questions sent at or
		// after it.
		s.expiry = acked[len(acked)-need].Add(l.length)
	}
	if voters > 0 && known >= voters/2+1 {
		s.handBound = min(s.handBound, lastOlder.Add(l.length+l.margin))
	}
	l.state.Store(s)
	l.changed.Fire()
}

// Changed returns a channel closed by the next change (Begin, Ack).
func (l *Leader) Changed() <-chan struct{} { return l.changed.Next() }

// Valid reports whether this node may serve from its own state as the
// leader of term now: the lease holds and the hand-over is done.
func (l *Leader) Valid(term uint64) bool {
	s := l.state.Load()
	if s == nil || s.term != term {
		return false
	}
	now := l.clock.Now()
	return now < s.expiry && l.handedOver(s, now)
}

func (l *Leader) handedOver(s *leaderState, now Time) bool {
	return s.handedOver || now >= s.handBound
}

// Left is how long the lease of term still holds if it is valid now, at
// most its length; 0 otherwise. A follower's grant lasts no longer than
// this, on the follower's clock counted from before its question left.
func (l *Leader) Left(term uint64) time.Duration {
	left, _ := l.Grant(term)
	return left
}

// Grant is Left together with the time, on this node's clock, at which
// the lease it gives out ends: a grant given now holds until then at the
// latest (its follower counts left from before it asked).
func (l *Leader) Grant(term uint64) (left time.Duration, until Time) {
	s := l.state.Load()
	if s == nil || s.term != term {
		return 0, 0
	}
	now := l.clock.Now()
	if now >= s.expiry || !l.handedOver(s, now) {
		return 0, 0
	}
	left = l.length
	if s.expiry != never {
		left = min(s.expiry.Sub(now), l.length)
	}
	return left, now.Add(left)
}

// WaitHandover returns once no leader of a term before term can still
// serve (Leader), or when ctx ends. A term this node has not begun yet
// begins now, with no acknowledgements: the caller saw itself lead in it
// (a write it appended in term committed), and a later reading only makes
// the wait longer.
func (l *Leader) WaitHandover(ctx context.Context, term uint64) error {
	if s := l.state.Load(); s == nil || s.term < term {
		l.Begin(term, l.servers(), l.clock.Now())
	}
	for {
		changed := l.Changed()
		s := l.state.Load()
		now := l.clock.Now()
		if s.term > term || l.handedOver(s, now) {
			return nil
		}
		t := time.NewTimer(s.handBound.Sub(now))
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: the earlier leader's lease may still hold", ctx.Err())
		}
		t.Stop()
	}
}

func (l *Leader) servers() []Server {
	if s := l.state.Load(); s != nil {
		return s.servers
	}
	return nil
}

// Status describes the lease of term for messages and the admin API.
func (l *Leader) Status(term uint64) string {
	s := l.state.Load()
	if s == nil || s.term != term {
		return fmt.Sprintf("no leader lease in term %d yet", term)
	}
	now := l.clock.Now()
	switch {
	case s.expiry == 0:
		return fmt.Sprintf("no majority acknowledged term %d yet", term)
	case now >= s.expiry:
		return fmt.Sprintf("the leader lease ran out %v ago (no majority answered within %v)", now.Sub(s.expiry).Round(time.Millisecond), l.length)
	case !l.handedOver(s, now):
		return fmt.Sprintf("waiting %v more for an earlier leader's lease to run out", s.handBound.Sub(now).Round(time.Millisecond))
	}
	return "leader lease holds"
}
