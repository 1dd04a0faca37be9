// Package node assembles and runs one S4 node: the Raft log (raft-boltdb/v2
// log and stable store, file snapshots, the mutual-TLS transport of package
// transport), the FSM, and the HTTPS server that carries the S3 API and the
// admin API on one port. It is the only package that touches *raft.Raft.
//
// Lifecycle: Open creates or reopens the data dir. A data dir without Raft
// state bootstraps a one-node cluster (never twice: an existing log, term or
// snapshot means resume). Once the node leads and its FSM has caught up with
// the log (a Barrier), it is ready; on the very first start it then proposes
// the root user, as an event like any other. Close shuts everything down in
// reverse order.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/valyala/fasthttp"
	bolt "go.etcd.io/bbolt"

	"github.com/s4/s4/admin"
	"github.com/s4/s4/blob"
	"github.com/s4/s4/cluster"
	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/lease"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3"
	"github.com/s4/s4/transport"
)

// Sentinel errors of the node. Other layers alias them; match with errors.Is.
var (
	// ErrNotLeader: this node is not the leader; nothing was appended.
	ErrNotLeader = cluster.ErrNotLeader
	// ErrNotReady: the node has not caught up with the log yet.
	ErrNotReady = errors.New("node: not ready")
	// ErrClosed: the node was shut down.
	ErrClosed = errors.New("node: closed")
)

// Node is one running S4 node.
type Node struct {
	cfg   Config
	log   *slog.Logger
	id    raft.ServerID
	keys  *keyring.Keys
	ident *transport.Identity
	fsm   *fsm.FSM
	raft  *raft.Raft
	store *raftboltdb.BoltStore
	trans *raft.NetworkTransport
	// The leases (lease.go): timed on clock; follower holds the grants
	// of a follower, lead the lease of a leader.
	clock    lease.Clock
	follower *lease.Follower
	lead     *lease.Leader
	answers  *lease.Answers // when this node answered status questions, by term
	given    lease.Given    // until when this node's grants to each node hold
	// leaderTerm: the term in which this node, leading, caught up
	// (leaderterm.go).
	leaderTerm *leaderTerm

	confirmMu  sync.Mutex
	confirmers map[raft.ServerID]*confirmer // revocation barrier, per follower
	nudgeMu    sync.Mutex                   // nudgeCommit's state
	nudging    bool
	nudgeAgain bool
	leaseKick  chan struct{} // asks renewLease for a grant now
	leaderKick chan struct{} // asks holdLeaderLease to ask every server now
	layer      *transport.Layer
	http       *fasthttp.Server
	httpLn     net.Listener
	prop       *cluster.Proposer
	rpc        *cluster.Server
	rpcCli     *cluster.Client
	statusLine *cluster.StatusLine // lease and read-index questions
	meta       *meta.Store
	blobs      *blob.Store
	disk       *diskGuard // free-space reserve, GC kicks (disk.go)
	s3         *s3.Handler

	ready    atomic.Bool
	readyCh  chan struct{}
	closing  chan struct{}
	wg       sync.WaitGroup
	xfers    sync.WaitGroup // blob copies to peers (Replicate)
	closeMu  sync.Mutex
	closed   bool
	httpDone chan error
}

