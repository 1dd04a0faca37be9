// Package disk watches the free space of the file system that holds a
// node's data dir and keeps a reserve of it for what must never fail for
// lack of space: the Raft log (IAM events, deletes, revocations) and the
// metadata store.
//
// # The reserve
//
// A node is at its reserve when the space available on the file system
// (statfs: f_bavail × f_frsize, what an unprivileged process may still
// write) falls below the reserve. It then refuses new object data (the S3
// API answers 507 XS4StorageFull, a peer refuses blob copies, blob
// catch-up pauses) and keeps serving everything else: reads, IAM,
// deletes. It leaves the reserve once the free space is back above the
// reserve plus a margin of 1/32 of it (at most 64 MiB), so that a node on
// the edge does not flip state with every write and every delete.
//
// A write of a known size is also refused when it would take the free
// space below the reserve (Monitor.Check), so that one large PUT cannot
// eat the reserve it is meant to keep.
//
// The reserve is set as a percentage of the file system ("2%", "0.5%") or
// as a size ("512MiB", "2GiB", "500MB", "1073741824"; K/M/G/T are binary
// like KiB/MiB/GiB/TiB, KB/MB/GB/TB decimal; a bare number is bytes). "0"
// turns it off (a write that finds the disk full is still answered 507, not
// 500). The default is the larger of 2 % of the file system and 256 MiB,
// but never more than half of the file system, so that a small test disk
// still takes writes. A percentage and the default follow the size of the
// file system as it is now (a disk grown online counts at once).
//
// # Cost
//
// AtReserve and Check are an atomic load: the state is refreshed by
// Monitor.Run about every second, and at once by Refresh, which the node
// calls after a write failed with ENOSPC and after the garbage collector
// removed blobs. Entering the reserve logs a warning, leaving it an info
// line.
package disk

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrFull is what a write refused for lack of space wraps: the node is at
// its free-space reserve, or the write would take it there.
var ErrFull = errors.New("disk: at the free-space reserve")

// ErrUnsupported: this platform cannot report free space (the reserve is
// then off).
var ErrUnsupported = errors.New("disk: free space cannot be read on this platform")

// IsNoSpace reports whether err is a failure for lack of disk space: the
// reserve (ErrFull), ENOSPC or EDQUOT anywhere in its chain.
func IsNoSpace(err error) bool {
	return err != nil && (errors.Is(err, ErrFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT))
}

// Defaults of the reserve (see the package documentation).
const (
	DefaultPercent = 2.0
	DefaultMin     = 256 << 20
	// DefaultInterval is how often Run refreshes the free space.
	DefaultInterval = time.Second
	// marginMax bounds the margin above the reserve that a node must
	// reach to leave it (1/32 of the reserve).
	marginMax = 64 << 20
)

// Reserve is a free-space reserve as configured: a percentage of the file
// system, a size, or (the zero value) the default.
type Reserve struct {
	set     bool
	percent float64 // used when set and bytes is not
	isBytes bool
	bytes   uint64
}

// DefaultReserve returns the default reserve (the zero Reserve).
func DefaultReserve() Reserve { return Reserve{} }

// Percent returns a reserve of p percent (0 to 100) of the file system.
func Percent(p float64) Reserve { return Reserve{set: true, percent: p} }

// Bytes returns a reserve of n bytes.
func Bytes(n uint64) Reserve { return Reserve{set: true, isBytes: true, bytes: n} }

var units = map[string]uint64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// ParseReserve parses a reserve setting: "" or "default" (the default),
// "N%" (N from 0 to 100, decimals allowed), or a size: a number, optionally
// with a fraction, followed by an optional unit (B, K/KiB, M/MiB, G/GiB,
// T/TiB binary; KB, MB, GB, TB decimal; case-insensitive; spaces allowed
// between number and unit). "0" turns the reserve off.
func ParseReserve(s string) (Reserve, error) {
	t := strings.TrimSpace(s)
	if t == "" || strings.EqualFold(t, "default") {
		return Reserve{}, nil
	}
	bad := func(why string) (Reserve, error) {
		return Reserve{}, fmt.Errorf("disk: reserve %q: %s (want a percentage like 2%% or a size like 512MiB)", s, why)
	}
	if num, ok := strings.CutSuffix(t, "%"); ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || math.IsNaN(p) || math.IsInf(p, 0) {
			return bad("not a number")
		}
		if p < 0 || p > 100 {
			return bad("a percentage must be between 0 and 100")
		}
		return Percent(p), nil
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return bad("no number")
	}
	mult, ok := units[unit]
	if !ok {
		return bad("unknown unit " + strconv.Quote(unit))
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil || mult > 1 && n > math.MaxUint64/mult {
			return bad("too large")
		}
		return Bytes(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return bad("not a number")
	}
	v := f * float64(mult)
	if v >= math.MaxUint64 {
		return bad("too large")
	}
	return Bytes(uint64(v)), nil
}

