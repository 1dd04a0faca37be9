package lease

import (
	"testing"
	"time"
)

// The per-request checks (ServeS3 and FreshRead on every S3 and admin
// request): one clock reading and an atomic load, no allocation.
func BenchmarkFollowerServing(b *testing.B) {
	f := NewFollower(System(), time.Second, func() uint64 { return 0 })
	now := System().Now()
	for i := range MaxGrants {
		f.Grant(now.Add(-time.Duration(i)*time.Millisecond), 3, uint64(100-i), 0, time.Hour)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !f.Serving(95) {
			b.Fatal("not serving")
		}
	}
}

func BenchmarkLeaderValid(b *testing.B) {
	l := NewLeader(System(), "n1", time.Hour, time.Millisecond)
	l.Begin(7, three(), 0)
	now := System().Now()
	l.Ack(7, "n2", now, 0)
	l.Ack(7, "n3", now, 0)
	b.ReportAllocs()
	for b.Loop() {
		if !l.Valid(7) {
			b.Fatal("not valid")
		}
	}
}
