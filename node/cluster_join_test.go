package node

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s4/s4/keyring"
)

// joinWaitFor polls cond until it holds or timeout passes.
func joinWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// joinWaitErr polls f until it returns nil or timeout passes, and reports
// its last error.
func joinWaitErr(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s: %v", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// joinServers is the Raft configuration n knows: server ID -> address.
func joinServers(t *testing.T, n *Node) map[string]string {
	t.Helper()
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range f.Configuration().Servers {
		out[string(s.ID)] = string(s.Address)
	}
	return out
}

// clusterJSON is the body of GET /api/admin/cluster.
type clusterJSON struct {
	Leader string `json:"leader"`
	Nodes  []struct {
		ID         string `json:"id"`
		Address    string `json:"address"`
		APIAddress string `json:"api_address"`
		Role       string `json:"role"`
		Ready      bool   `json:"ready"`
	} `json:"nodes"`
}

// checkAPIAddresses asks c for the cluster status and checks that it lists
// exactly nodes, each with its cluster address and its API address.
func checkAPIAddresses(t *testing.T, c *client, nodes []*Node) {
	t.Helper()
	want := map[string]*Node{}
	for _, n := range nodes {
		want[n.ID()] = n
	}
	var st clusterJSON
	// A node's own view of the configuration may lag its leader's by a
	// heartbeat, and a peer reports its API address once it is ready.
	joinWaitFor(t, 10*time.Second, "GET /api/admin/cluster lists every node with its API address", func() bool {
		if code := c.do("GET", "/api/admin/cluster", nil, &st); code != 200 || len(st.Nodes) != len(nodes) {
			return false
		}
		for _, nd := range st.Nodes {
			if n := want[nd.ID]; n == nil || nd.APIAddress == "" {
				return false
			}
		}
		return true
	})
	for _, nd := range st.Nodes {
		n := want[nd.ID]
		if nd.Address != n.ClusterAddr().String() {
			t.Errorf("%s: address %q, want %q", nd.ID, nd.Address, n.ClusterAddr())
		}
		if nd.APIAddress != n.Addr().String() {
			t.Errorf("%s: api_address %q, want %q", nd.ID, nd.APIAddress, n.Addr())
		}
	}
}

// TestClusterJoin: a fourth node started with an empty data dir and Join
// set to a follower's cluster address joins the running cluster: it becomes
// ready, is a voter in every node's configuration, and serves what was
// written before it joined (users, an object whose blob it fetches from a
// peer). GET /api/admin/cluster shows every node's API address. Removing it
// through a follower shrinks the configuration again.
func TestClusterJoin(t *testing.T) {
	nodes := startCluster(t)
	leader, follower := leaderAndFollower(t, nodes)
	c := loginRetry(t, follower)
	checkAPIAddresses(t, c, nodes)

	// Written before the join: a user with a key, a bucket and an object.
	u := addUser(t, c, "before_join", "password-1", "Writer")
	cred := addKey(t, c, u.ID)
	w := nodeS3Env(t, follower).sdk(cred.AccessKey, cred.SecretKey)
	mkBucket(t, w, "joined")
	putString(t, w, "joined", "hello.txt", "written before the join")
	// The new node gets the state as a snapshot plus the log's tail.
	if err := leader.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}

	cfg := testConfig(t.TempDir())
	cfg.NodeID = "n4"
	cfg.Join = follower.ClusterAddr().String()
	n4, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n4.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n4.WaitReady(ctx); err != nil {
		t.Fatalf("the joining node: %v", err)
	}
	all := append(append([]*Node(nil), nodes...), n4)
	for _, n := range all {
		joinWaitFor(t, 10*time.Second, n.ID()+" has n4 in its configuration", func() bool {
			s := joinServers(t, n)
			return len(s) == 4 && s["n4"] == n4.ClusterAddr().String()
		})
	}
	if _, ok := n4.FSM().UserByID(u.ID); !ok {
		t.Fatal("the joined node is ready but misses a user created before the join")
	}

	// Through the new node's HTTPS: root logs in, the old user is listed,
	// the old object reads back.
	c4 := loginRetry(t, n4)
	var users []userJSON
	if code := c4.do("GET", "/api/admin/users", nil, &users); code != 200 {
		t.Fatalf("list users on n4: %d", code)
	}
	found := false
	for _, x := range users {
		found = found || x.ID == u.ID
	}
	if !found {
		t.Fatalf("n4 does not list the user created before the join: %+v", users)
	}
	// Retried: on a loaded machine a node may briefly answer 503 (fenced).
	r4 := nodeS3Env(t, n4).sdk(cred.AccessKey, cred.SecretKey)
	joinWaitErr(t, 15*time.Second, "the object written before the join reads back through n4", func() error {
		out, err := r4.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("joined"), Key: aws.String("hello.txt")})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		if err == nil && string(b) != "written before the join" {
			t.Fatalf("object through n4: %q", b)
		}
		return err
	})
	checkAPIAddresses(t, c4, all)

	// A write through the new node reaches the leader.
	if code := c4.do("POST", "/api/admin/users", map[string]string{"username": "after_join", "password": "password-2", "role": "Reader"}, nil); code != 201 {
		t.Fatalf("create a user through n4: %d", code)
	}

	// Remove n4 through a follower (it forwards to the leader; n4 may lead
	// by now, then it removes itself and steps down).
	leader = waitLeader(t, all)
	var via *Node
	for _, n := range nodes {
		if n != leader {
			via = n
			break
		}
	}
	cv := newClient(t, via)
	cv.token = c.token
	if code := cv.do("DELETE", "/api/admin/cluster/nodes/n4", nil, nil); code != 204 {
		t.Fatalf("remove n4 through follower %s: %d", via.ID(), code)
	}
	for _, n := range nodes {
		joinWaitFor(t, 10*time.Second, n.ID()+" no longer has n4 in its configuration", func() bool {
			s := joinServers(t, n)
			_, has := s["n4"]
			return len(s) == 3 && !has
		})
	}
	n4.Close()
	// The three keep working.
	if code := c.do("POST", "/api/admin/users", map[string]string{"username": "after_removal", "password": "password-3", "role": "Reader"}, nil); code != 201 {
		t.Fatalf("create a user after the removal: %d", code)
	}
	// Removing it again is a no-op that succeeds.
	if code := cv.do("DELETE", "/api/admin/cluster/nodes/n4", nil, nil); code != 204 {
		t.Fatalf("remove n4 again: %d", code)
	}
}

