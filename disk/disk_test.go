package disk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestParseReserve(t *testing.T) {
	const MiB, GiB = 1 << 20, 1 << 30
	for _, c := range []struct {
		in   string
		want Reserve
	}{
		{"", Reserve{}},
		{"  default ", Reserve{}},
		{"2%", Percent(2)},
		{"0.5 %", Percent(0.5)},
		{"100%", Percent(100)},
		{"0%", Percent(0)},
		{"0", Bytes(0)},
		{"1073741824", Bytes(GiB)},
		{"512MiB", Bytes(512 * MiB)},
		{"512 mib", Bytes(512 * MiB)},
		{"512M", Bytes(512 * MiB)},
		{"500MB", Bytes(500e6)},
		{"1.5GiB", Bytes(1536 * MiB)},
		{"2G", Bytes(2 * GiB)},
		{"1TB", Bytes(1e12)},
		{"1T", Bytes(1 << 40)},
		{"64k", Bytes(64 << 10)},
		{"10b", Bytes(10)},
	} {
		got, err := ParseReserve(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseReserve(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		// String round-trips.
		if back, err := ParseReserve(got.String()); err != nil || back != got {
			t.Errorf("ParseReserve(%q.String() = %q) = %+v, %v", c.in, got.String(), back, err)
		}
	}
	for _, in := range []string{"%", "-1%", "101%", "abc", "12XB", "-5", "1..5G", "NaN%", "1e3", "99999999999999999999", "20000000T", "Inf%", "GiB"} {
		if r, err := ParseReserve(in); err == nil {
			t.Errorf("ParseReserve(%q) = %+v, want an error", in, r)
		} else if !strings.Contains(err.Error(), "512MiB") {
			t.Errorf("ParseReserve(%q): error %q does not say what is wanted", in, err)
		}
	}
	var r Reserve
	if err := r.Set("3%"); err != nil || r != Percent(3) {
		t.Fatalf("Set: %+v %v", r, err)
	}
	if err := r.Set("x"); err == nil || r != Percent(3) {
		t.Fatalf("Set of a bad value changed it: %+v %v", r, err)
	}
}

func TestResolve(t *testing.T) {
	const MiB, GiB = 1 << 20, 1 << 30
	for _, c := range []struct {
		r     Reserve
		total uint64
		want  uint64
	}{
		{Reserve{}, 1000 * GiB, 20 * GiB},             // 2 %
		{Reserve{}, 10 * GiB, 256 * MiB},              // 2 % is less than 256 MiB
		{Reserve{}, 64 * MiB, 32 * MiB},               // at most half of a small disk
		{Reserve{}, 0, 0},                             // nothing known
		{Percent(10), 10 * GiB, GiB},                  //
		{Percent(0), 10 * GiB, 0},                     //
		{Bytes(100 * MiB), 64 * MiB, 100 * MiB},       // an explicit size is not capped
		{Bytes(0), 10 * GiB, 0},                       //
		{Percent(100), 10 * GiB, 10 * GiB},            //
		{Reserve{}, 12800 * MiB, 256 * MiB},           // exactly 2 %
		{Reserve{}, 25600 * MiB, 512 * MiB},           //
		{Percent(2.5), 1000 * MiB, 25 * MiB},          //
		{Reserve{}, 300 * MiB, 150 * MiB},             // half
		{Reserve{}, 600 * MiB, 256 * MiB},             // 256 MiB, under half
		{Bytes(1), 1, 1},                              //
		{Percent(50), 3, 1},                           // rounds down
		{Reserve{}, 1 << 62, (1 << 62) / 100 * 2},     // large, no overflow
		{Percent(100), 1 << 63, 1 << 63},              //
		{Bytes(DefaultMin), 1 << 40, DefaultMin},      //
		{Reserve{}, 2 * DefaultMin, DefaultMin},       // half equals the minimum
		{Reserve{}, 2*DefaultMin - 2, DefaultMin - 1}, //
	} {
		got := c.r.Resolve(c.total)
		// Float rounding on huge values: allow a relative error of 1e-12.
		diff := int64(got - c.want)
		if got < c.want {
			diff = int64(c.want - got)
		}
		if float64(diff) > float64(c.want)*1e-12 {
			t.Errorf("%s.Resolve(%d) = %d, want %d", c.r, c.total, got, c.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 256 << 20: "256 MiB", 3 << 30: "3 GiB", 1 << 50: "1 PiB", 5 << 60: "5120 PiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestIsNoSpace(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("x"), false},
		{syscall.ENOSPC, true},
		{&os.PathError{Op: "write", Path: "f", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("blob: write: %w", &os.PathError{Op: "write", Path: "f", Err: syscall.EDQUOT}), true},
		{&FullError{}, true},
		{fmt.Errorf("a: %w", errors.Join(errors.New("b"), ErrFull)), true},
		{syscall.EIO, false},
	} {
		if got := IsNoSpace(c.err); got != c.want {
			t.Errorf("IsNoSpace(%v) = %v", c.err, got)
		}
	}
}

// fakeFS is a file system whose usage the test sets.
type fakeFS struct {
	mu  sync.Mutex
	u   Usage
	err error
	n   int // statfs calls
}

func (f *fakeFS) set(total, free uint64) {
	f.mu.Lock()
	f.u, f.err = Usage{Total: total, Free: free}, nil
	f.mu.Unlock()
}

func (f *fakeFS) fail(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeFS) stat(string) (Usage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return f.u, f.err
}

func (f *fakeFS) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// logLines is a slog handler keeping "LEVEL message" lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lines = append(l.lines, r.Level.String()+" "+r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

// take returns the lines logged since the last call.
func (l *logLines) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

func wantLog(t *testing.T, l *logLines, prefixes ...string) {
	t.Helper()
	got := l.take()
	if len(got) != len(prefixes) {
		t.Fatalf("logged %q, want lines starting %q", got, prefixes)
	}
	for i, p := range prefixes {
		if !strings.HasPrefix(got[i], p) {
			t.Fatalf("line %d is %q, want it to start %q", i, got[i], p)
		}
	}
}

func TestMonitorStates(t *testing.T) {
	const MiB = 1 << 20
	fs := &fakeFS{}
	fs.set(1000*MiB, 900*MiB)
	logs := &logLines{}
	var changes []bool
	m, err := New("/data", Options{Reserve: Bytes(320 * MiB), Stat: fs.stat, Logger: slog.New(logs),
		OnChange: func(st Status) { changes = append(changes, st.AtReserve) }})
	if err != nil {
		t.Fatal(err)
	}
	wantLog(t, logs, "INFO free-space reserve")
	st := m.Status()
	if st.AtReserve || st.Free != 900*MiB || st.Total != 1000*MiB || st.Reserve != 320*MiB || st.Path != "/data" || st.Checked.IsZero() {
		t.Fatalf("status %+v", st)
	}
	if err := m.Check(100 * MiB); err != nil {
		t.Fatalf("Check(100 MiB) with 580 MiB above the reserve: %v", err)
	}
	if err := m.Check(580 * MiB); err != nil {
		t.Fatalf("Check(580 MiB), exactly what is above the reserve: %v", err)
	}
	err = m.Check(580*MiB + 1)
	var fe *FullError
	if !errors.Is(err, ErrFull) || !errors.As(err, &fe) || fe.Size != 580*MiB+1 || !strings.Contains(err.Error(), "would take") {
		t.Fatalf("Check past the reserve: %v", err)
	}
	if m.AtReserve() {
		t.Fatal("a refused Check changed the state")
	}

	// The state follows the readings only when refreshed.
	fs.set(1000*MiB, 320*MiB-1)
	if m.AtReserve() {
		t.Fatal("state changed without a refresh")
	}
	if st := m.Refresh(); !st.AtReserve || st.Free != 320*MiB-1 {
		t.Fatalf("below the reserve: %+v", st)
	}
	wantLog(t, logs, "WARN disk at its free-space reserve")
	if !m.AtReserve() {
		t.Fatal("AtReserve after entering")
	}
	err = m.Check(0)
	if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "is at its free-space reserve of 320 MiB") {
		t.Fatalf("Check at the reserve: %v", err)
	}
	if err := m.Check(-1); !errors.Is(err, ErrFull) {
		t.Fatalf("Check(unknown size) at the reserve: %v", err)
	}
	m.Refresh()
	wantLog(t, logs) // no second warning

	// Leaving needs the margin (10 MiB = 320/32) above the reserve.
	fs.set(1000*MiB, 320*MiB)
	if !m.Refresh().AtReserve {
		t.Fatal("left the reserve at exactly the reserve")
	}
	fs.set(1000*MiB, 330*MiB-1)
	if !m.Refresh().AtReserve {
		t.Fatal("left the reserve within the margin")
	}
	wantLog(t, logs)
	fs.set(1000*MiB, 330*MiB)
	if m.Refresh().AtReserve {
		t.Fatal("still at the reserve past the margin")
	}
	wantLog(t, logs, "INFO disk left its free-space reserve")
	if err := m.Check(10 * MiB); err != nil {
		t.Fatal(err)
	}
	// Entering again: below the reserve itself, not below the margin.
	fs.set(1000*MiB, 325*MiB)
	if m.Refresh().AtReserve {
		t.Fatal("entered the reserve within the margin")
	}

	// A failing statfs keeps the last reading and is logged once.
	fs.fail(syscall.EIO)
	st = m.Refresh()
	if st.Err == nil || st.Free != 325*MiB || st.AtReserve {
		t.Fatalf("after a failed statfs: %+v", st)
	}
	m.Refresh()
	wantLog(t, logs, "WARN cannot read the free space")
	fs.set(1000*MiB, 100*MiB)
	if st := m.Refresh(); st.Err != nil || !st.AtReserve {
		t.Fatalf("after recovery: %+v", st)
	}
	wantLog(t, logs, "INFO reading the free space", "WARN disk at its free-space reserve")

	if want := []bool{true, false, true}; fmt.Sprint(changes) != fmt.Sprint(want) {
		t.Fatalf("OnChange saw %v, want %v", changes, want)
	}
	if Margin(0) != 0 || Margin(64<<30) != marginMax || Margin(320*MiB) != 10*MiB {
		t.Fatal("Margin")
	}
}

func TestMonitorDefaultAndOff(t *testing.T) {
	const MiB = 1 << 20
	fs := &fakeFS{}
	fs.set(64*MiB, 40*MiB)
	m, err := New("/d", Options{Stat: fs.stat})
	if err != nil {
		t.Fatal(err)
	}
	if st := m.Status(); st.Reserve != 32*MiB || st.AtReserve {
		t.Fatalf("default on 64 MiB: %+v", st)
	}
	fs.set(64*MiB, 31*MiB)
	if !m.Refresh().AtReserve {
		t.Fatal("not at the default reserve")
	}
	// The disk is grown online: 2 % of 100 GiB is 2 GiB.
	fs.set(100<<30, 1<<30)
	if st := m.Refresh(); st.Reserve != 2<<30 || !st.AtReserve {
		t.Fatalf("after growing: %+v", st)
	}
	fs.set(100<<30, 3<<30)
	if st := m.Refresh(); st.AtReserve {
		t.Fatalf("3 GiB free of 100 GiB: %+v", st)
	}

	// Reserve 0: never at the reserve, not even on a full disk.
	fs.set(64*MiB, 0)
	off, err := New("/d", Options{Reserve: Bytes(0), Stat: fs.stat})
	if err != nil {
		t.Fatal(err)
	}
	if off.AtReserve() || off.Check(1<<40) != nil {
		t.Fatalf("reserve 0: %+v", off.Status())
	}

	// A first reading that fails fails New; an unsupported platform turns
	// the reserve off.
	fs.fail(syscall.ENOENT)
	if _, err := New("/d", Options{Stat: fs.stat}); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("New with a failing statfs: %v", err)
	}
	fs.fail(ErrUnsupported)
	logs := &logLines{}
	un, err := New("/d", Options{Stat: fs.stat, Logger: slog.New(logs)})
	if err != nil || un.AtReserve() || un.Check(1<<40) != nil {
		t.Fatalf("unsupported: %v %+v", err, un.Status())
	}
	wantLog(t, logs, "WARN the free-space reserve is off")

	// A reserve as large as the disk is warned about.
	fs.set(64*MiB, 64*MiB)
	if _, err := New("/d", Options{Reserve: Percent(100), Stat: fs.stat, Logger: slog.New(logs)}); err != nil {
		t.Fatal(err)
	}
	got := logs.take()
	if len(got) != 1 || !strings.Contains(got[0], "as large as the file system") {
		t.Fatalf("logged %q", got)
	}
}

func TestMonitorRun(t *testing.T) {
	const MiB = 1 << 20
	fs := &fakeFS{}
	fs.set(1000*MiB, 900*MiB)
	ticks := make(chan Status, 100)
	m, err := New("/d", Options{Reserve: Bytes(100 * MiB), Stat: fs.stat, Interval: time.Millisecond, OnTick: func(st Status) { ticks <- st }})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { m.Run(stop); close(done) }()
	fs.set(1000*MiB, 50*MiB)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case st := <-ticks:
			if !st.AtReserve {
				continue
			}
		case <-deadline:
			t.Fatal("Run did not refresh")
		}
		break
	}
	if !m.AtReserve() {
		t.Fatal("OnTick saw the reserve, AtReserve does not")
	}
	close(stop)
	select {
	case <-done:
	case <-deadline:
		t.Fatal("Run did not stop")
	}
	if n := fs.calls(); n < 2 {
		t.Fatalf("%d statfs calls", n)
	}
}

// TestStatfsReal reads a real file system: the sizes are plausible, and a
// missing path is an error.
func TestStatfsReal(t *testing.T) {
	dir := t.TempDir()
	u, err := Statfs(dir)
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if u.Total == 0 || u.Free > u.Total {
		t.Fatalf("usage %+v", u)
	}
	m, err := New(dir, Options{Reserve: Bytes(0)})
	if err != nil {
		t.Fatal(err)
	}
	if st := m.Status(); st.Total != u.Total {
		t.Fatalf("status %+v, statfs %+v", st, u)
	}
	if _, err := Statfs(filepath.Join(dir, "missing")); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("statfs of a missing path: %v", err)
	}
}
