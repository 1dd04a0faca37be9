package lease

import (
	"sync"
	"time"
)

// Time is a reading of a Clock in nanoseconds. Only differences between
// readings of the same Clock mean anything.
type Time int64

// Add returns t + d.
func (t Time) Add(d time.Duration) Time { return t + Time(d) }

// Sub returns t - u.
func (t Time) Sub(u Time) time.Duration { return time.Duration(t - u) }

// never is a Time no reading reaches: the expiry of a lease that needs no
// one's acknowledgement (a cluster of one voter).
const never = Time(1<<63 - 1)

// Clock is the clock every lease is timed on.
type Clock interface {
	Now() Time
}

// System returns the clock leases are timed on in production: on Linux
// CLOCK_BOOTTIME, which is monotonic (NTP slews its rate but never steps
// it), keeps counting while the process is stopped (SIGSTOP, a long GC or
// swap stall: it is not a per-process clock) and also while the machine
// is suspended, where CLOCK_MONOTONIC, behind Go's time.Now, stops. Elsewhere
// it is Go's monotonic clock. One reading costs ~150 ns on Linux (a system
// call; time.Now costs ~25).
func System() Clock { return systemClock{} }

// Manual is a Clock that moves only when told (tests). The zero value reads
// 0. It is safe for concurrent use.
type Manual struct {
	mu  sync.Mutex
	now Time
}

// Now implements Clock.
func (m *Manual) Now() Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Advance moves the clock forward by d.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now += Time(d)
}