// joinLogCounter counts log records whose message contains match.
type joinLogCounter struct {
	match string
	n     atomic.Int32
}

func (h *joinLogCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *joinLogCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.match) {
		h.n.Add(1)
	}
	return nil
}
func (h *joinLogCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *joinLogCounter) WithGroup(string) slog.Handler      { return h }

// TestClusterJoinWithAnotherKeyFails: a node with another cluster key never
// gets in: each attempt fails the TLS handshake (logged as such, retried),
// it is in no configuration and never ready, and the cluster keeps working.
func TestClusterJoinWithAnotherKeyFails(t *testing.T) {
	nodes := startCluster(t)
	_, follower := leaderAndFollower(t, nodes)
	logs := &joinLogCounter{match: "connecting to the --join node failed"}
	cfg := testConfig(t.TempDir())
	otherKey := keyring.ClusterKey{7, 7, 7}
	cfg.ClusterKey = &otherKey
	cfg.NodeID = "intruder"
	cfg.Join = follower.ClusterAddr().String()
	cfg.Logger = slog.New(logs)
	x, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })

	// Three failed attempts take about 0.25 + 0.5 s of backoff.
	joinWaitFor(t, 15*time.Second, "three failed join attempts logged", func() bool { return logs.n.Load() >= 3 })
	for _, n := range nodes {
		s := joinServers(t, n)
		if _, has := s["intruder"]; has || len(s) != 3 {
			t.Fatalf("%s's configuration: %v", n.ID(), s)
		}
	}
	if x.Ready() || x.IsLeader() || len(joinServers(t, x)) != 0 {
		t.Fatalf("the node with another key: ready %v, leader %v, configuration %v", x.Ready(), x.IsLeader(), joinServers(t, x))
	}
	c := loginRetry(t, follower)
	if code := c.do("POST", "/api/admin/users", map[string]string{"username": "still_works", "password": "password-1", "role": "Reader"}, nil); code != 201 {
		t.Fatalf("a write while a stranger tries to join: %d", code)
	}
	// Closing it ends its join loop promptly.
	done := make(chan struct{})
	go func() { x.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close of a node that is still trying to join hangs")
	}
}

