package blob

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

var (
	// ErrNotFound: no committed blob with that ID on this node.
	ErrNotFound = errors.New("blob: not found")
	// ErrTooLarge: Put read more than maxSize bytes.
	ErrTooLarge = errors.New("blob: too large")
	// ErrCorrupt: the file's content does not match its checksums (a
	// block's CRC32C, a damaged trailer), or a copy does not match the
	// size and CRC32C it was sent with.
	ErrCorrupt = errors.New("blob: corrupt")

	errClosed = errors.New("blob: writer already committed or aborted")
)

const (
	bufSize = 256 << 10
	// smallFile is the largest blob file Open reads whole at once.
	smallFile = 64 << 10
	dirPerm   = 0o700
	tmpName   = "tmp"
	objsName  = "blocks"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Ref identifies a committed blob.
type Ref struct {
	ID     [32]byte // the blob's name (see "Names" in the package documentation)
	Size   int64
	MD5    [16]byte // what S3 reports as the ETag of a single-part object
	CRC32C uint32   // Castagnoli CRC of the content; checks copies to peers
	// NoCRC: CRC32C is not known (a fetch from a node of blob store format
	// 2, which does not send it); see CreateCopyOf.
	NoCRC bool
}

// Hex returns the lower-case hex of the ID (the blob's file name).
func (r Ref) Hex() string { return hex.EncodeToString(r.ID[:]) }

// MD5Hex returns the lower-case hex of the MD5.
func (r Ref) MD5Hex() string { return hex.EncodeToString(r.MD5[:]) }

// Store is the blob store of one node. It is safe for concurrent use.
type Store struct {
	dir  string
	tmp  string
	objs string

	mu   sync.Mutex // serialises Pin/unpin, Remove and the rename step of Commit
	pins map[[32]byte]int

	migrated Migration // what Open found (format.go)
	log      *slog.Logger
	buffered bool // Options.BufferedWrites
}

// Open opens (creating if needed) the store in dir and removes any temp files
// left behind by a crash. Only one Store may use a directory at a time.
func Open(dir string) (*Store, error) { return OpenWith(dir, Options{}) }

// Options are what OpenWith takes besides the directory.
type Options struct {
	// Logger receives the progress of a migration from an earlier format
	// (a line when it starts, one every 10 s, one at the end); nil: none.
	Logger *slog.Logger
	// BufferedWrites writes every blob through the page cache, never with
	// direct I/O (direct.go).
	BufferedWrites bool
}

// OpenWith is Open with options.
func OpenWith(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("blob: empty directory name")
	}
	s := &Store{
		dir:  dir,
		tmp:  filepath.Join(dir, tmpName),
		objs: filepath.Join(dir, objsName),
		pins: make(map[[32]byte]int),
		log:  opts.Logger,

		buffered: opts.BufferedWrites,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
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
	if err := s.checkFormat(); err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("blob: open: %w", err)
	}
	return s, nil
}

// prepareFanout creates the 256 fan-out directories that are missing and
// fsyncs their parent if it created any.
func (s *Store) prepareFanout() error {
	created := false
	for i := 0; i < 256; i++ {
		d := filepath.Join(s.objs, fmt.Sprintf("%02x", i))
		err := os.Mkdir(d, dirPerm)
		switch {
		case err == nil:
			created = true
		case !errors.Is(err, fs.ErrExist):
			return err
		}
	}
	if created {
		return syncDir(s.objs)
	}
	return nil
}

// paths returns the fan-out directory and the file name of a blob ID.
func (s *Store) paths(id [32]byte) (dir, file string) {
	var h [64]byte
	hex.Encode(h[:], id[:])
	dir = filepath.Join(s.objs, string(h[:2]))
	return dir, filepath.Join(dir, string(h[:]))
}

// Create starts a new blob under a new random ID: a temp file under
// dir/tmp. The Writer computes the MD5 (the ETag) and the CRC32Cs as the
// bytes arrive, not the SHA-256: a client's SHA-256 is checked where the
// body is read (package sig). The caller must end it with Commit or Abort
// (defer w.Abort() is safe after Commit).
func (s *Store) Create() (*Writer, error) {
	var id [32]byte
	rand.Read(id[:]) // never fails (crypto/rand)
	w, err := s.create(id)
	if err == nil {
		w.md5 = md5.New()
	}
	return w, err
}

