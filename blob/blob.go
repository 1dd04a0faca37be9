// Package blob owns object bytes on one node's local disk, content addressed
// by SHA-256.
//
// # Layout
//
//	dir/tmp/                 files being written (random names, mode 0600)
//	dir/sha256/ab/<hex>      committed blobs; <hex> is the 64-digit lower-case
//	                         SHA-256 of the content, ab its first byte
//
// The 256 fan-out directories are created (and made durable) by [Open], so a
// commit never creates a directory. A million blobs make ~4,000 entries per
// directory, which ext4's and xfs's hashed directories handle without a
// slowdown. Open moves blobs of the earlier two-level layout
// (dir/sha256/ab/cd/<hex>) into place.
//
// Paths are built only from digests: the hex of a SHA-256 the store computed
// itself, or of a [32]byte handed in by the caller. No object key, bucket name
// or other client input ever becomes part of a path, so nothing a client sends
// can make the store touch a file outside dir.
//
// # Writing
//
// [Store.Create] opens a temp file; the [Writer] hashes every byte (SHA-256,
// MD5 and CRC32C, in the same pass) as it writes it to the file, so a body is
// never held in memory. [Store.Put] does Create, copy and Commit through one fixed-size
// buffer (256 KiB) and enforces a size limit without reading more than one byte
// past it.
//
// # Durability
//
// [Writer.Commit] makes a blob durable before it returns:
//
//  1. fsync of the temp file (data and size);
//  2. rename of the temp file to dir/sha256/ab/<hex>;
//  3. fsync of dir/sha256/ab, which makes the new name durable.
//
// If the target name exists already with the same size (same content, written
// earlier or by a concurrent Commit), the temp file is removed, the existing
// file is kept and the directory is still fsynced, so that Commit never returns
// before the blob's name is durable even when another goroutine renamed it a
// moment ago. Concurrent commits of the same content are therefore safe and
// all return the same [Ref]. An existing file of the wrong size (it cannot be
// the right content) is atomically replaced by the new one.
//
// [Store.Remove] unlinks the blob and then fsyncs its directory. [Open]
// creates dir, dir/tmp, dir/sha256 and its 256 fan-out directories and
// fsyncs their parents.
//
// # Crash behaviour
//
// A crash at any point leaves at most files under dir/tmp; [Open] removes
// everything found there (so one directory must be used by at most one Store
// at a time). A file visible under dir/sha256 got there by an atomic rename
// after its data was fsynced, so it is always complete and its content hashes
// to its name: hashed here, or, for a copy made with [Store.CreateCopyOf], by
// the node where the bytes entered the cluster (see "Copies" below). A blob whose Commit had not returned may or may not be present
// after the crash; a blob whose Remove had not returned may still be present
// and is then simply garbage again.
//
// # Copies
//
// A blob that another node of the cluster already holds arrives in one of
// two ways. [Store.CreateCopy] hashes it like any blob (SHA-256, no MD5): for
// fetches of blobs that sat on a peer's disk. [Store.CreateCopyOf] takes the
// [Ref] the sending node computed when the bytes entered the cluster and
// checks the copy against its size and CRC32C only, then commits it under
// the sender's SHA-256: for the copies a PUT makes to its peers. The copy
// travels over mutually authenticated TLS (AES-GCM, integrity-checked), and
// the CRC32C, computed in the same pass as the sender's SHA-256, catches what
// TLS cannot: a blob that changed on the sender's disk between the PUT and
// the copy, or a framing bug. It costs ~0.1 ms per MiB where SHA-256 costs
// 4.6 ms on the CPUs of BENCHMARKS.md, twice per PUT on three nodes.
//
// # Pins and removal
//
// Blobs are referenced by object metadata that lives elsewhere (the Raft log
// and the FSM's metadata store), so removing an unreferenced blob races with a
// PUT that is about to reference it. Pins close that race. The protocol:
//
//   - A writer pins the digest before it proposes the metadata event and unpins
//     after its own FSM applied it (or after the proposal failed). Use
//     [Store.PutPinned] or [Writer.CommitPinned], which take the pin under the
//     same lock as the commit itself, so that there is no moment at which the
//     freshly committed (or deduplicated) blob is neither pinned nor
//     referenced. [Store.Pin] pins a digest known in advance.
//   - The garbage collector calls [Store.Remove] with a callback that re-checks
//     the reference count in the metadata store. Remove holds the lock that Pin
//     and Commit take, checks the pin count, then calls the callback, and
//     deletes the file only if the blob is unpinned and the callback reports it
//     still unreferenced. Once the writer's metadata event is applied, the
//     callback sees the reference; until then the pin protects the blob.
//
// Pins are per node. A blob copied to a peer before the metadata event is
// proposed is unreferenced on that peer until the event is applied there, so
// the GC must not remove blobs that are merely young: it should only remove a
// blob that was found unreferenced on two passes some time apart (or pin blobs
// received from peers until the event is applied).
//
// # Repair
//
// [Store.Verify] re-hashes a blob and reports [ErrCorrupt] on mismatch. To
// repair, call Remove with a callback that returns true (the blob stays if a
// writer pins it meanwhile; retry later), fetch the content from a peer and
// Put it again. A GET that meanwhile finds no local blob reads it from a peer.
package blob

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