// TestJoinConfigValidation: --join and --peers exclude each other, --join
// needs host:port, and --api-advertise has its defaults.
func TestJoinConfigValidation(t *testing.T) {
	base := func() Config {
		cfg := testConfig(t.TempDir())
		cfg.Listen, cfg.ClusterListen = ":9000", ":7000"
		return cfg
	}
	cfg := base()
	cfg.Join = "127.0.0.1:7001"
	cfg.NodeID = "n1"
	cfg.Peers = []Peer{{ID: "n1", Addr: "127.0.0.1:7000"}, {ID: "n2", Addr: "127.0.0.1:7001"}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--join and --peers") {
		t.Fatalf("--join with --peers: %v", err)
	}
	if _, err := Open(cfg); err == nil {
		t.Fatal("Open accepted --join with --peers")
	}
	for _, bad := range []string{"no-port", ":7000", "host:"} {
		cfg := base()
		cfg.Join = bad
		if err := cfg.Validate(); err == nil {
			t.Errorf("--join %q accepted", bad)
		}
	}
	cfg = base()
	cfg.Join = "10.0.0.1:7000"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("--join alone: %v", err)
	}

	for _, tc := range []struct{ listen, advertise, api, want string }{
		{":9000", "", "", "127.0.0.1:9000"},
		{"0.0.0.0:9000", "", "", "127.0.0.1:9000"},
		{":9000", "10.1.2.3:7000", "", "10.1.2.3:9000"},
		{"192.168.1.5:9443", "10.1.2.3:7000", "", "192.168.1.5:9443"},
		{":9000", "", "s4.example.com:443", "s4.example.com:443"},
	} {
		cfg := base()
		cfg.Listen, cfg.Advertise, cfg.APIAdvertise = tc.listen, tc.advertise, tc.api
		if err := cfg.Validate(); err != nil || cfg.APIAdvertise != tc.want {
			t.Errorf("listen %q advertise %q api %q: %q, %v; want %q", tc.listen, tc.advertise, tc.api, cfg.APIAdvertise, err, tc.want)
		}
	}
	for _, bad := range []string{"no-port", ":9000"} {
		cfg := base()
		cfg.APIAdvertise = bad
		if err := cfg.Validate(); err == nil {
			t.Errorf("--api-advertise %q accepted", bad)
		}
	}
}

// TestJoinIgnoredWithExistingState: a node that has Raft state resumes its
// cluster; --join changes nothing.
func TestJoinIgnoredWithExistingState(t *testing.T) {
	cfg := testConfig(t.TempDir())
	n := mustOpen(t, cfg)
	addr := n.ClusterAddr().String()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.ClusterListen = addr
	cfg.Join = freeAddr(t) // nobody there
	n = mustOpen(t, cfg)   // ready again: it leads its one-node cluster
	if !n.IsLeader() || len(joinServers(t, n)) != 1 {
		t.Fatalf("leader %v, configuration %v", n.IsLeader(), joinServers(t, n))
	}
}
