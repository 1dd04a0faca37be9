package lease

import (
	"context"
	"errors"
	"testing"
	"time"
)

const (
	testLease  = time.Second
	testMargin = 70 * time.Millisecond
)

func three() []Server {
	return []Server{{ID: "n1", Voter: true}, {ID: "n2", Voter: true}, {ID: "n3", Voter: true}}
}

func newTestLeader(servers []Server) (*Leader, *Manual) {
	clk := &Manual{}
	l := NewLeader(clk, "n1", testLease, testMargin)
	l.Begin(7, servers, 0)
	return l, clk
}

// TestLeaderNeedsAMajority: a leader of three holds its lease only once one
// other voter acknowledged its term, for the lease length counted from
// when that question was sent, never from when the answer came.
func TestLeaderNeedsAMajority(t *testing.T) {
	l, clk := newTestLeader(three())
	l.Ack(7, "n3", 0, 0) // hand-over done only with n2 too
	l.Ack(7, "n2", 0, 0)
	if !l.Valid(7) {
		t.Fatal("no lease with every voter acknowledging")
	}
	clk.Advance(testLease - 1)
	if !l.Valid(7) || l.Left(7) != 1 {
		t.Fatalf("valid %t, left %v just before the lease ends", l.Valid(7), l.Left(7))
	}
	clk.Advance(1)
	if l.Valid(7) || l.Left(7) != 0 {
		t.Fatal("the lease outlived its length")
	}
	// An answer arriving now to a question sent 900ms ago renews it only
	// until 900ms + lease.
	l.Ack(7, "n2", Time(900*time.Millisecond), 0)
	if left := l.Left(7); left != 900*time.Millisecond {
		t.Fatalf("left %v after a late answer, want 900ms", left)
	}
	// An answer to an older question never shortens it.
	l.Ack(7, "n3", Time(100*time.Millisecond), 0)
	if left := l.Left(7); left != 900*time.Millisecond {
		t.Fatalf("left %v after an older answer, want 900ms", left)
	}
}

// TestLeaderFrozenPastTheLease: a leader stopped (SIGSTOP) right after a
// renewal wakes up with its lease run out: nothing is acknowledged while
// it sleeps, and its clock counted the time.
func TestLeaderFrozenPastTheLease(t *testing.T) {
	l, clk := newTestLeader(three())
	l.Ack(7, "n2", 0, 0)
	l.Ack(7, "n3", 0, 0)
	clk.Advance(200 * time.Millisecond)
	if !l.Valid(7) {
		t.Fatal("no lease before the pause")
	}
	clk.Advance(3 * time.Second) // stopped for 3 s
	if l.Valid(7) {
		t.Fatal("a leader frozen past its lease serves on wake-up")
	}
	if got := l.Status(7); got == "leader lease holds" {
		t.Fatalf("status %q", got)
	}
	// The followers moved on to a new term meanwhile: answers in term 8
	// do not renew a lease of term 7.
	l.Ack(8, "n2", clk.Now(), 0)
	if l.Valid(7) || l.Valid(8) {
		t.Fatal("an answer from another term renewed the lease")
	}
}

