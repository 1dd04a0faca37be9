package node

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/s4/s4/disk"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/lease"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3"
	"github.com/s4/s4/transport"
)

// Config configures one node. DefaultConfig gives the production values;
// every field is documented with its default.
type Config struct {
	// DataDir holds the Raft log and snapshots, TLS material, the node ID and
	// (on a single node without a given key) the cluster key. Default ./data.
	DataDir string
	// Listen is the HTTPS (or plain HTTP) address of the S3 and admin API.
	// Default :9000.
	Listen string
	// ClusterListen is the cluster port: Raft and the internal RPC over
	// mutual TLS. Default :7000.
	ClusterListen string
	// Advertise is the cluster address peers use to reach this node. Default:
	// ClusterListen, with 127.0.0.1 for an empty or unspecified host.
	Advertise string
	// APIAdvertise is the address clients reach this node's S3 and admin
	// API at, as the other nodes report it (GET /api/admin/cluster,
	// api_address). Default: Listen, with Advertise's host for an empty or
	// unspecified host (so 127.0.0.1 unless --advertise names a host). A
	// port 0 stands for the port actually bound.
	APIAdvertise string
	// Join is the cluster address (host:port of the cluster port) of any
	// running node of the cluster this node should join. Only read on the
	// first start (empty data dir): the node then starts Raft without a
	// configuration, never bootstraps, and asks that node to add it as a
	// voter until it succeeds (join.go). With existing Raft state it is
	// ignored. Excludes Peers.
	Join string
	// Peers is the static voter set of a new cluster: every node gets the
	// identical list and bootstraps with it on its first start. Empty: a
	// one-node cluster. (Experimental until the revocation barrier and blob
	// replication land: see README.)
	Peers []Peer
	// NodeID is this node's stable Raft ID. Default: the ID stored in the data
	// dir, or a new one on first start.
	NodeID string
	// ClusterKey is the cluster's shared secret. Required.
	ClusterKey *keyring.ClusterKey
	// TLSCertFile and TLSKeyFile name the HTTPS certificate. Default: a
	// self-signed one generated into the data dir on first start.
	TLSCertFile, TLSKeyFile string
	// CertHosts are extra names/IPs for the generated certificate.
	CertHosts []string
	// PlainHTTP serves HTTP instead of HTTPS (behind a TLS-terminating proxy).
	PlainHTTP bool
	// RootUser and RootPassword create the root SuperUser, once, on the
	// first start of the cluster. Without a password a random one is
	// generated and printed once to RootPasswordOut.
	RootUser, RootPassword string
	// TokenTTL is the admin session lifetime. Default 24h.
	TokenTTL time.Duration
	// ApplyTimeout bounds how long a write waits for a leader and for the
	// log. Default 5s.
	ApplyTimeout time.Duration
	// Raft timing. Defaults: hashicorp/raft's (1s/1s/500ms) with
	// CommitTimeout 5ms, so followers learn of commits within ~10ms.
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout, CommitTimeout time.Duration
	// MaxObjectSize bounds a single PUT or part. Default 5 GiB.
	MaxObjectSize int64
	// InlineThreshold is the largest body of a PUT or a part that travels
	// inside its metadata event through the Raft log and is kept in the
	// metadata store, without a blob file (s3.Config.InlineThreshold).
	// 0 turns it off. Default s3.DefaultInlineThreshold; at most
	// meta.MaxInline. Every node of a cluster should have the same (a
	// node only decides for the PUTs it takes; any node reads both kinds).
	InlineThreshold int64
	// BufferedWrites writes blob content through the page cache instead
	// of with direct I/O (package blob, direct.go): cheaper GETs of
	// objects read soon after they were written, dearer PUTs.
	BufferedWrites bool
	// GCInterval is how often unreferenced blobs are removed. Default 30s.
	GCInterval time.Duration
	// ScrubRate bounds the blob scrubber's reads, in bytes per second
	// (package objects, scrub.go); 0: objects.DefaultScrubRate (16 MiB/s);
	// negative: no scrubber.
	ScrubRate int64
	// ScrubInterval is the pause between two scrub passes. Default
	// objects.DefaultScrubInterval (24h).
	ScrubInterval time.Duration
	// DiskReserve is the free space kept on the data dir's file system for
	// the Raft log and the metadata store: at it, object data is refused
	// with 507 (package disk; node/disk.go, objects/reserve.go). Default
	// (the zero value): the larger of 2 % of the file system and 256 MiB,
	// at most half of it.
	DiskReserve disk.Reserve
	// AuthLease is how long a follower keeps serving S3 without receiving a
	// real append from the leader; past it, it answers 503. A revocation is
	// acknowledged at the latest AuthLease (plus a margin) after its commit
	// when a follower does not confirm it. Default 1s; at least
	// LeaderLeaseTimeout.
	AuthLease time.Duration
	// SnapshotThreshold, SnapshotInterval and TrailingLogs (entries kept
	// after a snapshot; a follower further behind gets the snapshot): raft
	// defaults unless set.
	SnapshotThreshold uint64
	TrailingLogs      uint64
	SnapshotInterval  time.Duration
	// LeaseClock times every lease. Default lease.System() (CLOCK_BOOTTIME
	// on Linux); tests pass a lease.Manual.
	LeaseClock lease.Clock
	// ClusterDialer, when set, opens the TCP connection under every outgoing
	// cluster link (Raft and the internal RPC). Tests route the links through
	// a fault-injecting proxy with it; production leaves it nil.
	ClusterDialer transport.Dialer
	// ClusterSource is the local IP every outgoing cluster connection
	// (Raft, internal RPC, status line, blob copies) is made from. Default
	// empty: the OS chooses. Not used with ClusterDialer.
	ClusterSource string
	// Logger for the node (raft logs through it at warn level and above).
	// The node adds its ID to every line ("node").
	Logger *slog.Logger
	// MetricsPublic serves GET /metrics without a scrape token. Default
	// false: a scrape needs a token a SuperUser created (node/metrics.go).
	MetricsPublic bool
	// AccessLog, when set, receives the S3 access log: one JSON line per
	// request (package accesslog). Default nil: off.
	AccessLog io.Writer
	// HistoryRetention is how long the IAM history keeps an event.
	// Default 0: forever. The leader proposes the cut-off as an event
	// (node/history.go) every HistoryPruneEvery (default 10m) while older
	// events remain.
	HistoryRetention, HistoryPruneEvery time.Duration
	// LifecycleInterval is how often the leader evaluates the buckets'
	// lifecycle rules (node/lifecycle.go). Default 1h (S3 runs them once a
	// day; a shorter interval only expires sooner after the due time).
	LifecycleInterval time.Duration
	// LifecycleAt, when set ("HH:MM" or "HH:MM:SS", UTC), aligns the runs
	// to that time of day: they happen at LifecycleAt + k ×
	// LifecycleInterval (with 24h, once a day at that time). Default
	// empty: every LifecycleInterval from the start.
	LifecycleAt string
	// LifecycleDay is the length of a "day" of the lifecycle rules (Days,
	// NoncurrentDays, DaysAfterInitiation; a day starts at a multiple of it
	// since the Unix epoch, which for 24h is midnight UTC). Default 24h;
	// tests use a second.
	LifecycleDay time.Duration
	// RootPasswordOut receives the one-time message with a generated root
	// password. Default: nowhere (tests); the s4 binary passes stdout.
	RootPasswordOut func(user, password string)
}

