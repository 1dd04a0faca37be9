package s3

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
)

// Inline bodies (package meta, inline.go): a PUT, a part or a part copy of
// at most Config.InlineThreshold bytes travels inside its metadata event
// and is kept in the metadata store, with a CRC32C that is checked before
// any of its bytes is sent (GET, range GET, the source of a copy). A body
// that fails the check is never sent: the request reads a good copy of
// the same version from a peer (which repairs this node's copy too) and
// goes on with it, or, if no peer has one, answers 500 InternalError, and
// the node logs which object failed.

// storedBody is a request body once stored: inline, or a blob.
type storedBody struct {
	size   int64
	md5    [16]byte
	blob   *blob.Ref    // nil: inline
	inline *meta.Inline // the body, when inline
}

func (b *storedBody) etag() string { return `"` + hex.EncodeToString(b.md5[:]) + `"` }

// parts are the blob parts of an object of this one body.
func (b *storedBody) parts() []meta.BlobPart {
	if b.blob == nil {
		return nil
	}
	return []meta.BlobPart{{ID: b.blob.ID, Size: b.blob.Size}}
}

// errCreate marks the failure to create a blob (spillWriter) as the
// disk's, not the client's.
var errCreate = errors.New("creating a blob")

// spillWriter keeps what is written in memory up to max bytes; past that,
// it creates a blob (create), writes what it kept and then everything
// else there. A body whose length is unknown is read this way: inline if
// it turns out small, a blob otherwise, never more than max bytes in
// memory.
type spillWriter struct {
	buf    []byte
	max    int64
	w      *blob.Writer // non-nil once spilled (or created up front)
	create func() (*blob.Writer, error)
}

func (s *spillWriter) Write(p []byte) (int, error) {
	if s.w == nil {
		if int64(len(s.buf))+int64(len(p)) <= s.max {
			s.buf = append(s.buf, p...)
			return len(p), nil
		}
		w, err := s.create()
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errCreate, err)
		}
		s.w = w
		if _, err := w.Write(s.buf); err != nil {
			return 0, err
		}
		s.buf = nil
	}
	return s.w.Write(p)
}

// abort removes the blob's temp file unless it was committed.
func (s *spillWriter) abort() {
	if s.w != nil {
		s.w.Abort()
	}
}

// checkInline checks obj's inline tail (read with ObjectData) before any
// of its bytes is sent. On a mismatch it reads a good copy of the same
// version from a peer (Replicator.RepairInline, which also repairs this
// node's copy) and puts it in obj; if no peer has one (or on a single
// node) it logs the object and answers 500.
func (h *Handler) checkInline(bucket, key string, obj *meta.ObjectMeta) error {
	err := meta.CheckInline(obj.Inline)
	if err == nil {
		return nil
	}
	h.log.Warn("inline object data fails its checksum on this node: not sent; reading it from a peer", "bucket", bucket, "key", key, "err", err)
	if h.cfg.Replicator != nil {
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.ProposeTimeout)
		good, rerr := h.cfg.Replicator.RepairInline(ctx, bucket, key, obj.Inline.Size, obj.Inline.CRC32C)
		cancel()
		if rerr == nil {
			obj.Inline.Data = good
			return nil
		}
		err = fmt.Errorf("%w; from a peer: %w", err, rerr)
	}
	h.log.Error("inline object data fails its checksum on this node and no peer has a good copy: not sent", "bucket", bucket, "key", key, "err", err)
	return s3err.Errorf(s3err.InternalError, "The object data on this node fails its checksum.").WithCause(err)
}

// readInline reads a body of length bytes (at most the inline threshold)
// from rc into an inline body and returns it with its MD5.
func readInline(rc io.Reader, length int64) (storedBody, error) {
	buf := make([]byte, length)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return storedBody{}, err
	}
	return storedBody{size: length, md5: md5.Sum(buf), inline: meta.NewInline(buf)}, nil
}
