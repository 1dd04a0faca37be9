// Command s4faults is a fault suite of real processes: it starts a
// three-node S4 cluster of `s4 server` processes, puts a workload on it
// with real clients (aws-sdk-go-v2 for S3, net/http and JSON for the admin
// API), injects faults one at a time (kill -9, SIGSTOP, partitions through
// TCP proxies, a full data disk) and then checks S4's promises on the
// recorded history:
//
//  1. once the admin API acknowledged a revoke, a key regeneration, a
//     deactivation, a deletion or a demotion, no node accepted the old
//     credential in a request sent after the acknowledgement; a
//     regenerated key works;
//  2. after healing, every acknowledged write reads back byte-identical on
//     every node (or a later write whose outcome was in doubt), every
//     acknowledged delete is gone, and the nodes agree;
//  3. ListObjectsV2 agrees on all nodes and with the model;
//  4. no read went back in time: a read sent after version v of a key was
//     acknowledged (or returned by another read) returned v or later.
//
// Usage:
//
//	s4faults --bin ./s4 [--seed 1] [--duration 60s] [--faults stop-leader,partition]
//	         [--dir DIR] [--keep] [-v]
//
// Node k listens for HTTPS on 127.0.0.1, for the cluster on
// 127.0.0.k:<port>, and advertises 127.0.0.k:<proxy port>, where the
// driver's proxy forwards to the real port; the nodes dial each other with
// --cluster-source 127.0.0.k, so the proxy knows from the source IP which
// directed link a connection is. The exit status is 0 when every check
// passed, 1 on a violation, 2 when the run could not be made.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	seed     uint64
	duration time.Duration
	faults   []string
	bin, dir string
	keep     bool
	verbose  bool
	writers  int
	keys     int
	readers  int
	hammer   int
	lanes    int
	diskSize int64
}

func runMain(args []string, stdout, stderr io.Writer) int {
	var o options
	var faults string
	fs := flag.NewFlagSet("s4faults", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the nemesis and the workload")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "how long the workload and the faults run (then: heal, check)")
	fs.StringVar(&faults, "faults", "all", "comma-separated: "+strings.Join(faultKinds, ",")+" (or all)")
	fs.StringVar(&o.bin, "bin", "s4", "path to the s4 binary")
	fs.StringVar(&o.dir, "dir", "", "work directory (default: a new temporary one)")
	fs.BoolVar(&o.keep, "keep", false, "keep the data and logs of the nodes")
	fs.BoolVar(&o.verbose, "v", false, "log events as they happen; list every violation")
	fs.IntVar(&o.writers, "writers", 4, "writers (each owns its keys)")
	fs.IntVar(&o.keys, "keys", 6, "keys per writer")
	fs.IntVar(&o.readers, "readers", 3, "readers (each sends a GET every 20 ms; up to 256 in flight per node)")
	fs.IntVar(&o.hammer, "hammer", 256, "probe requests in flight per node, at most, before and again after the revocation (one is sent every 10 ms)")
	fs.IntVar(&o.lanes, "lanes", 32, "warm connections per node held back for the moment a stopped node resumes (probe rounds and readers each)")
	fs.Int64Var(&o.diskSize, "disk-size", 256<<20, "bytes of the tmpfs under one node's data dir (disk fault)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "s4faults: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var err error
	if o.faults, err = parseFaults(faults); err != nil {
		fmt.Fprintln(stderr, "s4faults:", err)
		return 2
	}
	if o.duration < 10*time.Second || o.writers < 1 || o.keys < 1 || o.readers < 0 || o.hammer < 1 {
		fmt.Fprintln(stderr, "s4faults: --duration must be at least 10s, --writers, --keys and --hammer positive")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &driver{o: o, out: stdout, hist: &History{}, clk: clock{start: time.Now()}}
	defer d.cleanup()
	if err := d.setup(ctx); err != nil {
		fmt.Fprintln(stderr, "s4faults: setup:", err)
		d.tailLogs(stderr)
		return 2
	}
	violations, err := d.run(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "s4faults:", err)
		return 2
	}
	d.summary(violations)
	if len(violations) > 0 {
		return 1
	}
	return 0
}

// driver is one run.
type driver struct {
	o    options
	out  io.Writer
	hist *History
	clk  clock
	mu   sync.Mutex // out

	dir      string
	ownDir   bool // created by the driver: removed at the end
	mounted  string
	diskNode int
	procs    *procs
	pn       *proxyNet
	adm      *admin
	bases    []string
	wl       *workload
	kinds    []string
}

// logf prints an event with the run's time; always for faults, with -v for
// everything.
func (d *driver) logf(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.out, "[%7.3fs] %s\n", d.clk.now().Seconds(), fmt.Sprintf(format, args...))
}

func (d *driver) vlogf(format string, args ...any) {
	if d.o.verbose {
		d.logf(format, args...)
	}
}

// setup makes the work dir, the cluster's files, three nodes behind their
// proxies, and the workload's users, keys and buckets.
func (d *driver) setup(ctx context.Context) error {
	bin, err := d.workDir()
	if err != nil {
		return err
	}
	dataDirs, err := d.diskDirs(rand.New(rand.NewPCG(d.o.seed, 1)))
	if err != nil {
		return err
	}
	hc, err := d.startCluster(ctx, bin, dataDirs)
	if err != nil {
		return err
	}
	return d.setupWorkload(ctx, hc)
}

// workDir checks the binary and the loopback addresses and makes the work
// dir; it returns the binary's absolute path.
func (d *driver) workDir() (string, error) {
	o := d.o
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return "", fmt.Errorf("--bin %s: not an s4 binary", o.bin)
	}
	if o.dir == "" {
		if d.dir, err = os.MkdirTemp("", "s4faults-"); err != nil {
			return "", err
		}
		d.ownDir = true
	} else {
		if d.dir, err = filepath.Abs(o.dir); err != nil {
			return "", err
		}
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			return "", err
		}
		if ents, _ := os.ReadDir(d.dir); len(ents) > 0 {
			return "", fmt.Errorf("--dir %s is not empty", d.dir)
		}
	}
	fmt.Fprintf(d.out, "s4faults: seed %d, duration %v, faults %s, work dir %s\n", o.seed, o.duration, strings.Join(o.faults, ","), d.dir)
	for _, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		if _, err := pickPort(ip, map[int]bool{}); err != nil {
			return "", fmt.Errorf("cannot bind %s (Linux's loopback has all of 127/8): %w", ip, err)
		}
	}
	return bin, nil
}