var (
	// ErrNotFound: no committed blob with that digest on this node.
	ErrNotFound = errors.New("blob: not found")
	// ErrTooLarge: Put read more than maxSize bytes.
	ErrTooLarge = errors.New("blob: too large")
	// ErrCorrupt: the file's content does not hash to its name.
	ErrCorrupt = errors.New("blob: corrupt")

	errClosed = errors.New("blob: writer already committed or aborted")
)

const (
	bufSize  = 256 << 10
	dirPerm  = 0o700
	tmpName  = "tmp"
	objsName = "sha256"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Ref identifies a committed blob.
type Ref struct {
	SHA256 [32]byte
	Size   int64
	MD5    [16]byte // what S3 reports as the ETag of a single-part object
	CRC32C uint32   // Castagnoli CRC of the content; checks copies to peers
}

// Hex returns the lower-case hex of the SHA-256 (the blob's file name).
func (r Ref) Hex() string { return hex.EncodeToString(r.SHA256[:]) }

// MD5Hex returns the lower-case hex of the MD5.
func (r Ref) MD5Hex() string { return hex.EncodeToString(r.MD5[:]) }

// Store is the blob store of one node. It is safe for concurrent use.
type Store struct {
	dir  string
	tmp  string
	objs string

	mu   sync.Mutex // serialises Pin/unpin, Remove and the rename step of Commit
	pins map[[32]byte]int
}

// Open opens (creating if needed) the store in dir and removes any temp files
// left behind by a crash. Only one Store may use a directory at a time.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("blob: empty directory name")
	}
	s := &Store{
		dir:  dir,
		tmp:  filepath.Join(dir, tmpName),
		objs: filepath.Join(dir, objsName),
		pins: make(map[[32]byte]int),
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("blob: open: %w", err)
	}
	for _, d := range []string{s.tmp, s.objs} {
		if err := os.Mkdir(d, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("blob: open: %w", err)
		}
		if fi, err := os.Stat(d); err != nil {
			return nil, fmt.Errorf("blob: open: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("blob: open: %s is not a directory", d)
		}
	}
	ents, err := os.ReadDir(s.tmp)
	if err != nil {
		return nil, fmt.Errorf("blob: open: %w", err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(s.tmp, e.Name())); err != nil {
			return nil, fmt.Errorf("blob: open: removing stale temp file: %w", err)
		}
	}
	if len(ents) > 0 {
		if err := syncDir(s.tmp); err != nil {
			return nil, fmt.Errorf("blob: open: %w", err)
		}
	}
	if err := s.prepareFanout(); err != nil {
		return nil, fmt.Errorf("blob: open: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("blob: open: %w", err)
	}
	return s, nil
}

// prepareFanout creates the 256 fan-out directories that are missing and
// moves blobs of the two-level layout up into them; it fsyncs every
// directory it changed.
func (s *Store) prepareFanout() error {
	created := false
	for i := 0; i < 256; i++ {
		d := filepath.Join(s.objs, fmt.Sprintf("%02x", i))
		err := os.Mkdir(d, dirPerm)
		switch {
		case err == nil:
			created = true
			continue
		case !errors.Is(err, fs.ErrExist):
			return err
		}
		if err := migrateTwoLevel(d); err != nil {
			return err
		}
	}
	if created {
		return syncDir(s.objs)
	}
	return nil
}

// migrateTwoLevel moves dir/sha256/ab/cd/<hex> files to dir/sha256/ab/<hex>
// (renames within one file system: a crash leaves every blob in one of the
// two places, and the next Open finishes the move) and removes the emptied
// cd directories.
func migrateTwoLevel(d1 string) error {
	ents, err := os.ReadDir(d1)
	if err != nil {
		return err
	}
	moved := false
	for _, e := range ents {
		if !e.IsDir() || !isHex(e.Name(), 2) {
			continue
		}
		d2 := filepath.Join(d1, e.Name())
		files, err := os.ReadDir(d2)
		if err != nil {
			return err
		}
		for _, f := range files {
			if f.Type().IsRegular() && isHex(f.Name(), 64) {
				if err := os.Rename(filepath.Join(d2, f.Name()), filepath.Join(d1, f.Name())); err != nil {
					return err
				}
				moved = true
			}
		}
		if err := os.Remove(d2); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("migrating %s: %w", d2, err)
		}
	}
	if moved {
		return syncDir(d1)
	}
	return nil
}

