package blob

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// genReader produces n bytes of non-repeating data without holding them:
// a fixed 64 KiB pattern with the chunk counter and a seed stamped into each
// chunk.
type genReader struct {
	left, pos int64
	seed      uint64
	pattern   []byte
}

func newGen(n int64, seed uint64) *genReader {
	return &genReader{left: n, seed: seed, pattern: randBytes(64<<10, 42)}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	for n < len(p) {
		off := int(g.pos % int64(len(g.pattern)))
		c := copy(p[n:], g.pattern[off:])
		// Stamp chunk number and seed at the start of each pattern chunk.
		if off == 0 && c >= 16 {
			binary.LittleEndian.PutUint64(p[n:], uint64(g.pos))
			binary.LittleEndian.PutUint64(p[n+8:], g.seed)
		}
		n += c
		g.pos += int64(c)
	}
	g.left -= int64(n)
	return n, nil
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func tmpEmpty(t *testing.T, s *Store) {
	t.Helper()
	if n := countFiles(t, s.tmp); n != 0 {
		t.Fatalf("%d files left in tmp", n)
	}
}

// commitCopy writes data through CreateCopyOf(want) and commits it.
func commitCopy(t *testing.T, s *Store, want Ref, data []byte) (Ref, error) {
	t.Helper()
	w, err := s.CreateCopyOf(want)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	return w.Commit()
}

func readBlob(t *testing.T, s *Store, sum [32]byte) []byte {
	t.Helper()
	f, size, err := s.Open(sum)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != size {
		t.Fatalf("size %d, read %d", size, len(b))
	}
	return b
}

func TestPutGetRoundTrip(t *testing.T) {
	s := openStore(t)
	for _, n := range []int{0, 1, 4096, bufSize - 1, bufSize + 1, 3<<20 + 7} {
		data := randBytes(n, uint64(n))
		ref, err := s.Put(bytes.NewReader(data), -1)
		if err != nil {
			t.Fatal(err)
		}
		if want := crc32.Checksum(data, castagnoli); ref.CRC32C != want {
			t.Fatalf("n=%d: CRC32C %08x, want %08x", n, ref.CRC32C, want)
		}
		if ref.ID == sha256.Sum256(data) || ref.ID == ([32]byte{}) {
			t.Fatalf("n=%d: ID %x is the content's SHA-256 or zero, not a random ID", n, ref.ID)
		}
		if want := md5.Sum(data); ref.MD5 != want {
			t.Fatalf("n=%d: md5 %x, want %x", n, ref.MD5, want)
		}
		if ref.Size != int64(n) {
			t.Fatalf("size %d, want %d", ref.Size, n)
		}
		if ref.Hex() != hex.EncodeToString(ref.ID[:]) || ref.MD5Hex() != hex.EncodeToString(ref.MD5[:]) {
			t.Fatal("hex helpers")
		}
		if !s.Has(ref.ID) {
			t.Fatal("Has = false after Put")
		}
		if got := readBlob(t, s, ref.ID); !bytes.Equal(got, data) {
			t.Fatalf("n=%d: content differs", n)
		}
		_, p := s.paths(ref.ID)
		want := filepath.Join(s.objs, ref.Hex()[:2], ref.Hex())
		if p != want {
			t.Fatalf("path %s, want %s", p, want)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("blob file mode: %v %v", fi, err)
		}
	}
	tmpEmpty(t, s)

	var missing [32]byte
	if s.Has(missing) {
		t.Fatal("Has(missing)")
	}
	if _, _, err := s.Open(missing); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open(missing): %v", err)
	}
}

func TestWriterChunks(t *testing.T) {
	s := openStore(t)
	data := randBytes(1<<20+3, 7)
	w, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+rand.IntN(10000))
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if w.Size() != int64(len(data)) {
		t.Fatal("Size")
	}
	ref, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if ref.CRC32C != crc32.Checksum(data, castagnoli) || ref.MD5 != md5.Sum(data) {
		t.Fatal("digests")
	}
	if _, err := w.Commit(); err == nil {
		t.Fatal("second Commit succeeded")
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Commit succeeded")
	}
	w.Abort() // no-op after Commit
	if err := s.Verify(ref.ID); err != nil {
		t.Fatal(err)
	}
	tmpEmpty(t, s)
}