// diskDirs returns the three data dirs; with the disk fault (and root) one
// node's, picked with rng, lives on a tmpfs of its own.
func (d *driver) diskDirs(rng *rand.Rand) ([]string, error) {
	d.kinds = slices.Clone(d.o.faults)
	dataDirs := []string{filepath.Join(d.dir, "n1"), filepath.Join(d.dir, "n2"), filepath.Join(d.dir, "n3")}
	if !slices.Contains(d.kinds, "disk") {
		return dataDirs, nil
	}
	if !canMount() {
		fmt.Fprintln(d.out, "s4faults: skipping the disk fault: mounting a tmpfs needs root")
		d.kinds = slices.DeleteFunc(d.kinds, func(k string) bool { return k == "disk" })
		return dataDirs, nil
	}
	mnt := filepath.Join(d.dir, "disk")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return nil, err
	}
	if err := mountTmpfs(mnt, d.o.diskSize); err != nil {
		return nil, err
	}
	d.mounted = mnt
	d.diskNode = 1 + rng.IntN(3)
	dataDirs[d.diskNode-1] = filepath.Join(mnt, "data")
	fmt.Fprintf(d.out, "s4faults: %s's data dir is on a %d MiB tmpfs (%s)\n", nodeName(d.diskNode), d.o.diskSize>>20, mnt)
	return dataDirs, nil
}