// TestLeaderHandOver: in a new term the leader serves only once every
// other server acknowledged the term, or the lease plus the margin passed
// since Begin; a majority alone renews the lease but does not hand over.
func TestLeaderHandOver(t *testing.T) {
	l, clk := newTestLeader(three())
	l.Ack(7, "n2", 0, 0)
	if l.Valid(7) {
		t.Fatal("served before n3 acknowledged or its lease certainly ran out")
	}
	clk.Advance(testLease + testMargin - 1)
	l.Ack(7, "n2", clk.Now(), 0)
	if l.Valid(7) {
		t.Fatal("served before lease + margin")
	}
	clk.Advance(1)
	if !l.Valid(7) {
		t.Fatal("not serving after lease + margin with a majority")
	}

	l2, _ := newTestLeader(three())
	l2.Ack(7, "n2", 0, 0)
	l2.Ack(7, "n3", 0, 0)
	if !l2.Valid(7) {
		t.Fatal("not serving with every server acknowledging")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := l2.WaitHandover(ctx, 7); err != nil {
		t.Fatal(err)
	}
}

// TestLeaderHandOverAfterSilence: a leader elected after the old one fell
// silent (stopped, dead) need not wait a whole lease: once servers making
// up a majority acknowledged its term, the hand-over is done a lease plus
// the margin after the latest of their last answers in an earlier term
// (every majority an earlier leader could hold a lease from includes one
// of them); without a majority, only the time since Begin counts.
func TestLeaderHandOverAfterSilence(t *testing.T) {
	clk := &Manual{}
	clk.Advance(10 * time.Second)
	// The old leader fell silent at 10s: this node and n2 last answered
	// it then. Elected at 12s.
	lastOld := clk.Now()
	clk.Advance(2 * time.Second)
	l := NewLeader(clk, "n1", testLease, testMargin)
	l.Begin(8, three(), lastOld)
	if l.Valid(8) {
		t.Fatal("served before any other server acknowledged the term")
	}
	l.Ack(8, "n2", clk.Now(), lastOld)
	if !l.Valid(8) {
		t.Fatalf("not serving although every majority's last old answer is %v past: %s", clk.Now().Sub(lastOld), l.Status(8))
	}

	// n2 answered the old term 300ms before the election: the hand-over
	// waits until then + lease + margin.
	l = NewLeader(clk, "n1", testLease, testMargin)
	l.Begin(9, three(), lastOld)
	late := clk.Now().Add(-300 * time.Millisecond)
	l.Ack(9, "n2", clk.Now(), late)
	if l.Valid(9) {
		t.Fatal("served while n2's answer to the old leader may still support its lease")
	}
	clk.Advance(testLease + testMargin - 300*time.Millisecond - 1)
	l.Ack(9, "n2", clk.Now(), late)
	if l.Valid(9) {
		t.Fatal("served 1ns early")
	}
	clk.Advance(1)
	if !l.Valid(9) {
		t.Fatal("not serving once n2's last old answer is lease + margin past")
	}

	// Five voters: with this node and one other (two of five) the time
	// since Begin counts; with two others (a majority) their latest old
	// answer does.
	five := []Server{{ID: "n1", Voter: true}, {ID: "n2", Voter: true}, {ID: "n3", Voter: true}, {ID: "n4", Voter: true}, {ID: "n5", Voter: true}}
	l = NewLeader(clk, "n1", testLease, testMargin)
	l.Begin(10, five, lastOld)
	l.Ack(10, "n2", clk.Now(), lastOld)
	if l.Status(10) == "leader lease holds" {
		t.Fatal("five voters: hand-over with two of five")
	}
	l.Ack(10, "n3", clk.Now(), lastOld)
	if !l.Valid(10) {
		t.Fatalf("five voters: no hand-over with three of five silent since %v: %s", clk.Now().Sub(lastOld), l.Status(10))
	}
}

// TestLeaderWaitHandover: WaitHandover returns when the last server
// acknowledges, and fails when ctx ends first; a term the lease has not
// begun yet begins at the call.
func TestLeaderWaitHandover(t *testing.T) {
	l, _ := newTestLeader(three())
	l.Ack(7, "n2", 0, 0)
	done := make(chan error, 1)
	go func() { done <- l.WaitHandover(context.Background(), 7) }()
	select {
	case err := <-done:
		t.Fatalf("returned %v before n3 acknowledged", err)
	case <-time.After(50 * time.Millisecond):
	}
	l.Ack(7, "n3", 0, 0)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitHandover did not return after the last acknowledgement")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.WaitHandover(ctx, 8); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitHandover of a new term without answers = %v", err)
	}
	if l.Valid(7) {
		t.Fatal("the lease of term 7 still holds once term 8 began")
	}
}

