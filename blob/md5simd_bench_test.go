package blob

import (
	"crypto/md5"
	"fmt"
	"hash"
	"sync"
	"syscall"
	"testing"

	md5simd "github.com/minio/md5-simd"
)

// BenchmarkMD5Streams: the ETag's MD5 of streams concurrent 1 MiB bodies,
// each written in 256 KiB pieces (Store.Put's buffer), with crypto/md5 (a
// hash per stream) and with github.com/minio/md5-simd (one server whose
// lanes hash up to 16 streams at once with AVX-512, or 2×8 with AVX2).
// The throughput is of all streams together (b.SetBytes). Issue 11:
// md5-simd is to be used only where it wins; BENCHMARKS.md has the
// figures of this machine.
func BenchmarkMD5Streams(b *testing.B) {
	const body, piece = 1 << 20, 256 << 10
	buf := make([]byte, piece)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, streams := range []int{1, 4, 16} {
		run := func(b *testing.B, newHash func() hash.Hash, done func(hash.Hash)) {
			b.SetBytes(int64(streams) * body)
			cpu0 := cpuTime()
			n := 0
			for b.Loop() {
				n++
				var wg sync.WaitGroup
				for range streams {
					wg.Add(1)
					go func() {
						defer wg.Done()
						h := newHash()
						for off := 0; off < body; off += piece {
							h.Write(buf)
						}
						h.Sum(nil)
						done(h)
					}()
				}
				wg.Wait()
			}
			// CPU time, not wall time: on a shared, loaded machine it is
			// what the hashing costs, whoever else runs.
			b.ReportMetric(float64(cpuTime()-cpu0)/1e6/float64(n*streams), "cpu-ms/MiB")
		}
		b.Run(fmt.Sprintf("crypto-md5/streams=%d", streams), func(b *testing.B) {
			run(b, md5.New, func(hash.Hash) {})
		})
		b.Run(fmt.Sprintf("md5-simd/streams=%d", streams), func(b *testing.B) {
			srv := md5simd.NewServer()
			defer srv.Close()
			run(b, func() hash.Hash { return srv.NewHash() }, func(h hash.Hash) { h.(md5simd.Hasher).Close() })
		})
	}
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