// create opens the temp file of a blob to be committed as id, hashing
// nothing but the CRC32Cs.
func (s *Store) create(id [32]byte) (*Writer, error) {
	f, err := os.CreateTemp(s.tmp, "w-*")
	if err != nil {
		return nil, fmt.Errorf("blob: create: %w", err)
	}
	return &Writer{s: s, f: f, name: f.Name(), id: id}, nil
}

// CreateCopyOf is Create for a copy of the blob want that another node
// holds (see "Copies" in the package documentation): the Writer computes
// only the CRC32C, and Commit refuses with [ErrCorrupt] unless the bytes
// written have want's size and CRC32C; it commits them under want.ID and
// returns want. If the store holds want.ID already, Commit replaces it:
// this is also how a corrupt local copy is repaired. A want with NoCRC is
// a blob of format 2, named by the SHA-256 of its content (a node of the
// previous release sends no CRC32C): the Writer computes the SHA-256, and
// Commit refuses unless the content hashes to want.ID.
func (s *Store) CreateCopyOf(want Ref) (*Writer, error) {
	w, err := s.create(want.ID)
	if err != nil {
		return nil, err
	}
	w.want = &want
	if want.NoCRC {
		w.sha = sha256.New()
	}
	return w, nil
}

// Writer writes one blob. It hashes the bytes as they arrive and writes them
// to the temp file in whole chunks of at most directChunk bytes (direct.go),
// or straight through with Options.BufferedWrites. It is not safe for
// concurrent use.
type Writer struct {
	s    *Store
	f    *os.File
	name string
	id   [32]byte    // the name it commits under
	sha  hash.Hash   // a copy named by its SHA-256 (Ref.NoCRC)
	md5  hash.Hash   // nil for copies
	sums blockSummer // block CRCs and the whole CRC32C
	want *Ref        // CreateCopyOf: what the bytes must match
	// The chunk buffer of direct writes (direct.go): dn bytes of dbuf
	// wait to be written; direct: O_DIRECT is on; noDirect: refused here.
	dbuf             *[]byte
	dn               int
	direct, noDirect bool
	n                int64
	err              error // sticky write error
	done             bool  // committed or aborted
}

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	// The buffer takes all of p or the Writer is dead (a sticky error):
	// p is hashed whole either way.
	var err error
	if w.s.buffered {
		_, err = w.f.Write(p)
	} else {
		err = w.bufferWrite(p)
	}
	w.sums.write(p)
	if w.sha != nil {
		w.sha.Write(p)
	}
	if w.md5 != nil {
		w.md5.Write(p)
	}
	w.n += int64(len(p))
	if err != nil {
		w.err = fmt.Errorf("blob: write: %w", err)
		return 0, w.err
	}
	return len(p), nil
}

// Size returns the number of bytes written so far.
func (w *Writer) Size() int64 { return w.n }

// Sum returns the ID the blob will have and the digests and size of the
// bytes written so far, so that a caller can check them against what the
// client sent before it commits. A copy's MD5 is zero (not computed).
func (w *Writer) Sum() Ref {
	r := Ref{ID: w.id}
	if w.md5 != nil {
		w.md5.Sum(r.MD5[:0])
	}
	r.CRC32C = w.sums.crc
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
	w.releaseBuf()
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	os.Remove(w.name)
}

// Commit makes the blob durable under its ID and returns its Ref (see the
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

