// Command s4 runs an S4 node and its tools.
//
//	s4 server [flags]    run a node (every flag also reads an S4_* variable)
//	s4 admin ...         the admin API's client (package admincli)
//	s4 keygen [-o FILE]  write a new cluster key
//	s4 version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/s4/s4/admincli"
	"github.com/s4/s4/disk"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/node"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `s4 — an S3-compatible object store whose IAM is event-sourced on Raft.

Usage:
  s4 server [flags]      run a node (s4 server --help lists the flags)
  s4 admin COMMAND       manage users, S3 keys, the cluster and scrape tokens
                         through the admin API (s4 admin --help)
  s4 completion SHELL    shell completion of s4 admin (bash, zsh, fish, powershell)
  s4 keygen [-o FILE]    write a new 32-byte cluster key (hex) to FILE or stdout
  s4 cert -cert F -key F [-hosts h1,h2]
                         write a self-signed HTTPS certificate (localhost,
                         127.0.0.1 and the hosts) that several nodes can share
  s4 compact-log -data-dir DIR
                         rewrite a stopped node's Raft log file (raft/raft.db)
                         without its free pages: raft-boltdb never shrinks it
  s4 version             print the version
  s4 help                this text
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "server":
		return runServer(args[1:], stdout, stderr)
	case "admin", "completion", "__complete", "__completeNoDesc":
		return admincli.Run(args, os.Stdin, stdout, stderr)
	case "keygen":
		return runKeygen(args[1:], stdout, stderr)
	case "cert":
		return runCert(args[1:], stderr)
	case "compact-log":
		return runCompactLog(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "s4 %s\n", version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "s4: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the key to this file (mode 0600, never overwritten) instead of stdout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	k, err := keyring.GenerateClusterKey()
	if err != nil {
		fmt.Fprintln(stderr, "s4 keygen:", err)
		return 1
	}
	if *out == "" {
		// Writing the key is the point of this command.
		fmt.Fprintf(stdout, "%x\n", [32]byte(k))
		return 0
	}
	if err := keyring.WriteClusterKeyFile(*out, k); err != nil {
		fmt.Fprintln(stderr, "s4 keygen:", err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote a new cluster key to %s\n", *out)
	return 0
}

// runCompactLog compacts a stopped node's raft.db (node.CompactRaftLog).
func runCompactLog(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compact-log", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("data-dir", "", "data directory of the stopped node")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "s4 compact-log: -data-dir is required")
		return 2
	}
	before, after, err := node.CompactRaftLog(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "s4 compact-log:", err)
		return 1
	}
	fmt.Fprintf(stdout, "raft.db: %d bytes before, %d after\n", before, after)
	return 0
}

