package blob

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
)

// blockPool holds the block buffers of Readers of blobs of at least one
// full block.
var blockPool = sync.Pool{New: func() any { b := make([]byte, BlockSize); return &b }}

// Reader reads a blob's content and verifies it block by block: it reads a
// whole block, checks its CRC32C, and only then returns bytes of it. A
// block that fails gives an error wrapping ErrCorrupt and no byte of it;
// the bytes of earlier blocks were good. A range read (ReadAt, Seek)
// verifies only the blocks it touches. It keeps one block in memory (at
// most BlockSize bytes, pooled). It is not safe for concurrent use.
type Reader struct {
	f   *os.File
	sum [32]byte
	t   trailer
	pre []byte  // a small blob's content, read by Open, not verified yet
	bp  *[]byte // pooled buffer (blobs of a full block or more)
	buf []byte  // the loaded block's bytes, verified
	blk int64   // index of the loaded block; -1: none
	off int64   // Read's position
	err error   // sticky: closed
}

// newReader returns a Reader of f; pre is the content of a small blob
// that Open read with its trailer (nil: read blocks as they are needed).
func newReader(f *os.File, sum [32]byte, t trailer, pre []byte) *Reader {
	r := &Reader{f: f, sum: sum, t: t, blk: -1, pre: pre}
	switch {
	case pre != nil || t.size == 0:
		// no buffer of its own
	case t.size >= t.blockSize && t.blockSize == BlockSize:
		r.bp = blockPool.Get().(*[]byte)
		r.buf = (*r.bp)[:0]
	default:
		r.buf = make([]byte, 0, min(t.size, t.blockSize))
	}
	return r
}

// Size returns the content size.
func (r *Reader) Size() int64 { return r.t.size }

// CRC32C returns the CRC32C of the whole content, as the blob's trailer
// records it.
func (r *Reader) CRC32C() uint32 { return r.t.crc }

// load makes block i the loaded block, verifying it.
func (r *Reader) load(i int64) error {
	if r.err != nil {
		return r.err
	}
	if i == r.blk {
		return nil
	}
	start := i * r.t.blockSize
	n := min(r.t.blockSize, r.t.size-start)
	r.blk = -1
	if r.pre != nil { // a small blob: its one block, read by Open
		r.buf = r.pre
	} else {
		r.buf = r.buf[:n]
		if _, err := r.f.ReadAt(r.buf, start); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: %x: file ends inside block %d", ErrCorrupt, r.sum, i)
			}
			return fmt.Errorf("blob: read %x: %w", r.sum, err)
		}
	}
	if got := crc32.Checksum(r.buf, castagnoli); got != r.t.blocks[i] {
		return fmt.Errorf("%w: %x: block %d (bytes %d-%d) has CRC32C %08x, want %08x", ErrCorrupt, r.sum, i, start, start+n-1, got, r.t.blocks[i])
	}
	r.blk = i
	return nil
}

// ReadAt implements io.ReaderAt, verifying the blocks it reads from.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("blob: negative offset")
	}
	n := 0
	for len(p) > 0 {
		if off >= r.t.size {
			return n, io.EOF
		}
		i := off / r.t.blockSize
		if err := r.load(i); err != nil {
			return n, err
		}
		k := copy(p, r.buf[off-i*r.t.blockSize:])
		n += k
		off += int64(k)
		p = p[k:]
	}
	return n, nil
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, r.err
	}
	if r.off >= r.t.size {
		return 0, io.EOF
	}
	// Return at most the rest of one block, so that a block that fails
	// later does not hold back good bytes.
	i := r.off / r.t.blockSize
	if err := r.load(i); err != nil {
		return 0, err
	}
	k := copy(p, r.buf[r.off-i*r.t.blockSize:])
	r.off += int64(k)
	return k, nil
}

// WriteTo implements io.WriterTo: it writes the content from the current
// position to w, one verified block at a time.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.off < r.t.size {
		i := r.off / r.t.blockSize
		if err := r.load(i); err != nil {
			return total, err
		}
		k, err := w.Write(r.buf[r.off-i*r.t.blockSize:])
		r.off += int64(k)
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Bytes returns the verified bytes of the block that holds off, from off
// to the end of that block, without copying them: they stay valid until
// the next call on r and must not be modified. At or past the end it
// returns nil and io.EOF.
func (r *Reader) Bytes(off int64) ([]byte, error) {
	if off < 0 {
		return nil, errors.New("blob: negative offset")
	}
	if off >= r.t.size {
		if r.err != nil {
			return nil, r.err
		}
		return nil, io.EOF
	}
	i := off / r.t.blockSize
	if err := r.load(i); err != nil {
		return nil, err
	}
	return r.buf[off-i*r.t.blockSize:], nil
}

// Seek implements io.Seeker.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.t.size
	default:
		return 0, errors.New("blob: seek: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("blob: seek: negative position")
	}
	r.off = offset
	return offset, nil
}

// Verify reads and checks the block that holds offset off (a GET calls it
// before it sends its status line, so that a corrupt first block is
// repaired, not cut off). Past the end it does nothing.
func (r *Reader) Verify(off int64) error {
	if off < 0 || off >= r.t.size {
		return r.err
	}
	return r.load(off / r.t.blockSize)
}

// Close closes the file and returns the block buffer to its pool.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if r.bp != nil {
		blockPool.Put(r.bp)
		r.bp = nil
	}
	r.buf, r.pre = nil, nil
	r.blk = -1
	r.err = errReaderClosed
	return err
}

var errReaderClosed = errors.New("blob: reader closed")
