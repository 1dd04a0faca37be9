package lease

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestFollowerGrants: grants are kept newest question first, at most
// MaxGrants; one holds for the auth lease from its question, or less when
// the leader's own lease held less.
func TestFollowerGrants(t *testing.T) {
	clk := &Manual{}
	clk.Advance(time.Hour)
	f := NewFollower(clk, time.Second, func() uint64 { return 0 })
	if g := f.Valid(clk.Now()); len(g) != 0 {
		t.Fatalf("grants before any: %v", g)
	}
	now := clk.Now()
	f.Grant(now.Add(-300*time.Millisecond), 3, 5, 50, time.Second)
	f.Grant(now.Add(-100*time.Millisecond), 3, 9, 90, time.Second)
	f.Grant(now.Add(-200*time.Millisecond), 3, 7, 70, time.Second) // answered late, asked earlier
	f.Grant(now.Add(-3*time.Second), 3, 1, 10, time.Second)        // long expired
	f.Grant(now, 3, 11, 110, 0)                                    // a leader without a lease grants nothing
	g := f.Valid(now)
	if len(g) != 3 || g[0].Index != 9 || g[1].Index != 7 || g[2].Index != 5 {
		t.Fatalf("valid grants = %+v, want index 9, 7, 5 newest first", g)
	}
	// The leader's lease held only 250ms more: the grant holds 250ms from
	// the question.
	f.Grant(now.Add(-50*time.Millisecond), 3, 10, 100, 250*time.Millisecond)
	has10 := func(at Time) bool {
		for _, g := range f.Valid(at) {
			if g.Index == 10 {
				return true
			}
		}
		return false
	}
	if !has10(now.Add(199*time.Millisecond)) || has10(now.Add(200*time.Millisecond)) {
		t.Fatal("the short grant does not end when the leader's lease did")
	}
	for i := range 2 * MaxGrants {
		f.Grant(now.Add(time.Duration(i)*time.Millisecond), 3, uint64(100+i), 0, time.Second)
	}
	if all := *f.grants.Load(); len(all) != MaxGrants || all[0].Index != uint64(100+2*MaxGrants-1) {
		t.Fatalf("kept %d grants, newest %+v", len(all), all[0])
	}
}

// fakeFSM is an FSM whose WaitApplied runs hook first, then reaches idx.
type fakeFSM struct {
	applied atomic.Uint64
	hook    func()
}

func (m *fakeFSM) AppliedIndex() uint64 { return m.applied.Load() }

func (m *fakeFSM) WaitApplied(ctx context.Context, idx uint64) error {
	if m.hook != nil {
		m.hook()
	}
	m.applied.Store(max(m.applied.Load(), idx))
	return nil
}

// TestFollowerRechecksAfterWaiting: a follower that waits for its FSM to
// reach its grant's index and wakes up after the grant ran out (it was
// stopped meanwhile) does not serve: it asks for a new grant and serves
// only under that.
func TestFollowerRechecksAfterWaiting(t *testing.T) {
	clk := &Manual{}
	f := NewFollower(clk, time.Second, func() uint64 { return 0 })
	f.Grant(0, 3, 10, 10, time.Second)
	fsm := &fakeFSM{}
	fsm.applied.Store(5)
	fsm.hook = func() { clk.Advance(2 * time.Second) } // stopped while waiting
	var asked atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := f.Await(ctx, fsm, func() { asked.Add(1) }, nil)
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("Await after a grant ran out while waiting = %v, want ErrExpired", err)
	}
	if asked.Load() == 0 {
		t.Fatal("no new grant asked for after the wait")
	}

	// The same, but a new grant comes: then it serves.
	fsm.hook = nil
	done := make(chan error, 1)
	go func() { done <- f.Await(context.Background(), fsm, func() {}, nil) }()
	select {
	case err := <-done:
		t.Fatalf("served without a valid grant: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	f.Grant(clk.Now().Add(-time.Second-1), 3, 10, 10, time.Second) // a late answer to an old question: still expired
	select {
	case err := <-done:
		t.Fatalf("served under an expired grant: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	f.Grant(clk.Now(), 3, 12, 12, time.Second)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Await did not return after a fresh grant")
	}
	if fsm.AppliedIndex() < 12 {
		t.Fatalf("served at applied index %d under a grant of index 12", fsm.AppliedIndex())
	}
}

// TestFollowerAwaitInterrupted: Await ends when interrupt closes (the node
// was elected), and says why it holds no grant when ctx ends.
func TestFollowerAwaitInterrupted(t *testing.T) {
	clk := &Manual{}
	f := NewFollower(clk, time.Second, func() uint64 { return 0 })
	stop := make(chan struct{})
	close(stop)
	if err := f.Await(context.Background(), &fakeFSM{}, func() {}, stop); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Await with a closed interrupt = %v", err)
	}
	f.Grant(0, 3, 1, 1, time.Second)
	clk.Advance(5 * time.Second)
	f.Failed("no leader known")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := f.Await(ctx, &fakeFSM{}, func() {}, nil)
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("Await = %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "no leader known") || !strings.Contains(msg, "5s ago") {
		t.Fatalf("message %q does not say why", msg)
	}
}

// TestFollowerGrantEndsWithItsTerm: once the node's term moved past a
// grant's, the grant neither serves nor counts for Await, which asks for
// a new one; a grant of the node's term or a later one serves.
func TestFollowerGrantEndsWithItsTerm(t *testing.T) {
	clk := &Manual{}
	clk.Advance(time.Hour)
	var term atomic.Uint64
	term.Store(4)
	f := NewFollower(clk, time.Second, term.Load)
	f.Grant(clk.Now(), 4, 10, 10, time.Second)
	if !f.Serving(10) || len(f.Valid(clk.Now())) != 1 {
		t.Fatal("a grant of the node's term does not serve")
	}
	term.Store(5) // the node voted in term 5, or heard of its leader
	if f.Serving(10) || len(f.Valid(clk.Now())) != 0 {
		t.Fatal("a grant of term 4 still serves a node in term 5")
	}
	var asked atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	fsm := &fakeFSM{}
	fsm.applied.Store(10)
	if err := f.Await(ctx, fsm, func() { asked.Add(1) }, nil); !errors.Is(err, ErrExpired) || asked.Load() == 0 {
		t.Fatalf("Await with only an earlier term's grant: %v, asked %d times", err, asked.Load())
	}
	f.Grant(clk.Now(), 6, 10, 10, time.Second) // asked a leader of a term the node has not seen yet
	if !f.Serving(10) {
		t.Fatal("a grant of a later term does not serve")
	}
}