// paths returns the fan-out directory and the file name of a digest.
func (s *Store) paths(sum [32]byte) (dir, file string) {
	var h [64]byte
	hex.Encode(h[:], sum[:])
	dir = filepath.Join(s.objs, string(h[:2]))
	return dir, filepath.Join(dir, string(h[:]))
}

// Create starts a new blob: a temp file under dir/tmp. The caller must end it
// with Commit or Abort (defer w.Abort() is safe after Commit).
func (s *Store) Create() (*Writer, error) {
	f, err := os.CreateTemp(s.tmp, "w-*")
	if err != nil {
		return nil, fmt.Errorf("blob: create: %w", err)
	}
	return &Writer{s: s, f: f, name: f.Name(), sha: sha256.New(), md5: md5.New()}, nil
}

// CreateCopyOf is Create for a peer's copy of the blob want (see "Copies" in
// the package documentation): the Writer computes only the CRC32C, and
// Commit refuses with [ErrCorrupt] unless the bytes written have want's size
// and CRC32C; it commits them under want.SHA256 and returns want.
func (s *Store) CreateCopyOf(want Ref) (*Writer, error) {
	w, err := s.Create()
	if err != nil {
		return nil, err
	}
	w.sha, w.md5, w.want = nil, nil, &want
	return w, nil
}

// CreateCopy is Create for a copy of a blob that exists elsewhere (a peer's
// copy, a fetch): only the SHA-256 is computed, to check the content against
// its name; Ref.MD5 stays zero. It saves MD5's ~1.7 ms per MiB on CPUs like
// the ones in BENCHMARKS.md.
func (s *Store) CreateCopy() (*Writer, error) {
	w, err := s.Create()
	if err == nil {
		w.md5 = nil
	}
	return w, err
}

// Writer writes one blob. It hashes the bytes as they arrive and writes them
// straight to the temp file, without buffering. It is not safe for concurrent
// use.
type Writer struct {
	s    *Store
	f    *os.File
	name string
	sha  hash.Hash // nil for CreateCopyOf
	md5  hash.Hash // nil for copies
	crc  uint32
	want *Ref // CreateCopyOf: what the bytes must match
	n    int64
	err  error // sticky write error
	done bool  // committed or aborted
}

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	w.crc = crc32.Update(w.crc, castagnoli, p[:n])
	if w.sha != nil {
		w.sha.Write(p[:n])
	}
	if w.md5 != nil {
		w.md5.Write(p[:n])
	}
	w.n += int64(n)
	if err != nil {
		w.err = fmt.Errorf("blob: write: %w", err)
		return n, w.err
	}
	return n, nil
}

// Size returns the number of bytes written so far.
func (w *Writer) Size() int64 { return w.n }

// Sum returns the digests and size of the bytes written so far, so that a
// caller can check them against what the client signed before it commits.
// For a CreateCopyOf writer, SHA256 is the expected one (Commit checks the
// content by its CRC32C).
func (w *Writer) Sum() Ref {
	var r Ref
	if w.sha != nil {
		w.sha.Sum(r.SHA256[:0])
	} else {
		r.SHA256 = w.want.SHA256
	}
	if w.md5 != nil {
		w.md5.Sum(r.MD5[:0])
	}
	r.CRC32C = w.crc
	r.Size = w.n
	return r
}

// Abort removes the temp file. It is a no-op after Commit or Abort.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.discard()
}