// Open starts a node with cfg. It returns once the node serves HTTP; use
// WaitReady to wait until it has a leader and has caught up.
func Open(cfg Config) (_ *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, readyCh: make(chan struct{}), leaseKick: make(chan struct{}, 1), leaderKick: make(chan struct{}, 1), closing: make(chan struct{}), httpDone: make(chan error, 1), leaderTerm: &leaderTerm{}}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	raftDir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return nil, err
	}
	id, err := loadOrCreateNodeID(cfg.DataDir, cfg.NodeID)
	if err != nil {
		return nil, err
	}
	n.id = raft.ServerID(id)
	n.keys = cfg.ClusterKey.Derive()
	sealer := keyring.NewSealer(n.keys.SecretSeal)
	n.fsm = fsm.New(sealer)
	// The metadata store is a cache of the log: Raft refills it from the
	// last snapshot and the log on every start.
	if n.meta, err = meta.Open(filepath.Join(cfg.DataDir, "meta.db")); err != nil {
		return nil, err
	}
	n.meta.SetLogger(n.log.With("component", "meta"))
	n.fsm.AttachMeta(n.meta)
	// Before Raft starts (it may apply entries at once): the S3 handler,
	// created below, caches signing keys that a dropped key must leave.
	var s3h atomic.Pointer[s3.Handler]
	n.fsm.OnCredentialDropped(func(accessKey string) {
		if h := s3h.Load(); h != nil {
			h.Verifier().Forget(accessKey)
		}
	})
	if n.blobs, err = blob.Open(filepath.Join(cfg.DataDir, "blobs")); err != nil {
		return nil, err
	}
	if err := n.openDisk(); err != nil { // disk.go
		return nil, err
	}

	if err := n.openRaft(raftDir); err != nil {
		return nil, err
	}
	n.rpcCli = cluster.NewClient(cluster.MuxDialer(n.ident), cluster.AskingAs(string(n.id)))
	n.statusLine = cluster.NewStatusLine(cluster.MuxServiceDialer(n.ident, transport.ServiceStatus), string(n.id))
	n.rpc = cluster.NewServer(n.layer.Mux().Listener(transport.ServiceRPC), n, n.log.With("component", "rpc"),
		cluster.WithBlobStore(guardedBlobs{n.blobs, n.disk}), cluster.WithStatusLine(n.layer.Mux().Listener(transport.ServiceStatus)))
	n.prop = cluster.NewProposer(n, n.rpcCli)
	adminHandler := admin.New(admin.Config{JWTKey: n.keys.JWT, TokenTTL: cfg.TokenTTL, Sealer: sealer, Logger: n.log.With("component", "admin"), Cluster: n, Fresh: n}, n.fsm, n.prop)
	n.s3 = s3.New(s3.Config{MaxObjectSize: cfg.MaxObjectSize, Logger: n.log.With("component", "s3"), Replicator: n, Space: n.disk}, n.fsm, n.meta, n.prop, n.blobs, n)
	s3h.Store(n.s3)
	if err := n.serveHTTP(adminHandler.ServeFastHTTP, n.s3.ServeFastHTTP); err != nil {
		return nil, err
	}
	n.wg.Add(6)
	go n.watchLeadership() // leaderterm.go
	go n.becomeReady()
	go n.collectGarbage()
	go n.catchUpBlobs()    // catchup.go
	go n.renewLease()      // lease.go
	go n.holdLeaderLease() // lease.go
	return n, nil
}

func loadOrCreateNodeID(dir, want string) (string, error) {
	path := filepath.Join(dir, "node-id")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		have := strings.TrimSpace(string(b))
		if want != "" && want != have {
			return "", fmt.Errorf("node: data dir %s belongs to node %q, not %q", dir, have, want)
		}
		return have, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	id := want
	if id == "" {
		id = "node-" + keyring.NewID()[:8]
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", err
	}
	return id, nil
}

