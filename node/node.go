package node

import (
	"context"
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

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/s4/s4/admin"
	"github.com/s4/s4/blob"
	"github.com/s4/s4/cluster"
	"github.com/s4/s4/disk"
	"github.com/s4/s4/fsm"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/objects"
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

// Node is one running S4 node: the parts Open wires together. The lease
// state, the revocation barrier's and the lifecycle are groups of their
// own; object data across nodes is an objects.Service.
type Node struct {
	cfg   Config
	log   *slog.Logger
	id    raft.ServerID
	keys  *keyring.Keys
	ident *transport.Identity // the cluster port's mutual TLS (raft.go)

	// Raft (raft.go).
	raft  *raft.Raft
	store *raftboltdb.BoltStore
	trans *raft.NetworkTransport
	layer *transport.Layer

	// The state the log builds, and the local data.
	fsm     *fsm.FSM
	meta    *meta.Store
	blobs   *blob.Store
	disk    *disk.Monitor    // the free-space reserve (disk.go)
	objects *objects.Service // object data across nodes (objects.go)

	// The cluster's internal RPC (package cluster).
	prop       *cluster.Proposer
	rpc        *cluster.Server
	rpcCli     *cluster.Client
	statusLine *cluster.StatusLine // lease and read-index questions

	// The public API (http.go).
	s3 *s3.Handler
	httpServer

	leases       // the follower's and the leader's lease (lease*.go)
	barrierState // the revocation barrier's followers (barrier.go)
	lifecycle
	lc  lifecycleEval // the lifecycle rules' evaluator (lifecycle.go)
	obs observability // metrics and the access log (metrics.go)
}

// lifecycle is the node's readiness (ready.go) and shutdown.
type lifecycle struct {
	ready   atomic.Bool
	readyCh chan struct{}
	closing chan struct{}
	wg      sync.WaitGroup // the node's goroutines
	closeMu sync.Mutex
	closed  bool
}

// Open starts a node with cfg. It returns once the node serves HTTP; use
// WaitReady to wait until it has a leader and has caught up.
func Open(cfg Config) (_ *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger}
	n.readyCh, n.closing, n.httpDone = make(chan struct{}), make(chan struct{}), make(chan error, 1)
	n.leaseKick, n.leaderKick, n.leaderTerm = make(chan struct{}, 1), make(chan struct{}, 1), &leaderTerm{}
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
	n.log = n.log.With("node", id) // every line names the node
	n.openObservability()          // metrics.go
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
			h.Dropped(accessKey)
		}
	})
	if n.blobs, err = blob.OpenWith(filepath.Join(cfg.DataDir, "blobs"), blob.Options{Logger: n.log, BufferedWrites: cfg.BufferedWrites}); err != nil {
		return nil, err
	}
	if m := n.blobs.Migrated(); m.From > 0 && m.From < blob.FormatVersion {
		for _, h := range m.Quarantined {
			n.log.Warn("a blob did not match its name while migrating; moved to blobs/corrupt, to be fetched from a peer", "blob", h)
		}
	}
	// The disk monitor reports to the object-data service, which is built
	// on it below.
	var objs atomic.Pointer[objects.Service]
	if err := n.openDisk(&objs); err != nil { // disk.go
		return nil, err
	}

	if err := n.openRaft(raftDir); err != nil {
		return nil, err
	}
	n.rpcCli = cluster.NewClient(cluster.MuxDialer(n.ident), cluster.AskingAs(string(n.id)))
	n.statusLine = cluster.NewStatusLine(cluster.MuxServiceDialer(n.ident, transport.ServiceStatus), string(n.id))
	n.objects = n.newObjects() // objects.go
	objs.Store(n.objects)
	n.rpc = cluster.NewServer(n.layer.Mux().Listener(transport.ServiceRPC), n, n.log.With("component", "rpc"),
		cluster.WithStatusReporter(n), cluster.WithMembership(n), cluster.WithBlobStore(n.blobs, n.objects), cluster.WithInlineSource(n.meta),
		cluster.WithStatusLine(n.layer.Mux().Listener(transport.ServiceStatus)))
	n.prop = cluster.NewProposer(n, n.rpcCli)
	adminHandler := admin.New(admin.Config{JWTKey: n.keys.JWT, TokenTTL: cfg.TokenTTL, Sealer: sealer, Logger: n.log.With("component", "admin"), Cluster: n, Fresh: n,
		Metrics: n.obs.metrics.Admin, NodeID: id, History: n.meta}, n.fsm, n.prop)
	n.s3 = s3.New(s3.Config{MaxObjectSize: cfg.MaxObjectSize, InlineThreshold: cfg.InlineThreshold, Logger: n.log.With("component", "s3"), Replicator: n.objects, Space: n.objects,
		Metrics: n.obs.metrics.S3, AccessLog: n.obs.access}, n.fsm, n.meta, n.prop, n.blobs, n)
	n.startObservability() // metrics.go
	s3h.Store(n.s3)
	if err := n.serveHTTP(adminHandler.ServeFastHTTP, n.s3.ServeFastHTTP, n.s3.Expect); err != nil {
		return nil, err
	}
	n.objects.Start()
	n.wg.Add(4)
	go n.watchLeadership() // leaderterm.go
	go n.becomeReady()     // ready.go
	go n.renewLease()      // lease_follower.go
	go n.holdLeaderLease() // lease_leader.go

	n.startHistoryRetention() // history.go: the IAM history's retention, if any
	n.startSnapshotTuning()   // snapshots.go: the snapshot threshold follows the store
	n.startLifecycle()        // lifecycle.go: the leader applies the buckets' lifecycle rules
	return n, nil
}

// goEvery runs fn every d on a goroutine of its own until the node closes.
func (n *Node) goEvery(d time.Duration, fn func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-n.closing:
				return
			case <-t.C:
				fn()
			}
		}
	}()
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

// Blobs returns the node's blob store.
func (n *Node) Blobs() *blob.Store { return n.blobs }

// FSM returns the node's state machine.
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// Proposer returns the node's event proposer.
func (n *Node) Proposer() *cluster.Proposer { return n.prop }

// ID returns the node's Raft ID.
func (n *Node) ID() string { return string(n.id) }

// Addr returns the address the HTTP(S) server listens on.
func (n *Node) Addr() net.Addr { return n.httpLn.Addr() }

// ClusterAddr returns the cluster port's address.
func (n *Node) ClusterAddr() net.Addr { return n.layer.Addr() }

// Snapshot forces a Raft snapshot (tests, operators).
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// Close shuts the node down: HTTP first (in-flight requests finish), then
// the object-data service, Raft, the transport and the store. It is safe to
// call more than once.
func (n *Node) Close() error {
	n.closeMu.Lock()
	defer n.closeMu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	close(n.closing)
	if n.objects != nil {
		n.objects.Stop() // calls in flight return, copies to peers are cancelled
	}
	var errs []error
	if n.http != nil {
		errs = append(errs, n.http.ShutdownWithContext(ctxTimeout(5*time.Second)))
		<-n.httpDone
	}
	errs = append(errs, n.closeAccessLog())
	n.wg.Wait()
	if n.objects != nil {
		n.objects.Wait()
	}
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
