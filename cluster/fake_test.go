package cluster

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
)

// fakeCluster stands in for Raft and the FSM: one shared log, a set of
// usernames as the replicated state, and nodes that each have their own view
// of who leads and their own applied index.
type fakeCluster struct {
	mu    sync.Mutex
	log   [][]byte
	names map[string]bool
	nodes map[string]*fakeNode
	// lag is how long followers take to apply an entry after the leader
	// did; < 0: they apply only when told (fakeNode.setApplied).
	lag time.Duration
}

// fakeNode implements Local.
type fakeNode struct {
	c    *fakeCluster
	id   string
	addr string // its internal RPC address

	mu      sync.Mutex
	view    string // the leader this node believes in
	applied uint64
	advance chan struct{}

	applies atomic.Int64 // Apply calls
	srv     *Server
}

var _ Local = (*fakeNode)(nil)

func (n *fakeNode) ID() string { return n.id }

func (n *fakeNode) IsLeader() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.view == n.id
}

func (n *fakeNode) Leader() (string, string) {
	n.mu.Lock()
	view := n.view
	n.mu.Unlock()
	if view == "" {
		return "", ""
	}
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	if l, ok := n.c.nodes[view]; ok {
		return view, l.addr
	}
	return view, ""
}

// setView makes n believe that id leads ("" for none).
func (n *fakeNode) setView(id string) {
	n.mu.Lock()
	n.view = id
	n.mu.Unlock()
}

func (n *fakeNode) AppliedIndex() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.applied
}

// setApplied moves the applied index forward to idx and wakes waiters.
func (n *fakeNode) setApplied(idx uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if idx > n.applied {
		n.applied = idx
		close(n.advance)
		n.advance = make(chan struct{})
	}
}

func (n *fakeNode) WaitApplied(ctx context.Context, idx uint64) error {
	for {
		n.mu.Lock()
		applied, ch := n.applied, n.advance
		n.mu.Unlock()
		if applied >= idx {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fake: waiting for %d (applied %d): %w", idx, applied, ctx.Err())
		}
	}
}

// Apply appends cmd to the shared log if n believes it leads, applies it
// here, and lets the followers apply it after the cluster's lag.
func (n *fakeNode) Apply(ctx context.Context, cmd []byte) (uint64, any, error) {
	n.applies.Add(1)
	if !n.IsLeader() {
		return 0, nil, fmt.Errorf("fake %s: %w", n.id, ErrNotLeader)
	}
	c := n.c
	c.mu.Lock()
	c.log = append(c.log, append([]byte(nil), cmd...))
	idx := uint64(len(c.log))
	resp := c.applyLocked(cmd)
	var followers []*fakeNode
	for _, o := range c.nodes {
		if o != n {
			followers = append(followers, o)
		}
	}
	lag := c.lag
	c.mu.Unlock()
	n.setApplied(idx)
	for _, f := range followers {
		switch {
		case lag == 0:
			f.setApplied(idx)
		case lag > 0:
			time.AfterFunc(lag, func() { f.setApplied(idx) })
		}
	}
	return idx, resp, nil
}

// applyLocked is the fake FSM: unique usernames, and a wrapped domain error
// for deleting an unknown user.
func (c *fakeCluster) applyLocked(cmd []byte) any {
	dec := func(v any) {
		if err := codec.NewDecoderBytes(cmd[2:], &codec.MsgpackHandle{}).Decode(v); err != nil {
			panic(err)
		}
	}
	switch fsm.MessageType(cmd[0]) {
	case fsm.MsgUserCreate:
		var ev fsm.UserCreate
		dec(&ev)
		if c.names[ev.Username] {
			return fsm.ErrUsernameTaken
		}
		c.names[ev.Username] = true
	case fsm.MsgUserDelete:
		var ev fsm.UserDelete
		dec(&ev)
		return fmt.Errorf("%w: id %s", fsm.ErrNoSuchUser, ev.ID)
	}
	return nil
}

// newFakeCluster starts n fake nodes "n1".."nN", each behind a real Server
// on a loopback TCP listener, all believing that leader leads.
func newFakeCluster(t testing.TB, n int, leader string, lag time.Duration) (*fakeCluster, []*fakeNode) {
	t.Helper()
	c := &fakeCluster{names: map[string]bool{}, nodes: map[string]*fakeNode{}, lag: lag}
	var nodes []*fakeNode
	for i := 1; i <= n; i++ {
		ln := mustListen(t)
		node := &fakeNode{c: c, id: fmt.Sprintf("n%d", i), addr: ln.Addr().String(), view: leader, advance: make(chan struct{})}
		node.srv = NewServer(ln, node, nil)
		t.Cleanup(func() { node.srv.Close() })
		c.mu.Lock()
		c.nodes[node.id] = node
		c.mu.Unlock()
		nodes = append(nodes, node)
	}
	return c, nodes
}

func mustListen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// tcpClient returns a Client over plain TCP and the number of dials it made.
func tcpClient(t testing.TB) (*Client, *atomic.Int64) {
	t.Helper()
	var dials atomic.Int64
	c := NewClient(func(ctx context.Context, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	})
	t.Cleanup(c.Close)
	return c, &dials
}

func mustProposer(t testing.TB, local Local, client *Client, cfg ForwardConfig) *Proposer {
	t.Helper()
	p, err := NewProposerWithConfig(local, client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustEncode(t testing.TB, mt fsm.MessageType, msg any) []byte {
	t.Helper()
	b, err := fsm.Encode(mt, msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func userCreate(name string) *fsm.UserCreate {
	return &fsm.UserCreate{ID: "id-" + name, Username: name, Role: iam.RoleReader, At: 1}
}

// testCtx is a context that ends with the test's deadline budget d.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
