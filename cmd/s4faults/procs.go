package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// rootPassword is the root user's password in every cluster the driver
// starts.
const rootPassword = "s4faults-root-password"

// nodeProc is one s4 server process, restartable on its data dir. The
// driver signals only the process it started, through its os.Process
// (a pidfd on Linux: never another process that reused the PID).
type nodeProc struct {
	idx       int
	dataDir   string
	logPath   string
	httpsAddr string // 127.0.0.1:port
	listen    string // real cluster port, 127.0.0.k:port
	advertise string // its proxy, 127.0.0.k:port
	source    string // 127.0.0.k

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has exited
	stopped bool          // SIGSTOPped
	killed  bool          // we killed it: its exit is expected
	starts  int
}

// procs runs the three nodes.
type procs struct {
	bin     string
	dir     string
	peers   string
	keyFile string
	cert    string
	certKey string
	nodes   []*nodeProc
	clk     clock
	hist    *History
	logf    func(format string, args ...any)
}

func (p *procs) node(k int) *nodeProc { return p.nodes[k-1] }

// start starts node k's process (again) on its data dir.
func (p *procs) start(k int) error {
	n := p.node(k)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		select {
		case <-n.exited:
		default:
			return fmt.Errorf("%s is running", nodeName(k))
		}
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, "server",
		"--data-dir", n.dataDir, "--node-id", nodeName(k), "--peers", p.peers,
		"--listen", n.httpsAddr, "--cluster-listen", n.listen, "--advertise", n.advertise,
		"--cluster-source", n.source, "--cluster-key-file", p.keyFile,
		"--tls-cert", p.cert, "--tls-key", p.certKey)
	cmd.Env = append(os.Environ(), "S4_ROOT_PASSWORD="+rootPassword)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	fmt.Fprintf(logf, "=== s4faults %s: starting %s (start %d)\n", at(p.clk.now()), nodeName(k), n.starts+1)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	n.cmd, n.exited, n.stopped, n.killed = cmd, make(chan struct{}), false, false
	n.starts++
	exited := n.exited
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		expected := n.killed
		n.mu.Unlock()
		close(exited)
		if !expected {
			p.hist.addNote("%s: %s exited on its own: %v; the end of its log:\n%s", at(p.clk.now()), nodeName(k), err, logTail(n.logPath, 12))
			p.logf("%s exited on its own: %v", nodeName(k), err)
		}
	}()
	return nil
}

// logTail returns n lines of a log, indented, each cut at 300 bytes: from
// a panic's first line if there is one (it says what happened), else the
// last n.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "    (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	from := max(0, len(lines)-n)
	for i, l := range lines {
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") {
			from = i
			break
		}
	}
	lines = lines[from:min(len(lines), from+n)]
	for i, l := range lines {
		if len(l) > 300 {
			l = l[:300] + "…"
		}
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// running reports whether node k's process is alive (stopped or not).
func (p *procs) running(k int) bool {
	n := p.node(k)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// isStopped reports whether node k is SIGSTOPped.
func (p *procs) isStopped(k int) bool {
	n := p.node(k)
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stopped
}

// signal sends sig to node k's process.
func (p *procs) signal(k int, sig syscall.Signal) error {
	n := p.node(k)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("%s never started", nodeName(k))
	}
	select {
	case <-n.exited:
		return fmt.Errorf("%s is not running", nodeName(k))
	default:
	}
	switch sig {
	case syscall.SIGKILL, syscall.SIGTERM:
		n.killed = true
	case syscall.SIGSTOP:
		n.stopped = true
	case syscall.SIGCONT:
		n.stopped = false
	}
	return n.cmd.Process.Signal(sig)
}

// kill sends SIGKILL to node k and waits until it exited.
func (p *procs) kill(k int) error {
	if err := p.signal(k, syscall.SIGKILL); err != nil {
		return err
	}
	return p.waitExit(k, 10*time.Second)
}

func (p *procs) waitExit(k int, d time.Duration) error {
	n := p.node(k)
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	select {
	case <-exited:
		return nil
	case <-time.After(d):
		return fmt.Errorf("%s did not exit within %v", nodeName(k), d)
	}
}

// shutdown ends every node: SIGCONT to stopped ones, SIGTERM, SIGKILL
// after grace.
func (p *procs) shutdown(grace time.Duration) {
	var wg sync.WaitGroup
	for k := range p.nodes {
		k++
		if !p.running(k) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p.isStopped(k) {
				p.signal(k, syscall.SIGCONT)
			}
			p.signal(k, syscall.SIGTERM)
			if p.waitExit(k, grace) != nil {
				p.signal(k, syscall.SIGKILL)
				p.waitExit(k, 10*time.Second)
			}
		}()
	}
	wg.Wait()
}

// runTool runs an s4 subcommand to completion (keygen, cert).
func runTool(bin string, args ...string) error {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", filepath.Base(bin), strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// portRange is where the driver picks ports: below the ephemeral range,
// so that no outgoing connection (the survivors dial a dead node all the
// time) can take a node's port as its local port while the node is down.
func portRange() (lo, hi int) {
	lo, hi = 20000, 32000
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if e, err := strconv.Atoi(f[0]); err == nil && e-1 > lo+1000 {
				hi = e - 1
			}
		}
	}
	return lo, hi
}

// pickPort returns a port free on ip now, not in used.
func pickPort(ip string, used map[int]bool) (int, error) {
	lo, hi := portRange()
	for range 200 {
		port := lo + rand.IntN(hi-lo)
		if used[port] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		used[port] = true
		return port, nil
	}
	return 0, errors.New("no free port found")
}

// waitFor polls cond every interval until it returns nil, ctx ends or the
// deadline passes; it returns cond's last error then.
func waitFor(ctx context.Context, d, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %w", d, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