// startCluster writes the cluster key and certificate, picks the ports,
// starts the proxies and the three nodes, and waits until they are ready
// and root can log in; it returns an HTTPS client that trusts them.
func (d *driver) startCluster(ctx context.Context, bin string, dataDirs []string) (*http.Client, error) {
	keyFile := filepath.Join(d.dir, "cluster.key")
	cert, certKey := filepath.Join(d.dir, "tls", "cert.pem"), filepath.Join(d.dir, "tls", "key.pem")
	if err := os.MkdirAll(filepath.Dir(cert), 0o700); err != nil {
		return nil, err
	}
	if err := runTool(bin, "keygen", "-o", keyFile); err != nil {
		return nil, err
	}
	if err := runTool(bin, "cert", "-cert", cert, "-key", certKey); err != nil {
		return nil, err
	}
	used := map[int]bool{}
	d.procs = &procs{bin: bin, dir: d.dir, keyFile: keyFile, cert: cert, certKey: certKey, clk: d.clk, hist: d.hist, logf: d.logf}
	var listen, target, sources, peers []string
	for k := 1; k <= 3; k++ {
		ip := fmt.Sprintf("127.0.0.%d", k)
		hp, err1 := pickPort("127.0.0.1", used)
		rp, err2 := pickPort(ip, used)
		pp, err3 := pickPort(ip, used)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, err
		}
		n := &nodeProc{idx: k, dataDir: dataDirs[k-1], logPath: filepath.Join(d.dir, nodeName(k)+".log"),
			httpsAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(hp)),
			listen:    net.JoinHostPort(ip, strconv.Itoa(rp)),
			advertise: net.JoinHostPort(ip, strconv.Itoa(pp)), source: ip}
		if err := os.MkdirAll(n.dataDir, 0o700); err != nil {
			return nil, err
		}
		d.procs.nodes = append(d.procs.nodes, n)
		listen, target, sources = append(listen, n.advertise), append(target, n.listen), append(sources, ip)
		peers = append(peers, nodeName(k)+"="+n.advertise)
		d.bases = append(d.bases, "https://"+n.httpsAddr)
	}
	d.procs.peers = strings.Join(peers, ",")
	var err error
	if d.pn, err = newProxyNet(listen, target, sources); err != nil {
		return nil, err
	}
	for k := 1; k <= 3; k++ {
		if err := d.procs.start(k); err != nil {
			return nil, err
		}
	}
	hc, err := newHTTPClient(cert)
	if err != nil {
		return nil, err
	}
	d.adm = &admin{hc: hc, bases: d.bases}
	nm := &nemesis{procs: d.procs, adm: d.adm, clk: d.clk, hist: d.hist}
	if err := nm.waitAllReady(ctx, 60*time.Second); err != nil {
		return nil, fmt.Errorf("cluster not ready: %w", err)
	}
	if err := waitFor(ctx, 30*time.Second, 200*time.Millisecond, func() error {
		return d.adm.login(ctx, 1, "root", rootPassword)
	}); err != nil {
		return nil, fmt.Errorf("root login: %w", err)
	}
	return hc, d.checkSources(ctx, nm)
}

// setupWorkload creates the workload's users, keys, buckets and the probe
// object.
func (d *driver) setupWorkload(ctx context.Context, hc *http.Client) error {
	o := d.o
	d.wl = &workload{clk: d.clk, hist: d.hist, hc: hc, bases: d.bases, adm: d.adm, bucket: "s4faults",
		seed: o.seed, writers: o.writers, keys: o.keys, readers: o.readers, lanes: o.lanes}
	var err error
	if d.wl.writer, err = d.setupUser(ctx, "wl_writer", "Writer"); err != nil {
		return err
	}
	if d.wl.reader, err = d.setupUser(ctx, "wl_reader", "Reader"); err != nil {
		return err
	}
	w := newS3(d.bases[0], hc, d.wl.writer.AccessKey, d.wl.writer.SecretKey)
	for _, b := range []string{d.wl.bucket, probeBucket} {
		if err := waitFor(ctx, 30*time.Second, 200*time.Millisecond, func() error {
			_, err := w.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &b})
			return err
		}); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	if err := waitFor(ctx, 30*time.Second, 200*time.Millisecond, func() error {
		_, err := w.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(probeBucket), Key: aws.String(probeObject),
			Body: strings.NewReader("the probe rounds read this"), ContentLength: aws.Int64(26)})
		return err
	}); err != nil {
		return fmt.Errorf("probe object: %w", err)
	}
	d.hist.Keys = d.wl.allKeys()
	return nil
}

// checkSources makes sure the proxies tell the nodes apart: the leader
// dials both followers (appends) and each follower dials the leader (lease
// questions), each from its own IP.
func (d *driver) checkSources(ctx context.Context, nm *nemesis) error {
	leader, err := nm.leader(ctx)
	if err != nil {
		return err
	}
	return waitFor(ctx, 10*time.Second, 100*time.Millisecond, func() error {
		for k := 1; k <= 3; k++ {
			if k == leader {
				continue
			}
			if d.pn.accepted(leader, k) == 0 || d.pn.accepted(k, leader) == 0 {
				return fmt.Errorf("no connection seen from %s to %s or back (does s4 support --cluster-source?); unattributed: %d",
					nodeName(leader), nodeName(k), d.pn.unknown())
			}
		}
		return nil
	})
}