// IsDefault reports whether r is the default reserve.
func (r Reserve) IsDefault() bool { return !r.set }

// Resolve returns the reserve in bytes on a file system of total bytes.
func (r Reserve) Resolve(total uint64) uint64 {
	switch {
	case !r.set:
		b := max(uint64(float64(total)*DefaultPercent/100), DefaultMin)
		return min(b, total/2)
	case r.isBytes:
		return r.bytes
	}
	return uint64(float64(total) * r.percent / 100)
}

// String returns the setting as ParseReserve accepts it.
func (r Reserve) String() string {
	switch {
	case !r.set:
		return "default"
	case r.isBytes:
		return strconv.FormatUint(r.bytes, 10)
	}
	return strconv.FormatFloat(r.percent, 'f', -1, 64) + "%"
}

// Set implements flag.Value.
func (r *Reserve) Set(s string) error {
	v, err := ParseReserve(s)
	if err == nil {
		*r = v
	}
	return err
}

// Usage is what the file system reports: its size and the bytes still
// available to the node.
type Usage struct {
	Total, Free uint64
}

// StatFunc reads the usage of the file system holding path (Statfs; tests
// pass a fake).
type StatFunc func(path string) (Usage, error)

// Status is the monitor's view after its latest refresh.
type Status struct {
	Path      string
	Total     uint64 // bytes of the file system
	Free      uint64 // bytes available
	Reserve   uint64 // the reserve in bytes, resolved against Total
	AtReserve bool
	// Err is the error of the latest statfs (the other fields then keep
	// the values of the last successful one).
	Err     error
	Checked time.Time
}

