package blob

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/s4/s4/internal/testfs"
)

// flip flips one bit of the byte at off in the file that holds sum.
func flip(t *testing.T, s *Store, sum [32]byte, off int64) {
	t.Helper()
	testfs.FlipBit(t, s.Path(sum), off)
}

// TestBlocksRoundTrip: blobs of every size class around the block size
// read back whole and in ranges; the file is the content plus its trailer.
func TestBlocksRoundTrip(t *testing.T) {
	s := openStore(t)
	for _, n := range []int{0, 1, 4095, smallFile - 40, smallFile - 20, smallFile, BlockSize - 1, BlockSize, BlockSize + 1, 3*BlockSize + 5} {
		data := randBytes(n, uint64(n)+1)
		ref, err := s.Put(bytes.NewReader(data), -1)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(s.Path(ref.ID))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != fileSize(int64(n)) || contentSize(fi.Size()) != int64(n) {
			t.Fatalf("n=%d: file of %d bytes, want %d", n, fi.Size(), fileSize(int64(n)))
		}
		if got := readBlob(t, s, ref.ID); !bytes.Equal(got, data) {
			t.Fatalf("n=%d: content differs", n)
		}
		r, size, err := s.Open(ref.ID)
		if err != nil {
			t.Fatal(err)
		}
		if size != int64(n) || r.CRC32C() != ref.CRC32C {
			t.Fatalf("n=%d: size %d crc %08x, want %08x", n, size, r.CRC32C(), ref.CRC32C)
		}
		for _, rg := range [][2]int{{0, 1}, {n / 2, n/2 + 7}, {max(n-3, 0), n}, {BlockSize - 2, BlockSize + 2}} {
			lo, hi := min(rg[0], n), min(rg[1], n)
			got := make([]byte, hi-lo)
			k, err := r.ReadAt(got, int64(lo))
			if k != hi-lo || (err != nil && err != io.EOF) || !bytes.Equal(got, data[lo:hi]) {
				t.Fatalf("n=%d: ReadAt(%d..%d): %d, %v", n, lo, hi, k, err)
			}
		}
		var buf bytes.Buffer
		if _, err := r.Seek(int64(n/3), io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if _, err := r.WriteTo(&buf); err != nil || !bytes.Equal(buf.Bytes(), data[n/3:]) {
			t.Fatalf("n=%d: WriteTo from %d: %v", n, n/3, err)
		}
		r.Close()
		if err := s.Verify(ref.ID); err != nil {
			t.Fatal(err)
		}
	}
	for n := int64(0); n < 3*BlockSize+100; n += 4093 {
		if contentSize(fileSize(n)) != n {
			t.Fatalf("contentSize(fileSize(%d)) = %d", n, contentSize(fileSize(n)))
		}
	}
}

// TestFlippedByteNeverReturned: no byte of a block that fails its CRC32C
// is ever returned, the blocks before it are, and a range read that does
// not touch it succeeds.
func TestFlippedByteNeverReturned(t *testing.T) {
	s := openStore(t)
	n := 3*BlockSize + BlockSize/2
	data := randBytes(n, 77)
	ref, err := s.Put(bytes.NewReader(data), -1)
	if err != nil {
		t.Fatal(err)
	}
	flip(t, s, ref.ID, 2*BlockSize+12345)

	r, _, err := s.Open(ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadAll: %v, want ErrCorrupt", err)
	}
	if len(got) != 2*BlockSize || !bytes.Equal(got, data[:2*BlockSize]) {
		t.Fatalf("read %d bytes before the error, want the %d of the good blocks", len(got), 2*BlockSize)
	}
	r.Close()

	r, _, _ = s.Open(ref.ID)
	defer r.Close()
	tail := make([]byte, 100)
	if k, err := r.ReadAt(tail, 3*BlockSize+10); k != 100 || err != nil || !bytes.Equal(tail, data[3*BlockSize+10:][:100]) {
		t.Fatalf("range read of a good block: %d, %v", k, err)
	}
	mid := make([]byte, 10)
	if k, err := r.ReadAt(mid, 2*BlockSize+12340); k != 0 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("range read of the bad block: %d bytes, %v", k, err)
	}
	if k, err := r.ReadAt(mid, 2*BlockSize-5); k != 5 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("range read across into the bad block: %d bytes, %v; want the 5 good ones", k, err)
	}
	var w bytes.Buffer
	r2, _, _ := s.Open(ref.ID)
	defer r2.Close()
	if _, err := r2.WriteTo(&w); !errors.Is(err, ErrCorrupt) || w.Len() != 2*BlockSize {
		t.Fatalf("WriteTo: %d bytes, %v", w.Len(), err)
	}
	if err := s.Verify(ref.ID); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verify: %v", err)
	}

	// A copy of the good content under the same ID repairs it in place,
	// pinned or not.
	unpin := s.Pin(ref.ID)
	defer unpin()
	rw, err := s.CreateCopyOf(ref)
	if err != nil {
		t.Fatal(err)
	}
	rw.Write(data)
	if _, err := rw.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(ref.ID); err != nil {
		t.Fatalf("after the repair: %v", err)
	}
	tmpEmpty(t, s)
}

// TestDamagedTrailer: a blob whose trailer is damaged, or whose file was
// cut, does not open; it is corrupt, not missing.
func TestDamagedTrailer(t *testing.T) {
	s := openStore(t)
	data := randBytes(BlockSize+10, 5)
	ref, err := s.Put(bytes.NewReader(data), -1)
	if err != nil {
		t.Fatal(err)
	}
	fs := fileSize(int64(len(data)))
	for _, off := range []int64{int64(len(data)) + 1, fs - 1, fs - footerSize, fs - 10} {
		flip(t, s, ref.ID, off)
		if _, _, err := s.Open(ref.ID); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipped trailer byte at %d: Open: %v", off, err)
		}
		flip(t, s, ref.ID, off) // back
	}
	if err := os.Truncate(s.Path(ref.ID), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Open(ref.ID); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("cut file: Open: %v", err)
	}
}

// FuzzReadTrailer: the trailer parser never panics, and whatever it
// accepts is consistent with the file's size.
func FuzzReadTrailer(f *testing.F) {
	for _, n := range []int{0, 1, 100, 5000} {
		var bs blockSummer
		data := randBytes(n, 3)
		bs.write(data)
		f.Add(appendTrailer(data, bs.sums(), int64(n), bs.crc))
	}
	f.Add([]byte("S4BLOCK\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := readTrailer(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		if tr.size+trailerSize(tr.size, tr.blockSize) != int64(len(b)) || int64(len(tr.blocks)) != numBlocks(tr.size, tr.blockSize) {
			t.Fatalf("accepted an inconsistent trailer: %+v for %d bytes", tr, len(b))
		}
	})
}
