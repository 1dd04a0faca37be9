package blob

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"hash/crc32"
	"runtime"
	"testing"
	"unsafe"
)

// TestDirectWrites: blobs of every size around the chunk size round-trip
// whether the chunks go with direct I/O (where the file system of the
// test's temp dir has it), through the chunk buffer without it (as on a
// file system that refuses it), or straight through the page cache
// (Options.BufferedWrites); the Ref is the same in all three.
func TestDirectWrites(t *testing.T) {
	for _, mode := range []string{"direct", "refused", "buffered"} {
		s, err := OpenWith(t.TempDir(), Options{BufferedWrites: mode == "buffered"})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, directChunk - 1, directChunk, directChunk + 1, 3*directChunk + 4097} {
			t.Run(fmt.Sprintf("%s/%d", mode, n), func(t *testing.T) {
				data := randBytes(n, uint64(n)+7)
				w, err := s.Create()
				if err != nil {
					t.Fatal(err)
				}
				defer w.Abort()
				w.noDirect = mode == "refused"
				for rest := data; len(rest) > 0; { // odd write sizes, as bodies arrive
					k := min(len(rest), 100_003)
					if _, err := w.Write(rest[:k]); err != nil {
						t.Fatal(err)
					}
					rest = rest[k:]
				}
				if mode == "direct" && n >= directChunk && !w.direct && !w.noDirect {
					t.Fatal("a whole chunk was written, and direct I/O is neither on nor refused")
				}
				if mode != "direct" && w.direct {
					t.Fatal("direct I/O on")
				}
				t.Logf("direct I/O on: %v", w.direct)
				ref, err := w.Commit()
				if err != nil {
					t.Fatal(err)
				}
				if ref.Size != int64(n) || ref.MD5 != md5.Sum(data) || ref.CRC32C != crc32.Checksum(data, castagnoli) {
					t.Fatalf("ref %+v", ref)
				}
				if got := readBlob(t, s, ref.ID); !bytes.Equal(got, data) {
					t.Fatal("content differs")
				}
				if err := s.Verify(ref.ID); err != nil {
					t.Fatal(err)
				}
			})
		}
		tmpEmpty(t, s)
	}
}

// TestDirectBufferAligned: the chunk buffers are aligned as direct I/O
// needs, also after the garbage collector ran.
func TestDirectBufferAligned(t *testing.T) {
	for i := 0; i < 4; i++ {
		b := directBufs.Get().(*[]byte)
		if len(*b) != directChunk || !aligned(*b) {
			t.Fatalf("buffer of %d bytes, aligned %v", len(*b), aligned(*b))
		}
		directBufs.Put(b)
		runtime.GC()
	}
}

// aligned reports whether b starts at a directAlign boundary.
func aligned(b []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign == 0
}