func runCert(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("cert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	certFile := fs.String("cert", "", "certificate file to write (PEM)")
	keyFile := fs.String("key", "", "private key file to write (PEM, mode 0600)")
	hosts := fs.String("hosts", "", "extra comma-separated names/IPs")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *certFile == "" || *keyFile == "" {
		fmt.Fprintln(stderr, "s4 cert: -cert and -key are required")
		return 2
	}
	var hs []string
	if *hosts != "" {
		hs = strings.Split(*hosts, ",")
	}
	if _, created, err := keyring.LoadOrCreateServerCert(*certFile, *keyFile, hs); err != nil {
		fmt.Fprintln(stderr, "s4 cert:", err)
		return 1
	} else if !created {
		fmt.Fprintf(stderr, "s4 cert: %s exists; kept it\n", *certFile)
	}
	return 0
}

// serverFlags binds every server flag to an S4_* environment variable: the
// flag wins when both are given.
type serverFlags struct {
	fs  *flag.FlagSet
	env map[string]string // flag name -> variable
}

func (s *serverFlags) str(p *string, name, env, def, help string) {
	s.fs.StringVar(p, name, def, help+" ("+env+")")
	s.env[name] = env
}

func (s *serverFlags) boolean(p *bool, name, env string, help string) {
	s.fs.BoolVar(p, name, false, help+" ("+env+")")
	s.env[name] = env
}

// applyEnv sets each flag not given on the command line from its variable.
func (s *serverFlags) applyEnv() error {
	given := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, env := range s.env {
		if v, ok := os.LookupEnv(env); ok && !given[name] {
			if err := s.fs.Set(name, v); err != nil {
				return fmt.Errorf("%s=%q: %w", env, v, err)
			}
		}
	}
	return nil
}

// runServer parses the flags of `s4 server` (each also an environment
// variable) and runs a node until a signal stops it. It is long because it
// is a flat list of one line per flag, which reads best in one place, next
// to the README's configuration table.
func runServer(args []string, stdout, stderr io.Writer) int {
	cfg := node.DefaultConfig()
	var keyFile, certHosts, logLevel, peers, authLease string
	sf := &serverFlags{fs: flag.NewFlagSet("server", flag.ContinueOnError), env: map[string]string{}}
	sf.fs.SetOutput(stderr)
	sf.str(&cfg.DataDir, "data-dir", "S4_DATA_DIR", cfg.DataDir, "data directory")
	sf.str(&cfg.Listen, "listen", "S4_LISTEN", cfg.Listen, "S3 and admin API address")
	sf.str(&cfg.ClusterListen, "cluster-listen", "S4_CLUSTER_LISTEN", cfg.ClusterListen, "cluster (Raft, mTLS) address")
	sf.str(&cfg.Advertise, "advertise", "S4_ADVERTISE", "", "cluster address peers reach this node at (default: from --cluster-listen)")
	sf.str(&cfg.ClusterSource, "cluster-source", "S4_CLUSTER_SOURCE", "", "local IP that outgoing cluster connections are made from (default: chosen by the OS)")
	sf.str(&cfg.APIAdvertise, "api-advertise", "S4_API_ADVERTISE", "", "S3/admin API address clients reach this node at, as the cluster reports it (default: from --listen, with the --advertise host for an empty host)")
	sf.str(&cfg.Join, "join", "S4_JOIN", "", "cluster address (host:port of the cluster port) of any running node: on the first start, join its cluster instead of bootstrapping (needs the cluster's key; ignored once the data dir has Raft state)")
	sf.str(&peers, "peers", "S4_PEERS", "", "static cluster of a new cluster: id1=host:port,id2=...,id3=... (the same on every node; experimental, see README)")
	sf.str(&authLease, "auth-lease", "S4_AUTH_LEASE", cfg.AuthLease.String(), "how long a follower serves S3 without a real append from the leader (bounds a revoke's acknowledgement when a node is down)")
	sf.str(&cfg.NodeID, "node-id", "S4_NODE_ID", "", "stable node ID (default: stored in the data dir, generated on first start)")
	sf.str(&keyFile, "cluster-key-file", "S4_CLUSTER_KEY_FILE", "", "file with the cluster key (hex); S4_CLUSTER_KEY may hold the key itself (default: <data-dir>/cluster.key, generated on a first single-node start)")
	sf.str(&cfg.TLSCertFile, "tls-cert", "S4_TLS_CERT", "", "HTTPS certificate (PEM); default: self-signed, generated into the data dir")
	sf.str(&cfg.TLSKeyFile, "tls-key", "S4_TLS_KEY", "", "HTTPS private key (PEM)")
	sf.str(&certHosts, "cert-hosts", "S4_CERT_HOSTS", "", "extra comma-separated names/IPs for the generated certificate")
	sf.boolean(&cfg.PlainHTTP, "http", "S4_HTTP", "serve plain HTTP instead of HTTPS (behind a TLS proxy)")
	sf.str(&logLevel, "log-level", "S4_LOG_LEVEL", "info", "debug, info, warn or error")
	var logFormat, accessLog string
	sf.str(&logFormat, "log-format", "S4_LOG_FORMAT", "text", "text or json (one object per line); every line names the node")
	sf.str(&accessLog, "access-log", "S4_ACCESS_LOG", "", "append the S3 access log (one JSON line per request) to this file, or - for standard output (default: off)")
	sf.boolean(&cfg.MetricsPublic, "metrics-public", "S4_METRICS_PUBLIC", "serve GET /metrics without a scrape token")
	sf.boolean(&cfg.BufferedWrites, "buffered-writes", "S4_BUFFERED_WRITES", "write object data through the page cache instead of with direct I/O (O_DIRECT; used where the file system has it): cheaper reads of objects read soon after they were written, dearer writes (see BENCHMARKS.md)")
	var diskReserve, historyRetention, scrubRate, scrubInterval, inlineThreshold string
	sf.str(&scrubRate, "scrub-rate", "S4_SCRUB_RATE", "16MiB", "how fast the scrubber re-reads this node's blobs and inline bodies to check their checksums (repairing a blob or an inline body that fails from a peer): a size per second (16MiB, 100MB/s), or off")
	sf.str(&scrubInterval, "scrub-interval", "S4_SCRUB_INTERVAL", "24h", "pause between two scrub passes (from the end of one to the start of the next)")
	sf.str(&inlineThreshold, "inline-threshold", "S4_INLINE_THRESHOLD", strconv.FormatInt(cfg.InlineThreshold, 10), fmt.Sprintf("largest PUT or part body, in bytes, that travels in the Raft log and is kept with its metadata instead of in a blob file (0 turns it off; at most %d)", meta.MaxInline))
	sf.str(&historyRetention, "history-retention", "S4_HISTORY_RETENTION", "0", "how long the IAM history keeps an event: a duration (8760h) or days (365d); 0 keeps it forever")
	sf.str(&diskReserve, "disk-reserve", "S4_DISK_RESERVE", "default", "free space kept on the data dir's file system for the Raft log and metadata: at it, object writes get 507 XS4StorageFull; a percentage (2%), a size (512MiB, 2GiB; 0 turns it off) or default: the larger of 2% and 256MiB, at most half the file system")
	var lifecycleInterval, lifecycleDay string
	sf.str(&lifecycleInterval, "lifecycle-interval", "S4_LIFECYCLE_INTERVAL", "1h", "how often the leader applies the buckets' lifecycle rules (expirations, aborted uploads)")
	sf.str(&cfg.LifecycleAt, "lifecycle-at", "S4_LIFECYCLE_AT", "", "time of day (HH:MM, UTC) the lifecycle runs are aligned to: at it and every --lifecycle-interval after (default: every interval from the start)")
	sf.str(&lifecycleDay, "lifecycle-day", "S4_LIFECYCLE_DAY", "24h", "length of a day of the lifecycle rules (Days=1 means this long, rounded up to the next multiple of it since the Unix epoch); shorter only for tests")
	if err := sf.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := sf.applyEnv(); err != nil {
		fmt.Fprintln(stderr, "s4 server:", err)
		return 2
	}
	if sf.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "s4 server: unexpected argument %q\n", sf.fs.Arg(0))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintln(stderr, "s4 server: --log-level:", err)
		return 2
	}
	var handler slog.Handler
	switch logFormat {
	case "text":
		handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	case "json":
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	default:
		fmt.Fprintf(stderr, "s4 server: --log-format %q is not text or json\n", logFormat)
		return 2
	}
	log := slog.New(handler)
	cfg.Logger = log // the node adds its ID to every line
	if d, err := time.ParseDuration(authLease); err != nil || d <= 0 {
		fmt.Fprintf(stderr, "s4 server: --auth-lease %q is not a positive duration\n", authLease)
		return 2
	} else {
		cfg.AuthLease = d
	}
	if d, err := parseRetention(historyRetention); err != nil {
		fmt.Fprintln(stderr, "s4 server: --history-retention:", err)
		return 2
	} else {
		cfg.HistoryRetention = d
	}
	if r, err := parseScrubRate(scrubRate); err != nil {
		fmt.Fprintln(stderr, "s4 server: --scrub-rate:", err)
		return 2
	} else {
		cfg.ScrubRate = r
	}
	if d, err := time.ParseDuration(scrubInterval); err != nil || d <= 0 {
		fmt.Fprintf(stderr, "s4 server: --scrub-interval %q is not a positive duration\n", scrubInterval)
		return 2
	} else {
		cfg.ScrubInterval = d
	}
	for _, d := range []struct {
		flag, value string
		to          *time.Duration
	}{{"lifecycle-interval", lifecycleInterval, &cfg.LifecycleInterval}, {"lifecycle-day", lifecycleDay, &cfg.LifecycleDay}} {
		v, err := time.ParseDuration(d.value)
		if err != nil || v <= 0 {
			fmt.Fprintf(stderr, "s4 server: --%s %q is not a positive duration\n", d.flag, d.value)
			return 2
		}
		*d.to = v
	}
	if n, err := strconv.ParseInt(inlineThreshold, 10, 64); err != nil || n < 0 || n > meta.MaxInline {
		fmt.Fprintf(stderr, "s4 server: --inline-threshold %q is not a number of bytes between 0 and %d\n", inlineThreshold, meta.MaxInline)
		return 2
	} else {
		cfg.InlineThreshold = n
	}
	if r, err := disk.ParseReserve(diskReserve); err != nil {
		fmt.Fprintln(stderr, "s4 server: --disk-reserve:", err)
		return 2
	} else {
		cfg.DiskReserve = r
	}
	if peers != "" {
		p, err := node.ParsePeers(peers)
		if err != nil {
			fmt.Fprintln(stderr, "s4 server:", err)
			return 2
		}
		cfg.Peers = p
	}
	if certHosts != "" {
		cfg.CertHosts = strings.Split(certHosts, ",")
	}
	if v := os.Getenv("S4_ROOT_USER"); v != "" {
		cfg.RootUser = v
	}
	cfg.RootPassword = os.Getenv("S4_ROOT_PASSWORD")
	cfg.RootPasswordOut = func(user, password string) {
		// Printed once, to the terminal, never to the log.
		fmt.Fprintf(stdout, "\n  Root user created: %s\n  Generated password: %s\n  It is shown only this once; set S4_ROOT_PASSWORD to choose one.\n\n", user, password)
	}

	// A joining node needs the cluster's key: one generated here could
	// never reach the cluster.
	key, generatedKey, err := loadClusterKey(keyFile, cfg.DataDir, cfg.Join == "")
	if err != nil {
		fmt.Fprintln(stderr, "s4 server:", err)
		return 1
	}
	cfg.ClusterKey = &key
	if accessLog != "" {
		w, closeLog, err := openAccessLog(accessLog, stdout)
		if err != nil {
			fmt.Fprintln(stderr, "s4 server: --access-log:", err)
			return 1
		}
		defer closeLog()
		cfg.AccessLog = w
	}

	n, err := node.Open(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "s4 server:", err)
		return 1
	}
	log = log.With("node", n.ID()) // as the node's own lines
	if generatedKey != "" {
		log.Warn("no cluster key given: generated one for this single node; copy it to every node before forming a cluster", "file", generatedKey)
	}
	scheme := "https"
	if cfg.PlainHTTP {
		scheme = "http"
	}
	log.Info("s4 listening", "version", version, "api", scheme+"://"+n.Addr().String(), "cluster", n.ClusterAddr().String())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	go func() {
		if err := n.WaitReady(ctx); err != nil {
			log.Warn("node not ready after a minute", "err", err)
		}
	}()
	s := <-sig
	cancel()
	log.Info("shutting down", "signal", s.String())
	if err := n.Close(); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// loadClusterKey reads the key from S4_CLUSTER_KEY, the given file, or the
