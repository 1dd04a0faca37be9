package s3

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
)

// openObject returns a reader of length bytes of obj from offset start,
// reading its blobs in order. Files are opened as the reader reaches them.
func (h *Handler) openObject(obj *meta.ObjectMeta, start, length int64) (io.ReadCloser, error) {
	or := &objectReader{blobs: h.blobs, fetch: h.fetch, repair: h.repair, stream: h.stream, log: h.log, remaining: length}
	for _, p := range obj.Parts {
		if start >= p.Size {
			start -= p.Size
			continue
		}
		or.parts = append(or.parts, partRange{sum: p.ID, size: p.Size, off: start})
		start = 0
	}
	if in := obj.Inline; in != nil && length > 0 && start < in.Size {
		// The inline tail, which the caller checked (checkInline).
		if int64(len(in.Data)) != in.Size {
			return nil, s3err.Errorf(s3err.InternalError, "the object's inline data was not read")
		}
		or.parts = append(or.parts, partRange{inline: in.Data, size: in.Size, off: start})
	}
	// Fail before the status line if the first blob is missing.
	if length > 0 {
		if err := or.next(); err != nil {
			return nil, err
		}
	}
	return or, nil
}

type partRange struct {
	sum    [32]byte
	size   int64
	off    int64
	inline []byte // the bytes of an inline tail (sum is unused then)
}

// objectReader reads an object's parts in order: each from the local blob
// store, or, when a blob is missing here, from a peer: fetched into the
// store (fetch), or, when this node has no room for it (at its free-space
// reserve), streamed from a peer without keeping it (stream). A local blob
// whose block fails its checksum (blob.ErrCorrupt; no byte of that block
// was read) is repaired from a peer (repair) and read on from the good
// copy, once per part; if that fails, the read fails.
type objectReader struct {
	blobs     Blobs
	fetch     func(sum [32]byte, size int64) error                  // from a peer, kept
	repair    func(sum [32]byte, size int64) error                  // a corrupt local copy from a peer
	stream    func(sum [32]byte, size int64) (io.ReadCloser, error) // from a peer, not kept
	log       *slog.Logger
	parts     []partRange
	cur       io.Reader
	c         io.Closer // what cur reads from
	remaining int64

	part     partRange // the part cur reads
	local    bool      // cur reads the local blob store
	read     int64     // bytes of part read through cur
	repaired bool      // part was repaired already
}

func (o *objectReader) next() error {
	if o.c != nil {
		o.c.Close()
		o.c = nil
	}
	if len(o.parts) == 0 {
		return io.ErrUnexpectedEOF
	}
	p := o.parts[0]
	o.parts = o.parts[1:]
	if p.inline != nil {
		o.part, o.read, o.repaired, o.local = p, 0, false, false
		o.cur = bytes.NewReader(p.inline[p.off:])
		return nil
	}
	o.part, o.read, o.repaired, o.local = p, 0, false, false
	return o.openPart()
}

// openPart opens o.part from its offset plus what was read of it.
func (o *objectReader) openPart() error {
	p := o.part
	p.off += o.read
	f, size, err := o.openLocal(p)
	if errors.Is(err, blob.ErrCorrupt) {
		if rerr := o.repairPart(err); rerr != nil {
			return rerr
		}
		f, size, err = o.openLocal(p)
	}
	if errors.Is(err, blob.ErrNotFound) && o.fetch != nil {
		ferr := o.fetch(p.sum, p.size)
		switch {
		case ferr == nil:
			f, size, err = o.openLocal(p)
		case disk.IsNoSpace(ferr) && o.stream != nil:
			return o.streamPart(p, ferr)
		case !errors.Is(ferr, blob.ErrNotFound):
			// Not here, and the peers that may have it did not answer
			// (cut off, stopped, busy): the client may retry.
			return s3err.Errorf(s3err.ServiceUnavailable, "The object data is not on this node and no other node could provide it now; please retry.").
				WithCause(fmt.Errorf("%w; fetching it from a peer: %v", err, ferr))
		default:
			err = fmt.Errorf("%w; fetching it from a peer: %v", err, ferr)
		}
	}
	if err != nil {
		return s3err.Errorf(s3err.InternalError, "object data %s is missing on this node", hex.EncodeToString(p.sum[:8])).WithCause(err)
	}
	o.c = f
	o.cur = io.NewSectionReader(f, p.off, size-p.off)
	o.local = true
	return nil
}

// openLocal opens the local blob of part p and checks its first block
// now, so that a GET whose first block is corrupt is repaired before its
// status line. A blob whose size is not the part's (its metadata's) is
// corrupt too: a copy that a faulty peer sent, which its own checksums
// vouch for.
func (o *objectReader) openLocal(p partRange) (*blob.Reader, int64, error) {
	f, size, err := o.blobs.Open(p.sum)
	if err != nil {
		return nil, 0, err
	}
	if size != p.size {
		f.Close()
		return nil, 0, fmt.Errorf("blob %x: %w: %d bytes, its object's metadata says %d", p.sum[:8], blob.ErrCorrupt, size, p.size)
	}
	if err := f.Verify(p.off); err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, size, nil
}

