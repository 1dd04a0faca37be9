package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func durs(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 ms: the p-th percentile is p ms.
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for _, p := range []float64{1, 50, 90, 99, 100} {
		if got, want := percentile(s, p), time.Duration(p)*time.Millisecond; got != want {
			t.Errorf("p%v of 1..100ms = %v, want %v", p, got, want)
		}
	}
	tests := []struct {
		s    []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{durs(7), 50, 7 * time.Millisecond},
		{durs(7), 99, 7 * time.Millisecond},
		{durs(1, 2), 50, 1 * time.Millisecond},
		{durs(1, 2), 51, 2 * time.Millisecond},
		{durs(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{durs(1, 2, 3, 4), 76, 4 * time.Millisecond},
		{durs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{durs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{durs(1, 2, 3), 0, 1 * time.Millisecond}, // clamped to the minimum
	}
	for _, tt := range tests {
		if got := percentile(tt.s, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.s, tt.p, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	if got := summarize(nil); got != (latencySummary{}) {
		t.Errorf("summarize(nil) = %+v, want zero", got)
	}
	// 1000 samples of 1..1000 µs, shuffled: summarize sorts them. The mean,
	// 500.5µs, is rounded to the µs.
	var s []time.Duration
	for i := 1; i <= 1000; i++ {
		s = append(s, time.Duration(i)*time.Microsecond)
	}
	rand.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	got := summarize(s)
	want := latencySummary{Mean: 0.501, P50: 0.5, P90: 0.9, P99: 0.99, Max: 1}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
}

func TestNewReport(t *testing.T) {
	r := runResult{
		Elapsed:   2 * time.Second,
		Latencies: durs(4, 1, 3, 2),
		Errors:    map[string]int64{"HTTP 503": 3, "timeout": 1},
	}
	rep := newReport(r)
	if rep.OK != 4 || rep.Requests != 8 {
		t.Errorf("ok %d requests %d, want 4 and 8", rep.OK, rep.Requests)
	}
	if rep.EventsPerS != 2 || rep.RequestsPer != 4 {
		t.Errorf("events/s %v requests/s %v, want 2 and 4", rep.EventsPerS, rep.RequestsPer)
	}
	if rep.Latency.P50 != 2 || rep.Latency.Max != 4 || rep.Latency.Mean != 2.5 {
		t.Errorf("latency %+v", rep.Latency)
	}
	server, client := 1.5, 0.5
	rep.setCPU(&server, &client)
	if *rep.ServerCPUPer1k != 187.5 || *rep.ServerCPUsBusy != 0.75 || *rep.ClientCPUPer1k != 62.5 {
		t.Errorf("cpu per 1k %v busy %v client per 1k %v", *rep.ServerCPUPer1k, *rep.ServerCPUsBusy, *rep.ClientCPUPer1k)
	}
	var b strings.Builder
	rep.writeText(&b)
	for _, want := range []string{"8 total, 4 ok, 4 errors", "HTTP 503", "p50 2.00ms", "187.500 CPU-s per 1000"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestParseStatTicks(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	line := "4242 (s4 (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 12 0 100 0 0\n"
	got, err := parseStatTicks([]byte(line))
	if err != nil || got != 325 {
		t.Errorf("parseStatTicks = %d, %v; want 325", got, err)
	}
	if _, err := parseStatTicks([]byte("4242 (s4) S 1 2")); err == nil {
		t.Error("a short line parsed")
	}
	if ticks, err := cpuTicks("self"); err != nil || ticks > 1<<40 {
		t.Logf("cpuTicks(self) = %d, %v (no /proc here?)", ticks, err)
	}
}

func TestErrorKey(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&statusError{Code: 503}, "HTTP 503"},
		{fmt.Errorf("wrapped: %w", &statusError{Code: 409}), "HTTP 409"},
		{context.DeadlineExceeded, "timeout"},
		{errors.New("connection reset"), "transport"},
	}
	for _, tt := range tests {
		if got := errorKey(tt.err); got != tt.want {
			t.Errorf("errorKey(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestAdminCredentialsOwnership: each worker uses only its own users, all
// of them, alternating issue and revoke on each.
func TestAdminCredentialsOwnership(t *testing.T) {
	for _, tc := range []struct{ users, workers int }{{256, 64}, {10, 3}, {5, 5}} {
		s := &adminCredentials{users: tc.users, workers: tc.workers}
		owner := map[int]int{}
		for w := range tc.workers {
			seen := map[int]bool{}
			for iter := 0; iter < 2*tc.users; iter += 2 {
				u := s.userIndex(w, iter)
				if u2 := s.userIndex(w, iter+1); u2 != u {
					t.Fatalf("%+v: worker %d revokes on user %d after issuing on %d", tc, w, u2, u)
				}
				if u < 0 || u >= tc.users {
					t.Fatalf("%+v: worker %d: user %d out of range", tc, w, u)
				}
				if o, ok := owner[u]; ok && o != w {
					t.Fatalf("%+v: user %d used by workers %d and %d", tc, u, o, w)
				}
				owner[u] = w
				seen[u] = true
			}
			if want := (tc.users - w + tc.workers - 1) / tc.workers; len(seen) != want {
				t.Errorf("%+v: worker %d used %d users, want %d", tc, w, len(seen), want)
			}
		}
		if len(owner) != tc.users {
			t.Errorf("%+v: %d users used, want all %d", tc, len(owner), tc.users)
		}
	}
}

// fakeScenario records which workers ran and fails every third op.
type fakeScenario struct {
	mu    sync.Mutex
	ops   map[int]int
	calls atomic.Int64
}

func (f *fakeScenario) Setup(context.Context, int) error { return nil }

func (f *fakeScenario) Op(_ context.Context, worker, iter int) error {
	f.mu.Lock()
	if f.ops[worker] != iter {
		f.mu.Unlock()
		return fmt.Errorf("worker %d: iter %d out of order", worker, iter)
	}
	f.ops[worker]++
	f.mu.Unlock()
	time.Sleep(time.Millisecond)
	if f.calls.Add(1)%3 == 0 {
		return &statusError{Code: 503}
	}
	return nil
}

func TestRun(t *testing.T) {
	f := &fakeScenario{ops: map[int]int{}}
	res := run(context.Background(), f, 4, 50*time.Millisecond)
	if len(f.ops) != 4 {
		t.Errorf("%d workers ran, want 4", len(f.ops))
	}
	total := int64(len(res.Latencies))
	for k, n := range res.Errors {
		if k != "HTTP 503" {
			t.Errorf("unexpected error %q: %s", k, res.ErrorHint[k])
		}
		total += n
	}
	if total != f.calls.Load() || total == 0 {
		t.Errorf("counted %d ops, made %d", total, f.calls.Load())
	}
	if res.Elapsed < 50*time.Millisecond {
		t.Errorf("elapsed %v, shorter than the duration", res.Elapsed)
	}
}

func TestForEachParallel(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	running, peak := 0, 0
	err := forEachParallel(context.Background(), 3, 50, func(i int) error {
		mu.Lock()
		seen[i]++
		running++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(time.Millisecond) // overlap the workers; not a wait for a condition
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	})
	if err != nil || len(seen) != 50 || peak > 3 {
		t.Fatalf("err %v, %d items seen, peak concurrency %d", err, len(seen), peak)
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("item %d ran %d times", i, n)
		}
	}
	boom := errors.New("boom")
	if err := forEachParallel(context.Background(), 2, 10, func(i int) error {
		if i == 7 {
			return boom
		}
		return nil
	}); !errors.Is(err, boom) {
		t.Fatalf("error not returned: %v", err)
	}
}