func (n *Node) openRaft(dir string) error {
	cfg := n.cfg
	// Raft logs through the node's logger, warnings and above.
	rlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, DisableTime: true,
		Output: slog.NewLogLogger(n.log.Handler(), slog.LevelWarn).Writer()})

	store, err := raftboltdb.New(raftboltdb.Options{
		Path:                    filepath.Join(dir, "raft.db"),
		BoltOptions:             &bolt.Options{Timeout: time.Second, NoFreelistSync: true},
		MsgpackUseNewTimeFormat: true,
	})
	if err != nil {
		return fmt.Errorf("node: open raft store: %w", err)
	}
	n.store = store
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, rlog)
	if err != nil {
		return fmt.Errorf("node: open snapshot store: %w", err)
	}

	ln, err := net.Listen("tcp", cfg.ClusterListen)
	if err != nil {
		return fmt.Errorf("node: cluster listen: %w", err)
	}
	advertise, err := resolveAdvertise(cfg.Advertise, ln.Addr())
	if err != nil {
		ln.Close()
		return err
	}
	ident, err := transport.NewIdentity(n.keys.ClusterTLS)
	if err == nil {
		ident, err = ident.WithSource(cfg.ClusterSource) // --cluster-source
	}
	if err != nil {
		ln.Close()
		return err
	}
	if cfg.ClusterDialer != nil {
		ident = ident.WithDialer(cfg.ClusterDialer)
	}
	n.ident = ident
	n.layer = transport.NewLayer(ln, advertise, ident)
	n.clock = cfg.LeaseClock
	n.follower = lease.NewFollower(n.clock, cfg.AuthLease)
	n.lead = lease.NewLeader(n.clock, string(n.id), cfg.AuthLease, n.leaseMargin())
	n.answers = lease.NewAnswers(n.clock)
	n.trans = transport.NewRaftTransport(n.layer, rlog)

	rc := raft.DefaultConfig()
	rc.LocalID = n.id
	rc.Logger = rlog
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.ShutdownOnRemove = false
	rc.NoLegacyTelemetry = true
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("node: raft config: %w", err)
	}

	existing, err := raft.HasExistingState(logs, store, snaps)
	if err != nil {
		return err
	}
	if !existing && cfg.Join == "" { // with Join: no configuration until the cluster adds this node (join.go)
		conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: n.id, Address: raft.ServerAddress(advertise.String())}}}
		if len(cfg.Peers) > 0 {
			// Every peer bootstraps with this identical configuration
			// (allowed by hashicorp/raft, PR #338); never twice: an existing
			// log, term or snapshot takes the branch below.
			conf.Servers = nil
			for _, p := range cfg.Peers {
				conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
			}
		}
		n.log.Info("bootstrapping a new cluster", "node_id", n.id, "advertise", advertise.String(), "voters", len(conf.Servers))
		if err := raft.BootstrapCluster(rc, logs, store, snaps, n.trans, conf); err != nil {
			return fmt.Errorf("node: bootstrap: %w", err)
		}
	} else if existing {
		n.log.Info("resuming from existing raft state", "node_id", n.id)
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, store, snaps, n.trans)
	if err != nil {
		return fmt.Errorf("node: start raft: %w", err)
	}
	n.raft = r
	n.startJoin(existing, advertise.String())
	return nil
}

func resolveAdvertise(adv string, bound net.Addr) (net.Addr, error) {
	host, port, err := net.SplitHostPort(adv)
	if err != nil {
		return nil, fmt.Errorf("node: advertise %q: %w", adv, err)
	}
	if port == "0" { // listening on an ephemeral port: advertise the real one
		_, port, _ = net.SplitHostPort(bound.String())
	}
	return net.ResolveTCPAddr("tcp", net.JoinHostPort(host, port))
}

// becomeReady waits for leadership, catches the FSM up with a Barrier,
// creates the root user on a fresh cluster, and marks the node ready.
func (n *Node) becomeReady() {
	defer n.wg.Done()
	for {
		select {
		case <-n.closing:
			return
		default:
		}
		if n.raft.State() != raft.Leader {
			if n.followerCaughtUp() {
				break
			}
			select {
			case <-n.raft.LeaderCh():
			case <-time.After(100 * time.Millisecond):
			case <-n.closing:
				return
			}
			continue
		}
		if err := n.raft.Barrier(n.cfg.ApplyTimeout).Error(); err != nil {
			n.log.Warn("barrier failed; retrying", "err", err)
			continue
		}
		if err := n.ensureRoot(); err != nil {
			n.log.Error("creating the root user failed; retrying", "err", err)
			select {
			case <-time.After(time.Second):
			case <-n.closing:
				return
			}
			continue
		}
		break
	}
	n.ready.Store(true)
	close(n.readyCh)
	n.log.Info("node ready", "node_id", n.id, "applied_index", n.fsm.AppliedIndex())
}