func (w *Writer) discard() {
	w.done = true
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	os.Remove(w.name)
}

// Commit makes the blob durable under its digest and returns its Ref (see the
// package documentation for what is fsynced). On error nothing is left in
// dir/tmp. Commit may be called once.
func (w *Writer) Commit() (Ref, error) {
	ref, unpin, err := w.commit(false)
	if err != nil {
		return Ref{}, err
	}
	unpin()
	return ref, nil
}

// CommitPinned is Commit, and pins the digest in the same critical section in
// which the blob becomes visible (or is found to exist already), so that
// Remove cannot take it away before the caller's metadata refers to it. The
// caller must call unpin once the metadata event is applied or has failed.
func (w *Writer) CommitPinned() (ref Ref, unpin func(), err error) {
	return w.commit(true)
}

func (w *Writer) commit(pin bool) (Ref, func(), error) {
	if w.done {
		return Ref{}, nil, errClosed
	}
	if w.err != nil {
		err := w.err
		w.discard()
		return Ref{}, nil, err
	}
	if w.want != nil && (w.n != w.want.Size || w.crc != w.want.CRC32C) {
		w.discard()
		return Ref{}, nil, fmt.Errorf("blob: commit: copy of %x: %w: %d bytes with CRC32C %08x, want %d bytes with %08x",
			w.want.SHA256[:8], ErrCorrupt, w.n, w.crc, w.want.Size, w.want.CRC32C)
	}
	if err := w.f.Sync(); err != nil {
		w.discard()
		return Ref{}, nil, fmt.Errorf("blob: commit: fsync: %w", err)
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		w.discard()
		return Ref{}, nil, fmt.Errorf("blob: commit: close: %w", err)
	}

	ref := w.Sum()

	s := w.s
	dir, final := s.paths(ref.SHA256)

	s.mu.Lock()
	fi, statErr := os.Lstat(final)
	exists := statErr == nil && fi.Mode().IsRegular() && fi.Size() == ref.Size
	if !exists {
		if err := os.Rename(w.name, final); err != nil {
			s.mu.Unlock()
			w.discard()
			return Ref{}, nil, fmt.Errorf("blob: commit: %w", err)
		}
	}
	if pin {
		s.pins[ref.SHA256]++
	}
	s.mu.Unlock()

	w.done = true
	unpin := func() {}
	if pin {
		unpin = s.unpinFunc(ref.SHA256)
	}
	if exists {
		os.Remove(w.name) // a failure leaves a temp file that Open removes
	}
	if err := syncDir(dir); err != nil {
		unpin()
		return Ref{}, nil, fmt.Errorf("blob: commit: %w", err)
	}
	return ref, unpin, nil
}

// Put stores the content of r, reading at most maxSize+1 bytes from it: if r
// has more than maxSize bytes it returns ErrTooLarge and leaves nothing
// behind. A negative maxSize means no limit. Errors from r are returned
// wrapped. Memory use is one fixed-size buffer, whatever the size of r.
func (s *Store) Put(r io.Reader, maxSize int64) (Ref, error) {
	ref, unpin, err := s.PutPinned(r, maxSize)
	if err != nil {
		return Ref{}, err
	}
	unpin()
	return ref, nil
}

// PutPinned is Put followed by an atomic pin, as in Writer.CommitPinned.
func (s *Store) PutPinned(r io.Reader, maxSize int64) (ref Ref, unpin func(), err error) {
	w, err := s.Create()
	if err != nil {
		return Ref{}, nil, err
	}
	defer w.Abort()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		chunk := buf
		if maxSize >= 0 {
			// Never ask for more than one byte past the limit.
			if rem := maxSize - w.n + 1; rem < int64(len(chunk)) {
				chunk = chunk[:rem]
			}
		}
		n, rerr := r.Read(chunk)
		if n > 0 {
			if maxSize >= 0 && w.n+int64(n) > maxSize {
				return Ref{}, nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxSize)
			}
			if _, err := w.Write(chunk[:n]); err != nil {
				return Ref{}, nil, err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return Ref{}, nil, fmt.Errorf("blob: read: %w", rerr)
		}
	}
	return w.commit(true)
}

