package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memberNode is a fakeNode that serves membership changes on a
// configuration shared by the fake cluster (servers: ID -> address).
type memberNode struct {
	*fakeNode
	client  *Client
	cfg     *memberConfig
	changes atomic.Int64 // changes applied here as the leader
	api     string
}

type memberConfig struct {
	mu      sync.Mutex
	servers map[string]string
}

func (m *memberNode) LocalStatus(string) Status {
	id, addr := m.Leader()
	return Status{ID: m.ID(), LeaderID: id, LeaderAddr: addr, IsLeader: m.IsLeader(), Applied: m.AppliedIndex(), API: m.api}
}

func (c *memberConfig) get(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	addr, ok := c.servers[id]
	return addr, ok
}

func (m *memberNode) ChangeMembership(ctx context.Context, c MembershipChange) (uint64, error) {
	return ForwardMembership(ctx, m, m.client, c, 300*time.Millisecond, m.apply)
}

func (m *memberNode) apply(_ context.Context, c MembershipChange) (uint64, error) {
	if !m.IsLeader() {
		return 0, fmt.Errorf("fake %s: %w", m.id, ErrNotLeader)
	}
	m.changes.Add(1)
	m.cfg.mu.Lock()
	defer m.cfg.mu.Unlock()
	switch c.Op {
	case MembershipRemove:
		delete(m.cfg.servers, c.ID)
	default:
		if have, ok := m.cfg.servers[c.ID]; ok && have != c.Addr && c.Op == MembershipJoin {
			return 0, fmt.Errorf("%w: id %s is taken", ErrInvalidCommand, c.ID)
		}
		m.cfg.servers[c.ID] = c.Addr
	}
	return uint64(len(m.cfg.servers)), nil
}

// newMemberCluster starts n memberNodes "n1".."nN" behind real Servers,
// all believing that leader leads.
func newMemberCluster(t *testing.T, n int, leader string) ([]*memberNode, *memberConfig) {
	t.Helper()
	c := &fakeCluster{names: map[string]bool{}, nodes: map[string]*fakeNode{}}
	cfg := &memberConfig{servers: map[string]string{}}
	var out []*memberNode
	for i := 1; i <= n; i++ {
		ln := mustListen(t)
		fn := &fakeNode{c: c, id: fmt.Sprintf("n%d", i), addr: ln.Addr().String(), view: leader, advance: make(chan struct{})}
		client, _ := tcpClient(t)
		m := &memberNode{fakeNode: fn, client: client, cfg: cfg, api: fmt.Sprintf("api-%d.example:9000", i)}
		fn.srv = NewServer(ln, m, nil, WithMembership(m), WithStatusReporter(m))
		t.Cleanup(func() { fn.srv.Close() })
		c.mu.Lock()
		c.nodes[fn.id] = fn
		c.mu.Unlock()
		out = append(out, m)
	}
	return out, cfg
}

func TestMembershipChangeValidate(t *testing.T) {
	for _, tc := range []struct {
		c  MembershipChange
		ok bool
	}{
		{MembershipChange{Op: MembershipAdd, ID: "n4", Addr: "10.0.0.4:7000"}, true},
		{MembershipChange{Op: MembershipJoin, ID: "n4", Addr: "host:7000"}, true},
		{MembershipChange{Op: MembershipRemove, ID: "n4"}, true},
		{MembershipChange{Op: MembershipAdd, ID: "", Addr: "10.0.0.4:7000"}, false},
		{MembershipChange{Op: MembershipAdd, ID: strings.Repeat("x", MaxServerID+1), Addr: "h:1"}, false},
		{MembershipChange{Op: MembershipAdd, ID: "n4", Addr: "no-port"}, false},
		{MembershipChange{Op: MembershipJoin, ID: "n4", Addr: ":7000"}, false},
		{MembershipChange{Op: MembershipRemove, ID: "n4", Addr: "h:1"}, false},
		{MembershipChange{Op: "promote", ID: "n4"}, false},
	} {
		err := tc.c.Validate()
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%+v: %v", tc.c, err)
		}
	}
}

