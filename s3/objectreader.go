package s3

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
)

// openObject returns a reader of length bytes of obj from offset start,
// reading its blobs in order. Files are opened as the reader reaches them.
func (h *Handler) openObject(obj *meta.ObjectMeta, start, length int64) (io.ReadCloser, error) {
	or := &objectReader{blobs: h.blobs, fetch: h.fetch, stream: h.stream, remaining: length}
	for _, p := range obj.Parts {
		if start >= p.Size {
			start -= p.Size
			continue
		}
		or.parts = append(or.parts, partRange{sum: p.SHA256, size: p.Size, off: start})
		start = 0
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
	sum  [32]byte
	size int64
	off  int64
}

// objectReader reads an object's parts in order: each from the local blob
// store, or, when a blob is missing here, from a peer: fetched into the
// store (fetch), or, when this node has no room for it (at its free-space
// reserve), streamed from a peer without keeping it (stream).
type objectReader struct {
	blobs     Blobs
	fetch     func(sum [32]byte, size int64) error                  // from a peer, kept
	stream    func(sum [32]byte, size int64) (io.ReadCloser, error) // from a peer, not kept
	parts     []partRange
	cur       io.Reader
	c         io.Closer // what cur reads from
	remaining int64
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
	f, size, err := o.blobs.Open(p.sum)
	if errors.Is(err, blob.ErrNotFound) && o.fetch != nil {
		ferr := o.fetch(p.sum, p.size)
		switch {
		case ferr == nil:
			f, size, err = o.blobs.Open(p.sum)
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

func (o *objectReader) Close() error {
	if o.c != nil {
		err := o.c.Close()
		o.c = nil
		return err
	}
	return nil
}
