package node

// Fault injection on the cluster port: a partitioned node (through a proxy
// on every directed link), a node with another cluster key, and garbage on
// the cluster port. The revocation barrier's promise (docs/DESIGN.md) must hold
// through all of them.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/raft"

	"github.com/s4/s4/internal/testcert"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/transport"
)

// linkMode is the state of one directed cluster link.
type linkMode int32

const (
	linkUp linkMode = iota
	// linkCut: live connections are closed and new ones are closed as soon
	// as they are accepted (what a peer sees when a firewall resets).
	linkCut
	// linkDrop: bytes are silently dropped both ways on live connections,
	// new connections are accepted and then hang (a black hole). Healing
	// closes the connections that lost bytes.
	linkDrop
	// linkHold: bytes are kept, in order and with the time they arrived,
	// instead of delivered (a network that delays); releaseAndCut delivers
	// what arrived before a given time and then cuts the link.
	linkHold
)

func (m linkMode) String() string { return [...]string{"up", "cut", "drop", "hold"}[m] }

// faultLink is the proxy of one directed link: node from dials node to
// through it. It forwards bytes to the real cluster address while up.
type faultLink struct {
	name   string
	ln     net.Listener
	target atomic.Pointer[string] // the real address; nil until setPeers
	mode   atomic.Int32
	// gate: a pipe holds it (read) while it checks the mode and writes, so
	// that once set returns no byte passes a link that is not up.
	gate     sync.RWMutex
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	pipes    map[*pipe]struct{}
	closed   bool
	accepted atomic.Int64
	held     atomic.Int64 // chunks held in linkHold
	wg       sync.WaitGroup
}

// pipe is one direction of one proxied connection.
type pipe struct {
	src, dst net.Conn
	qmu      sync.Mutex
	queue    []heldChunk // what arrived in linkHold
}

type heldChunk struct {
	at   time.Time
	data []byte
}

func newFaultLink(t *testing.T, name string) *faultLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &faultLink{name: name, ln: ln, conns: map[net.Conn]struct{}{}, pipes: map[*pipe]struct{}{}}
	l.wg.Add(1)
	go l.serve()
	return l
}

func (l *faultLink) serve() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.accepted.Add(1)
		l.wg.Add(1)
		go l.handle(c)
	}
}

// track registers conns and pipes as live if the link is in a mode ok.
func (l *faultLink) track(ok func(linkMode) bool, conns []net.Conn, pipes ...*pipe) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || !ok(linkMode(l.mode.Load())) {
		return false
	}
	for _, c := range conns {
		l.conns[c] = struct{}{}
	}
	for _, p := range pipes {
		l.pipes[p] = struct{}{}
	}
	return true
}

func (l *faultLink) untrack(conns []net.Conn, pipes ...*pipe) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range conns {
		delete(l.conns, c)
		c.Close()
	}
	for _, p := range pipes {
		delete(l.pipes, p)
	}
}

