package blob

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// BlockSize is the size of the blocks a blob is checked in (the last block
// of a blob may be shorter). A reader verifies a whole block before it
// returns any byte of it.
const BlockSize = 1 << 20

// The trailer at the end of every blob file (see "File format" in doc.go).
const (
	footerSize   = 28
	minBlockSize = 4 << 10
	maxBlockSize = 64 << 20
)

// footerMagic opens the footer; its last byte is the version of the trailer.
var footerMagic = [8]byte{'S', '4', 'B', 'L', 'O', 'C', 'K', 1}

// errTrailer wraps every reason a trailer does not parse; it is an
// ErrCorrupt.
var errTrailer = fmt.Errorf("%w: bad block trailer", ErrCorrupt)

// trailer is the parsed trailer of a blob file.
type trailer struct {
	blockSize int64
	size      int64    // content bytes
	crc       uint32   // CRC32C of the whole content
	blocks    []uint32 // CRC32C of each block
}

// numBlocks is the number of blocks of size bytes.
func numBlocks(size, blockSize int64) int64 {
	return (size + blockSize - 1) / blockSize
}

// trailerSize is the size of the trailer of a blob of size bytes.
func trailerSize(size, blockSize int64) int64 {
	return 4*numBlocks(size, blockSize) + footerSize
}

// fileSize is the size of the file that holds a blob of size bytes.
func fileSize(size int64) int64 { return size + trailerSize(size, BlockSize) }

// contentSize is the inverse of fileSize (for blocks of BlockSize): the
// content bytes of a file of n bytes, or -1 if no content has that file
// size.
func contentSize(n int64) int64 {
	x := n - footerSize
	if x < 0 {
		return -1
	}
	k := (x + BlockSize + 3) / (BlockSize + 4)
	s := x - 4*k
	if s < 0 || fileSize(s) != n {
		return -1
	}
	return s
}

// appendTrailer appends the trailer of a blob with these block CRCs, size
// and whole-content CRC to b.
func appendTrailer(b []byte, blocks []uint32, size int64, crc uint32) []byte {
	start := len(b)
	for _, c := range blocks {
		b = binary.BigEndian.AppendUint32(b, c)
	}
	b = append(b, footerMagic[:]...)
	b = binary.BigEndian.AppendUint32(b, BlockSize)
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	b = binary.BigEndian.AppendUint32(b, crc)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// readTrailer reads and checks the trailer of a blob file of fileSize
// bytes. Any file that does not end in a well-formed trailer consistent
// with its size gives an error wrapping ErrCorrupt; read errors are
// returned as they are. It reads at most the trailer, so its memory is
// bounded by the file's size (4 bytes per block).
func readTrailer(r io.ReaderAt, fileSize int64) (trailer, error) {
	if fileSize < footerSize {
		return trailer{}, fmt.Errorf("%w: file of %d bytes is shorter than a footer", errTrailer, fileSize)
	}
	var ft [footerSize]byte
	if _, err := r.ReadAt(ft[:], fileSize-footerSize); err != nil {
		return trailer{}, readErr(err)
	}
	if [8]byte(ft[:8]) != footerMagic {
		return trailer{}, fmt.Errorf("%w: no footer magic", errTrailer)
	}
	bs := int64(binary.BigEndian.Uint32(ft[8:]))
	if bs < minBlockSize || bs > maxBlockSize || bs&(bs-1) != 0 {
		return trailer{}, fmt.Errorf("%w: block size %d", errTrailer, bs)
	}
	u := binary.BigEndian.Uint64(ft[12:])
	if u > uint64(fileSize) {
		return trailer{}, fmt.Errorf("%w: content size %d in a file of %d bytes", errTrailer, u, fileSize)
	}
	size := int64(u)
	if size+trailerSize(size, bs) != fileSize {
		return trailer{}, fmt.Errorf("%w: content size %d does not fit a file of %d bytes", errTrailer, size, fileSize)
	}
	n := numBlocks(size, bs)
	raw := make([]byte, 4*n+footerSize)
	copy(raw[4*n:], ft[:])
	if n > 0 {
		if _, err := r.ReadAt(raw[:4*n], size); err != nil {
			return trailer{}, readErr(err)
		}
	}
	if got, want := crc32.Checksum(raw[:len(raw)-4], castagnoli), binary.BigEndian.Uint32(ft[24:]); got != want {
		return trailer{}, fmt.Errorf("%w: trailer CRC32C %08x, want %08x", errTrailer, got, want)
	}
	t := trailer{blockSize: bs, size: size, crc: binary.BigEndian.Uint32(ft[20:]), blocks: make([]uint32, n)}
	for i := range t.blocks {
		t.blocks[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	return t, nil
}

// readErr turns a short read of a file (it shrank) into ErrCorrupt.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: file shorter than its trailer says", errTrailer)
	}
	return err
}

// blockSummer computes the block CRCs and the whole CRC of a stream.
type blockSummer struct {
	crc    uint32   // of everything so far
	cur    uint32   // of the current block
	curN   int64    // bytes in the current block
	blocks []uint32 // of the complete blocks
}

func (b *blockSummer) write(p []byte) {
	b.crc = crc32.Update(b.crc, castagnoli, p)
	for len(p) > 0 {
		k := min(int64(len(p)), BlockSize-b.curN)
		b.cur = crc32.Update(b.cur, castagnoli, p[:k])
		b.curN += k
		p = p[k:]
		if b.curN == BlockSize {
			b.blocks = append(b.blocks, b.cur)
			b.cur, b.curN = 0, 0
		}
	}
}

// sums returns the CRCs of every block, the last partial one included.
func (b *blockSummer) sums() []uint32 {
	if b.curN > 0 {
		return append(b.blocks[:len(b.blocks):len(b.blocks)], b.cur)
	}
	return b.blocks
}