// followerCaughtUp asks the leader for its applied index and waits until
// this node's FSM has reached it: after a restart a follower replays the log
// asynchronously and must not answer from an old state before that.
func (n *Node) followerCaughtUp() bool {
	id, addr := n.Leader()
	if addr == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	defer cancel()
	asked := n.clock.Now()
	st, err := n.rpcCli.Status(ctx, addr)
	// A leader elected a moment ago may not have replayed the log yet (after
	// a restart of every node): its applied index counts only once it
	// serves, which it does after its own Barrier (see becomeReady).
	if err != nil || !st.IsLeader || !st.Serving || st.ID != id {
		return false
	}
	n.follower.Grant(asked, st.Term, grantIndex(st), st.Applied, st.LeaseLeft) // serve from the first request on
	return n.fsm.WaitApplied(ctx, st.Applied) == nil
}

// ensureRoot proposes the root user when the cluster has no users at all:
// the first start. It is an event like any other, so it happens once.
func (n *Node) ensureRoot() error {
	if n.fsm.State().NumUsers() > 0 {
		return nil
	}
	password, generated := n.cfg.RootPassword, false
	if password == "" {
		password, generated = keyring.RandomPassword(), true
	}
	hash, err := keyring.HashPassword(password)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	defer cancel()
	err = n.prop.Propose(ctx, fsm.MsgUserCreate, &fsm.UserCreate{
		ID: keyring.NewID(), Username: n.cfg.RootUser, PasswordHash: hash,
		Role: iam.RoleSuperUser, Root: true, At: time.Now().UnixNano(),
	})
	if err != nil {
		return err
	}
	n.log.Info("created the root user", "username", n.cfg.RootUser)
	if generated && n.cfg.RootPasswordOut != nil {
		n.cfg.RootPasswordOut(n.cfg.RootUser, password)
	}
	return nil
}

// Apply implements cluster.Applier: it appends cmd to the log and returns
// once this node's FSM applied it and the write may be acknowledged: in a
// new term only after the leader lease's hand-over (no earlier leader
// still serves reads that miss it), and for a revocation-class event
// after the revocation barrier. Without leadership it fails with
// ErrNotLeader.
func (n *Node) Apply(ctx context.Context, cmd []byte) (uint64, any, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	term, ok := n.leadingTerm()
	if !ok {
		return 0, nil, ErrNotLeader // the Proposer holds and forwards
	}
	timeout := n.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := n.raft.Apply(cmd, timeout)
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader):
			return 0, nil, fmt.Errorf("%w: %v", cluster.ErrNotLeader, err)
		case errors.Is(err, raft.ErrLeadershipLost):
			return 0, nil, fmt.Errorf("%w: %v", cluster.ErrLeadershipLost, err)
		}
		return 0, nil, err
	}
	applied := n.clock.Now()
	if err := n.lead.WaitHandover(ctx, term); err != nil {
		return 0, nil, fmt.Errorf("%w: committed at index %d, not acknowledged: %v", cluster.ErrWaitTimeout, f.Index(), err)
	}
	resp := f.Response()
	if resp == nil && fsm.Revokes(cmd) {
		// The revocation barrier: acknowledge only when no node can still
		// accept what this event took away.
		resp = n.barrier(f.Index(), applied)
	}
	return f.Index(), resp, nil
}

// WaitApplied implements cluster.Local.
func (n *Node) WaitApplied(ctx context.Context, idx uint64) error { return n.fsm.WaitApplied(ctx, idx) }

// AppliedIndex implements cluster.Local.
func (n *Node) AppliedIndex() uint64 { return n.fsm.AppliedIndex() }