// Peer is one voter of a static cluster configuration.
type Peer struct {
	ID   string // the node's stable ID (--node-id)
	Addr string // its cluster address (--advertise)
}

// ParsePeers parses "n1=host:port,n2=host:port,...".
func ParsePeers(s string) ([]Peer, error) {
	var out []Peer
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, addr, ok := strings.Cut(item, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("node: peer %q is not id=host:port", item)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("node: peer %q: %w", item, err)
		}
		if seen[id] || seen[addr] {
			return nil, fmt.Errorf("node: peer %q listed twice", item)
		}
		seen[id], seen[addr] = true, true
		out = append(out, Peer{ID: id, Addr: addr})
	}
	return out, nil
}

// DefaultConfig returns a Config with every default filled in except the
// cluster key.
func DefaultConfig() Config {
	return Config{
		DataDir:            "./data",
		Listen:             ":9000",
		ClusterListen:      ":7000",
		RootUser:           "root",
		TokenTTL:           24 * time.Hour,
		ApplyTimeout:       5 * time.Second,
		HeartbeatTimeout:   time.Second,
		ElectionTimeout:    time.Second,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
		MaxObjectSize:      5 << 30,
		InlineThreshold:    s3.DefaultInlineThreshold,
		AuthLease:          time.Second,
		GCInterval:         30 * time.Second,
	}
}