// Open opens a committed blob for reading and returns its size. It returns
// ErrNotFound if this node has no such blob. The open file stays readable
// even if the blob is removed meanwhile.
func (s *Store) Open(sum [32]byte) (*os.File, int64, error) {
	_, p := s.paths(sum)
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("%w: %x", ErrNotFound, sum)
		}
		return nil, 0, fmt.Errorf("blob: open %x: %w", sum, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("blob: open %x: %w", sum, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %x", ErrNotFound, sum)
	}
	return f, fi.Size(), nil
}

// Has reports whether this node holds a committed blob with that digest.
func (s *Store) Has(sum [32]byte) bool {
	_, p := s.paths(sum)
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// Committed returns when the blob was committed (its file's modification
// time), or ErrNotFound.
func (s *Store) Committed(sum [32]byte) (time.Time, error) {
	_, p := s.paths(sum)
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return time.Time{}, fmt.Errorf("%w: %x", ErrNotFound, sum)
	}
	return fi.ModTime(), nil
}

// Pin protects a digest from Remove until the returned function is called.
// Pins are counted; calling the returned function more than once has no
// further effect.
func (s *Store) Pin(sum [32]byte) (unpin func()) {
	s.mu.Lock()
	s.pins[sum]++
	s.mu.Unlock()
	return s.unpinFunc(sum)
}

func (s *Store) unpinFunc(sum [32]byte) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.pins[sum] <= 1 {
				delete(s.pins, sum)
			} else {
				s.pins[sum]--
			}
			s.mu.Unlock()
		})
	}
}

// Remove deletes a blob if it is not pinned and stillUnreferenced() returns
// true; it reports whether it deleted it. stillUnreferenced runs under the
// store's lock (Pin, Commit and other Removes wait for it), so it must be
// quick and must not call back into the Store. A missing blob is not an
// error (removed is false).
func (s *Store) Remove(sum [32]byte, stillUnreferenced func() bool) (removed bool, err error) {
	if stillUnreferenced == nil {
		return false, errors.New("blob: remove: nil stillUnreferenced")
	}
	dir, p := s.paths(sum)
	s.mu.Lock()
	if s.pins[sum] > 0 || !stillUnreferenced() {
		s.mu.Unlock()
		return false, nil
	}
	err = os.Remove(p)
	s.mu.Unlock()
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blob: remove %x: %w", sum, err)
	}
	if err := syncDir(dir); err != nil {
		return true, fmt.Errorf("blob: remove %x: %w", sum, err)
	}
	return true, nil
}

// Walk calls fn for every committed blob, in digest order, and stops at the
// first error fn returns. Files that are not blobs (wrong name or place) are
// skipped. Blobs committed or removed during the walk may or may not be seen.
func (s *Store) Walk(fn func(sum [32]byte, size int64) error) error {
	l1, err := readDir(s.objs)
	if err != nil {
		return fmt.Errorf("blob: walk: %w", err)
	}
	for _, a := range l1 {
		if !a.IsDir() || !isHex(a.Name(), 2) {
			continue
		}
		ents, err := readDir(filepath.Join(s.objs, a.Name()))
		if err != nil {
			return fmt.Errorf("blob: walk: %w", err)
		}
		for _, e := range ents {
			name := e.Name()
			if !e.Type().IsRegular() || !isHex(name, 64) || name[:2] != a.Name() {
				continue
			}
			var sum [32]byte
			hex.Decode(sum[:], []byte(name))
			fi, err := e.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // removed meanwhile
				}
				return fmt.Errorf("blob: walk: %w", err)
			}
			if err := fn(sum, fi.Size()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Verify re-hashes a blob and returns ErrCorrupt if its content does not
// match its digest, ErrNotFound if it is missing.
func (s *Store) Verify(sum [32]byte) error {
	f, _, err := s.Open(sum)
	if err != nil {
		return err
	}
	defer f.Close()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	h := sha256.New()
	// Hide f's WriterTo so that the pooled buffer is used.
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, *bp); err != nil {
		return fmt.Errorf("blob: verify %x: %w", sum, err)
	}
	var got [32]byte
	h.Sum(got[:0])
	if got != sum {
		return fmt.Errorf("%w: %x hashes to %x", ErrCorrupt, sum, got)
	}
	return nil
}

// readDir is os.ReadDir that treats a directory removed meanwhile as empty.
func readDir(d string) ([]os.DirEntry, error) {
	ents, err := os.ReadDir(d)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return ents, err
}

// isHex reports whether s is n lower-case hex digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func syncDir(d string) error {
	f, err := os.Open(d)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", d, err)
	}
	return nil
}