// LocalStatus implements cluster.StatusReporter, without waiting (it
// answers status questions). Term is the node's current term, read and
// recorded as answered in (lease.Answers) first: a leader counts the
// answer as an acknowledgement of its lease only if it is its own term,
// and OlderAnswerAge tells a new leader how long ago this node last
// answered in an earlier term. Serving: a leader that caught up in its
// term (leaderterm.go) and whose leader lease holds (LeaseLeft says for
// how long), a follower that holds a valid grant whose index it applied;
// both ready. A leader reads its applied index after finding itself
// serving and reports itself leading and serving only if it still leads
// in the same term afterwards, so that such an answer carries an index at
// or past every write acknowledged before the question (a read index). A
// serving leader records until when its answer may serve asker as a grant
// (lease.Given) before it reads the auth index the grant requires.
func (n *Node) LocalStatus(asker string) cluster.Status {
	st := cluster.Status{ID: string(n.id), API: n.APIAddress()}
	st.Term, st.OlderAnswerAge = n.answers.Answer(n.raft.CurrentTerm)
	st.LeaderID, st.LeaderAddr = n.Leader()
	ready := n.ready.Load()
	if term, ok := n.leadingTerm(); ok && term == st.Term {
		caughtUp := n.leaderTerm.term.Load() == term
		left, until := n.lead.Grant(term)
		st.Applied = n.fsm.AppliedIndex()
		again, ok := n.leadingTerm()
		st.IsLeader = ok && again == term
		st.Serving = ready && caughtUp && left > 0 && st.IsLeader
		if st.Serving {
			st.LeaseLeft = left
			n.given.Record(asker, until)
		}
	} else {
		st.Applied = n.fsm.AppliedIndex()
		st.Serving = ready && n.follower.Serving(st.Applied)
	}
	st.AuthIndex = n.fsm.AuthIndex()
	return st
}

// IsLeader implements cluster.Local.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader implements cluster.Local: the leader's ID and cluster address.
func (n *Node) Leader() (id, clusterAddr string) {
	addr, sid := n.raft.LeaderWithID()
	return string(sid), string(addr)
}

var _ cluster.Local = (*Node)(nil)

// collectGarbage removes blobs that no object or part references any more.
// A blob is removed only if it is still unreferenced under the blob store's
// lock and not pinned by a write in flight (see package blob).
func (n *Node) collectGarbage() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.GCInterval)
	defer t.Stop()
	for pass := 1; ; pass++ {
		select {
		case <-n.closing:
			return
		case <-t.C:
		case <-n.disk.kicks(): // at the free-space reserve (disk.go)
			n.CollectGarbage()
			pass-- // not a tick: the orphan sweep keeps its pace
			continue
		}
		n.CollectGarbage()
		if pass%orphanSweepEvery == 0 {
			n.SweepOrphans(orphanMinAge)
		}
	}
}

// orphanSweepEvery and orphanMinAge: every orphanSweepEvery GC passes the
// collector also walks the blob store for orphans, blobs that no object
// references and that never were on the garbage list: the blob of a PUT
// whose proposal failed after the blob was stored, a peer's copy for such a
// PUT, a blob fetched for an object deleted meanwhile. Only blobs older
// than orphanMinAge are removed, through the same Remove as GC (pins and
// the reference count re-checked under the store's lock); a PUT in flight
// keeps its blob pinned far shorter than that.
const (
	orphanSweepEvery = 10
	orphanMinAge     = 10 * time.Minute
)

// SweepOrphans removes the blobs that no object or part references and
// that were committed more than minAge ago; it returns how many.
func (n *Node) SweepOrphans(minAge time.Duration) int {
	var orphans [][32]byte
	n.blobs.Walk(func(sum [32]byte, _ int64) error {
		if n.meta.BlobRefs(sum) == 0 {
			orphans = append(orphans, sum)
		}
		return nil
	})
	removed := 0
	for _, sum := range orphans {
		at, err := n.blobs.Committed(sum)
		if err != nil || time.Since(at) < minAge {
			continue
		}
		ok, err := n.blobs.Remove(sum, func() bool { return n.meta.BlobRefs(sum) == 0 })
		if err != nil {
			n.log.Warn("removing an orphan blob", "err", err)
		}
		if ok {
			removed++
		}
	}
	if removed > 0 {
		n.log.Info("removed orphan blobs", "count", removed)
		n.disk.freed()
	}
	return removed
}

