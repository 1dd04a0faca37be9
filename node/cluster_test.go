package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/admin"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startCluster starts three nodes on loopback with a static peer list.
func startCluster(t *testing.T) []*Node {
	t.Helper()
	nodes, _ := startClusterConfigs(t)
	return nodes
}

// startClusterConfigs is startCluster that also returns each node's
// configuration, to restart it on the same data dir and ports. The cluster
// ports must be known before the nodes start (they are in every node's
// peer list), so they are picked free and then bound by the nodes; if
// another process takes one in between, it starts again on new ports.
func startClusterConfigs(t *testing.T) ([]*Node, []Config) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		nodes, cfgs, err := tryStartCluster(t)
		if err == nil {
			return nodes, cfgs
		}
		if attempt == 5 || !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatal(err)
		}
		t.Logf("retrying on other ports: %v", err)
	}
}

func tryStartCluster(t *testing.T) ([]*Node, []Config, error) {
	var peers []Peer
	for i := 1; i <= 3; i++ {
		peers = append(peers, Peer{ID: fmt.Sprintf("n%d", i), Addr: freeAddr(t)})
	}
	return tryStartClusterWith(t, peers, func(_ int, cfg *Config) {
		cfg.SnapshotThreshold, cfg.TrailingLogs = 16, 8 // snapshots and their installs happen in tests
	})
}