// Validate checks the configuration and fills derived defaults.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("node: data dir is required")
	}
	if c.ClusterKey == nil {
		return errors.New("node: cluster key is required")
	}
	if c.RootUser == "" {
		c.RootUser = "root"
	}
	if c.InlineThreshold < 0 || c.InlineThreshold > meta.MaxInline {
		return fmt.Errorf("node: inline threshold %d is not between 0 and %d bytes", c.InlineThreshold, meta.MaxInline)
	}
	if c.RootPassword != "" && len(c.RootPassword) < 8 {
		return errors.New("node: root password must be at least 8 characters")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("node: give both --tls-cert and --tls-key, or neither")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = 24 * time.Hour
	}
	if c.AuthLease <= 0 {
		c.AuthLease = time.Second
	}
	if c.LeaseClock == nil {
		c.LeaseClock = lease.System()
	}
	if c.AuthLease < c.LeaderLeaseTimeout {
		return fmt.Errorf("node: auth lease %v is shorter than the leader lease %v", c.AuthLease, c.LeaderLeaseTimeout)
	}
	if c.GCInterval <= 0 {
		c.GCInterval = 30 * time.Second
	}
	if c.HistoryPruneEvery <= 0 {
		c.HistoryPruneEvery = 10 * time.Minute
	}
	if c.LifecycleInterval <= 0 {
		c.LifecycleInterval = time.Hour
	}
	if c.LifecycleDay <= 0 {
		c.LifecycleDay = 24 * time.Hour
	}
	if c.LifecycleAt != "" {
		if _, err := parseTimeOfDay(c.LifecycleAt); err != nil {
			return err
		}
	}
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = 5 * time.Second
	}
	if c.Advertise == "" {
		host, port, err := net.SplitHostPort(c.ClusterListen)
		if err != nil {
			return fmt.Errorf("node: cluster listen address %q: %w", c.ClusterListen, err)
		}
		if host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
			host = "127.0.0.1"
		}
		c.Advertise = net.JoinHostPort(host, port)
	}
	if _, err := net.ResolveTCPAddr("tcp", c.Advertise); err != nil {
		return fmt.Errorf("node: advertise address %q: %w", c.Advertise, err)
	}
	if err := c.validateAPIAdvertise(); err != nil {
		return err
	}
	if c.Join != "" {
		if len(c.Peers) > 0 {
			return errors.New("node: --join and --peers exclude each other: --peers bootstraps a new cluster, --join adds this node to a running one")
		}
		if host, port, err := net.SplitHostPort(c.Join); err != nil || host == "" || port == "" {
			return fmt.Errorf("node: --join %q must be host:port of a node's cluster port", c.Join)
		}
	}
	if len(c.Peers) > 0 {
		if c.NodeID == "" {
			return errors.New("node: --peers needs --node-id")
		}
		found := false
		for _, p := range c.Peers {
			if p.ID == c.NodeID {
				found = true
				if p.Addr != c.Advertise {
					return fmt.Errorf("node: --peers gives %s the address %s, but it advertises %s", p.ID, p.Addr, c.Advertise)
				}
			}
		}
		if !found {
			return fmt.Errorf("node: --node-id %s is not in --peers", c.NodeID)
		}
	}
	return nil
}

// validateAPIAdvertise fills APIAdvertise's default (Listen, with
// Advertise's host for an empty or unspecified host) and checks it.
func (c *Config) validateAPIAdvertise() error {
	if c.APIAdvertise == "" {
		host, port, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return fmt.Errorf("node: listen address %q: %w", c.Listen, err)
		}
		if unspecifiedHost(host) {
			host, _, _ = net.SplitHostPort(c.Advertise)
		}
		if unspecifiedHost(host) {
			host = "127.0.0.1"
		}
		c.APIAdvertise = net.JoinHostPort(host, port)
	}
	if host, port, err := net.SplitHostPort(c.APIAdvertise); err != nil || host == "" || port == "" {
		return fmt.Errorf("node: --api-advertise %q must be host:port", c.APIAdvertise)
	}
	return nil
}

func unspecifiedHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}
