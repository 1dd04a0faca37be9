package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The fault kinds, in the order --faults lists them by default.
var faultKinds = []string{"kill-leader", "kill-follower", "stop-leader", "stop-follower", "partition", "disk"}

// nemesis injects one fault at a time, with quiet gaps, chosen with its
// own seeded generator.
type nemesis struct {
	clk      clock
	hist     *History
	procs    *procs
	pn       *proxyNet
	adm      *admin
	prober   *prober
	rng      *rand.Rand
	kinds    []string
	diskNode int    // the node whose data dir is on the tmpfs (0: none)
	diskDir  string // the tmpfs mount
	logf     func(format string, args ...any)
	// onStop is told when a stopped node is worth reading from: the
	// others took writes since it stopped.
	onStop func(node int)

	faultEnd atomic.Int64 // planned end of the fault in progress (0: none)
	injected int          // faults drawn so far
	filler   string       // the filler file while the disk is full
}

func (n *nemesis) currentFaultEnd() time.Duration { return time.Duration(n.faultEnd.Load()) }

// between returns a duration uniformly in [lo, hi].
func (n *nemesis) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(n.rng.Int64N(int64(hi-lo)+1))
}

// run injects faults until the run's duration is over (no fault starts
// later than end minus 5 s), then heals everything.
func (n *nemesis) run(ctx context.Context, end time.Duration) {
	defer n.healAll(context.WithoutCancel(ctx))
	for {
		gap := n.between(time.Second, 2500*time.Millisecond)
		if n.clk.now()+gap+5*time.Second > end {
			return
		}
		pause(ctx, gap)
		if ctx.Err() != nil {
			return
		}
		kind := n.pickKind()
		if err := n.inject(ctx, kind); err != nil {
			n.hist.addNote("%s: %s not injected: %v", at(n.clk.now()), kind, err)
			n.logf("%s not injected: %v", kind, err)
		}
		n.faultEnd.Store(0)
		if err := n.waitAllReady(ctx, 30*time.Second); err != nil && ctx.Err() == nil {
			n.hist.addNote("%s: after %s: not every node ready again: %v", at(n.clk.now()), kind, err)
			n.logf("after %s: %v", kind, err)
		}
	}
}

// pickKind draws the next fault. When leader pauses are enabled, every
// other fault is one (the others drawn among the remaining kinds): a
// paused leader that resumes after a revocation was acknowledged is what
// the auth lease must survive, and whether the resumed node answers before
// Raft notices it was deposed is a race of a millisecond after SIGCONT
// that the bug wins about every other time, so a one-minute run needs
// several.
func (n *nemesis) pickKind() string {
	n.injected++
	var others []string
	for _, k := range n.kinds {
		if k != "stop-leader" {
			others = append(others, k)
		}
	}
	if len(others) == 0 || (len(others) < len(n.kinds) && n.injected%2 == 1) {
		return "stop-leader"
	}
	return others[n.rng.IntN(len(others))]
}

// leader finds the node that is leader and ready, from /health/ready of
// every live node.
func (n *nemesis) leader(ctx context.Context) (int, error) {
	var found int
	err := waitFor(ctx, 20*time.Second, 50*time.Millisecond, func() error {
		for k := 1; k <= len(n.procs.nodes); k++ {
			if !n.procs.running(k) || n.procs.isStopped(k) {
				continue
			}
			if h, err := n.adm.ready(ctx, k); err == nil && h.Ready && h.Role == "leader" {
				found = k
				return nil
			}
		}
		return errors.New("no ready leader")
	})
	return found, err
}

// waitAllReady waits until every node's /health/ready answers 200,
// restarting a node whose process exited on its own.
func (n *nemesis) waitAllReady(ctx context.Context, d time.Duration) error {
	return waitFor(ctx, d, 100*time.Millisecond, func() error {
		var not []string
		for k := 1; k <= len(n.procs.nodes); k++ {
			if !n.procs.running(k) {
				if err := n.procs.start(k); err != nil {
					return err
				}
				n.hist.addNote("%s: restarted %s, which had exited", at(n.clk.now()), nodeName(k))
			}
			if h, err := n.adm.ready(ctx, k); err != nil || !h.Ready {
				not = append(not, nodeName(k))
			}
		}
		if len(not) > 0 {
			return fmt.Errorf("not ready: %s", strings.Join(not, ","))
		}
		return nil
	})
}