// repairPart repairs the local copy of o.part, which failed with why.
func (o *objectReader) repairPart(why error) error {
	sum := o.part.sum
	if o.repaired {
		return s3err.Errorf(s3err.InternalError, "object data %s is corrupt on this node and stayed so after a repair", hex.EncodeToString(sum[:8])).WithCause(why)
	}
	o.repaired = true
	if o.log == nil || o.repair == nil {
		return s3err.Errorf(s3err.InternalError, "object data %s is corrupt on this node", hex.EncodeToString(sum[:8])).WithCause(why)
	}
	o.log.Warn("a blob failed its block checksum; repairing it from a peer", "blob", hex.EncodeToString(sum[:]), "err", why)
	if err := o.repair(sum, o.part.size); err != nil {
		o.log.Error("could not repair a corrupt blob", "blob", hex.EncodeToString(sum[:]), "err", err)
		return s3err.Errorf(s3err.InternalError, "object data %s is corrupt on this node and no other node could provide a good copy", hex.EncodeToString(sum[:8])).
			WithCause(fmt.Errorf("%w; repairing it from a peer: %v", why, err))
	}
	return nil
}

// streamPart reads part p from a peer without keeping it: this node could
// not fetch it for lack of space (why). The bytes before p.off are read
// and dropped (the peer hashes the whole blob as it streams; see
// Replicator.Stream).
func (o *objectReader) streamPart(p partRange, why error) error {
	rc, err := o.stream(p.sum, p.size)
	if err == nil && p.off > 0 {
		if _, err = io.CopyN(io.Discard, rc, p.off); err != nil {
			rc.Close()
		}
	}
	if err != nil {
		return s3err.Errorf(s3err.ServiceUnavailable, "This node is at its free-space reserve and could not read the object data from another node; please retry.").
			WithCause(fmt.Errorf("%w; streaming it from a peer: %v", why, err))
	}
	o.c = rc
	o.cur = io.LimitReader(rc, p.size-p.off)
	o.local = false
	return nil
}

func (o *objectReader) Read(b []byte) (int, error) {
	if o.remaining <= 0 {
		return 0, io.EOF
	}
	for {
		if o.cur == nil {
			if err := o.next(); err != nil {
				return 0, err
			}
		}
		if int64(len(b)) > o.remaining {
			b = b[:o.remaining]
		}
		n, err := o.cur.Read(b)
		o.remaining -= int64(n)
		o.read += int64(n)
		if n > 0 && o.local && errors.Is(err, blob.ErrCorrupt) {
			return n, nil // good bytes before the bad block; it fails again next
		}
		if n == 0 && o.local && errors.Is(err, blob.ErrCorrupt) {
			// No byte of the bad block was returned: repair, then read
			// on from the good copy where this one stopped.
			o.c.Close()
			o.c, o.cur = nil, nil
			if err := o.repairPart(err); err != nil {
				return 0, err
			}
			if err := o.openPart(); err != nil {
				return 0, err
			}
			continue
		}
		if err == io.EOF {
			o.cur = nil
			err = nil
			if n == 0 {
				continue
			}
		}
		return n, err
	}
}

// WriteTo implements io.WriterTo, which fasthttp uses for a body stream:
// a local blob's bytes go to w straight from its verified block buffer
// (blob.Reader.Bytes), without the copy that Read makes; a corrupt block
// is repaired as in Read; inline and streamed parts go through Read.
func (o *objectReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	var buf []byte
	for o.remaining > 0 {
		if o.cur == nil {
			if err := o.next(); err != nil {
				return total, err
			}
		}
		if !o.local {
			if buf == nil {
				buf = make([]byte, 32<<10)
			}
			n, err := o.Read(buf)
			if n > 0 {
				k, werr := w.Write(buf[:n])
				total += int64(k)
				if werr != nil {
					return total, werr
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return total, err
			}
			continue
		}
		r := o.c.(*blob.Reader)
		off := o.part.off + o.read
		b, err := r.Bytes(off)
		if err == io.EOF {
			o.cur = nil // the part's end
			continue
		}
		if errors.Is(err, blob.ErrCorrupt) {
			o.c.Close()
			o.c, o.cur = nil, nil
			if err := o.repairPart(err); err != nil {
				return total, err
			}
			if err := o.openPart(); err != nil {
				return total, err
			}
			continue
		}
		if err != nil {
			return total, err
		}
		if int64(len(b)) > o.remaining {
			b = b[:o.remaining]
		}
		k, werr := w.Write(b)
		total += int64(k)
		o.remaining -= int64(k)
		o.read += int64(k)
		// Keep Read's view in step, should a Read follow.
		o.cur = io.NewSectionReader(r, off+int64(k), r.Size()-off-int64(k))
		if werr != nil {
			return total, werr
		}
	}
	return total, nil
}

func (o *objectReader) Close() error {
	if o.c != nil {
		err := o.c.Close()
		o.c = nil
		return err
	}
	return nil
}
