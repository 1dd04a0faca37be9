package objects

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/internal/testfs"
)

// countMetrics is a ScrubMetrics that counts.
type countMetrics struct {
	mu sync.Mutex
	c  counts
}

type counts struct{ items, bytes, corrupt, repaired, unrep, passes int64 }

func (m *countMetrics) add(f func(c *counts)) {
	m.mu.Lock()
	f(&m.c)
	m.mu.Unlock()
}

func (m *countMetrics) Scrubbed(_ string, n int64) {
	m.add(func(c *counts) { c.items++; c.bytes += n })
}
func (m *countMetrics) Corrupt(string)      { m.add(func(c *counts) { c.corrupt++ }) }
func (m *countMetrics) Repaired(string)     { m.add(func(c *counts) { c.repaired++ }) }
func (m *countMetrics) Unrepairable(string) { m.add(func(c *counts) { c.unrep++ }) }
func (m *countMetrics) Pass()               { m.add(func(c *counts) { c.passes++ }) }

func (m *countMetrics) get() counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c
}

// scrubEnv is newEnv's fakes with a service that scrubs at rate, every
// interval.
func scrubEnv(t *testing.T, rate int64, interval time.Duration) (*env, *countMetrics, *logLines) {
	e := newEnv(t, 1, 0)
	m := &countMetrics{}
	ll := &logLines{}
	e.svc = New(Config{Peers: e.cl, Ready: e.cl, Fresh: e.cl, Refs: e.refs, Blobs: e.local, Transfer: e.tr, Disk: e.disk,
		GCInterval: time.Hour, ScrubRate: rate, ScrubInterval: interval, ScrubMetrics: m, Logger: slog.New(ll)})
	t.Cleanup(func() {
		e.svc.Stop()
		e.svc.Wait()
	})
	return e, m, ll
}

// logLines records the messages logged.
type logLines struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

func (l *logLines) has(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.msgs, msg)
}

// waitUntil fails the test unless cond holds within d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func corruptBlob(t *testing.T, s *blob.Store, sum [32]byte, off int64) {
	t.Helper()
	testfs.FlipBit(t, s.Path(sum), off)
}

// TestScrubRepairs: a pass checks every blob; a referenced blob that fails
// is repaired from the peer, an unreferenced one is left to the collector,
// one no peer has is unrepairable (and stays, for the next pass).
func TestScrubRepairs(t *testing.T) {
	e, m, _ := scrubEnv(t, 1<<30, time.Hour)
	good := randBytes(1, 2*blob.BlockSize+17)
	bad := randBytes(2, 3*blob.BlockSize)
	orphan := randBytes(3, 1000)
	lonely := randBytes(4, 5000) // only here
	for _, d := range [][]byte{good, bad, orphan, lonely} {
		put(t, e.local, d)
	}
	for _, d := range [][]byte{good, bad, orphan} {
		put(t, e.peers[0].store, d)
	}
	for _, d := range [][]byte{good, bad, lonely} {
		e.refs.set(sumOf(d), 1)
	}
	corruptBlob(t, e.local, sumOf(bad), 2*blob.BlockSize+5)
	corruptBlob(t, e.local, sumOf(orphan), 3)
	corruptBlob(t, e.local, sumOf(lonely), 4999)

	st, err := e.svc.Scrub(bg)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(len(good) + len(bad) + len(orphan) + len(lonely))
	if st.Blobs != 4 || st.Bytes != total || st.Corrupt != 3 || st.Repaired != 1 || st.Unrepairable != 1 {
		t.Fatalf("pass: %+v", st)
	}
	if got := m.get(); got.items != 4 || got.bytes != total || got.corrupt != 3 || got.repaired != 1 || got.unrep != 1 || got.passes != 1 {
		t.Fatalf("metrics: %+v", got)
	}
	if err := e.local.Verify(sumOf(bad)); err != nil {
		t.Fatalf("not repaired: %v", err)
	}
	if err := e.local.Verify(sumOf(lonely)); !errors.Is(err, blob.ErrCorrupt) {
		t.Fatalf("lonely: %v", err)
	}
}

// TestScrubLoopAndReserve: the background loop finds and repairs a
// corrupt blob on its own; at the free-space reserve it pauses (no pass
// ends, nothing is read) and goes on once the node has left it.
func TestScrubLoopAndReserve(t *testing.T) {
	e, m, logs := scrubEnv(t, 1<<30, 10*time.Millisecond)
	data := randBytes(5, blob.BlockSize+1)
	put(t, e.local, data)
	put(t, e.peers[0].store, data)
	e.refs.set(sumOf(data), 1)
	corruptBlob(t, e.local, sumOf(data), 10)
	e.disk.full.Store(true)
	e.svc.Start()
	waitUntil(t, 30*time.Second, "the scrubber pauses at the reserve", func() bool { return logs.has("scrub: paused at the free-space reserve") })
	if got := m.get(); got.items != 0 || got.passes != 0 {
		t.Fatalf("scrubbed at the reserve: %+v", got)
	}
	e.disk.full.Store(false)
	waitUntil(t, 30*time.Second, "the corrupt blob is repaired", func() bool { return m.get().repaired == 1 })
	waitUntil(t, 30*time.Second, "the resume is logged", func() bool { return logs.has("scrub: resumed, the node left its reserve") })
	if err := e.local.Verify(sumOf(data)); err != nil {
		t.Fatal(err)
	}
}

// TestScrubRate: a pass reads at most about its rate: 4 MiB at 8 MiB/s
// take at least ~0.5 s (a lower bound only: no timing upper bound on a
// loaded machine), and a cancelled pass returns promptly with its cause.
func TestScrubRate(t *testing.T) {
	e, _, _ := scrubEnv(t, 8<<20, time.Hour)
	for i := range 4 {
		put(t, e.local, randBytes(uint64(10+i), blob.BlockSize))
	}
	start := time.Now()
	st, err := e.svc.Scrub(bg)
	if err != nil || st.Blobs != 4 {
		t.Fatal(st, err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("4 MiB scrubbed in %v at 8 MiB/s", d)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := e.svc.Scrub(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled pass: %v", err)
	}
}