// data dir; a single node without any generates one into its data dir when
// generate allows it, and returns the file it wrote (for a warning once
// the node's ID is known).
func loadClusterKey(file, dataDir string, generate bool) (k keyring.ClusterKey, generated string, err error) {
	if v := os.Getenv("S4_CLUSTER_KEY"); v != "" && file == "" {
		k, err = keyring.ParseClusterKey([]byte(v))
		return k, "", err
	}
	if file != "" {
		k, err = keyring.ReadClusterKeyFile(file)
		return k, "", err
	}
	path := filepath.Join(dataDir, "cluster.key")
	k, err = keyring.ReadClusterKeyFile(path)
	if err == nil {
		return k, "", nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return k, "", err
	}
	if !generate {
		return k, "", errors.New("--join needs the cluster's key: give --cluster-key-file or S4_CLUSTER_KEY (the same key on every node), or put it in " + path)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return k, "", err
	}
	if k, err = keyring.GenerateClusterKey(); err != nil {
		return k, "", err
	}
	if err := keyring.WriteClusterKeyFile(path, k); err != nil {
		return k, "", err
	}
	return k, path, nil
}

// parseRetention parses --history-retention: 0 (forever), a Go duration
// or a number of days ("365d").
// parseScrubRate parses --scrub-rate: "off" (-1: no scrubber) or a size
// as --disk-reserve takes one (16MiB, 100MB, 1048576), optionally
// followed by "/s"; at least 1 MiB per second, so that a pass ends.
func parseScrubRate(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "off") {
		return -1, nil
	}
	t = strings.TrimSuffix(t, "/s")
	bad := fmt.Errorf("%q is not a rate like 16MiB, 100MB/s or off", s)
	if t == "" || strings.HasSuffix(t, "%") || strings.EqualFold(t, "default") {
		return 0, bad
	}
	r, err := disk.ParseReserve(t)
	if err != nil {
		return 0, bad
	}
	b := r.Resolve(0)
	if b < 1<<20 {
		return 0, fmt.Errorf("%q is below 1MiB per second (use off to turn the scrubber off)", s)
	}
	if b > 1<<40 {
		return 0, fmt.Errorf("%q is above 1TiB per second", s)
	}
	return int64(b), nil
}

func parseRetention(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days (1 to 36500)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration, a number of days (365d) or 0", s)
	}
	return d, nil
}

// openAccessLog opens the access log's destination: a file, appended to
// (created with mode 0640), or - for stdout.
func openAccessLog(path string, stdout io.Writer) (io.Writer, func(), error) {
	if path == "-" {
		return stdout, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}