// setupUser creates a user with role and a key pair.
func (d *driver) setupUser(ctx context.Context, name, role string) (keyPair, error) {
	var u user
	var kp keyPair
	err := waitFor(ctx, 30*time.Second, 200*time.Millisecond, func() error {
		if u.ID == "" {
			if err := d.adm.must(ctx, 1, "POST", "/api/admin/users", map[string]string{"username": name, "password": "password-" + name, "role": role}, 201, &u); err != nil {
				return err
			}
		}
		return d.adm.must(ctx, 1, "POST", "/api/admin/users/"+u.ID+"/credentials", nil, 201, &kp)
	})
	return kp, err
}

// run runs the workload, the probe rounds and the nemesis for the
// duration, heals, observes the final state and checks the history.
func (d *driver) run(hard context.Context) ([]Violation, error) {
	o := d.o
	end := d.clk.now() + o.duration
	stop, cancel := context.WithTimeout(hard, o.duration)
	defer cancel()
	pr := newProber(&prober{clk: d.clk, hist: d.hist, hc: d.adm.hc, bases: d.bases, adm: d.adm, procs: d.procs,
		rng: rand.New(rand.NewPCG(o.seed, 2)), hammer: o.hammer, lanes: o.lanes, logf: d.vlogf})
	nm := &nemesis{clk: d.clk, hist: d.hist, procs: d.procs, pn: d.pn, adm: d.adm, prober: pr,
		rng: rand.New(rand.NewPCG(o.seed, 3)), kinds: d.kinds, diskNode: d.diskNode, diskDir: d.mounted, logf: d.logf}
	pr.faultEnd = nm.currentFaultEnd
	nm.onStop = d.wl.nodeStopped
	if len(d.kinds) == 0 {
		fmt.Fprintln(d.out, "s4faults: no fault to inject; running the workload only")
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); d.wl.run(stop, hard) }()
	go func() { defer wg.Done(); pr.run(stop, hard) }()
	go func() {
		defer wg.Done()
		if len(d.kinds) > 0 {
			nm.run(stop, end)
		}
	}()
	wg.Wait()
	if hard.Err() != nil {
		return nil, errors.New("interrupted")
	}
	d.logf("workload over (%d probe rounds); healing and checking", pr.rounds)
	nm.healAll(hard)
	f := &final{clk: d.clk, hist: d.hist, hc: d.adm.hc, bases: d.bases, adm: d.adm, wl: d.wl, logf: d.vlogf}
	if err := f.settle(hard, nm, d.hist.lastAnswer()+6*time.Second); err != nil {
		if hard.Err() != nil {
			return nil, errors.New("interrupted")
		}
		d.hist.addFailure(Violation{Check: "recovery", At: d.clk.now(), Msg: err.Error()})
	} else {
		f.observe(hard)
	}
	if hard.Err() != nil {
		return nil, errors.New("interrupted")
	}
	return Check(d.hist), nil
}

// cleanup stops every node the driver started, closes the proxies,
// unmounts the tmpfs and removes the work dir unless --keep.
func (d *driver) cleanup() {
	if d.procs != nil {
		d.procs.shutdown(10 * time.Second)
	}
	if d.pn != nil {
		d.pn.close()
	}
	if d.mounted != "" {
		if d.o.keep { // keep the data: copy it off the tmpfs first
			os.CopyFS(filepath.Join(d.dir, "disk-data"), os.DirFS(d.mounted))
		}
		if err := unmount(d.mounted); err != nil {
			fmt.Fprintf(os.Stderr, "s4faults: unmount %s: %v\n", d.mounted, err)
		}
	}
	if d.dir == "" {
		return
	}
	if d.o.keep {
		d.writeHistory()
		fmt.Fprintf(d.out, "s4faults: data, logs and history.json kept in %s\n", d.dir)
		return
	}
	if d.ownDir {
		os.RemoveAll(d.dir)
		return
	}
	ents, _ := os.ReadDir(d.dir)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(d.dir, e.Name()))
	}
}

// writeHistory saves the history as JSON (--keep), for a closer look.
func (d *driver) writeHistory() {
	d.hist.mu.Lock()
	defer d.hist.mu.Unlock()
	b, err := json.MarshalIndent(d.hist, "", " ")
	if err == nil {
		err = os.WriteFile(filepath.Join(d.dir, "history.json"), b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "s4faults: writing the history:", err)
	}
}

// tailLogs prints the last lines of every node's log (a failed setup).
func (d *driver) tailLogs(w io.Writer) {
	if d.procs == nil {
		return
	}
	for _, n := range d.procs.nodes {
		b, err := os.ReadFile(n.logPath)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		fmt.Fprintf(w, "--- last lines of %s\n%s\n", n.logPath, strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
}