// follower picks a node other than leader.
func (n *nemesis) follower(leader int) int {
	var fs []int
	for k := 1; k <= len(n.procs.nodes); k++ {
		if k != leader {
			fs = append(fs, k)
		}
	}
	return fs[n.rng.IntN(len(fs))]
}

// inject runs one fault from start to heal: one case per kind of fault,
// each a short timeline (pick the target, break, wait, heal, record), kept
// side by side so that the faults can be compared at a glance.
func (n *nemesis) inject(ctx context.Context, kind string) error {
	leader, err := n.leader(ctx)
	if err != nil {
		return err
	}
	target := leader
	if strings.HasSuffix(kind, "-follower") {
		target = n.follower(leader)
	}
	var hold time.Duration
	// How often a probe round is held for the fault: always when the
	// leader goes away (what the auth lease must survive).
	holdChance := 0.6
	switch kind {
	case "kill-leader", "kill-follower":
		hold = n.between(2*time.Second, 5*time.Second)
	case "stop-leader", "stop-follower":
		hold = n.between(1500*time.Millisecond, 4*time.Second)
	case "partition":
		target = 1 + n.rng.IntN(len(n.procs.nodes))
		hold = n.between(2*time.Second, 5*time.Second)
	case "disk":
		if n.diskNode == 0 {
			return errors.New("no node on a tmpfs (needs root)")
		}
		target = n.diskNode
		hold = n.between(3*time.Second, 5*time.Second)
		holdChance = 0.5
	}
	if kind == "kill-leader" || kind == "stop-leader" {
		holdChance = 1
	}
	mode := linkCut
	if kind == "partition" && n.rng.IntN(2) == 1 {
		mode = linkHole
	}
	held := n.rng.Float64() < holdChance && n.prober.hold(ctx, 10*time.Second)
	// A leader's pause ends, most of the time, a moment after the held
	// round's revocation was acknowledged (when that comes within 4 s):
	// what the auth lease must get right.
	adaptive := held && kind == "stop-leader" && n.rng.IntN(10) < 8
	if adaptive {
		hold = 4 * time.Second // at most
	}

	f := Fault{Kind: kind, Target: target, Start: n.clk.now()}
	n.faultEnd.Store(int64(f.Start + hold))
	var heal func() error
	switch kind {
	case "kill-leader", "kill-follower":
		err = n.procs.kill(target)
		heal = func() error { return n.procs.start(target) }
	case "stop-leader", "stop-follower":
		err = n.procs.signal(target, syscall.SIGSTOP)
		heal = func() error { return n.procs.signal(target, syscall.SIGCONT) }
	case "partition":
		n.pn.isolate(target, mode)
		f.Note = mode.String()
		heal = func() error { n.pn.isolate(target, linkUp); return nil }
	case "disk":
		var size int64
		size, err = n.fill()
		f.Note = fmt.Sprintf("filled %d MiB", size>>20)
		heal = n.unfill
	}
	if held {
		f.Note = strings.TrimSpace(f.Note + " (probe round held)")
		n.prober.kick(kick{faulted: target, newLeader: strings.HasSuffix(kind, "-leader"), until: f.Start + hold})
	}
	if err != nil {
		n.faultEnd.Store(0)
		if heal != nil {
			heal()
		}
		return err
	}
	if leader == target {
		f.Note = strings.TrimSpace("leader " + f.Note)
	}
	switch {
	case strings.HasPrefix(kind, "stop-"):
		n.logf("%s %s %s for %v %s", at(f.Start), kind, nodeName(target), map[bool]any{true: "≤4s", false: hold.Round(time.Millisecond)}[adaptive], f.Note)
		if note := n.holdStop(ctx, target, f.Start, hold, kind == "stop-leader", adaptive); note != "" {
			f.Note += ", " + note
		}
	default:
		n.logf("%s %s %s for %v %s", at(f.Start), kind, nodeName(target), hold.Round(time.Millisecond), f.Note)
		pause(ctx, hold)
	}
	herr := heal()
	f.End = n.clk.now()
	n.hist.addFault(f)
	return herr
}

