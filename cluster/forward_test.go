package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/s4/s4/fsm"
)

// fastHold keeps the hold tests short.
var fastHold = ForwardConfig{HoldTimeout: 300 * time.Millisecond, RetryInterval: 10 * time.Millisecond, WaitTimeout: time.Second}

func TestProposeOnLeaderIsLocal(t *testing.T) {
	_, nodes := newFakeCluster(t, 3, "n1", 0)
	client, dials := tcpClient(t)
	p := mustProposer(t, nodes[0], client, fastHold)
	idx, err := p.ProposeIndex(testCtx(t, 5*time.Second), fsm.MsgUserCreate, userCreate("alice"))
	if err != nil || idx != 1 {
		t.Fatalf("ProposeIndex = %d, %v", idx, err)
	}
	if st := p.Stats(); st.Local != 1 || st.Forwarded != 0 || dials.Load() != 0 {
		t.Errorf("stats %+v, %d dials; want one local apply and no RPC", st, dials.Load())
	}
}

// A follower forwards to the leader, and the leader's domain error comes
// back as the same sentinel.
func TestProposeForwardsFromFollower(t *testing.T) {
	_, nodes := newFakeCluster(t, 3, "n1", 0)
	client, _ := tcpClient(t)
	ctx := testCtx(t, 5*time.Second)
	p2 := mustProposer(t, nodes[1], client, fastHold)
	p3 := mustProposer(t, nodes[2], client, fastHold)

	if err := p2.Propose(ctx, fsm.MsgUserCreate, userCreate("alice")); err != nil {
		t.Fatal(err)
	}
	err := p3.Propose(ctx, fsm.MsgUserCreate, userCreate("alice"))
	if err != fsm.ErrUsernameTaken || !errors.Is(err, fsm.ErrUsernameTaken) {
		t.Fatalf("duplicate username from another follower: %v, want fsm.ErrUsernameTaken", err)
	}
	err = p3.Propose(ctx, fsm.MsgUserDelete, &fsm.UserDelete{ID: "u7"})
	if !errors.Is(err, fsm.ErrNoSuchUser) || err.Error() != "no such user: id u7" {
		t.Fatalf("wrapped domain error: %v", err)
	}
	if a := nodes[0].applies.Load(); a != 3 {
		t.Errorf("the leader applied %d events, want 3", a)
	}
	if a := nodes[1].applies.Load() + nodes[2].applies.Load(); a != 0 {
		t.Errorf("followers applied %d events themselves", a)
	}
	if st := p3.Stats(); st.Forwarded != 2 || st.Local != 0 || st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Without a leader a proposal holds, then fails with ErrNoLeader within the
// hold timeout, having appended nothing.
func TestProposeWithoutLeaderHolds(t *testing.T) {
	_, nodes := newFakeCluster(t, 3, "", 0)
	client, dials := tcpClient(t)
	p := mustProposer(t, nodes[1], client, fastHold)
	start := time.Now()
	err := p.Propose(testCtx(t, 10*time.Second), fsm.MsgUserCreate, userCreate("alice"))
	el := time.Since(start)
	if !errors.Is(err, ErrNoLeader) {
		t.Fatalf("err = %v, want ErrNoLeader", err)
	}
	if errors.Is(err, ErrNotLeader) {
		t.Errorf("ErrNoLeader also matches ErrNotLeader: %v", err)
	}
	if el < fastHold.HoldTimeout || el > fastHold.HoldTimeout+time.Second {
		t.Errorf("held %v, want about %v", el, fastHold.HoldTimeout)
	}
	st := p.Stats()
	if st.NoLeader != 1 || st.Retries < 5 || st.Forwarded != 0 || dials.Load() != 0 {
		t.Errorf("stats %+v, %d dials", st, dials.Load())
	}
	for _, n := range nodes {
		if a := n.applies.Load(); a != 0 {
			t.Errorf("%s applied %d", n.id, a)
		}
	}
}

// A context that ends while holding: ErrNoLeader and the context's error.
func TestProposeWithoutLeaderHonoursContext(t *testing.T) {
	_, nodes := newFakeCluster(t, 2, "", 0)
	client, _ := tcpClient(t)
	p := mustProposer(t, nodes[1], client, ForwardConfig{HoldTimeout: time.Minute, RetryInterval: 10 * time.Millisecond})
	start := time.Now()
	err := p.Propose(testCtx(t, 150*time.Millisecond), fsm.MsgUserCreate, userCreate("alice"))
	if !errors.Is(err, ErrNoLeader) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrNoLeader and DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
}

// A leader elected while a proposal holds: the proposal goes through.
func TestProposeHoldsUntilElection(t *testing.T) {
	_, nodes := newFakeCluster(t, 3, "", 0)
	client, _ := tcpClient(t)
	p := mustProposer(t, nodes[1], client, ForwardConfig{HoldTimeout: 5 * time.Second, RetryInterval: 10 * time.Millisecond})
	time.AfterFunc(100*time.Millisecond, func() {
		for _, n := range nodes {
			n.setView("n3")
		}
	})
	if err := p.Propose(testCtx(t, 10*time.Second), fsm.MsgUserCreate, userCreate("alice")); err != nil {
		t.Fatal(err)
	}
	if a := nodes[2].applies.Load(); a != 1 {
		t.Errorf("new leader applied %d, want 1", a)
	}
	if st := p.Stats(); st.Retries == 0 || st.Forwarded != 1 {
		t.Errorf("stats %+v", st)
	}
}

// The follower still believes in the old leader; the old leader answers
// "not leader, n3 leads" and the proposal follows it at once.
func TestProposeFollowsNotLeaderHint(t *testing.T) {
	_, nodes := newFakeCluster(t, 3, "n3", 0)
	nodes[1].setView("n1") // stale
	client, _ := tcpClient(t)
	p := mustProposer(t, nodes[1], client, fastHold)
	if err := p.Propose(testCtx(t, 5*time.Second), fsm.MsgUserCreate, userCreate("alice")); err != nil {
		t.Fatal(err)
	}
	if a, b := nodes[0].applies.Load(), nodes[2].applies.Load(); a != 0 || b != 1 {
		t.Errorf("old leader applied %d, new leader %d; want 0, 1", a, b)
	}
	if st := p.Stats(); st.Forwarded != 2 || st.Retries != 0 {
		t.Errorf("stats %+v; want two forwards and no pause", st)
	}
}

// Leadership moves while proposals are in flight: the old leader refuses
// (nothing appended), the proposal re-resolves and succeeds on the new one.
func TestProposeLeaderChangeMidway(t *testing.T) {
	_, nodes := newFakeCluster(t, 3, "n1", 0)
	client, _ := tcpClient(t)
	p := mustProposer(t, nodes[1], client, ForwardConfig{HoldTimeout: 5 * time.Second, RetryInterval: 10 * time.Millisecond})
	ctx := testCtx(t, 10*time.Second)
	if err := p.Propose(ctx, fsm.MsgUserCreate, userCreate("u0")); err != nil {
		t.Fatal(err)
	}
	// n1 steps down and knows of no leader; the follower still points at
	// n1. After a while n3 wins and everybody learns it.
	nodes[0].setView("")
	time.AfterFunc(80*time.Millisecond, func() {
		for _, n := range nodes {
			n.setView("n3")
		}
	})
	if err := p.Propose(ctx, fsm.MsgUserCreate, userCreate("u1")); err != nil {
		t.Fatal(err)
	}
	if a := nodes[2].applies.Load(); a != 1 {
		t.Errorf("new leader applied %d, want 1", a)
	}
	if st := p.Stats(); st.Retries == 0 {
		t.Errorf("stats %+v: expected pauses while n1 refused", st)
	}
}

// The leader as the follower knows it is gone (cannot connect): hold and
// retry until a new leader is known.
func TestProposeLeaderUnreachable(t *testing.T) {
	_, nodes := newFakeCluster(t, 3, "n1", 0)
	nodes[0].srv.Close()
	client, _ := tcpClient(t)
	p := mustProposer(t, nodes[1], client, ForwardConfig{HoldTimeout: 5 * time.Second, RetryInterval: 10 * time.Millisecond})
	time.AfterFunc(100*time.Millisecond, func() {
		nodes[1].setView("n3")
		nodes[2].setView("n3")
	})
	if err := p.Propose(testCtx(t, 10*time.Second), fsm.MsgUserCreate, userCreate("alice")); err != nil {
		t.Fatal(err)
	}
	if a := nodes[2].applies.Load(); a != 1 {
		t.Errorf("new leader applied %d, want 1", a)
	}
}

// The node loses leadership between IsLeader and Apply: it forwards.
func TestProposeLocalNotLeaderForwards(t *testing.T) {
	_, nodes := newFakeCluster(t, 2, "n2", 0)
	client, _ := tcpClient(t)
	flappy := &stepsDown{fakeNode: nodes[0]}
	p := mustProposer(t, flappy, client, fastHold)
	if err := p.Propose(testCtx(t, 5*time.Second), fsm.MsgUserCreate, userCreate("alice")); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Local != 1 || st.Forwarded != 1 {
		t.Errorf("stats %+v; want one local try, one forward", st)
	}
}

// stepsDown claims leadership once, then refuses to apply.
type stepsDown struct {
	*fakeNode
	once sync.Once
}

func (s *stepsDown) IsLeader() bool {
	lead := false
	s.once.Do(func() { lead = true })
	return lead
}

// Read your writes: a forwarded proposal returns only once this node's FSM
// applied the event.
func TestProposeReadYourWrites(t *testing.T) {
	const lag = 100 * time.Millisecond
	_, nodes := newFakeCluster(t, 3, "n1", lag)
	client, _ := tcpClient(t)
	p := mustProposer(t, nodes[1], client, fastHold)
	ctx := testCtx(t, 10*time.Second)
	for i := range 3 {
		start := time.Now()
		idx, err := p.ProposeIndex(ctx, fsm.MsgUserCreate, userCreate(string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		if got := nodes[1].AppliedIndex(); got < idx {
			t.Fatalf("returned index %d while this node applied only %d", idx, got)
		}
		if el := time.Since(start); el < lag/2 {
			t.Errorf("returned after %v; followers apply after %v", el, lag)
		}
	}
	// The other follower is not waited for.
	if got := nodes[0].AppliedIndex(); got != 3 {
		t.Errorf("leader applied %d", got)
	}
}

// A follower that does not catch up: ErrWaitTimeout, with the index.
func TestProposeReadYourWritesTimeout(t *testing.T) {
	_, nodes := newFakeCluster(t, 2, "n1", -1)
	client, _ := tcpClient(t)
	cfg := fastHold
	cfg.WaitTimeout = 100 * time.Millisecond
	p := mustProposer(t, nodes[1], client, cfg)
	start := time.Now()
	idx, err := p.ProposeIndex(testCtx(t, 5*time.Second), fsm.MsgUserCreate, userCreate("alice"))
	if !errors.Is(err, ErrWaitTimeout) || idx != 1 {
		t.Fatalf("ProposeIndex = %d, %v; want 1, ErrWaitTimeout", idx, err)
	}
	if el := time.Since(start); el < cfg.WaitTimeout || el > 2*time.Second {
		t.Errorf("took %v", el)
	}
}

// Failures whose outcome is unknown are not retried.
func TestProposeDoesNotRetryUnknownOutcome(t *testing.T) {
	_, nodes := newFakeCluster(t, 2, "n1", 0)
	lost := &losesLeadership{fakeNode: nodes[0]}
	ln := mustListen(t)
	srv := NewServer(ln, lost, nil)
	t.Cleanup(func() { srv.Close() })
	nodes[0].c.mu.Lock()
	nodes[0].addr = ln.Addr().String() // the leader is now served by lost
	nodes[0].c.mu.Unlock()
	client, _ := tcpClient(t)
	p := mustProposer(t, nodes[1], client, fastHold)
	err := p.Propose(testCtx(t, 5*time.Second), fsm.MsgUserCreate, userCreate("alice"))
	if !errors.Is(err, ErrLeadershipLost) {
		t.Fatalf("err = %v, want ErrLeadershipLost", err)
	}
	if st := p.Stats(); st.Forwarded != 1 || st.Retries != 0 {
		t.Errorf("stats %+v; want a single attempt", st)
	}
}

type losesLeadership struct{ *fakeNode }

func (l *losesLeadership) Apply(context.Context, []byte) (uint64, any, error) {
	return 0, nil, ErrLeadershipLost
}

// The single-node constructor behaves as before: local only.
func TestLocalProposer(t *testing.T) {
	a := applierFunc(func(_ context.Context, cmd []byte) (uint64, any, error) {
		switch fsm.MessageType(cmd[0]) {
		case fsm.MsgUserDelete:
			return 4, fsm.ErrNoSuchUser, nil
		case fsm.MsgUserUpdate:
			return 5, "surprise", nil
		case fsm.MsgCredentialRevoke:
			return 0, nil, ErrNotLeader
		}
		return 3, nil, nil
	})
	p := NewLocalProposer(a)
	ctx := testCtx(t, 5*time.Second)
	if idx, err := p.ProposeIndex(ctx, fsm.MsgUserCreate, userCreate("a")); idx != 3 || err != nil {
		t.Errorf("create: %d %v", idx, err)
	}
	if err := p.Propose(ctx, fsm.MsgUserDelete, &fsm.UserDelete{ID: "x"}); err != fsm.ErrNoSuchUser {
		t.Errorf("delete: %v", err)
	}
	if err := p.Propose(ctx, fsm.MsgUserUpdate, &fsm.UserUpdate{ID: "x"}); err == nil {
		t.Error("unexpected response accepted")
	}
	start := time.Now()
	if err := p.Propose(ctx, fsm.MsgCredentialRevoke, &fsm.CredentialRevoke{UserID: "x"}); !errors.Is(err, ErrNotLeader) || time.Since(start) > time.Second {
		t.Errorf("revoke: %v after %v; want ErrNotLeader at once", err, time.Since(start))
	}
	if st := p.Stats(); st.Local != 4 || st.Forwarded != 0 {
		t.Errorf("stats %+v", st)
	}
}

type applierFunc func(ctx context.Context, cmd []byte) (uint64, any, error)

func (f applierFunc) Apply(ctx context.Context, cmd []byte) (uint64, any, error) { return f(ctx, cmd) }

func TestForwardConfigValidate(t *testing.T) {
	if err := (ForwardConfig{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	if err := DefaultForwardConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, c := range []ForwardConfig{
		{HoldTimeout: -1},
		{RetryInterval: -1},
		{WaitTimeout: -1},
		{HoldTimeout: time.Millisecond, RetryInterval: time.Second},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := NewProposerWithConfig(nil, nil, ForwardConfig{HoldTimeout: -1}); err == nil {
		t.Error("NewProposerWithConfig accepted a bad config")
	}
}