// CommitPinned is Commit, and pins the ID in the same critical section in
// which the blob becomes visible, so that
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
	if w.want != nil && w.want.NoCRC {
		var got [32]byte
		if w.sha.Sum(got[:0]); w.n != w.want.Size || got != w.want.ID {
			w.discard()
			return Ref{}, nil, fmt.Errorf("blob: commit: copy of %x: %w: %d bytes hashing to %x, want %d bytes hashing to its name",
				w.want.ID[:8], ErrCorrupt, w.n, got[:8], w.want.Size)
		}
		w.want.CRC32C, w.want.NoCRC = w.sums.crc, false
	} else if w.want != nil && (w.n != w.want.Size || w.sums.crc != w.want.CRC32C) {
		w.discard()
		return Ref{}, nil, fmt.Errorf("blob: commit: copy of %x: %w: %d bytes with CRC32C %08x, want %d bytes with %08x",
			w.want.ID[:8], ErrCorrupt, w.n, w.sums.crc, w.want.Size, w.want.CRC32C)
	}
	if err := w.flushTail(); err != nil {
		w.discard()
		return Ref{}, nil, fmt.Errorf("blob: commit: write: %w", err)
	}
	if _, err := w.f.Write(appendTrailer(nil, w.sums.sums(), w.n, w.sums.crc)); err != nil {
		w.discard()
		return Ref{}, nil, fmt.Errorf("blob: commit: writing the block trailer: %w", err)
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
	dir, final := s.paths(ref.ID)

	s.mu.Lock()
	// A new blob's random ID names no existing file. A copy's may (a
	// repair, a copy sent twice): the rename replaces it atomically; the
	// new file was just checked, the old one may have rotted since;
	// readers keep the file they opened.
	if err := os.Rename(w.name, final); err != nil {
		s.mu.Unlock()
		w.discard()
		return Ref{}, nil, fmt.Errorf("blob: commit: %w", err)
	}
	if pin {
		s.pins[ref.ID]++
	}
	s.mu.Unlock()

	w.done = true
	unpin := func() {}
	if pin {
		unpin = s.unpinFunc(ref.ID)
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
// wrapped. Memory use is two fixed-size buffers (the read buffer and the
// Writer's chunk), whatever the size of r.
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

// Open opens a committed blob for reading and returns its content size. It
// returns ErrNotFound if this node has no such blob, and an error wrapping
// ErrCorrupt if its block trailer is damaged (the whole blob is then
// unreadable here: repair it). The Reader verifies every block before it
// returns bytes of it. The open file stays readable even if the blob is
// removed or replaced meanwhile.
func (s *Store) Open(sum [32]byte) (*Reader, int64, error) {
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
	if fi.Size() <= smallFile {
		// One read for content and trailer: a small blob's block is read
		// whole on its first use anyway.
		b := make([]byte, fi.Size())
		if _, err := f.ReadAt(b, 0); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("blob: open %x: %w", sum, readErr(err))
		}
		t, err := readTrailer(bytes.NewReader(b), fi.Size())
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("blob: open %x: %w", sum, err)
		}
		var pre []byte
		if len(t.blocks) <= 1 { // a foreign trailer may have small blocks
			pre = b[:t.size:t.size]
		}
		return newReader(f, sum, t, pre), t.size, nil
	}
	t, err := readTrailer(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("blob: open %x: %w", sum, err)
	}
	return newReader(f, sum, t, nil), t.size, nil
}

// Path returns the file that holds (or would hold) the blob sum: for
// operators and for tests that damage a blob on purpose. Read blobs with
// Open, which verifies them.
func (s *Store) Path(sum [32]byte) string {
	_, p := s.paths(sum)
	return p
}

// Has reports whether this node holds a committed blob with that ID.
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

// Pin protects a blob ID from Remove until the returned function is called.
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

// Walk calls fn for every committed blob and its content size, in ID order, and stops at the
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
			size := contentSize(fi.Size())
			if size < 0 {
				size = fi.Size() // not a whole blob: Open reports it corrupt
			}
			if err := fn(sum, size); err != nil {
				return err
			}
		}
	}
	return nil
}

// Verify reads a blob and checks every block against its CRC32C. It
// returns an error wrapping ErrCorrupt if a block or the
// trailer fails, ErrNotFound if the blob is missing.
func (s *Store) Verify(sum [32]byte) error {
	r, _, err := s.Open(sum)
	if err != nil {
		return err
	}
	defer r.Close()
	for i := range int64(len(r.t.blocks)) {
		if err := r.load(i); err != nil {
			return err
		}
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