// CollectGarbage runs one garbage-collection pass and returns how many
// blobs it removed.
func (n *Node) CollectGarbage() int {
	removed := 0
	for _, sum := range n.meta.Garbage(1000) {
		ok, err := n.blobs.Remove(sum, func() bool { return n.meta.BlobRefs(sum) == 0 })
		if err != nil {
			n.log.Warn("removing an unreferenced blob", "err", err)
			continue
		}
		if ok || !n.blobs.Has(sum) {
			if n.meta.BlobRefs(sum) == 0 {
				n.meta.ForgetGarbage(sum)
			}
		}
		if ok {
			removed++
		}
	}
	if removed > 0 {
		n.disk.freed() // the next write sees the space at once
	}
	return removed
}

// Blobs returns the node's blob store.
func (n *Node) Blobs() *blob.Store { return n.blobs }

// FSM returns the node's state machine.
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// Proposer returns the node's event proposer.
func (n *Node) Proposer() *cluster.Proposer { return n.prop }

// ID returns the node's Raft ID.
func (n *Node) ID() string { return string(n.id) }

// Ready reports whether the node has caught up and serves requests.
func (n *Node) Ready() bool { return n.ready.Load() }

// WaitReady blocks until the node is ready or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	select {
	case <-n.readyCh:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrNotReady, ctx.Err())
	}
}

// Addr returns the address the HTTP(S) server listens on.
func (n *Node) Addr() net.Addr { return n.httpLn.Addr() }

// ClusterAddr returns the cluster port's address.
func (n *Node) ClusterAddr() net.Addr { return n.layer.Addr() }

// Snapshot forces a Raft snapshot (tests, operators).
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// Close shuts the node down: HTTP first (in-flight requests finish), then
// Raft, the transport and the store. It is safe to call more than once.
func (n *Node) Close() error {
	n.closeMu.Lock()
	defer n.closeMu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	close(n.closing)
	var errs []error
	if n.http != nil {
		errs = append(errs, n.http.ShutdownWithContext(ctxTimeout(5*time.Second)))
		<-n.httpDone
	}
	n.wg.Wait()
	n.xfers.Wait() // cancelled by closing
	if n.rpc != nil {
		errs = append(errs, n.rpc.Close())
		n.rpcCli.Close()
		n.statusLine.Close()
	}
	if n.raft != nil {
		errs = append(errs, n.raft.Shutdown().Error())
	}
	if n.trans != nil {
		errs = append(errs, n.trans.Close())
	} else if n.layer != nil {
		errs = append(errs, n.layer.Close())
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	if n.meta != nil {
		errs = append(errs, n.meta.Close())
	}
	return errors.Join(errs...)
}

// untilClose returns a context of parent that also ends, with the cause
// ErrClosed, when the node closes.
func (n *Node) untilClose(parent context.Context) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		select {
		case <-n.closing:
			cancel(ErrClosed)
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func ctxTimeout(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	time.AfterFunc(d, cancel)
	return ctx
}

// serverTLSConfig loads or creates the HTTPS certificate.
func (n *Node) serverTLSConfig() (*tls.Config, error) {
	certFile, keyFile := n.cfg.TLSCertFile, n.cfg.TLSKeyFile
	if certFile == "" {
		dir := filepath.Join(n.cfg.DataDir, "tls")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	}
	hosts := append([]string(nil), n.cfg.CertHosts...)
	if h, _, err := net.SplitHostPort(n.cfg.Advertise); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	cert, created, err := keyring.LoadOrCreateServerCert(certFile, keyFile, hosts)
	if err != nil {
		return nil, fmt.Errorf("node: TLS certificate: %w", err)
	}
	if created {
		n.log.Info("generated a self-signed certificate", "cert", certFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
