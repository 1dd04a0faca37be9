package blob

import (
	"io"
	"testing"
	"time"
)

// BenchmarkCachedRead is the read side of direct writes (BENCHMARKS.md
// "Blobs named by ID, direct writes"): 64 blobs of 1 MiB written through a
// Writer with direct I/O and without (Options.BufferedWrites), each read
// once to bring it into the page cache, then read again and again through
// Store.Open as a GET does (every block verified). It reports the process's
// CPU per blob read (cpu-µs/read, user and kernel): the pages of a blob
// written with direct I/O come into the cache by the first read, those of
// a buffered write by the write itself, and the kernel's copy out of the
// cache costs more for the former. The temp dir must be on the file
// system the blobs live on in production (not a tmpfs) for the figure to
// mean anything.
func BenchmarkCachedRead(b *testing.B) {
	const blobs, size = 64, 1 << 20
	data := randBytes(size, 11)
	for _, mode := range []string{"direct", "buffered"} {
		b.Run(mode, func(b *testing.B) {
			s, err := OpenWith(b.TempDir(), Options{BufferedWrites: mode == "buffered"})
			if err != nil {
				b.Fatal(err)
			}
			ids := make([][32]byte, blobs)
			for i := range ids {
				w, err := s.Create()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := w.Write(data); err != nil {
					b.Fatal(err)
				}
				if mode == "direct" && !w.direct {
					b.Skip("the file system refuses direct I/O")
				}
				ref, err := w.Commit()
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = ref.ID
			}
			read := func(id [32]byte) {
				r, n, err := s.Open(id)
				if err != nil {
					b.Fatal(err)
				}
				m, err := io.Copy(io.Discard, r)
				r.Close()
				if err != nil || m != n || n != size {
					b.Fatalf("read %d of %d bytes: %v", m, n, err)
				}
			}
			for _, id := range ids {
				read(id)
			}
			b.SetBytes(size)
			cpu0, n := cpuTime(), 0
			for b.Loop() {
				read(ids[n%blobs])
				n++
			}
			b.ReportMetric(float64(time.Duration(cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/read")
		})
	}
}