// Options configure a Monitor.
type Options struct {
	Reserve Reserve
	// Interval between refreshes in Run. Default DefaultInterval.
	Interval time.Duration
	Logger   *slog.Logger
	// Stat reads the file system. Default Statfs.
	Stat StatFunc
	// OnTick, when set, is called by Run after every periodic refresh
	// (the node collects garbage from it while at the reserve).
	OnTick func(Status)
	// OnChange, when set, is called after a refresh that entered or left
	// the reserve, from the refreshing goroutine with the monitor's lock
	// held: it must be quick and must not call Refresh.
	OnChange func(Status)
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// Monitor keeps the free-space state of one file system. It is safe for
// concurrent use.
type Monitor struct {
	path string
	opts Options
	log  *slog.Logger

	mu     sync.Mutex // serialises refreshes (state transitions and their logs)
	state  atomic.Pointer[Status]
	errLog bool // a statfs failure was logged and has not recovered yet
}

// New returns a Monitor of the file system holding path, with a first
// reading taken. It fails if that reading fails; on a platform without
// statfs (ErrUnsupported) it returns a monitor that is never at its
// reserve, and logs a warning.
func New(path string, opts Options) (*Monitor, error) {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Stat == nil {
		opts.Stat = Statfs
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Monitor{path: path, opts: opts, log: opts.Logger}
	m.state.Store(&Status{Path: path})
	st := m.Refresh()
	switch {
	case errors.Is(st.Err, ErrUnsupported):
		m.log.Warn("the free-space reserve is off: this platform cannot report free space", "path", path)
	case st.Err != nil:
		return nil, fmt.Errorf("disk: %s: %w", path, st.Err)
	case st.Reserve >= st.Total && st.Total > 0:
		m.log.Warn("the free-space reserve is as large as the file system: this node will store no object data",
			"path", path, "reserve", FormatBytes(st.Reserve), "total", FormatBytes(st.Total))
	default:
		m.log.Info("free-space reserve", "path", path, "reserve", FormatBytes(st.Reserve), "setting", opts.Reserve.String(),
			"free", FormatBytes(st.Free), "total", FormatBytes(st.Total), "at_reserve", st.AtReserve)
	}
	return m, nil
}

// Status returns the state after the latest refresh.
func (m *Monitor) Status() Status { return *m.state.Load() }

// AtReserve reports whether the node is at its reserve (an atomic load).
func (m *Monitor) AtReserve() bool { return m.state.Load().AtReserve }

// Check returns nil if size more bytes of object data may be stored
// (size < 0: unknown, counted as 0), or a *FullError wrapping ErrFull if
// the node is at its reserve or the write would take it there. It reads
// the latest refresh only.
func (m *Monitor) Check(size int64) error {
	st := m.state.Load()
	if st.AtReserve {
		return &FullError{Status: *st}
	}
	if size > 0 && st.Reserve > 0 && st.Total > 0 && (st.Free < st.Reserve || st.Free-st.Reserve < uint64(size)) {
		return &FullError{Status: *st, Size: size}
	}
	return nil
}

// Refresh reads the file system now, updates the state (logging a change)
// and returns it.
func (m *Monitor) Refresh() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.state.Load()
	u, err := m.opts.Stat(m.path)
	now := m.opts.Now()
	if err != nil {
		st := *prev
		st.Err, st.Checked = err, now
		if !m.errLog && !errors.Is(err, ErrUnsupported) && !prev.Checked.IsZero() {
			m.log.Warn("cannot read the free space of the data dir's file system; keeping the last reading", "path", m.path, "err", err)
			m.errLog = true
		}
		m.state.Store(&st)
		return st
	}
	if m.errLog {
		m.log.Info("reading the free space of the data dir's file system works again", "path", m.path)
		m.errLog = false
	}
	st := Status{Path: m.path, Total: u.Total, Free: u.Free, Reserve: m.opts.Reserve.Resolve(u.Total), Checked: now}
	st.AtReserve = nextAtReserve(prev.AtReserve, st.Free, st.Reserve)
	m.state.Store(&st)
	switch {
	case st.AtReserve && !prev.AtReserve:
		m.log.Warn("disk at its free-space reserve: refusing new object data (507 XS4StorageFull) until space is freed by deleting objects or growing the disk; reads, IAM and deletes go on",
			"path", m.path, "free", FormatBytes(st.Free), "reserve", FormatBytes(st.Reserve), "total", FormatBytes(st.Total))
	case !st.AtReserve && prev.AtReserve:
		m.log.Info("disk left its free-space reserve: accepting object data again",
			"path", m.path, "free", FormatBytes(st.Free), "reserve", FormatBytes(st.Reserve), "total", FormatBytes(st.Total))
	}
	if st.AtReserve != prev.AtReserve && m.opts.OnChange != nil {
		m.opts.OnChange(st)
	}
	return st
}

// nextAtReserve is the state after a reading: enter below the reserve,
// leave at the reserve plus the margin.
func nextAtReserve(was bool, free, reserve uint64) bool {
	if reserve == 0 {
		return false
	}
	if !was {
		return free < reserve
	}
	return free < reserve+Margin(reserve)
}

// Margin is how far above the reserve the free space must be for a node
// to leave it: 1/32 of the reserve, at most 64 MiB.
func Margin(reserve uint64) uint64 { return min(reserve/32, marginMax) }

// Run refreshes the state every Interval until stop is closed, calling
// OnTick after each refresh.
func (m *Monitor) Run(stop <-chan struct{}) {
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		st := m.Refresh()
		if m.opts.OnTick != nil {
			m.opts.OnTick(st)
		}
	}
}

// FullError is a write refused for lack of space. It wraps ErrFull.
type FullError struct {
	Status Status
	Size   int64 // the write's size when it alone would cross the reserve; 0 at the reserve
}

func (e *FullError) Error() string {
	s := e.Status
	if e.Size > 0 {
		return fmt.Sprintf("disk: storing %s would take %s below its free-space reserve of %s (%s free of %s)",
			FormatBytes(uint64(e.Size)), s.Path, FormatBytes(s.Reserve), FormatBytes(s.Free), FormatBytes(s.Total))
	}
	return fmt.Sprintf("disk: %s is at its free-space reserve of %s (%s free of %s)",
		s.Path, FormatBytes(s.Reserve), FormatBytes(s.Free), FormatBytes(s.Total))
}

// Unwrap returns ErrFull.
func (e *FullError) Unwrap() error { return ErrFull }

// FormatBytes renders n in binary units ("512 MiB", "1.5 GiB", "100 B").
func FormatBytes(n uint64) string {
	const unit = 1 << 10
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + [...]string{"KiB", "MiB", "GiB", "TiB", "PiB"}[exp]
}