// TestSameContentTwice: blobs are named by ID, not by content: the same
// bytes stored twice (or by concurrent writers) are separate blobs, each
// complete; what refers to which is the metadata's business.
func TestSameContentTwice(t *testing.T) {
	s := openStore(t)
	data := randBytes(1<<20, 2)
	const N = 8
	var (
		ready, done sync.WaitGroup
		start       = make(chan struct{})
		refs        [N]Ref
		errs        [N]error
	)
	ready.Add(N)
	done.Add(N)
	for i := range N {
		go func() {
			defer done.Done()
			w, err := s.Create()
			if err != nil {
				errs[i] = err
				ready.Done()
				return
			}
			defer w.Abort()
			if _, err := w.Write(data); err != nil {
				errs[i] = err
				ready.Done()
				return
			}
			ready.Done()
			<-start
			refs[i], errs[i] = w.Commit()
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	ids := map[[32]byte]bool{}
	for i := range N {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if refs[i].MD5 != md5.Sum(data) || refs[i].Size != int64(len(data)) || ids[refs[i].ID] {
			t.Fatalf("goroutine %d: ref %+v (a duplicate ID, or wrong digests)", i, refs[i])
		}
		ids[refs[i].ID] = true
		if !bytes.Equal(readBlob(t, s, refs[i].ID), data) {
			t.Fatalf("goroutine %d: content differs", i)
		}
	}
	if n := countFiles(t, s.objs); n != N {
		t.Fatalf("%d blob files, want %d", n, N)
	}
	tmpEmpty(t, s)
}

func TestAbortLeavesNothing(t *testing.T) {
	s := openStore(t)
	w, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randBytes(5000, 3)); err != nil {
		t.Fatal(err)
	}
	if countFiles(t, s.tmp) != 1 {
		t.Fatal("no temp file while writing")
	}
	w.Abort()
	w.Abort()
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Abort succeeded")
	}
	if _, err := w.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	tmpEmpty(t, s)
	if n := countFiles(t, s.objs); n != 0 {
		t.Fatalf("%d blob files after Abort", n)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestPutTooLarge(t *testing.T) {
	s := openStore(t)
	const max = 1 << 20
	for _, n := range []int64{max + 1, 5 * max} {
		cr := &countingReader{r: newGen(n, 1)}
		_, err := s.Put(cr, max)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("n=%d: err %v, want ErrTooLarge", n, err)
		}
		if cr.n > max+1 {
			t.Fatalf("read %d bytes past a limit of %d", cr.n, max)
		}
		tmpEmpty(t, s)
		if c := countFiles(t, s.objs); c != 0 {
			t.Fatalf("%d blob files after ErrTooLarge", c)
		}
	}
	// Exactly at the limit is fine, and so is an empty body with limit 0.
	if ref, err := s.Put(newGen(max, 1), max); err != nil || ref.Size != max {
		t.Fatalf("at limit: %+v %v", ref, err)
	}
	if ref, err := s.Put(bytes.NewReader(nil), 0); err != nil || ref.Size != 0 {
		t.Fatalf("empty: %+v %v", ref, err)
	}
	if _, err := s.Put(bytes.NewReader([]byte{1}), 0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("1 byte, limit 0: %v", err)
	}
	tmpEmpty(t, s)
}

type failingReader struct{ n int }

var errBoom = errors.New("boom")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errBoom
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func TestPutReaderError(t *testing.T) {
	s := openStore(t)
	if _, err := s.Put(&failingReader{n: 300000}, -1); !errors.Is(err, errBoom) {
		t.Fatalf("err %v, want errBoom", err)
	}
	tmpEmpty(t, s)
	if n := countFiles(t, s.objs); n != 0 {
		t.Fatalf("%d blob files", n)
	}
}

func TestOpenRemovesStaleTemp(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.Put(bytes.NewReader([]byte("committed")), -1)
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a crash: writers that never committed, and odd leftovers.
	for i := range 3 {
		w, err := s.Create()
		if err != nil {
			t.Fatal(err)
		}
		w.Write(randBytes(1000*(i+1), uint64(i)))
		w.f.Close() // the process died; its descriptors are gone
	}
	if err := os.MkdirAll(filepath.Join(s.tmp, "junkdir", "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.tmp, "junkdir", "sub", "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := countFiles(t, s.tmp); n != 4 {
		t.Fatalf("setup: %d temp files", n)
	}

	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(s2.tmp); len(ents) != 0 {
		t.Fatalf("%d entries left in tmp after Open", len(ents))
	}
	if !s2.Has(ref.ID) {
		t.Fatal("committed blob lost")
	}
	if err := s2.Verify(ref.ID); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, objsName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("Open with a file where sha256/ should be succeeded")
	}
}

func always() bool { return true }

func TestPinBlocksRemove(t *testing.T) {
	s := openStore(t)
	ref, err := s.Put(bytes.NewReader([]byte("pinned")), -1)
	if err != nil {
		t.Fatal(err)
	}
	u1 := s.Pin(ref.ID)
	u2 := s.Pin(ref.ID)
	called := false
	removed, err := s.Remove(ref.ID, func() bool { called = true; return true })
	if err != nil || removed {
		t.Fatalf("Remove while pinned: %v %v", removed, err)
	}
	if called {
		t.Fatal("callback consulted although pinned")
	}
	u1()
	u1() // idempotent: must not drop u2's pin
	if removed, _ := s.Remove(ref.ID, always); removed || !s.Has(ref.ID) {
		t.Fatal("removed while still pinned once")
	}
	u2()
	removed, err = s.Remove(ref.ID, always)
	if err != nil || !removed {
		t.Fatalf("Remove after unpin: %v %v", removed, err)
	}
	if s.Has(ref.ID) {
		t.Fatal("Has after Remove")
	}
	if _, _, err := s.Open(ref.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open after Remove: %v", err)
	}
	if removed, err := s.Remove(ref.ID, always); removed || err != nil {
		t.Fatalf("second Remove: %v %v", removed, err)
	}
	if len(s.pins) != 0 {
		t.Fatalf("pin map not empty: %v", s.pins)
	}
	if _, err := s.Remove(ref.ID, nil); err == nil {
		t.Fatal("nil callback accepted")
	}
}

func TestRemoveStillReferenced(t *testing.T) {
	s := openStore(t)
	ref, err := s.Put(bytes.NewReader([]byte("referenced")), -1)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	removed, err := s.Remove(ref.ID, func() bool { calls++; return false })
	if err != nil || removed {
		t.Fatalf("%v %v", removed, err)
	}
	if calls != 1 {
		t.Fatalf("callback called %d times", calls)
	}
	if !s.Has(ref.ID) {
		t.Fatal("referenced blob removed")
	}
	if err := s.Verify(ref.ID); err != nil {
		t.Fatal(err)
	}
}

// TestPutPinnedRacesRemove: a GC that removes the blob as fast as it can
// never takes it away between PutPinned and unpin.
func TestPutPinnedRacesRemove(t *testing.T) {
	s := openStore(t)
	data := []byte("popular content")
	sum := sha256.Sum256(data)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Remove(sum, always); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 300 {
		ref, unpin, err := s.PutPinned(bytes.NewReader(data), -1)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Has(ref.ID) {
			t.Fatal("pinned blob removed")
		}
		unpin()
	}
	close(stop)
	wg.Wait()
	tmpEmpty(t, s)
}

func TestWalk(t *testing.T) {
	s := openStore(t)
	want := map[[32]byte]int64{}
	for i := range 40 {
		data := randBytes(i*37, uint64(i+100))
		ref, err := s.Put(bytes.NewReader(data), -1)
		if err != nil {
			t.Fatal(err)
		}
		want[ref.ID] = ref.Size
	}
	// A removed blob, an uncommitted writer and files that are not blobs.
	gone, _ := s.Put(bytes.NewReader([]byte("gone")), -1)
	if ok, err := s.Remove(gone.ID, always); !ok || err != nil {
		t.Fatal(ok, err)
	}
	w, _ := s.Create()
	defer w.Abort()
	w.Write([]byte("pending"))
	var some [32]byte
	for k := range want {
		some = k
		break
	}
	h := hex.EncodeToString(some[:])
	other := sha256.Sum256([]byte("elsewhere"))
	junk := []string{
		filepath.Join(s.objs, "stray"),
		filepath.Join(s.objs, h[:2], "stray"),
		filepath.Join(s.objs, h[:2], h[2:4], "not-a-digest"),
		filepath.Join(s.objs, h[:2], h[2:4], hex.EncodeToString(other[:])), // wrong fan-out dir
		filepath.Join(s.objs, h[:2], h[2:4], fmt.Sprintf("%X", some)),      // upper case
		filepath.Join(s.objs, "zz", "zz", h),
	}
	for _, j := range junk {
		os.MkdirAll(filepath.Dir(j), 0o700)
		if err := os.WriteFile(j, []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	got := map[[32]byte]int64{}
	var prev string
	err := s.Walk(func(sum [32]byte, size int64) error {
		if _, dup := got[sum]; dup {
			t.Fatalf("%x listed twice", sum)
		}
		if h := hex.EncodeToString(sum[:]); h <= prev {
			t.Fatalf("not in order: %s after %s", h, prev)
		} else {
			prev = h
		}
		got[sum] = size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("walk listed %d blobs, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%x: size %d, want %d", k, got[k], v)
		}
	}

	stopErr := errors.New("stop")
	n := 0
	if err := s.Walk(func([32]byte, int64) error { n++; return stopErr }); err != stopErr || n != 1 {
		t.Fatalf("stop: %v after %d", err, n)
	}
}

func TestVerifyDetectsFlippedByte(t *testing.T) {
	s := openStore(t)
	data := randBytes(300000, 9)
	ref, err := s.Put(bytes.NewReader(data), -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(ref.ID); err != nil {
		t.Fatal(err)
	}
	_, p := s.paths(ref.ID)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	f.ReadAt(b[:], 123456)
	b[0] ^= 0x10
	if _, err := f.WriteAt(b[:], 123456); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := s.Verify(ref.ID); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verify: %v, want ErrCorrupt", err)
	}

	// Repair as documented: a good copy under the same ID.
	w, err := s.CreateCopyOf(ref)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(ref.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(sha256.Sum256([]byte("missing"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Verify(missing): %v", err)
	}
}

// A truncated file under the right name cannot be the content: a copy
// under that name replaces it instead of keeping it.
func TestCommitReplacesWrongSize(t *testing.T) {
	s := openStore(t)
	data := randBytes(10000, 11)
	ref, err := s.Put(bytes.NewReader(data), -1)
	if err != nil {
		t.Fatal(err)
	}
	_, p := s.paths(ref.ID)
	if err := os.Truncate(p, 100); err != nil {
		t.Fatal(err)
	}
	w, err := s.CreateCopyOf(ref)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(ref.ID); err != nil {
		t.Fatal(err)
	}
	tmpEmpty(t, s)
}

func TestLargeStreamedPutMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 256 MiB")
	}
	s := openStore(t)
	const size = 256 << 20
	gen := newGen(size, 5)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ref, err := s.Put(gen, size)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after) // no GC first: count what is still live or not yet collected
	if ref.Size != size {
		t.Fatalf("size %d", ref.Size)
	}
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("heap growth %d KiB, allocated during Put %d KiB", growth/1024, allocated/1024)
	const limit = 16 << 20
	if growth > limit {
		t.Fatalf("heap grew by %d bytes during a %d-byte Put", growth, size)
	}
	if allocated > limit {
		t.Fatalf("allocated %d bytes during a %d-byte Put", allocated, size)
	}
	tmpEmpty(t, s)
}

func BenchmarkPut(b *testing.B) {
	for _, size := range []int64{1 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			s := openStore(b)
			b.SetBytes(size)
			b.ReportAllocs()
			seed := uint64(0)
			for b.Loop() {
				seed++
				if _, err := s.Put(newGen(size, seed), -1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCreateCopyOf: a peer's copy is checked by the size and CRC32C the
// sending node computed, and lands under the sender's ID; a copy whose
// bytes differ in content or length is refused with ErrCorrupt and leaves
// nothing behind.
func TestCreateCopyOf(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a blob a PUT copies to its peers")
	orig, err := s.Put(bytes.NewReader(data), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)); orig.CRC32C != want {
		t.Fatalf("Put: CRC32C %08x, want %08x", orig.CRC32C, want)
	}

	peer, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	copyOf := func(body []byte) (Ref, error) {
		w, err := peer.CreateCopyOf(orig)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
		return w.Commit()
	}
	flipped := bytes.Clone(data)
	flipped[5] ^= 0x01
	for name, body := range map[string][]byte{
		"one bit flipped": flipped,
		"truncated":       data[:len(data)-1],
		"one byte more":   append(bytes.Clone(data), 'x'),
	} {
		if _, err := copyOf(body); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Commit err = %v, want ErrCorrupt", name, err)
		}
		if peer.Has(orig.ID) {
			t.Fatalf("%s: the refused copy was committed", name)
		}
	}
	if ents, err := os.ReadDir(filepath.Join(peer.dir, tmpName)); err != nil || len(ents) != 0 {
		t.Fatalf("refused copies left %d temp files (%v)", len(ents), err)
	}

	ref, err := copyOf(data)
	if err != nil {
		t.Fatal(err)
	}
	if ref.ID != orig.ID || ref.Size != orig.Size || ref.CRC32C != orig.CRC32C {
		t.Fatalf("copy ref = %+v, want %+v", ref, orig)
	}
	if got := readBlob(t, peer, orig.ID); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if err := peer.Verify(orig.ID); err != nil {
		t.Fatalf("Verify of the copy: %v", err)
	}
}