// TestLeaderQuorums: one voter needs nobody; non-voters count for the
// hand-over, not for the majority; five voters need two others, and the
// lease runs from the second-latest acknowledgement; a leader that is not
// a voter of its configuration holds none.
func TestLeaderQuorums(t *testing.T) {
	l, clk := newTestLeader([]Server{{ID: "n1", Voter: true}})
	if !l.Valid(7) || l.Left(7) != testLease {
		t.Fatalf("single voter: valid %t left %v", l.Valid(7), l.Left(7))
	}
	clk.Advance(time.Hour)
	if !l.Valid(7) {
		t.Fatal("a single voter's lease ran out")
	}

	l, _ = newTestLeader([]Server{{ID: "n1", Voter: true}, {ID: "n2", Voter: true}, {ID: "n3", Voter: true}, {ID: "x", Voter: false}})
	l.Ack(7, "n2", 0, 0)
	l.Ack(7, "n3", 0, 0)
	if l.Valid(7) {
		t.Fatal("handed over before the non-voter acknowledged")
	}
	l.Ack(7, "x", 0, 0)
	if !l.Valid(7) {
		t.Fatal("not serving with every server acknowledging")
	}

	five := []Server{{ID: "n1", Voter: true}, {ID: "n2", Voter: true}, {ID: "n3", Voter: true}, {ID: "n4", Voter: true}, {ID: "n5", Voter: true}}
	l, clk = newTestLeader(five)
	clk.Advance(2 * time.Second) // hand-over by time
	l.Ack(7, "n2", Time(1500*time.Millisecond), 0)
	if l.Valid(7) {
		t.Fatal("five voters: served with two of five")
	}
	l.Ack(7, "n3", Time(1900*time.Millisecond), 0)
	l.Ack(7, "n4", Time(1700*time.Millisecond), 0)
	if left := l.Left(7); left != 700*time.Millisecond {
		t.Fatalf("five voters: left %v, want 700ms (from the second-latest acknowledgement)", left)
	}

	l, _ = newTestLeader([]Server{{ID: "n1", Voter: false}, {ID: "n2", Voter: true}})
	l.Ack(7, "n2", 0, 0)
	if l.Valid(7) {
		t.Fatal("a non-voting leader holds a lease")
	}

	// A configuration change in the same term keeps the acknowledgements.
	l, _ = newTestLeader(three())
	l.Ack(7, "n2", 0, 0)
	l.Ack(7, "n3", 0, 0)
	l.Begin(7, append(three(), Server{ID: "n4", Voter: true}), 0)
	if l.Valid(7) {
		t.Fatal("handed over before the new server acknowledged")
	}
	l.Begin(6, three(), 0) // an older term is ignored
	l.Ack(7, "n4", 0, 0)
	if !l.Valid(7) {
		t.Fatal("not serving once the added server acknowledged")
	}
}

// TestLeaderGrantEnds: a grant given now ends when the leader's lease does,
// never later than the lease length from now.
func TestLeaderGrantEnds(t *testing.T) {
	l, clk := newTestLeader(three())
	l.Ack(7, "n2", 0, 0)
	l.Ack(7, "n3", 0, 0)
	clk.Advance(300 * time.Millisecond)
	left, until := l.Grant(7)
	if left != 700*time.Millisecond || until != Time(testLease) {
		t.Fatalf("grant: left %v until %v, want 700ms and the lease's end", left, until)
	}
	if left, until := l.Grant(8); left != 0 || until != 0 {
		t.Fatalf("grant of another term: %v %v", left, until)
	}
	var g Given
	g.Record("n2", 5)
	g.Record("n2", 3)
	if g.Until("n2") != 5 || g.Until("n3") != 0 {
		t.Fatalf("given: n2 %v n3 %v", g.Until("n2"), g.Until("n3"))
	}
	g.Record("", 9) // a node that did not say who it is: counts for all
	if g.Until("n3") != 9 {
		t.Fatalf("an anonymous grant does not count for n3: %v", g.Until("n3"))
	}
}
