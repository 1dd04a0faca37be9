package blob

import (
	"sync"
	"unsafe"
)

// Direct writes. A blob's content bytes are written in whole chunks of
// directChunk bytes, each from a buffer aligned to directAlign, through a
// file descriptor switched to direct I/O (O_DIRECT on Linux) where the
// file system allows it: the bytes go from the buffer to the device
// without a copy into the page cache, which was the largest cost of a
// 1 MiB PUT on the machines of BENCHMARKS.md ("Blobs named by ID, direct
// writes": PUT 1 MiB 37-53 % cheaper). The price: a blob just written is
// not in the page cache, and reading it back costs more in the kernel's
// read path for as long as it stays cached (GET 1 MiB 18-39 % dearer
// there); a blob read after the page cache dropped it costs the same
// either way. Options.BufferedWrites (s4 server --buffered-writes) turns
// direct writes off for working sets that stay in memory from their write
// on. Objects are mostly written once and read later, or never, which is
// what direct writes are for.
//
// Chunks are 256 KiB, the size of the body buffer in front of the Writer:
// as cheap as 1 MiB chunks (BENCHMARKS.md), and every blob being written
// holds no more than that (a slow upload too).
//
// A blob smaller than one chunk, and the last partial chunk and the
// trailer of every blob, are written through the page cache (direct I/O
// needs aligned lengths), after direct I/O is turned off on the
// descriptor; so are blobs on a file system that refuses direct I/O
// (EINVAL, at the fcntl or at the first write: nothing was written, the
// Writer writes buffered from then on). Durability is the same either
// way: Commit fsyncs the file (which also flushes the device's cache for
// the direct writes) before the rename.
const (
	directChunk = 256 << 10
	directAlign = 4096
)

// directBufs holds aligned directChunk-byte buffers.
var directBufs = sync.Pool{New: func() any { return alignedBuf(directChunk) }}

// alignedBuf returns n bytes whose first byte is directAlign-aligned.
func alignedBuf(n int) *[]byte {
	b := make([]byte, n+directAlign)
	off := int((directAlign - uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign) % directAlign)
	b = b[off : off+n : off+n]
	return &b
}

// bufferWrite takes p into the Writer's chunk buffer and writes every
// chunk that fills up, directly where it can. It is Write's path for the
// content bytes.
func (w *Writer) bufferWrite(p []byte) error {
	if w.dbuf == nil {
		w.dbuf = directBufs.Get().(*[]byte)
	}
	buf := *w.dbuf
	for len(p) > 0 {
		k := copy(buf[w.dn:], p)
		w.dn += k
		p = p[k:]
		if w.dn == len(buf) {
			if err := w.writeChunk(buf); err != nil {
				return err
			}
			w.dn = 0
		}
	}
	return nil
}

// writeChunk writes one whole, aligned chunk at the file's current (aligned)
// offset: directly unless the file system refused direct I/O.
func (w *Writer) writeChunk(b []byte) error {
	if !w.noDirect && !w.direct {
		if err := setDirect(w.f, true); err != nil {
			w.noDirect = true
		} else {
			w.direct = true
		}
	}
	n, err := w.f.Write(b)
	if err != nil && n == 0 && w.direct && isEINVAL(err) {
		// Direct I/O refused on the write itself, which wrote nothing:
		// buffered from now on. (A write cut short after some bytes is
		// an error like any other: writing b again would repeat them.)
		if serr := setDirect(w.f, false); serr != nil {
			return serr
		}
		w.direct, w.noDirect = false, true
		_, err = w.f.Write(b)
	}
	return err
}

// flushTail writes the bytes still in the chunk buffer through the page
// cache (direct I/O off: their length need not be aligned) and gives the
// buffer back.
func (w *Writer) flushTail() error {
	if w.direct {
		if err := setDirect(w.f, false); err != nil {
			return err
		}
		w.direct = false
	}
	if w.dbuf == nil {
		return nil
	}
	var err error
	if w.dn > 0 {
		_, err = w.f.Write((*w.dbuf)[:w.dn])
	}
	w.releaseBuf()
	return err
}

func (w *Writer) releaseBuf() {
	if w.dbuf != nil {
		directBufs.Put(w.dbuf)
		w.dbuf, w.dn = nil, 0
	}
}