// holdStop keeps node target stopped until start+hold; adaptive, until
// 0.2–0.6 s after the held probe round's revocation was acknowledged (at
// least 1.5 s, at most hold). Meanwhile, once the other
// nodes serve without it (for a stopped leader: one of them leads) and
// had a moment to take writes, the readers fire their warm lanes at it.
func (n *nemesis) holdStop(ctx context.Context, target int, start, hold time.Duration, leader, adaptive bool) string {
	end := start + hold
	n.faultEnd.Store(int64(end))
	gctx, gcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if leader {
			err := waitFor(gctx, max(end-300*time.Millisecond-n.clk.now(), 0), 25*time.Millisecond, func() error {
				for k := 1; k <= len(n.procs.nodes); k++ {
					if k == target || !n.procs.running(k) || n.procs.isStopped(k) {
						continue
					}
					if h, err := n.adm.ready(gctx, k); err == nil && h.Ready && h.Role == "leader" {
						return nil
					}
				}
				return errors.New("no new leader")
			})
			if err != nil {
				return
			}
		}
		pause(gctx, 300*time.Millisecond) // writes acknowledged by the others
		if gctx.Err() == nil && n.onStop != nil {
			n.onStop(target)
		}
	}()
	defer func() { gcancel(); wg.Wait() }()
	if !adaptive {
		pause(ctx, end-n.clk.now())
		return ""
	}
	t := time.NewTimer(max(end-n.clk.now(), 0))
	defer t.Stop()
	select {
	case a := <-n.prober.acked:
		end = min(max(a+n.between(200*time.Millisecond, 600*time.Millisecond), start+1500*time.Millisecond), end)
		n.faultEnd.Store(int64(end))
		pause(ctx, end-n.clk.now())
		return fmt.Sprintf("resumed %.3fs after the revocation's acknowledgement", (end - a).Seconds())
	case <-t.C:
		return "no acknowledgement during the pause"
	case <-ctx.Done():
		return ""
	}
}

// healAll ends every fault: links up, stopped nodes continued, dead ones
// started, the disk emptied.
func (n *nemesis) healAll(ctx context.Context) {
	n.pn.healAll()
	n.unfill()
	for k := 1; k <= len(n.procs.nodes); k++ {
		if n.procs.running(k) && n.procs.isStopped(k) {
			n.procs.signal(k, syscall.SIGCONT)
		}
		if !n.procs.running(k) {
			if err := n.procs.start(k); err != nil {
				n.logf("restarting %s: %v", nodeName(k), err)
			}
		}
	}
	n.faultEnd.Store(0)
}

// fill writes a filler file onto the tmpfs until it is full.
func (n *nemesis) fill() (int64, error) {
	path := filepath.Join(n.diskDir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n.filler = path
	var size int64
	for _, chunk := range []int{1 << 20, 4 << 10, 512} {
		buf := make([]byte, chunk)
		for {
			w, err := f.Write(buf)
			size += int64(w)
			if err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					return size, err
				}
				break
			}
		}
	}
	return size, nil
}

func (n *nemesis) unfill() error {
	if n.filler == "" {
		return nil
	}
	err := os.Remove(n.filler)
	n.filler = ""
	return err
}

// parseFaults reads --faults.
func parseFaults(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if f == "all" {
			out = append(out, faultKinds...)
			continue
		}
		if !slices.Contains(faultKinds, f) {
			return nil, fmt.Errorf("unknown fault %q (known: %s)", f, strings.Join(faultKinds, ","))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no faults given")
	}
	return out, nil
}
