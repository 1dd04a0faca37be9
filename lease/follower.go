package lease

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s4/s4/internal/wake"
)

// ErrExpired: the node holds no valid lease (or has not applied what its
// lease requires); it must not answer from its local state.
var ErrExpired = errors.New("auth lease expired")

// ErrInterrupted: Await gave up because its interrupt channel closed (the
// node became leader; it serves under its own lease now).
var ErrInterrupted = errors.New("lease: wait interrupted")

// Follower holds the lease grants a follower got from its leader's answers
// to its questions (see the package doc).
type Follower struct {
	clock  Clock
	length time.Duration
	term   func() uint64 // the node's current Raft term

	mu          sync.Mutex              // serialises Grant
	grants      atomic.Pointer[[]Grant] // the last MaxGrants, newest question first; immutable
	changed     wake.Signal             // fired by every grant and failed question
	lastFailure atomic.Pointer[string]  // why the last question failed (for messages)
}

// Grant is one lease: the leader answered, while serving, a question sent
// at Asked (the follower's clock, read before the question left). It holds
// before Until, at most the auth lease after Asked and never longer than
// the leader said its own lease still held, counted from Asked. A follower
// serves under it only once it applied Index, the leader's last applied
// IAM event when it answered, and only while its own Raft term is not past
// Term: a grant is a lease of the term that gave it. A node that has moved
// to a later term (it voted, or heard of a new leader) has acknowledged
// that term, and a new leader may take that acknowledgement for the end of
// the earlier term's leases (its hand-over) and of its grants (the
// revocation barrier counts only the grants it gave itself).
type Grant struct {
	Asked Time
	Until Time
	Term  uint64 // the leader's term
	Index uint64 // the leader's last applied IAM event: what must be applied first
	Read  uint64 // the leader's applied index when it answered: a read index
}

// MaxGrants is how many recent grants a follower keeps: each is a lease of
// its own, so while the FSM catches up with the newest grant's index (under
// load it lags the leader by some ms) an older, still valid grant with a
// lower index lets the node go on serving.
const MaxGrants = 8

// NewFollower returns a follower's lease of length (the auth lease) on a
// node whose current Raft term term returns.
func NewFollower(clock Clock, length time.Duration, term func() uint64) *Follower {
	return &Follower{clock: clock, length: length, term: term}
}

// Clock returns the clock the lease is timed on.
func (f *Follower) Clock() Clock { return f.clock }

// Grant records the answer of a serving leader in term to a question sent
// at asked: its last applied IAM event index, its applied index read, and
// how long its own lease still held (left; nothing is granted without).
func (f *Follower) Grant(asked Time, term, index, read uint64, left time.Duration) {
	if left <= 0 {
		return
	}
	g := Grant{Asked: asked, Until: asked.Add(min(f.length, left)), Term: term, Index: index, Read: read}
	f.mu.Lock()
	defer f.mu.Unlock()
	next := []Grant{g}
	if old := f.grants.Load(); old != nil {
		for _, o := range *old {
			if len(next) < MaxGrants && o.Asked != g.Asked {
				next = append(next, o)
			}
		}
	}
	slices.SortFunc(next, func(a, b Grant) int { return cmp.Compare(b.Asked, a.Asked) })
	f.grants.Store(&next)
	f.changed.Fire()
}

// Failed records that a question got no grant, and why; it wakes waiters
// so that they ask again or give up.
func (f *Follower) Failed(why string) {
	f.lastFailure.Store(&why)
	f.changed.Fire()
}

// Changed returns a channel closed by the next grant or failed question.
func (f *Follower) Changed() <-chan struct{} { return f.changed.Next() }

// Newest returns the grant whose question was sent last.
func (f *Follower) Newest() (Grant, bool) {
	p := f.grants.Load()
	if p == nil || len(*p) == 0 {
		return Grant{}, false
	}
	return (*p)[0], true
}

// Valid returns the grants that hold at now, newest question first.
func (f *Follower) Valid(now Time) []Grant {
	p := f.grants.Load()
	if p == nil {
		return nil
	}
	term := f.term()
	var out []Grant
	for _, g := range *p {
		if now < g.Until && g.Term >= term {
			out = append(out, g)
		}
	}
	return out
}

// minIndex is the lowest index among grants: a node that applied it holds
// the lease of at least one of them.
func minIndex(grants []Grant) uint64 {
	idx := grants[0].Index
	for _, g := range grants[1:] {
		idx = min(idx, g.Index)
	}
	return idx
}

// Serving reports, without waiting, whether a follower whose FSM applied
// applied may serve now: it holds a valid grant whose index it applied. It
// is on every request's path: no allocation. It reads the term when it
// checks, so a check made after this node acknowledged a term (in a status
// answer, which carries the term read when it answered) ignores every
// grant of an earlier one.
func (f *Follower) Serving(applied uint64) bool {
	p := f.grants.Load()
	if p == nil {
		return false
	}
	now := f.clock.Now()
	term := f.term()
	for _, g := range *p {
		if now < g.Until && g.Term >= term && applied >= g.Index {
			return true
		}
	}
	return false
}

// Applied is the FSM as a follower's lease waits on it.
type Applied interface {
	AppliedIndex() uint64
	WaitApplied(ctx context.Context, idx uint64) error
}

// Await returns nil once the follower may serve (Serving), deciding only
// after its last wait: it asks for a grant (ask; the caller's renewal
// loop sends the question) when none is valid and waits for one, and waits
// for fsm to apply the index of its valid grants, then checks again, since
// a grant may run out while it waits (the process may even have been
// stopped meanwhile). It fails with ErrExpired when ctx ends first, and
// with ErrInterrupted when interrupt closes.
func (f *Follower) Await(ctx context.Context, fsm Applied, ask func(), interrupt <-chan struct{}) error {
	for {
		changed := f.Changed()
		grants := f.Valid(f.clock.Now())
		if len(grants) == 0 {
			ask()
			select {
			case <-changed:
				continue
			case <-interrupt:
				return ErrInterrupted
			case <-ctx.Done():
				return f.NoGrant()
			}
		}
		need := minIndex(grants)
		if fsm.AppliedIndex() >= need {
			return nil
		}
		if err := fsm.WaitApplied(ctx, need); err != nil {
			return fmt.Errorf("%w: applied index %d, the lease needs %d", ErrExpired, fsm.AppliedIndex(), need)
		}
	}
}

// NoGrant says why the follower holds no valid grant (ErrExpired).
func (f *Follower) NoGrant() error {
	g, ok := f.Newest()
	if !ok {
		return fmt.Errorf("%w: no grant from a leader yet", ErrExpired)
	}
	why := ""
	if s := f.lastFailure.Load(); s != nil {
		why = "; last question: " + *s
	}
	now := f.clock.Now()
	return fmt.Errorf("%w: the newest grant was asked for %v ago and held %v (lease %v%s)", ErrExpired,
		now.Sub(g.Asked).Round(time.Millisecond), g.Until.Sub(g.Asked).Round(time.Millisecond), f.length, why)
}