// loginRetry logs in as root, retrying until the root user has reached the
// node (it is created by the leader right after the first election).
func loginRetry(t *testing.T, n *Node) *client {
	t.Helper()
	c := newClient(t, n)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out struct{ Token string }
		if code := c.do("POST", "/api/admin/login", map[string]string{"username": "root", "password": rootPassword}, &out); code == 200 {
			c.token = out.Token
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal("cannot log in as root")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLeader waits until one of nodes leads and returns it.
func waitLeader(t *testing.T, nodes []*Node) *Node {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n.IsLeader() {
				return n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no leader within 10 s")
	return nil
}

// leaderAndFollower waits for a leader and returns it and one follower.
func leaderAndFollower(t *testing.T, nodes []*Node) (leader, follower *Node) {
	t.Helper()
	leader = waitLeader(t, nodes)
	for _, n := range nodes {
		if n != leader {
			return leader, n
		}
	}
	t.Fatal("no follower")
	return nil, nil
}

// TestClusterLeaderLossAndFullRestart: the leader goes away, a new one is
// elected and writes through the survivors keep working; the old leader
// comes back and catches up; then all three restart and keep everything.
func TestClusterLeaderLossAndFullRestart(t *testing.T) {
	nodes, cfgs := startClusterConfigs(t)
	leader := waitLeader(t, nodes)
	var survivors []*Node
	li := 0
	for i, n := range nodes {
		if n == leader {
			li = i
		} else {
			survivors = append(survivors, n)
		}
	}
	c := loginRetry(t, survivors[0])
	// The test's timeouts are short (testConfig): on a loaded machine a
	// leader change can happen at any time, and a client retries a 503.
	u1 := addUser(t, c, "before", "password-1", "Reader")
	cred := addKey(t, c, u1.ID)

	leader.Close()
	start := time.Now()
	newLeader := waitLeader(t, survivors)
	t.Logf("new leader %s after %v", newLeader.ID(), time.Since(start))
	c2 := newClient(t, survivors[1])
	c2.token = c.token
	u2 := addUser(t, c2, "during", "password-2", "Writer")

	back := reopen(t, cfgs[li], 15*time.Second)
	if _, ok := back.FSM().UserByID(u2.ID); !ok {
		t.Fatal("the returning node is ready but missed a write made while it was away")
	}

	for _, n := range append(survivors, back) {
		n.Close()
	}
	again := reopenAll(t, cfgs)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for i, n := range again {
		if err := n.WaitReady(ctx); err != nil {
			t.Fatalf("n%d after full restart: %v", i+1, err)
		}
		for _, id := range []string{u1.ID, u2.ID} {
			if _, ok := n.FSM().UserByID(id); !ok {
				t.Fatalf("n%d lost user %s in the full restart", i+1, id)
			}
		}
		if p, ok := n.FSM().Lookup(cred.AccessKey); !ok || p.Secret() != cred.SecretKey {
			t.Fatalf("n%d lost the credential in the full restart", i+1)
		}
		if root := n.FSM().State().NumUsers(); root != 3 {
			t.Fatalf("n%d has %d users, want 3 (root created once)", i+1, root)
		}
	}
}

// TestClusterForwardsAdminWrites bootstraps three nodes with one command
// line each, then makes admin writes through a follower: they reach the
// leader, and the follower answers only once its own FSM has them.
func TestClusterForwardsAdminWrites(t *testing.T) {
	nodes := startCluster(t)
	_, follower := leaderAndFollower(t, nodes)
	// The root user is created once, by the leader, and replicated.
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := true
		for _, n := range nodes {
			if _, ok := n.FSM().UserByName("root"); !ok {
				all = false
			}
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("root user not on every node")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := newClient(t, follower)
	c.login("root", rootPassword)
	u := addUser(t, c, "alice", "alice123", "Writer")
	// Read-your-writes on the follower: no wait needed.
	if _, ok := follower.FSM().UserByID(u.ID); !ok {
		t.Fatal("the follower answered before applying its own write")
	}
	cred := addKey(t, c, u.ID)
	// A domain error crosses the forwarding as itself.
	if code := c.do("POST", "/api/admin/users", map[string]string{"username": "alice", "password": "alice123", "role": "Writer"}, nil); code != 409 {
		t.Fatalf("duplicate through a follower: %d, want 409", code)
	}
	for i, n := range nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := n.FSM().WaitApplied(ctx, follower.FSM().AppliedIndex())
		cancel()
		if err != nil {
			t.Fatalf("n%d: %v", i+1, err)
		}
		if p, ok := n.FSM().Lookup(cred.AccessKey); !ok || p.ID != u.ID {
			t.Fatalf("n%d does not know the new credential", i+1)
		}
	}
	if _, ok := nodes[0].FSM().UserByName("alice"); !ok {
		t.Fatal("user missing")
	}
}

// TestClusterRevocationBarrier revokes a key through a follower while every
// node is up: once the admin API answers, the old key fails on every node.
// Then with one follower stopped, a revoke is still acknowledged, within
// about one auth lease.
// confirmedBy checks the barrier's answer headers of the last response:
// the nodes that confirmed (the leader that applied the event first) and
// those waited out (expired: the nodes that are down). term0 is n's Raft
// term before the request was sent. While the term stays, the answer must
// be exact: every live node confirmed, the leader n sees first. When the
// term moved during the request (an election on a loaded machine), a live
// node may be listed as waited out too: a leader elected a moment ago
// serves, and grants leases, only after its hand-over, and the barrier
// does not wait for a node it gave no grant (such a node refuses S3 until
// it gets one). Then the answer must still account for every node, list
// the down ones as waited out and a confirming node first, and the check
// waits until the new leader granted every live node a lease, so that the
// next request is held to the exact answer again.
func confirmedBy(t *testing.T, c *client, nodes []*Node, n *Node, term0 uint64, confirmed int, expired string) {
	t.Helper()
	got := strings.Split(c.last.Get(admin.HeaderConfirmedBy), ",")
	gotExpired := c.last.Get(admin.HeaderLeaseExpired)
	leader, _ := n.Leader()
	bad := len(got) != confirmed || gotExpired != expired || got[0] != leader
	if term := n.currentTerm(); bad && term != term0 {
		t.Logf("term moved from %d to %d during the request: confirmed by %q, waited out %q, leader now %s", term0, term, got, gotExpired, leader)
		waited := strings.Split(gotExpired, ",")
		if gotExpired == "" {
			waited = nil
		}
		bad = len(got)+len(waited) != len(nodes) || slices.Contains(waited, got[0])
		for _, id := range strings.Split(expired, ",") {
			bad = bad || (id != "" && !slices.Contains(waited, id))
		}
		if !bad {
			waitGranted(t, nodes, expired)
		}
	}
	if bad {
		t.Fatalf("%s: %q, %s: %q; want %d confirming nodes, leader %s first, and %q", admin.HeaderConfirmedBy, got,
			admin.HeaderLeaseExpired, gotExpired, confirmed, leader, expired)
	}
}

// waitGranted waits until the leader serves and holds a current grant it
// gave to every node except those listed in down.
func waitGranted(t *testing.T, nodes []*Node, down string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		leader := waitLeader(t, nodes)
		granted := leader.leaderServing()
		for _, n := range nodes {
			if n != leader && !slices.Contains(strings.Split(down, ","), n.ID()) {
				granted = granted && leader.given.Until(n.ID()) > leader.clock.Now()
			}
		}
		if granted {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader %s does not grant every live node a lease within 10 s", leader.ID())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClusterRevocationBarrier(t *testing.T) {
	nodes, follower, c, u := clusterWithAlice(t)
	for round := 0; round < 5; round++ {
		term0 := follower.currentTerm()
		cred := addKey(t, c, u.ID)
		confirmedBy(t, c, nodes, follower, term0, 3, "")
		// Issuing is revocation-class too (it replaces the old key): the new
		// key is known everywhere once the answer arrives.
		for i, n := range nodes {
			if _, ok := n.FSM().Lookup(cred.AccessKey); !ok {
				t.Fatalf("round %d: n%d does not know the key returned a moment ago", round, i+1)
			}
		}
		term0 = follower.currentTerm()
		if code := c.do("DELETE", "/api/admin/users/"+u.ID+"/credentials", nil, nil); code != 204 {
			t.Fatalf("revoke: %d", code)
		}
		confirmedBy(t, c, nodes, follower, term0, 3, "")
		for i, n := range nodes {
			if _, ok := n.FSM().Lookup(cred.AccessKey); ok {
				t.Fatalf("round %d: n%d still accepts the key after the revoke was acknowledged", round, i+1)
			}
		}
	}

	// One follower down: the revoke is acknowledged within the lease.
	var down *Node
	for _, n := range nodes {
		if !n.IsLeader() && n != follower {
			down = n
		}
	}
	if down == nil {
		t.Skip("leadership moved during the test")
	}
	addKey(t, c, u.ID)
	down.Close()
	term0 := follower.currentTerm()
	start := time.Now()
	if code := c.do("DELETE", "/api/admin/users/"+u.ID+"/credentials", nil, nil); code != 204 {
		t.Fatalf("revoke with a node down: %d", code)
	}
	took := time.Since(start)
	confirmedBy(t, c, nodes, follower, term0, 2, down.ID())
	lease := follower.cfg.AuthLease
	if took > lease+follower.leaseMargin()+2*time.Second {
		t.Fatalf("revoke with a node down took %v (lease %v)", took, lease)
	}
	t.Logf("revoke with a node down acknowledged after %v (auth lease %v)", took, lease)

	// Down for longer than a lease: the last grant the leader gave it ended
	// long ago, so the barrier does not wait for it at all.
	leader := waitLeader(t, nodes)
	for deadline := time.Now().Add(3 * lease); leader.given.Until(down.ID()).Add(leader.leaseMargin()) > leader.clock.Now(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the down node's last grant does not run out within %v", 3*lease)
		}
	}
	term0 = follower.currentTerm()
	addKey(t, c, u.ID)
	confirmedBy(t, c, nodes, follower, term0, 2, down.ID())
	term0 = follower.currentTerm()
	start = time.Now()
	if code := c.do("DELETE", "/api/admin/users/"+u.ID+"/credentials", nil, nil); code != 204 {
		t.Fatalf("revoke with a node down for a lease: %d", code)
	}
	took = time.Since(start)
	confirmedBy(t, c, nodes, follower, term0, 2, down.ID())
	if took > lease/2 {
		t.Fatalf("revoke with a node down for over a lease took %v: it waited for a lease that had run out", took)
	}
	t.Logf("revoke with a node down for over a lease acknowledged after %v", took)
}

// TestClusterRevocationBarrierElection revokes a key through a follower
// with another node down while the leader hands its leadership over: the
// revoke is acknowledged, no live node knows the old key afterwards, the
// answer accounts for every node (the new leader may list the old one as
// waited out: it had no grant of the new term yet), and once the new
// leader granted the live node a lease the next revoke is confirmed by
// both live nodes, the new leader first.
func TestClusterRevocationBarrierElection(t *testing.T) {
	nodes, follower, c, u := clusterWithAlice(t)
	var down, leader *Node
	for _, n := range nodes {
		switch {
		case n.IsLeader():
			leader = n
		case n != follower:
			down = n
		}
	}
	if down == nil || leader == nil {
		t.Skip("leadership moved during the set-up")
	}
	cred := addKey(t, c, u.ID)
	down.Close()
	term0 := follower.currentTerm()
	moved := make(chan error, 1)
	go func() {
		moved <- leader.raft.LeadershipTransferToServer(raft.ServerID(follower.ID()), raft.ServerAddress(follower.cfg.Advertise)).Error()
	}()
	if code, b, retried := c.doRetry("DELETE", "/api/admin/users/"+u.ID+"/credentials", nil); code != 204 {
		t.Fatalf("revoke during the hand-over: %d %s (retried after a 503: %t)", code, b, retried)
	}
	if err := <-moved; err != nil {
		t.Fatalf("leadership transfer: %v", err)
	}
	confirmedBy(t, c, nodes, follower, term0, 2, down.ID())
	for _, n := range []*Node{leader, follower} {
		if _, ok := n.FSM().Lookup(cred.AccessKey); ok {
			t.Fatalf("%s still knows the key after the revoke was acknowledged", n.ID())
		}
	}
	if follower.currentTerm() == term0 {
		t.Fatalf("the term did not move: the transfer ended before the revoke")
	}
	waitGranted(t, nodes, down.ID())
	addKey(t, c, u.ID)
	term0 = follower.currentTerm()
	if code := c.do("DELETE", "/api/admin/users/"+u.ID+"/credentials", nil, nil); code != 204 {
		t.Fatalf("revoke after the hand-over: %d", code)
	}
	confirmedBy(t, c, nodes, follower, term0, 2, down.ID())
}

// TestFollowerFencesWithoutLeader: a follower that stops hearing real
// appends refuses S3 within its lease.
func TestFollowerFencesWithoutLeader(t *testing.T) {
	nodes := startCluster(t)
	var follower *Node
	var others []*Node
	for _, n := range nodes {
		if !n.IsLeader() && follower == nil {
			follower = n
		} else {
			others = append(others, n)
		}
	}
	if err := follower.ServeS3(); err != nil {
		t.Fatalf("healthy follower fenced: %v", err)
	}
	for _, n := range others {
		n.Close()
	}
	deadline := time.Now().Add(follower.cfg.AuthLease + 2*time.Second)
	for follower.ServeS3() == nil {
		if time.Now().After(deadline) {
			t.Fatal("a follower cut off from the cluster still serves S3")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// It fails its readiness check too.
	if code := newClient(t, follower).do("GET", "/health/ready", nil, nil); code != 503 {
		t.Fatalf("/health/ready of a fenced follower: %d, want 503", code)
	}
}

// TestIdleClusterKeepsLeases: with no writes at all for several leases,
// every follower keeps serving: its own status questions to the leader,
// every AuthLease/4, renew its lease (lease.go) without any request asking. An election fences nodes
// for a moment, rightly: if the term changes during the window (a loaded
// machine can delay heartbeats past the timeout), the window starts again,
// at most three times.
func TestIdleClusterKeepsLeases(t *testing.T) {
	nodes := startCluster(t)
	lease := nodes[0].cfg.AuthLease
	termOf := func() uint64 { return waitLeader(t, nodes).raft.CurrentTerm() }
	for attempt := 1; ; attempt++ {
		term := termOf()
		// Without asking (ServeS3 would ask for a grant itself): every node
		// serves, and a follower's newest grant was asked for within half
		// a lease (renewals every lease/4).
		err := func() error {
			for end := time.Now().Add(3 * lease); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				for i, n := range nodes {
					st := n.LocalStatus("test")
					if !st.Serving {
						return fmt.Errorf("n%d not serving on an idle, healthy cluster: %v", i+1, n.ServeS3())
					}
					if st.IsLeader && st.LeaseLeft < lease/2 {
						return fmt.Errorf("n%d: the leader lease holds only %v more on an idle, healthy cluster", i+1, st.LeaseLeft)
					}
					if g, ok := n.follower.Newest(); !st.IsLeader && (!ok || n.clock.Now().Sub(g.Asked) > lease/2) {
						return fmt.Errorf("n%d: no grant asked for within %v on an idle, healthy cluster", i+1, lease/2)
					}
				}
			}
			return nil
		}()
		if err == nil {
			return
		}
		if now := termOf(); now == term || attempt == 3 {
			t.Fatalf("%v (term %d, now %d, attempt %d)", err, term, now, attempt)
		}
		t.Logf("attempt %d: %v, during an election (term %d to %d): again", attempt, err, term, termOf())
	}
}

// TestClusterAdminRoutes: GET /api/admin/cluster shows the three voters from
// any node; membership changes work from any node (a follower forwards
// them) and are idempotent; a removed voter can be added back.
func TestClusterAdminRoutes(t *testing.T) {
	nodes := startCluster(t)
	var leader, follower *Node
	for _, n := range nodes {
		if n.IsLeader() {
			leader = n
		} else {
			follower = n
		}
	}
	fc := loginRetry(t, follower)
	var st struct {
		Leader string
		Nodes  []struct {
			ID, Address, Role string
			Ready             bool
		}
	}
	if code := fc.do("GET", "/api/admin/cluster", nil, &st); code != 200 {
		t.Fatalf("GET cluster: %d", code)
	}
	leaders := 0
	for _, nd := range st.Nodes {
		if nd.Role == "leader" {
			leaders++
		}
		if !nd.Ready {
			t.Errorf("node %s not ready: %+v", nd.ID, nd)
		}
	}
	if len(st.Nodes) != 3 || leaders != 1 || st.Leader != leader.ID() {
		t.Fatalf("cluster status %+v", st)
	}
	victim := follower.ID()
	if code := fc.do("DELETE", "/api/admin/cluster/nodes/"+victim, nil, nil); code != 204 {
		t.Fatalf("remove through a follower (forwarded to the leader): %d, want 204", code)
	}
	lc := newClient(t, leader)
	lc.token = fc.token
	if code := lc.do("DELETE", "/api/admin/cluster/nodes/"+victim, nil, nil); code != 204 {
		t.Fatalf("remove again (idempotent): %d", code)
	}
	if code := lc.do("GET", "/api/admin/cluster", nil, &st); code != 200 || len(st.Nodes) != 2 {
		t.Fatalf("after remove: %d %+v", code, st)
	}
	if code := lc.do("POST", "/api/admin/cluster/nodes", map[string]string{"id": victim, "address": follower.ClusterAddr().String()}, nil); code != 201 {
		t.Fatalf("add back: %d", code)
	}
	if code := lc.do("POST", "/api/admin/cluster/nodes", map[string]string{"id": "x", "address": "no-port"}, nil); code != 400 {
		t.Fatalf("bad address: %d, want 400", code)
	}
	if code := lc.do("GET", "/api/admin/cluster", nil, &st); code != 200 || len(st.Nodes) != 3 {
		t.Fatalf("after add: %d %+v", code, st)
	}
}

// clusterWithAlice starts three nodes and, through a follower, logs in as
// root and creates the Writer alice.
func clusterWithAlice(t *testing.T) (nodes []*Node, follower *Node, c *client, alice userJSON) {
	t.Helper()
	nodes = startCluster(t)
	for _, n := range nodes {
		if !n.IsLeader() {
			follower = n
		}
	}
	c = loginRetry(t, follower)
	alice = addUser(t, c, "alice", "alice123", "Writer")
	return nodes, follower, c, alice
}
