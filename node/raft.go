package node

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/s4/s4/lease"
	"github.com/s4/s4/transport"
)

// openRaft opens Raft's stores in dir and the cluster port, bootstraps a
// new cluster when the data dir has no Raft state (unless Config.Join asks
// to join a running one), and starts Raft.
func (n *Node) openRaft(dir string) error {
	cfg := n.cfg
	// Raft logs through the node's logger, warnings and above.
	rlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, DisableTime: true,
		Output: slog.NewLogLogger(n.log.Handler(), slog.LevelWarn).Writer()})
	logs, snaps, err := n.openRaftStores(dir, rlog)
	if err != nil {
		return err
	}
	advertise, err := n.listenCluster()
	if err != nil {
		return err
	}
	n.clock = cfg.LeaseClock
	n.follower = lease.NewFollower(n.clock, cfg.AuthLease, n.currentTerm)
	n.lead = lease.NewLeader(n.clock, string(n.id), cfg.AuthLease, n.leaseMargin())
	n.answers = lease.NewAnswers(n.clock)
	n.trans = transport.NewRaftTransport(n.layer, rlog)

	rc, err := n.raftConfig(rlog)
	if err != nil {
		return err
	}
	existing, err := n.bootstrap(rc, logs, snaps, advertise)
	if err != nil {
		return err
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, n.store, snaps, n.trans)
	if err != nil {
		return fmt.Errorf("node: start raft: %w", err)
	}
	n.raft = r
	n.startJoin(existing, advertise.String())
	return nil
}

// openRaftStores opens the log and stable store (raft-boltdb, n.store),
// its cache and the snapshot store in dir.
func (n *Node) openRaftStores(dir string, rlog hclog.Logger) (raft.LogStore, raft.SnapshotStore, error) {
	store, err := raftboltdb.New(raftboltdb.Options{
		Path:                    filepath.Join(dir, "raft.db"),
		BoltOptions:             &bolt.Options{Timeout: time.Second, NoFreelistSync: true},
		MsgpackUseNewTimeFormat: true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("node: open raft store: %w", err)
	}
	n.store = store
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return nil, nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, rlog)
	if err != nil {
		return nil, nil, fmt.Errorf("node: open snapshot store: %w", err)
	}
	return logs, snaps, nil
}

// listenCluster listens on the cluster port with the cluster identity
// (n.ident, n.layer) and returns the address peers reach it at.
func (n *Node) listenCluster() (net.Addr, error) {
	cfg := n.cfg
	ln, err := net.Listen("tcp", cfg.ClusterListen)
	if err != nil {
		return nil, fmt.Errorf("node: cluster listen: %w", err)
	}
	advertise, err := resolveAdvertise(cfg.Advertise, ln.Addr())
	if err != nil {
		ln.Close()
		return nil, err
	}
	ident, err := transport.NewIdentity(n.keys.ClusterTLS)
	if err == nil {
		ident, err = ident.WithSource(cfg.ClusterSource) // --cluster-source
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	if cfg.ClusterDialer != nil {
		ident = ident.WithDialer(cfg.ClusterDialer)
	}
	n.ident = ident
	n.layer = transport.NewLayer(ln, advertise, ident)
	return advertise, nil
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

// raftConfig is Raft's configuration from the node's.
func (n *Node) raftConfig(rlog hclog.Logger) (*raft.Config, error) {
	cfg := n.cfg
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
		return nil, fmt.Errorf("node: raft config: %w", err)
	}
	return rc, nil
}

// bootstrap writes the first configuration of a new cluster into a data
// dir without Raft state (this node alone, or Config.Peers), unless
// Config.Join asks to join a running cluster; existing reports that the
// data dir had Raft state.
func (n *Node) bootstrap(rc *raft.Config, logs raft.LogStore, snaps raft.SnapshotStore, advertise net.Addr) (existing bool, err error) {
	cfg := n.cfg
	existing, err = raft.HasExistingState(logs, n.store, snaps)
	if err != nil {
		return false, err
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
		if err := raft.BootstrapCluster(rc, logs, n.store, snaps, n.trans, conf); err != nil {
			return false, fmt.Errorf("node: bootstrap: %w", err)
		}
	} else if existing {
		n.log.Info("resuming from existing raft state", "node_id", n.id)
	}
	return existing, nil
}