// A join sent to a follower is forwarded to the leader, which applies it;
// the same join again succeeds (idempotent); a forwarded change that
// reaches a follower is answered with "not leader" and the leader's name.
func TestMembershipForwardedToLeader(t *testing.T) {
	nodes, cfg := newMemberCluster(t, 3, "n1")
	client, _ := tcpClient(t)
	ctx := testCtx(t, 5*time.Second)
	join := MembershipChange{Op: MembershipJoin, ID: "n4", Addr: "127.0.0.1:7004"}
	for range 2 {
		if _, err := client.ChangeMembership(ctx, nodes[2].addr, join); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := cfg.get("n4"); got != join.Addr {
		t.Fatalf("n4 at %q, want %q", got, join.Addr)
	}
	if nodes[0].changes.Load() != 2 || nodes[1].changes.Load()+nodes[2].changes.Load() != 0 {
		t.Errorf("changes applied: %d %d %d", nodes[0].changes.Load(), nodes[1].changes.Load(), nodes[2].changes.Load())
	}

	fwd := join
	fwd.Forwarded = true
	_, err := client.ChangeMembership(ctx, nodes[1].addr, fwd)
	var nl *notLeaderError
	if !errors.Is(err, ErrNotLeader) || !errors.As(err, &nl) || nl.leaderID != "n1" || nl.leaderAddr != nodes[0].addr {
		t.Fatalf("forwarded change on a follower: %v", err)
	}

	// A refusal comes back as ErrInvalidCommand through the forwarding.
	taken := MembershipChange{Op: MembershipJoin, ID: "n4", Addr: "127.0.0.1:7999"}
	if _, err := client.ChangeMembership(ctx, nodes[1].addr, taken); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("join with a taken id: %v", err)
	}

	remove := MembershipChange{Op: MembershipRemove, ID: "n4"}
	if _, err := nodes[2].ChangeMembership(ctx, remove); err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.get("n4"); ok {
		t.Fatal("n4 still in the configuration after remove")
	}
}

// Without a leader the change holds, then fails with ErrNoLeader; once a
// leader appears during the hold it goes through.
func TestMembershipHoldsForLeader(t *testing.T) {
	nodes, cfg := newMemberCluster(t, 2, "")
	ctx := testCtx(t, 5*time.Second)
	c := MembershipChange{Op: MembershipAdd, ID: "n9", Addr: "127.0.0.1:7009"}
	start := time.Now()
	if _, err := nodes[1].ChangeMembership(ctx, c); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("without a leader: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("gave up after %v, before the hold", d)
	}
	time.AfterFunc(100*time.Millisecond, func() {
		for _, n := range nodes {
			n.setView("n1")
		}
	})
	if _, err := nodes[1].ChangeMembership(ctx, c); err != nil {
		t.Fatalf("a leader appeared during the hold: %v", err)
	}
	if got, _ := cfg.get("n9"); got != c.Addr {
		t.Fatalf("n9 at %q, want %q", got, c.Addr)
	}
}

func TestMembershipEndpoint(t *testing.T) {
	// A node without Membership answers 404; status carries no API address.
	_, plain := newFakeCluster(t, 1, "n1", 0)
	client, _ := tcpClient(t)
	ctx := testCtx(t, 5*time.Second)
	if _, err := client.ChangeMembership(ctx, plain[0].addr, MembershipChange{Op: MembershipRemove, ID: "x"}); err == nil || !strings.Contains(err.Error(), "no membership") {
		t.Fatalf("membership on a node without it: %v", err)
	}
	nodes, _ := newMemberCluster(t, 1, "n1")
	st, err := client.Status(ctx, nodes[0].addr)
	if err != nil || st.API != "api-1.example:9000" {
		t.Fatalf("status %+v, %v", st, err)
	}
	for _, tc := range []struct {
		method, body string
		status       int
	}{
		{http.MethodGet, "", http.StatusMethodNotAllowed},
		{http.MethodPost, "{", http.StatusBadRequest},
		{http.MethodPost, `{"op":"add","id":"n2","addr":"nope"}`, http.StatusBadRequest},
		{http.MethodPost, `{"op":"remove","id":"` + strings.Repeat("x", 5000) + `"}`, http.StatusBadRequest},
		{http.MethodPost, `{"op":"add","id":"n2","addr":"127.0.0.1:7002"}`, http.StatusOK},
	} {
		code, _ := postRaw(t, tc.method, "http://"+nodes[0].addr+pathMembership, strings.NewReader(tc.body))
		if code != tc.status {
			t.Errorf("%s %q: %d, want %d", tc.method, tc.body, code, tc.status)
		}
	}
}
