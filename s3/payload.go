package s3

import (
	"bytes"
	"crypto/md5"
	"errors"
	"io"
	"strings"

	"github.com/s4/s4/disk"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
	"github.com/s4/s4/s3/sig"
)

// openPayload prepares r's body as its signature protects it (package
// sig), which computes its SHA-256 only if the client signed it.
func (h *Handler) openPayload(r *request, maxSize int64) (*sig.Payload, error) {
	ctx := r.ctx
	// Request.Body() would read a streamed body whole into memory: take the
	// stream when there is one, and the (small, already read) body otherwise.
	var body io.Reader
	if s := ctx.RequestBodyStream(); s != nil { // the server streams bodies
		body = s
	} else {
		body = bytes.NewReader(ctx.Request.Body())
	}
	return sig.OpenPayload(body, int64(ctx.Request.Header.ContentLength()), &ctx.Request.Header, &r.v4, maxSize)
}

// storeBody reads the request body and checks it against what the client
// declared and signed. A body of at most the inline threshold is kept in
// memory and returned inline (its metadata event will carry it; no blob,
// no copy to the peers). A larger one is streamed into a new blob,
// committed pinned and replicated to a majority of the nodes (503 if it
// cannot); the caller must call unpin once the metadata event is applied
// or has failed. Only a body whose length is unknown or within the
// threshold is read into memory, and only up to the threshold: past it,
// what was read goes into a blob and the rest follows (spillWriter).
//
// At the free-space reserve, or when the declared size would take the node
// there, it answers 507 XS4StorageFull before reading the body; a write
// that runs out of space (ENOSPC) is 507 too. Either way nothing is left
// behind: the temp file is removed, and a blob whose replication failed is
// removed again unless something else holds or references it.
func (h *Handler) storeBody(r *request) (b storedBody, ck meta.Checksum, unpin func(), err error) {
	th := h.cfg.InlineThreshold
	cl := int64(r.ctx.Request.Header.ContentLength()) // < 0: unknown
	mayInline := th > 0 && (cl < 0 || cl <= th || r.v4.Payload == sig.PayloadChunked)
	// The payload checks a signed SHA-256 (and a SHA-256 checksum) itself;
	// the blob computes the MD5 of the ETag and its CRC32Cs, nothing else.
	p, err := h.openPayload(r, h.cfg.MaxObjectSize)
	if err != nil {
		return b, ck, nil, err
	}
	if err := h.checkSpace(p.Size()); err != nil {
		return b, ck, nil, err
	}
	sp := &spillWriter{max: th, create: h.blobs.Create}
	if mayInline && p.Size() <= th {
		if p.Size() > 0 {
			sp.buf = make([]byte, 0, p.Size())
		}
	} else if sp.w, err = h.blobs.Create(); err != nil {
		return b, ck, nil, h.writeFailed(r, err, "cannot store the object")
	}
	defer sp.abort()
	if _, err := p.CopyTo(sp); err != nil {
		if disk.IsNoSpace(err) || errors.Is(err, errCreate) { // the blob file's write; read errors are S3 errors
			return b, ck, nil, h.writeFailed(r, err, "cannot store the object")
		}
		return b, ck, nil, err
	}
	if sp.w == nil { // inline
		sum := md5.Sum(sp.buf)
		alg, val, err := p.Verify(sum)
		if err != nil {
			return b, ck, nil, err
		}
		if alg != 0 {
			ck = meta.Checksum{Algorithm: alg.String(), Value: val}
		}
		if sp.buf == nil {
			sp.buf = []byte{}
		}
		return storedBody{size: int64(len(sp.buf)), md5: sum, inline: meta.NewInline(sp.buf)}, ck, func() {}, nil
	}
	w := sp.w
	sum := w.Sum()
	alg, val, err := p.Verify(sum.MD5)
	if err != nil {
		return b, ck, nil, err
	}
	if alg != 0 {
		ck = meta.Checksum{Algorithm: alg.String(), Value: val}
	}
	ref, unpin, err := w.CommitPinned()
	if err != nil {
		return b, ck, nil, h.writeFailed(r, err, "cannot store the object")
	}
	if err := h.replicateNew(r, ref, unpin); err != nil {
		return b, ck, nil, err
	}
	return storedBody{size: ref.Size, md5: ref.MD5, blob: &ref}, ck, unpin, nil
}

// putBody does what PutObject and UploadPart share: it stores the request
// body (storeBody: inline, or as a blob), has commit propose the metadata
// (commit gets the body and the checksum it was verified with, and
// returns the ETag), and answers with the ETag and the checksum. A blob
// stays pinned until commit returned.
func (h *Handler) putBody(r *request, commit func(b storedBody, ck meta.Checksum) (etag string, err error)) error {
	b, ck, unpin, err := h.storeBody(r)
	if err != nil {
		return err
	}
	defer unpin()
	etag, err := commit(b, ck)
	if err != nil {
		return err
	}
	r.ctx.Response.Header.Set("ETag", etag)
	setChecksumHeader(r, ck)
	return nil
}

// readSmallBody reads a whole (XML) body of at most limit bytes, verified.
func (h *Handler) readSmallBody(r *request, limit int64) ([]byte, error) {
	b, _, err := h.readSmallBodyChecked(r, limit)
	return b, err
}

// readSmallBodyChecked is readSmallBody that also reports whether the
// client sent a Content-MD5 or a checksum (x-amz-checksum-*, header or
// trailer), which the body was verified against: S3 requires one for
// some calls (PutBucketLifecycleConfiguration).
func (h *Handler) readSmallBodyChecked(r *request, limit int64) ([]byte, bool, error) {
	p, err := h.openPayload(r, limit)
	if err != nil {
		if s3err.IsCode(err, s3err.EntityTooLarge) {
			return nil, false, s3err.New(s3err.MaxMessageLengthExceeded)
		}
		return nil, false, err
	}
	var buf strings.Builder
	if _, err := p.CopyTo(&buf); err != nil {
		if s3err.IsCode(err, s3err.EntityTooLarge) {
			return nil, false, s3err.New(s3err.MaxMessageLengthExceeded)
		}
		return nil, false, err
	}
	b := []byte(buf.String())
	var md5sum [16]byte
	if p.HasContentMD5() {
		md5sum = md5.Sum(b)
	}
	alg, _, err := p.Verify(md5sum)
	if err != nil {
		return nil, false, err
	}
	return b, p.HasContentMD5() || alg != 0, nil
}