func (l *faultLink) handle(c net.Conn) {
	defer l.wg.Done()
	switch linkMode(l.mode.Load()) {
	case linkCut:
		c.Close()
		return
	case linkDrop:
		if l.track(func(m linkMode) bool { return m == linkDrop }, []net.Conn{c}) {
			io.Copy(io.Discard, c) // until healed (closed) or the dialer gives up
		}
		l.untrack([]net.Conn{c})
		return
	}
	target := l.target.Load()
	if target == nil { // not ours: a port reused from another test's cluster
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", *target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	conns := []net.Conn{c, up}
	out, back := &pipe{src: c, dst: up}, &pipe{src: up, dst: c}
	if !l.track(func(m linkMode) bool { return m == linkUp || m == linkHold }, conns, out, back) {
		c.Close()
		up.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { l.pump(out); done <- struct{}{} }()
	go func() { l.pump(back); done <- struct{}{} }()
	<-done
	l.untrack(conns, out, back) // the other pump ends on the closed connections
	<-done
}

func (l *faultLink) pump(p *pipe) {
	buf := make([]byte, 32<<10)
	for {
		n, err := p.src.Read(buf)
		if n > 0 {
			l.gate.RLock()
			var werr error
			switch linkMode(l.mode.Load()) {
			case linkUp:
				_, werr = p.dst.Write(buf[:n])
			case linkHold:
				p.qmu.Lock()
				p.queue = append(p.queue, heldChunk{time.Now(), bytes.Clone(buf[:n])})
				p.qmu.Unlock()
				l.held.Add(1)
			} // else dropped
			l.gate.RUnlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// set changes the link's mode. When it returns, no byte passes unless the
// mode is up; connections are closed on a cut and when a link that dropped
// or held bytes comes back.
func (l *faultLink) set(m linkMode) {
	l.mu.Lock()
	old := linkMode(l.mode.Swap(int32(m)))
	var toClose []net.Conn
	if m == linkCut || ((old == linkDrop || old == linkHold) && m != old) {
		for c := range l.conns {
			toClose = append(toClose, c)
		}
	}
	l.mu.Unlock()
	for _, c := range toClose {
		c.Close()
	}
	l.gate.Lock() // waits out a write that saw the old mode
	l.gate.Unlock()
}

// releaseAndCut delivers, on every held connection, the bytes that reached
// the proxy before cutoff (as a network does that delivers late), then
// cuts the link. It returns the number of chunks delivered.
func (l *faultLink) releaseAndCut(cutoff time.Time) int {
	l.gate.Lock() // no pipe handles a chunk meanwhile
	l.mu.Lock()
	delivered := 0
	for p := range l.pipes {
		p.qmu.Lock()
		for _, ch := range p.queue {
			if ch.at.After(cutoff) {
				break
			}
			p.dst.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := p.dst.Write(ch.data); err != nil {
				break
			}
			delivered++
		}
		p.queue = nil
		p.qmu.Unlock()
	}
	l.mode.Store(int32(linkCut))
	var toClose []net.Conn
	for c := range l.conns {
		toClose = append(toClose, c)
	}
	l.mu.Unlock()
	l.gate.Unlock()
	// Let the receiver read what was delivered before the connection goes.
	time.Sleep(20 * time.Millisecond)
	for _, c := range toClose {
		c.Close()
	}
	return delivered
}

func (l *faultLink) close() {
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.ln.Close()
	l.wg.Wait()
}

// linkNet is a fault-injecting proxy for every directed link between the
// nodes of a cluster: node i reaches node j through links[i][j].
type linkNet struct {
	peers  []Peer
	links  [][]*faultLink
	direct atomic.Int64 // dials that did not go through a link (none expected)
}

func newLinkNet(t *testing.T, n int) *linkNet {
	t.Helper()
	ln := &linkNet{links: make([][]*faultLink, n)}
	for i := range n {
		ln.links[i] = make([]*faultLink, n)
		for j := range n {
			if i != j {
				ln.links[i][j] = newFaultLink(t, fmt.Sprintf("n%d→n%d", i+1, j+1))
			}
		}
	}
	t.Cleanup(ln.close)
	return ln
}

// setPeers gives the links their targets (the nodes' real cluster
// addresses). The proxies listen before the addresses are picked, so
// freeAddr cannot pick a proxy's port.
func (ln *linkNet) setPeers(peers []Peer) {
	ln.peers = peers
	for i := range ln.links {
		for j, l := range ln.links[i] {
			if l != nil {
				l.target.Store(&peers[j].Addr)
			}
		}
	}
}

// dialer is node i's ClusterDialer.
func (ln *linkNet) dialer(i int) transport.Dialer {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		for j, p := range ln.peers {
			if p.Addr == addr && j != i {
				return d.DialContext(ctx, "tcp", ln.links[i][j].ln.Addr().String())
			}
		}
		ln.direct.Add(1)
		return d.DialContext(ctx, "tcp", addr)
	}
}

// isolate sets every link to and from node k to m.
func (ln *linkNet) isolate(k int, m linkMode) {
	for j := range ln.links {
		if j != k {
			ln.links[k][j].set(m)
			ln.links[j][k].set(m)
		}
	}
}

func (ln *linkNet) setAll(m linkMode) {
	for i := range ln.links {
		for _, l := range ln.links[i] {
			if l != nil {
				l.set(m)
			}
		}
	}
}

func (ln *linkNet) close() {
	for i := range ln.links {
		for _, l := range ln.links[i] {
			if l != nil {
				l.close()
			}
		}
	}
}

// startFaultCluster starts three nodes whose outgoing cluster links all go
// through a linkNet. It retries on other ports like startClusterConfigs.
func startFaultCluster(t *testing.T) ([]*Node, []Config, *linkNet) {
	t.Helper()
	return startFaultClusterWith(t, nil)
}

// startFaultClusterWith is startFaultCluster with a hook that adjusts each
// node's configuration after the fault cluster's settings.
func startFaultClusterWith(t *testing.T, tweak func(i int, cfg *Config)) ([]*Node, []Config, *linkNet) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		lnet := newLinkNet(t, 3)
		var peers []Peer
		for i := 1; i <= 3; i++ {
			peers = append(peers, Peer{ID: fmt.Sprintf("n%d", i), Addr: freeAddr(t)})
		}
		lnet.setPeers(peers)
		nodes, cfgs, err := tryStartClusterWith(t, peers, func(i int, cfg *Config) {
			cfg.ClusterDialer = lnet.dialer(i)
			// Less eager than testConfig's 100 ms: with two of three nodes
			// left, a 50 ms scheduling hiccup on this shared machine (race
			// detector, two cores) must not depose the leader.
			cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 250*time.Millisecond, 250*time.Millisecond, 125*time.Millisecond
			if tweak != nil {
				tweak(i, cfg)
			}
		})
		if err == nil {
			// Before the nodes close (cleanups run last-in first-out): no
			// node waits on a black-holed connection while it shuts down.
			t.Cleanup(func() { lnet.setAll(linkCut) })
			return nodes, cfgs, lnet
		}
		lnet.close()
		if attempt == 5 || !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatal(err)
		}
		t.Logf("retrying on other ports: %v", err)
	}
}

// tryStartClusterWith is tryStartCluster with given peers and a hook that
// adjusts each node's configuration. With S4_FAULT_LOGS=dir each node logs
// (debug, raft's warnings included) to dir/<test>-nN.log.
func tryStartClusterWith(t *testing.T, peers []Peer, tweak func(i int, cfg *Config)) ([]*Node, []Config, error) {
	nodes := make([]*Node, len(peers))
	cfgs := make([]Config, len(peers))
	errs := make([]error, len(peers))
	var wg sync.WaitGroup
	for i := range nodes {
		cfgs[i] = testConfig(t.TempDir())
		cfgs[i].NodeID, cfgs[i].Peers = peers[i].ID, peers
		cfgs[i].ClusterListen, cfgs[i].Advertise = peers[i].Addr, peers[i].Addr
		if dir := os.Getenv("S4_FAULT_LOGS"); dir != "" {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-n%d.log", strings.ReplaceAll(t.Name(), "/", "_"), i+1)))
			if err == nil {
				t.Cleanup(func() { f.Close() })
				cfgs[i].Logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
		}
		if tweak != nil {
			tweak(i, &cfgs[i])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = Open(cfgs[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, n := range nodes {
			if n != nil {
				n.Close()
			}
		}
		return nil, nil, err
	}
	for _, n := range nodes {
		t.Cleanup(func() { closeWithin(t, n, 30*time.Second) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, n := range nodes {
		if err := n.WaitReady(ctx); err != nil {
			t.Fatalf("n%d: %v", i+1, err)
		}
	}
	return nodes, cfgs, nil
}

// closeWithin closes n, failing the test with the goroutines still running
// if Close does not return within d (instead of hanging the test binary).
func closeWithin(t *testing.T, n *Node, d time.Duration) {
	done := make(chan struct{})
	go func() { n.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var stuck []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "hashicorp/raft") {
				stuck = append(stuck, g)
			}
		}
		t.Errorf("%s: Close did not return within %v; raft goroutines:\n%s", n.ID(), d, strings.Join(stuck, "\n\n"))
	}
}

// waitSettled waits until every node serves S3 and all agree on one leader
// among them; it returns the leader.
func waitSettled(t *testing.T, nodes []*Node, timeout time.Duration) *Node {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var why string
	for {
		why = ""
		var leader *Node
		for _, n := range nodes {
			if n.IsLeader() {
				if leader != nil {
					why = "two leaders"
				}
				leader = n
			}
		}
		if leader == nil && why == "" {
			why = "no leader"
		}
		for _, n := range nodes {
			if why != "" {
				break
			}
			if id, _ := n.Leader(); id != leader.ID() {
				why = fmt.Sprintf("%s follows %q, not %s", n.ID(), id, leader.ID())
			} else if err := n.ServeS3(); err != nil {
				why = fmt.Sprintf("%s does not serve: %v", n.ID(), err)
			}
		}
		if why == "" {
			return leader
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not settled after %v: %s", timeout, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// arrangeLeader makes nodes[k] the leader (lead) or a follower (!lead) by
// leadership transfers, and waits until the cluster settled.
func arrangeLeader(t *testing.T, nodes []*Node, cfgs []Config, k int, lead bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		leader := waitSettled(t, nodes, 10*time.Second)
		if (leader == nodes[k]) == lead {
			return
		}
		var err error
		if lead {
			err = leader.raft.LeadershipTransferToServer(raft.ServerID(nodes[k].ID()), raft.ServerAddress(cfgs[k].Advertise)).Error()
		} else {
			err = leader.raft.LeadershipTransfer().Error()
		}
		if err != nil {
			t.Logf("leadership transfer: %v (retrying)", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("could not arrange n%d as leader=%v", k+1, lead)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quickS3 returns an aws-sdk-go-v2 client for node n that does not retry:
// a 503 is seen as a 503.
func quickS3(t *testing.T, n *Node, ak, sk string) *s3.Client {
	t.Helper()
	return nodeS3Env(t, n).sdk(ak, sk, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
}

// s3Get reads bucket/key; code and status describe a failure.
func s3Get(cl *s3.Client, bucket, key string) (body []byte, code string, status int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		code, status = apiCode(err)
		return nil, code, status, err
	}
	defer out.Body.Close()
	body, err = io.ReadAll(out.Body)
	return body, "", 0, err
}

func s3Put(cl *s3.Client, bucket, key string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	return err
}

// wantGet asserts that cl reads body from bucket/key. A 503 (the node is
// fenced for a moment, as when the majority re-elects) is retried until
// the deadline; anything else fails at once.
func wantGet(t *testing.T, what string, cl *s3.Client, bucket, key string, want []byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _, status, err := s3Get(cl, bucket, key)
		if err == nil {
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: GET %s/%s returned %d other bytes", what, bucket, key, len(got))
			}
			return
		}
		if status != 503 || time.Now().After(deadline) {
			t.Fatalf("%s: GET %s/%s: %v", what, bucket, key, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantGetCode asserts that a GET with cl fails with code and status. With
// retry503, a 503 is retried until the deadline (a success never is).
func wantGetCode(t *testing.T, what string, cl *s3.Client, bucket, key, code string, status int, retry503 bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, gc, gs, err := s3Get(cl, bucket, key)
		if err == nil {
			t.Fatalf("%s: GET %s/%s succeeded, want %s (%d)", what, bucket, key, code, status)
		}
		if gc == code && gs == status {
			return
		}
		if !retry503 || gs != 503 || time.Now().After(deadline) {
			t.Fatalf("%s: GET %s/%s: %s (%d), want %s (%d): %v", what, bucket, key, gc, gs, code, status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// adminRetry sends an admin request until it answers something other than
// 503 (the majority re-electing), within a deadline, and returns the
// status. Only for requests that may be repeated.
func adminRetry(t *testing.T, c *client, method, path string, body, out any) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code := c.do(method, path, body, out)
		if code != 503 || time.Now().After(deadline) {
			return code
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// createUser creates a user through c (a client of node n), retrying a 503;
// a 409 after a retry means the first attempt was applied after all.
func createUser(t *testing.T, c *client, n *Node, name, role string) userJSON {
	t.Helper()
	var u userJSON
	code := adminRetry(t, c, "POST", "/api/admin/users", map[string]string{"username": name, "password": name + "-password", "role": role}, &u)
	if code == 409 {
		if got, ok := n.FSM().UserByName(name); ok {
			return userJSON{ID: got.ID, Username: name, Role: role}
		}
	}
	if code != 201 {
		t.Fatalf("create %s through %s: %d", name, n.ID(), code)
	}
	return u
}

// caughtUp waits until every node of nodes has applied what from has. A
// request through any node sees every acknowledged write (FreshRead), but a
// test that looks at a node's FSM or blob store directly, or at a node cut
// off a moment ago, waits for it first.
func caughtUp(t *testing.T, from *Node, nodes ...*Node) {
	t.Helper()
	idx := from.FSM().AppliedIndex()
	for _, n := range nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := n.FSM().WaitApplied(ctx, idx)
		cancel()
		if err != nil {
			t.Fatalf("%s did not apply index %d of %s: %v", n.ID(), idx, from.ID(), err)
		}
	}
}

// probe is one GET sent to the partitioned node.
type probe struct {
	start   time.Time
	key     string // "revoked" or "valid"
	ok      bool
	code    string
	status  int
	errText string
}

// TestClusterPartition cuts every link to and from n3 (n1 and n2 stay
// connected): n3 stops serving S3 within its auth lease, a revoke through
// the majority is acknowledged within about one lease and the revoked key
// fails everywhere from then on (503 on n3, InvalidAccessKeyId on n1 and
// n2); after healing, n3 catches up and knows the revoke and the key issued
// meanwhile. Run with n3 as a follower and as the leader, with connections
// reset and with a black hole.
func TestClusterPartition(t *testing.T) {
	for _, tc := range []struct {
		name string
		lead bool // n3 leads when it is cut off
		mode linkMode
	}{
		{"follower-cut", false, linkCut},
		{"follower-blackhole", false, linkDrop},
		{"leader-cut", true, linkCut},
	} {
		t.Run(tc.name, func(t *testing.T) { testPartition(t, tc.lead, tc.mode) })
	}
}

func testPartition(t *testing.T, lead bool, mode linkMode) {
	nodes, cfgs, lnet := startFaultCluster(t)
	const iso = 2 // n3
	n3 := nodes[iso]
	majority := nodes[:iso]
	lease := n3.cfg.AuthLease

	// Before the partition: alice (whose key gets revoked) and bob (whose key
	// stays valid), a bucket and an object every node serves.
	c := loginRetry(t, nodes[0])
	c2 := newClient(t, nodes[1])
	c2.token = c.token
	users := map[string]userJSON{}
	creds := map[string]credJSON{}
	for _, name := range []string{"alice", "bob"} {
		u := createUser(t, c, nodes[0], name, "Writer")
		var cr credJSON
		if code := adminRetry(t, c, "POST", "/api/admin/users/"+u.ID+"/credentials", nil, &cr); code != 201 {
			t.Fatalf("issue for %s: %d", name, code)
		}
		users[name], creds[name] = u, cr
	}
	alice, k1, kb := users["alice"], creds["alice"], creds["bob"]
	before := []byte("written before the partition")
	setup := nodeS3Env(t, nodes[0]).sdk(kb.AccessKey, kb.SecretKey) // retries a 503
	mkBucket(t, setup, "part")
	if _, err := setup.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("part"), Key: aws.String("before"), Body: bytes.NewReader(before)}); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, nodes[0], nodes...)
	arrangeLeader(t, nodes, cfgs, iso, lead)
	for i, n := range nodes {
		wantGet(t, fmt.Sprintf("n%d before the partition", i+1), quickS3(t, n, k1.AccessKey, k1.SecretKey), "part", "before", before)
	}
	termBefore := n3.raft.CurrentTerm()

	// Probe n3 with both keys for the whole partition.
	revoked3 := quickS3(t, n3, k1.AccessKey, k1.SecretKey)
	valid3 := quickS3(t, n3, kb.AccessKey, kb.SecretKey)
	var probeMu sync.Mutex
	var probes []probe
	stop := make(chan struct{})
	probing := make(chan struct{})
	stopProbes := sync.OnceFunc(func() { close(stop); <-probing })
	t.Cleanup(stopProbes) // also when the test fails half-way
	go func() {
		defer close(probing)
		for {
			for _, p := range []struct {
				key string
				cl  *s3.Client
			}{{"revoked", revoked3}, {"valid", valid3}} {
				select {
				case <-stop:
					return
				default:
				}
				pr := probe{start: time.Now(), key: p.key}
				_, code, status, err := s3Get(p.cl, "part", "before")
				pr.ok, pr.code, pr.status = err == nil, code, status
				if err != nil {
					pr.errText = err.Error()
				}
				probeMu.Lock()
				probes = append(probes, pr)
				probeMu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	cutAt := time.Now()
	lnet.isolate(iso, mode)
	t.Logf("n3 isolated (%v, n3 %s) at term %d", mode, map[bool]string{true: "leader", false: "follower"}[lead], termBefore)
	if lead {
		nl := waitLeader(t, majority)
		t.Logf("new leader %s among n1/n2 %v after the cut", nl.ID(), time.Since(cutAt).Round(time.Millisecond))
	}

	// The revoke through n1 (forwarded when n2 leads). Not retried: a 503
	// here would be a failure of the measurement.
	revokeStart := time.Now()
	if code, body := c.doRaw("DELETE", "/api/admin/users/"+alice.ID+"/credentials", nil); code != 204 {
		t.Fatalf("revoke during the partition: %d %s (after %v)", code, body, time.Since(revokeStart))
	}
	ackAt := time.Now()
	took := ackAt.Sub(revokeStart)
	t.Logf("revoke acknowledged %v after it was sent, %v after the cut (auth lease %v)", took.Round(time.Millisecond), ackAt.Sub(cutAt).Round(time.Millisecond), lease)
	if took > lease+time.Second {
		t.Errorf("the revoke took %v with n3 cut off, want < lease %v + 1s", took, lease)
	}
	// From the acknowledgement on, the old key fails everywhere: n3 has not
	// heard of the revoke, so it must be fenced.
	if _, ok := n3.FSM().Lookup(k1.AccessKey); !ok {
		t.Fatal("n3 learned of the revoke through a cut link")
	}
	wantGetCode(t, "revoked key on n3 right after the ack", revoked3, "part", "before", "ServiceUnavailable", 503, false)
	for i, n := range majority {
		wantGetCode(t, fmt.Sprintf("revoked key on n%d", i+1), quickS3(t, n, k1.AccessKey, k1.SecretKey), "part", "before", "InvalidAccessKeyId", 403, true)
		wantGet(t, fmt.Sprintf("bob on n%d", i+1), quickS3(t, n, kb.AccessKey, kb.SecretKey), "part", "before", before)
	}
	// n3 fails its readiness check.
	if code := newClient(t, n3).do("GET", "/health/ready", nil, nil); code == 200 {
		t.Fatal("/health/ready of the cut-off n3 answers 200")
	}

	// Writes through the majority during the partition: a new key for
	// alice (issuing is revocation-class too), a user, an object.
	issueStart := time.Now()
	var k2 credJSON
	if code := adminRetry(t, c2, "POST", "/api/admin/users/"+alice.ID+"/credentials", nil, &k2); code != 201 {
		t.Fatalf("issue during the partition: %d", code)
	}
	t.Logf("issuing a key %v into the partition took %v", issueStart.Sub(cutAt).Round(time.Millisecond), time.Since(issueStart).Round(time.Millisecond))
	carol := createUser(t, c2, nodes[1], "carol", "Reader")
	during := []byte("written during the partition, with a key issued during it")
	if _, err := nodeS3Env(t, nodes[0]).sdk(k2.AccessKey, k2.SecretKey).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("part"), Key: aws.String("during"), Body: bytes.NewReader(during)}); err != nil {
		t.Fatalf("PUT through n1 during the partition: %v", err)
	}
	caughtUp(t, nodes[0], nodes[1])
	wantGet(t, "n2 during the partition", quickS3(t, nodes[1], k2.AccessKey, k2.SecretKey), "part", "during", during)

	// Keep the partition until n3 has been fenced for at least a lease.
	for {
		fencedFor := time.Duration(0)
		probeMu.Lock()
		first := firstFenced(probes)
		probeMu.Unlock()
		if !first.IsZero() {
			fencedFor = time.Since(first)
		}
		if fencedFor > lease || time.Since(cutAt) > lease+5*time.Second {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopProbes()

	// What n3 answered during the partition.
	fencedAt := firstFenced(probes)
	if fencedAt.IsZero() {
		t.Fatalf("n3 never answered 503 during the partition (%d probes)", len(probes))
	}
	t.Logf("n3 fenced %v after the cut (first 503; %d probes)", fencedAt.Sub(cutAt).Round(time.Millisecond), len(probes))
	if d := fencedAt.Sub(cutAt); d > lease+time.Second {
		t.Errorf("n3 kept serving for %v after the cut, auth lease %v", d, lease)
	}
	for _, p := range probes {
		switch {
		case p.ok && p.key == "revoked" && p.start.After(ackAt):
			t.Errorf("n3 accepted the revoked key %v after the revoke was acknowledged", p.start.Sub(ackAt))
		case p.ok && p.start.After(fencedAt):
			t.Errorf("n3 served again (%s key) %v after it was fenced, still cut off", p.key, p.start.Sub(fencedAt))
		case !p.ok && (p.code != "ServiceUnavailable" || p.status != 503):
			t.Errorf("n3 answered %s (%d) during the partition, want success or 503: %s", p.code, p.status, p.errText)
		}
	}

	// Heal: n3 becomes ready, catches up, knows the revoke and the new key.
	t.Logf("terms before the heal: n1 %d, n2 %d, n3 %d", nodes[0].raft.CurrentTerm(), nodes[1].raft.CurrentTerm(), n3.raft.CurrentTerm())
	healAt := time.Now()
	lnet.setAll(linkUp)
	ready3 := newClient(t, n3)
	for deadline := healAt.Add(30 * time.Second); ; {
		if ready3.do("GET", "/health/ready", nil, nil) == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n3 not ready 30 s after the heal: %v", n3.ServeS3())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("n3 ready %v after the heal", time.Since(healAt).Round(time.Millisecond))
	leader := waitSettled(t, nodes, 30*time.Second)
	for deadline := time.Now().Add(10 * time.Second); n3.FSM().AppliedIndex() != leader.FSM().AppliedIndex(); {
		if time.Now().After(deadline) {
			t.Fatalf("n3 applied %d, the leader %d", n3.FSM().AppliedIndex(), leader.FSM().AppliedIndex())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("n3 caught up: applied index %d = leader %s's, %v after the heal; term %d -> %d", n3.FSM().AppliedIndex(), leader.ID(), time.Since(healAt).Round(time.Millisecond), termBefore, leader.raft.CurrentTerm())
	if _, ok := n3.FSM().UserByID(carol.ID); !ok {
		t.Fatal("n3 misses the user created during the partition")
	}
	wantGetCode(t, "revoked key on n3 after the heal", revoked3, "part", "before", "InvalidAccessKeyId", 403, true)
	k2on3 := quickS3(t, n3, k2.AccessKey, k2.SecretKey)
	wantGet(t, "new key on n3 after the heal", k2on3, "part", "during", during)
	wantGet(t, "new key on n3 after the heal", k2on3, "part", "before", before)
	if _, err := nodeS3Env(t, n3).sdk(k2.AccessKey, k2.SecretKey).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("part"), Key: aws.String("after"), Body: strings.NewReader("after")}); err != nil {
		t.Fatalf("PUT through n3 after the heal: %v", err)
	}
	caughtUp(t, n3, nodes...)
	for i, n := range nodes {
		wantGet(t, fmt.Sprintf("n%d after the heal", i+1), quickS3(t, n, k2.AccessKey, k2.SecretKey), "part", "after", []byte("after"))
	}
	if d := lnet.direct.Load(); d != 0 {
		t.Errorf("%d cluster dials did not go through the proxies", d)
	}
}

// firstFenced is the start of the first probe n3 answered with 503.
func firstFenced(probes []probe) time.Time {
	for _, p := range probes {
		if p.status == 503 {
			return p.start
		}
	}
	return time.Time{}
}

// TestClusterLateAppendAfterRevoke: appends the leader sent before a
// revoke, delivered to a cut-off follower after the revoke was
// acknowledged (a network that delays, then breaks the connection), must
// not let that follower serve the revoked key again. When the lease was
// timed from an append's arrival they did (26–44 accepted requests in 5 of
// 5 runs); the lease is now timed from the follower's own question to the
// leader (see lease.go).
func TestClusterLateAppendAfterRevoke(t *testing.T) {
	nodes, cfgs, lnet := startFaultCluster(t)
	const iso = 2 // n3, a follower
	arrangeLeader(t, nodes, cfgs, iso, false)
	leader := waitSettled(t, nodes, 10*time.Second)
	li := slices.Index(nodes, leader)
	n3 := nodes[iso]
	c := loginRetry(t, leader)
	alice := createUser(t, c, leader, "alice", "Writer")
	var k1 credJSON
	if code := adminRetry(t, c, "POST", "/api/admin/users/"+alice.ID+"/credentials", nil, &k1); code != 201 {
		t.Fatalf("issue: %d", code)
	}
	setup := nodeS3Env(t, leader).sdk(k1.AccessKey, k1.SecretKey)
	mkBucket(t, setup, "late")
	if err := s3Put(setup, "late", "obj", []byte("x")); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, leader, n3)
	revoked3 := quickS3(t, n3, k1.AccessKey, k1.SecretKey)
	wantGet(t, "n3 before", revoked3, "late", "obj", []byte("x"))

	// The leader's link to n3 starts delaying. Without pipelining
	// (transport.NewRaftTransport) one AppendEntries is in flight per
	// follower: the next CommitTimeout append (5 ms) and a heartbeat are held.
	link := lnet.links[li][iso]
	link.set(linkHold)
	for deadline := time.Now().Add(5 * time.Second); link.held.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("nothing held on the leader's link to n3")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cutoff := time.Now() // everything held so far was sent before the revoke
	time.Sleep(5 * time.Millisecond)
	if code := c.do("DELETE", "/api/admin/users/"+alice.ID+"/credentials", nil, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	ackAt := time.Now()
	t.Logf("revoke acknowledged %v after the link started delaying", ackAt.Sub(cutoff).Round(time.Millisecond))
	wantGetCode(t, "n3 right after the ack", revoked3, "late", "obj", "ServiceUnavailable", 503, false)

	// The network delivers the appends it held from before the revoke, then
	// the connection breaks.
	delivered := link.releaseAndCut(cutoff)
	released := time.Now()
	var accepted int
	var first, last time.Duration
	for time.Since(released) < 2*time.Second {
		if _, _, _, err := s3Get(revoked3, "late", "obj"); err == nil {
			if accepted == 0 {
				first = time.Since(ackAt)
			}
			last = time.Since(ackAt)
			accepted++
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, stillKnown := n3.FSM().Lookup(k1.AccessKey)
	t.Logf("%d held chunks delivered %v after the ack; n3 still has the revoked key in its auth index: %v", delivered, released.Sub(ackAt).Round(time.Millisecond), stillKnown)
	if accepted > 0 {
		t.Errorf("n3 accepted the revoked key %d times, from %v to %v after the revoke was acknowledged", accepted, first.Round(time.Millisecond), last.Round(time.Millisecond))
	}
	lnet.setAll(linkUp)
}

// countingDialer dials directly and counts the dials.
func countingDialer(n *atomic.Int64) transport.Dialer {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		n.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

// rpcStatus sends GET /v1/status over an established cluster connection
// (service byte already sent) and returns the HTTP status.
func rpcStatus(c net.Conn) (int, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /v1/status HTTP/1.1\r\nHost: s4\r\nConnection: close\r\n\r\n"); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// wantRefused asserts that the cluster port closed c (an error other than
// our own deadline) when c asks for the RPC status.
func wantRefused(t *testing.T, what string, c net.Conn) {
	t.Helper()
	defer c.Close()
	code, err := rpcStatus(c)
	if err == nil {
		t.Fatalf("%s: the cluster port answered %d", what, code)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: no answer and not closed within 5 s: %v", what, err)
	}
}

// TestClusterRefusesAnotherClusterKey: nodes with another cluster key, one
// that lists the cluster's members plus itself and one that claims to be n3
// at its own address, campaign for several seconds: they never get a
// leader or become ready, and the real cluster keeps its configuration,
// its leader and its state, and goes on committing. A raw connection with
// another key's identity is refused, in both directions.
func TestClusterRefusesAnotherClusterKey(t *testing.T) {
	nodes, cfgs := startClusterConfigs(t)
	leader := waitSettled(t, nodes, 10*time.Second)
	c := loginRetry(t, nodes[0])
	conf := func(n *Node) []raft.Server {
		f := n.raft.GetConfiguration()
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
		return f.Configuration().Servers
	}
	confBefore := conf(leader)
	termBefore := leader.raft.CurrentTerm()
	root, _ := leader.FSM().UserByName("root")

	otherKey, err := keyring.GenerateClusterKey()
	if err != nil {
		t.Fatal(err)
	}
	const intruderPassword = "intruder-password"
	var dials atomic.Int64
	open := func(id string, peers func(self Peer) []Peer) *Node {
		self := Peer{ID: id, Addr: freeAddr(t)}
		cfg := testConfig(t.TempDir())
		cfg.ClusterKey = &otherKey
		cfg.RootPassword = intruderPassword
		cfg.NodeID, cfg.Peers = id, peers(self)
		cfg.ClusterListen, cfg.Advertise = self.Addr, self.Addr
		cfg.ClusterDialer = countingDialer(&dials)
		n, err := Open(cfg)
		if err != nil {
			t.Fatalf("open intruder %s: %v", id, err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	var real []Peer
	for _, cfg := range cfgs {
		real = append(real, Peer{ID: cfg.NodeID, Addr: cfg.Advertise})
	}
	intruders := []*Node{
		open("n4", func(self Peer) []Peer { return append(append([]Peer(nil), real...), self) }),
		open("n3", func(self Peer) []Peer { return []Peer{real[0], real[1], self} }),
	}

	// For a few seconds (dozens of election timeouts) the intruders
	// campaign while the cluster takes writes through every node.
	start := time.Now()
	appliedBefore := leader.FSM().AppliedIndex()
	commitBefore := leader.raft.CommitIndex()
	var created []userJSON
	for round := 0; time.Since(start) < 3*time.Second; round++ {
		for _, n := range intruders {
			if n.Ready() || n.IsLeader() {
				t.Fatalf("intruder %s became ready or leader", n.ID())
			}
			if id, _ := n.Leader(); id != "" {
				t.Fatalf("intruder %s has a leader: %s", n.ID(), id)
			}
		}
		via := newClient(t, nodes[round%3])
		via.token = c.token
		created = append(created, createUser(t, via, nodes[round%3], fmt.Sprintf("user%d", round), "Reader"))
		time.Sleep(50 * time.Millisecond)
	}
	if dials.Load() == 0 {
		t.Fatal("the intruders never dialled the cluster")
	}
	now := waitSettled(t, nodes, 10*time.Second)
	t.Logf("intruders dialled %d times in %v; leader %s -> %s, term %d -> %d, commit index %d -> %d, %d users created",
		dials.Load(), time.Since(start).Round(time.Millisecond), leader.ID(), now.ID(), termBefore, now.raft.CurrentTerm(), commitBefore, now.raft.CommitIndex(), len(created))
	if now.raft.CommitIndex() <= commitBefore || now.FSM().AppliedIndex() <= appliedBefore {
		t.Fatal("the cluster stopped committing")
	}
	for _, n := range intruders {
		if n.Ready() {
			t.Fatalf("intruder %s is ready", n.ID())
		}
		if users := n.FSM().State().NumUsers(); users != 0 {
			t.Fatalf("intruder %s has %d users: it committed something", n.ID(), users)
		}
	}
	for i, n := range nodes {
		if got := conf(n); fmt.Sprint(got) != fmt.Sprint(confBefore) {
			t.Fatalf("n%d's raft configuration changed: %v, was %v", i+1, got, confBefore)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := n.FSM().WaitApplied(ctx, now.FSM().AppliedIndex())
		cancel()
		if err != nil {
			t.Fatalf("n%d: %v", i+1, err)
		}
		if r, ok := n.FSM().UserByName("root"); !ok || r.ID != root.ID {
			t.Fatalf("n%d: root changed", i+1)
		}
		if got, want := n.FSM().State().NumUsers(), 1+len(created); got != want {
			t.Fatalf("n%d has %d users, want %d", i+1, got, want)
		}
		nc := newClient(t, n)
		if code := nc.do("POST", "/api/admin/login", map[string]string{"username": "root", "password": intruderPassword}, nil); code == 200 {
			t.Fatalf("n%d accepts the intruder's root password", i+1)
		}
	}

	// Raw connections with another key's identity are refused by every
	// node, for both services; the same request with the cluster's identity
	// is answered (the check can tell the difference).
	own, err := transport.NewIdentity(testKey.Derive().ClusterTLS)
	if err != nil {
		t.Fatal(err)
	}
	other, err := transport.NewIdentity(otherKey.Derive().ClusterTLS)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		addr := n.ClusterAddr().String()
		for _, svc := range []byte{transport.ServiceRaft, transport.ServiceRPC} {
			conn, err := other.Dial(svc, addr, 5*time.Second)
			if err != nil {
				continue // refused in the handshake
			}
			wantRefused(t, fmt.Sprintf("n%d, service %d, another key", i+1, svc), conn)
		}
		conn, err := own.Dial(transport.ServiceRPC, addr, 5*time.Second)
		if err != nil {
			t.Fatalf("n%d: the cluster's own identity: %v", i+1, err)
		}
		code, err := rpcStatus(conn)
		conn.Close()
		if err != nil || code != 200 {
			t.Fatalf("n%d: status with the cluster's own identity: %d %v", i+1, code, err)
		}
	}
	// The other way round: a cluster member does not accept the intruder as
	// a server.
	for _, n := range intruders {
		if conn, err := own.Dial(transport.ServiceRPC, n.ClusterAddr().String(), 5*time.Second); err == nil {
			conn.Close()
			t.Fatalf("the cluster's identity completed a handshake with intruder %s", n.ID())
		}
	}
}

// TestClusterPortGarbage sends garbage to every node's cluster port: random
// bytes of several sizes over plain TCP, plaintext HTTP, a TLS record header
// announcing a huge record, TLS without a client certificate, TLS 1.2, TLS
// with a self-signed certificate or another cluster key's, an unknown
// service byte, garbage HTTP to the internal RPC, and connections left
// half-open. Every node stays ready, there is one leader, writes work
// through every node, and the silent connections are closed by the
// handshake deadline.
func TestClusterPortGarbage(t *testing.T) {
	nodes := startCluster(t)
	leaderBefore := waitSettled(t, nodes, 10*time.Second)
	termBefore := leaderBefore.raft.CurrentTerm()
	c := loginRetry(t, nodes[0])
	seed := uint64(time.Now().UnixNano())
	rng := mrand.New(mrand.NewPCG(seed, 42))
	t.Logf("random seed %d", seed)
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	own, err := transport.NewIdentity(testKey.Derive().ClusterTLS)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := keyring.GenerateClusterKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := transport.NewIdentity(otherKey.Derive().ClusterTLS)
	if err != nil {
		t.Fatal(err)
	}
	foreignCert := testcert.New(t, "s4-cluster").TLS

	dial := func(addr string) net.Conn {
		t.Helper()
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		return conn
	}
	// wantClosed reads from conn until the server closes it; our own
	// deadline passing means it did not.
	wantClosed := func(what string, conn net.Conn, within time.Duration) {
		t.Helper()
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(within))
		_, err := io.Copy(io.Discard, conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: connection still open after %v", what, within)
		}
	}

	// Half-open connections, held for the whole test: silent ones, and ones
	// that stopped in the middle of a TLS record.
	type held struct {
		conn   net.Conn
		opened time.Time
		what   string
	}
	var halfOpen []held
	for i, n := range nodes {
		for k := 0; k < 8; k++ {
			conn := dial(n.ClusterAddr().String())
			what := fmt.Sprintf("n%d silent connection %d", i+1, k)
			switch k % 4 {
			case 1:
				conn.Write([]byte{0x16})
				what = fmt.Sprintf("n%d connection %d stopped after one byte", i+1, k)
			case 2:
				conn.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}) // a ClientHello of 512 bytes, 1 sent
				what = fmt.Sprintf("n%d connection %d stopped in a ClientHello", i+1, k)
			case 3:
				conn.(*net.TCPConn).CloseWrite() // half-closed: the server reads EOF
				what = fmt.Sprintf("n%d connection %d half-closed", i+1, k)
			}
			halfOpen = append(halfOpen, held{conn, time.Now(), what})
			t.Cleanup(func() { conn.Close() })
		}
	}

	for i, n := range nodes {
		addr := n.ClusterAddr().String()
		name := fmt.Sprintf("n%d", i+1)
		// Random bytes of several sizes, each on its own connection.
		for _, size := range []int{0, 1, 2, 5, 64, 1000, 4096, 64 << 10, 64<<10 + 1} {
			conn := dial(addr)
			conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			conn.Write(randBytes(size)) // the server may close before it read everything
			conn.Close()
		}
		for k := 0; k < 20; k++ {
			conn := dial(addr)
			conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			conn.Write(randBytes(rng.IntN(8192)))
			conn.Close()
		}
		// Garbage that is surely not TLS: refused at once.
		for _, payload := range [][]byte{
			append([]byte{0x00}, randBytes(64<<10)...),
			[]byte("GET /v1/status HTTP/1.1\r\nHost: s4\r\n\r\n"),
			append([]byte{0x16, 0x03, 0x01, 0xff, 0xff}, randBytes(1024)...), // oversize record
			append([]byte{0x17, 0x03, 0x03, 0x00, 0x10}, randBytes(16)...),   // application data first
		} {
			conn := dial(addr)
			conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			conn.Write(payload)
			wantClosed(fmt.Sprintf("%s: %q...", name, payload[:min(8, len(payload))]), conn, 5*time.Second)
		}
		// TLS 1.3 without a client certificate.
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
		if err == nil {
			conn.Write([]byte{transport.ServiceRPC})
			wantRefused(t, name+": TLS without a client certificate", conn)
		}
		// TLS 1.2 only: no handshake at all.
		if conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, Certificates: []tls.Certificate{foreignCert}}); err == nil {
			conn.Close()
			t.Fatalf("%s: a TLS 1.2 handshake succeeded", name)
		}
		// A self-signed certificate of a random key.
		conn, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{foreignCert}})
		if err == nil {
			conn.Write([]byte{transport.ServiceRPC})
			wantRefused(t, name+": self-signed client certificate", conn)
		}
		// Another cluster key's identity, every service.
		for _, svc := range []byte{transport.ServiceRaft, transport.ServiceRPC, transport.ServiceStatus} {
			if conn, err := other.Dial(svc, addr, 5*time.Second); err == nil {
				wantRefused(t, fmt.Sprintf("%s: another cluster key, service %d", name, svc), conn)
			}
		}
		// The cluster's own identity with unknown service bytes.
		for _, svc := range []byte{0, 4, 0xff} {
			conn, err := own.Dial(svc, addr, 5*time.Second)
			if err != nil {
				t.Fatalf("%s: handshake with the cluster identity: %v", name, err)
			}
			wantClosed(fmt.Sprintf("%s: service byte %d", name, svc), conn, 5*time.Second)
		}
		// Garbage questions on the status line (authenticated): closed.
		for _, payload := range []string{"GET /v1/status HTTP/1.1\r\n\r\n", "\x00", "SSSx"} {
			conn, err := own.Dial(transport.ServiceStatus, addr, 5*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(conn, payload)
			// Answers to the leading S's, if any, then the close.
			wantClosed(fmt.Sprintf("%s: status line garbage %q", name, payload), conn, 5*time.Second)
		}
		// Garbage HTTP to the internal RPC (authenticated): an error answer
		// or a close, never a crash.
		for _, payload := range []string{"\x00\x01\x02garbage\r\n\r\n", "POST /v1/apply HTTP/1.1\r\nHost: s4\r\nContent-Length: 5\r\n\r\n\x01\x01\xc1\xff\xff", "GET /v1/applied?min=x&wait=-1 HTTP/1.1\r\nHost: s4\r\n\r\n"} {
			conn, err := own.Dial(transport.ServiceRPC, addr, 5*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(conn, payload)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode < 400 {
					t.Errorf("%s: RPC garbage %q answered %d", name, payload, resp.StatusCode)
				}
			}
			conn.Close()
		}
	}

	// The cluster is untouched: everyone ready, one leader, writes through
	// every node (while the half-open connections are still held).
	leader := waitSettled(t, nodes, 10*time.Second)
	t.Logf("leader %s (term %d) before, %s (term %d) after the garbage", leaderBefore.ID(), termBefore, leader.ID(), leader.raft.CurrentTerm())
	for i, n := range nodes {
		if code := newClient(t, n).do("GET", "/health/ready", nil, nil); code != 200 {
			t.Fatalf("n%d: /health/ready %d", i+1, code)
		}
	}
	u := createUser(t, c, nodes[0], "writer", "Writer")
	var cred credJSON
	if code := adminRetry(t, c, "POST", "/api/admin/users/"+u.ID+"/credentials", nil, &cred); code != 201 {
		t.Fatalf("issue: %d", code)
	}
	mkBucket(t, nodeS3Env(t, nodes[0]).sdk(cred.AccessKey, cred.SecretKey), "after-garbage")
	caughtUp(t, nodes[0], nodes...)
	for i, n := range nodes {
		ac := newClient(t, n)
		ac.token = c.token
		createUser(t, ac, n, fmt.Sprintf("via_n%d", i+1), "Reader")
		body := randBytes(1 << 10)
		key := fmt.Sprintf("obj-%d", i+1)
		if err := s3Put(nodeS3Env(t, n).sdk(cred.AccessKey, cred.SecretKey), "after-garbage", key, body); err != nil {
			t.Fatalf("PUT through n%d: %v", i+1, err)
		}
		caughtUp(t, n, nodes...)
		for j, m := range nodes {
			wantGet(t, fmt.Sprintf("n%d reads what n%d wrote", j+1, i+1), quickS3(t, m, cred.AccessKey, cred.SecretKey), "after-garbage", key, body)
		}
	}

	// The half-open connections are closed by the handshake deadline.
	for _, h := range halfOpen {
		wantClosed(h.what, h.conn, time.Until(h.opened.Add(transport.HandshakeTimeout+5*time.Second)))
	}
	for i, n := range nodes {
		if err := n.ServeS3(); err != nil {
			t.Fatalf("n%d after the half-open connections: %v", i+1, err)
		}
	}
}
