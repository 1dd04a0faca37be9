// Command s4load puts load on an S4 node and reports throughput, latency
// percentiles and the server's CPU cost.
//
//	s4load -endpoint https://127.0.0.1:9000 -cacert DATA/tls/cert.pem \
//	    -user root -password ... -scenario admin-credentials \
//	    -c 64 -duration 20s -users 256 [-pid SERVER_PID] [-json]
//
// A run has a fixed number of workers (-c), each sending one request at a
// time, back to back, until -duration has passed. Scenarios:
//
//	admin-credentials  POST/DELETE /api/admin/users/{id}/credentials on
//	                   Writer users load_0..load_<users-1> (created if
//	                   missing); each request is one Raft event.
//	s3-head-bucket     HeadBucket on -bucket.
//	s3-get             GetObject of -objects objects of -size, uploaded in
//	                   setup, read in turn.
//	s3-put             PutObject of -size, a new key and new content each.
//
// The S3 scenarios use aws-sdk-go-v2 with its default checksum settings
// (PUT bodies as aws-chunked with a CRC32 trailer over HTTPS) and the key
// pair of -access-key/-secret-key (default: $AWS_ACCESS_KEY_ID and
// $AWS_SECRET_ACCESS_KEY); setup creates -bucket if missing.
//
//	s4load -endpoint https://127.0.0.1:9000 -cacert DATA/tls/cert.pem \
//	    -scenario s3-put -size 1MiB -c 16 -duration 15s -pid SERVER_PID
//
// With -pid, the server's CPU-seconds (utime+stime from /proc/PID/stat) over
// the timed part of the run are reported too; so are s4load's own. Against a
// cluster, give every node: -endpoint https://n1,https://n2,https://n3 spreads
// the workers over the nodes and -pid P1,P2,P3 sums the nodes' CPU.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	endpoint, cacert  string
	insecure          bool
	user, password    string
	scenario          string
	concurrency       int
	duration, timeout time.Duration
	users, setupC     int
	pids              string
	jsonOut           bool

	accessKey, secretKey string
	bucket               string
	versioning           bool
	size                 string
	objects              int
}

// scenarios builds each scenario by name.
var scenarios = map[string]func(o options, c *adminClient, log *slog.Logger) (scenario, string, error){
	"admin-credentials": func(o options, c *adminClient, log *slog.Logger) (scenario, string, error) {
		s := &adminCredentials{client: c, user: o.user, password: o.password, users: o.users, setupC: o.setupC, log: log}
		return s, s.details(), nil
	},
	"s3-head-bucket": s3Scenario(s3HeadBucket),
	"s3-get":         s3Scenario(s3Get),
	"s3-put":         s3Scenario(s3Put),
}

func s3Scenario(kind s3Kind) func(o options, c *adminClient, log *slog.Logger) (scenario, string, error) {
	return func(o options, c *adminClient, log *slog.Logger) (scenario, string, error) {
		if o.accessKey == "" || o.secretKey == "" {
			return nil, "", errors.New("S3 scenarios need -access-key and -secret-key (or $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY)")
		}
		size, err := parseSize(o.size)
		if err != nil {
			return nil, "", err
		}
		s := &s3Load{kind: kind, bucket: o.bucket, versioning: o.versioning, size: int(size), objects: o.objects, setupC: o.setupC, log: log}
		for _, ep := range o.endpoints() {
			s.clients = append(s.clients, newS3Client(ep, o.accessKey, o.secretKey, c.hc))
		}
		s.client = s.clients[0]
		return s, s.details(), nil
	}
}

// runMain parses the flags and runs one load scenario. Its length is the
// flat list of flags (one line each) and the report; nothing is nested.
func runMain(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("s4load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.endpoint, "endpoint", "https://127.0.0.1:9000", "S4 API base URL; S3 scenarios take several, comma-separated (worker w uses the w-th modulo their number; setup uses the first)")
	fs.StringVar(&o.cacert, "cacert", "", "PEM file of the CA (or self-signed certificate) to trust")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the server certificate")
	fs.StringVar(&o.user, "user", "root", "SuperUser to log in as")
	fs.StringVar(&o.password, "password", "", "its password (default: $S4_ROOT_PASSWORD)")
	fs.StringVar(&o.scenario, "scenario", "admin-credentials", "load scenario: "+strings.Join(slices.Sorted(maps.Keys(scenarios)), ", "))
	fs.IntVar(&o.concurrency, "c", 64, "concurrent workers, one request in flight each")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to send requests")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.IntVar(&o.users, "users", 256, "admin-credentials: load users (at least -c)")
	fs.IntVar(&o.setupC, "setup-c", 2, "concurrent setup requests: user creations (argon2-bound), s3-get uploads")
	fs.StringVar(&o.accessKey, "access-key", "", "S3 scenarios: access key ID (default: $AWS_ACCESS_KEY_ID)")
	fs.StringVar(&o.secretKey, "secret-key", "", "S3 scenarios: secret key (default: $AWS_SECRET_ACCESS_KEY)")
	fs.StringVar(&o.bucket, "bucket", "s4load", "S3 scenarios: bucket (created if missing)")
	fs.BoolVar(&o.versioning, "versioning", false, "S3 scenarios: enable versioning on -bucket in setup (it stays enabled)")
	fs.StringVar(&o.size, "size", "4KiB", "s3-get, s3-put: object size (4096, 4KiB, 1MiB, ...)")
	fs.IntVar(&o.objects, "objects", 64, "s3-get: objects uploaded in setup and read in turn")
	fs.StringVar(&o.pids, "pid", "", "server process IDs, comma-separated: report their summed CPU-seconds during the run")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as JSON instead of text")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "s4load: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.password == "" {
		o.password = os.Getenv("S4_ROOT_PASSWORD")
	}
	if o.accessKey == "" {
		o.accessKey = os.Getenv("AWS_ACCESS_KEY_ID")
	}
	if o.secretKey == "" {
		o.secretKey = os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	newScenario, ok := scenarios[o.scenario]
	switch {
	case !ok:
		fmt.Fprintf(stderr, "s4load: unknown scenario %q\n", o.scenario)
		return 2
	case o.concurrency < 1 || o.duration <= 0 || o.timeout <= 0:
		fmt.Fprintln(stderr, "s4load: -c, -duration and -timeout must be positive")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	hc, err := newHTTPClient(o)
	if err != nil {
		fmt.Fprintln(stderr, "s4load:", err)
		return 1
	}
	defer hc.CloseIdleConnections()
	client := &adminClient{base: strings.TrimRight(o.endpoints()[0], "/"), hc: hc}
	sc, details, err := newScenario(o, client, log)
	if err != nil {
		fmt.Fprintln(stderr, "s4load:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := sc.Setup(ctx, o.concurrency); err != nil {
		fmt.Fprintln(stderr, "s4load: setup:", err)
		return 1
	}

	log.Info("running", "scenario", o.scenario, "c", o.concurrency, "duration", o.duration)
	hz := clockTicks()
	var serverCPU []*cpuMeter
	pids, err := parsePIDs(o.pids)
	if err != nil {
		fmt.Fprintln(stderr, "s4load:", err)
		return 2
	}
	for _, pid := range pids {
		serverCPU = append(serverCPU, startCPU(strconv.Itoa(pid)))
	}
	clientCPU := startCPU("self")
	res := run(ctx, sc, o.concurrency, o.duration)
	var serverSec, clientSec *float64
	for i, m := range serverCPU {
		sec, err := m.stop(hz)
		if err != nil {
			log.Warn("cannot read the server's CPU time", "pid", pids[i], "err", err)
			serverSec = nil
			break
		}
		if serverSec == nil {
			serverSec = new(float64)
		}
		*serverSec = round3(*serverSec + *sec)
	}
	clientSec, _ = clientCPU.stop(hz) // not on Linux: simply not reported

	rep := newReport(res)
	rep.Scenario, rep.ScenarioDetails = o.scenario, details
	rep.Endpoint, rep.Concurrency, rep.Duration = o.endpoint, o.concurrency, o.duration.String()
	rep.ServerPID = o.pids
	rep.setCPU(serverSec, clientSec)
	if b, ok := sc.(interface{ opBytes() int64 }); ok && b.opBytes() > 0 {
		rep.setPayload(b.opBytes())
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "s4load:", err)
			return 1
		}
	} else {
		rep.writeText(stdout)
	}
	if ctx.Err() != nil {
		return 130
	}
	return 0
}

func newHTTPClient(o options) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.insecure}
	if o.cacert != "" {
		pem, err := os.ReadFile(o.cacert)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate found", o.cacert)
		}
		tc.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:               nil, // never through a proxy: talk to the endpoint directly
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        2 * o.concurrency,
		MaxIdleConnsPerHost: 2 * o.concurrency, // keep one connection per worker
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: o.timeout}, nil
}

// endpoints returns the -endpoint list.
func (o *options) endpoints() []string {
	var out []string
	for _, e := range strings.Split(o.endpoint, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		out = []string{"https://127.0.0.1:9000"}
	}
	return out
}

// parsePIDs parses the -pid list ("" for none).
func parsePIDs(v string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-pid: %q is not a process ID", f)
		}
		out = append(out, n)
	}
	return out, nil
}
