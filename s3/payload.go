package s3

import (
	"bytes"
	"crypto/md5"
	"io"
	"strings"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
	"github.com/s4/s4/s3/sig"
)

// openPayload prepares r's body as its signature protects it (package
// sig). hashesSHA256 tells whether the consumer computes the body's SHA-256
// itself (the blob store does), so the signed payload hash is checked
// without hashing twice.
func (h *Handler) openPayload(r *request, maxSize int64, hashesSHA256 bool) (*sig.Payload, error) {
	ctx := r.ctx
	// Request.Body() would read a streamed body whole into memory: take the
	// stream when there is one, and the (small, already read) body otherwise.
	var body io.Reader
	if s := ctx.RequestBodyStream(); s != nil { // the server streams bodies
		body = s
	} else {
		body = bytes.NewReader(ctx.Request.Body())
	}
	return sig.OpenPayload(body, int64(ctx.Request.Header.ContentLength()), &ctx.Request.Header, &r.v4, maxSize, hashesSHA256)
}

// storeBody streams the request body into a new blob, checks it against
// what the client declared and signed, commits it pinned and replicates it
// to a majority of the nodes (503 if it cannot). The caller
// must call unpin once the metadata event is applied or has failed.
//
// At the free-space reserve, or when the declared size would take the node
// there, it answers 507 XS4StorageFull before reading the body; a write
// that runs out of space (ENOSPC) is 507 too. Either way nothing is left
// behind: the temp file is removed, and a blob whose replication failed is
// removed again unless something else holds or references it.
func (h *Handler) storeBody(r *request) (ref blob.Ref, ck meta.Checksum, unpin func(), err error) {
	p, err := h.openPayload(r, h.cfg.MaxObjectSize, true)
	if err != nil {
		return ref, ck, nil, err
	}
	if err := h.checkSpace(p.Size()); err != nil {
		return ref, ck, nil, err
	}
	w, err := h.blobs.Create()
	if err != nil {
		return ref, ck, nil, h.writeFailed(r, err, "cannot store the object")
	}
	defer w.Abort()
	if _, err := p.CopyTo(w); err != nil {
		if disk.IsNoSpace(err) { // the blob file's write; read errors are S3 errors
			return ref, ck, nil, h.writeFailed(r, err, "cannot store the object")
		}
		return ref, ck, nil, err
	}
	sum := w.Sum()
	alg, val, err := p.Verify(&sum.SHA256, sum.MD5)
	if err != nil {
		return ref, ck, nil, err
	}
	if alg != 0 {
		ck = meta.Checksum{Algorithm: alg.String(), Value: val}
	}
	ref, unpin, err = w.CommitPinned()
	if err != nil {
		return ref, ck, nil, h.writeFailed(r, err, "cannot store the object")
	}
	if err := h.replicateNew(r, ref, unpin); err != nil {
		return ref, ck, nil, err
	}
	return ref, ck, unpin, nil
}

// putBody does what PutObject and UploadPart share: it stores the request
// body as a blob (storeBody), has commit propose the metadata that names
// it (commit gets the blob and the checksum it was verified with, and
// returns the ETag), and answers with the ETag and the checksum. The blob
// stays pinned until commit returned.
func (h *Handler) putBody(r *request, commit func(ref blob.Ref, ck meta.Checksum) (etag string, err error)) error {
	ref, ck, unpin, err := h.storeBody(r)
	if err != nil {
		return err
	}
	defer unpin()
	etag, err := commit(ref, ck)
	if err != nil {
		return err
	}
	r.ctx.Response.Header.Set("ETag", etag)
	setChecksumHeader(r, ck)
	return nil
}

// readSmallBody reads a whole (XML) body of at most limit bytes, verified.
func (h *Handler) readSmallBody(r *request, limit int64) ([]byte, error) {
	p, err := h.openPayload(r, limit, false)
	if err != nil {
		if s3err.IsCode(err, s3err.EntityTooLarge) {
			return nil, s3err.New(s3err.MaxMessageLengthExceeded)
		}
		return nil, err
	}
	var buf strings.Builder
	if _, err := p.CopyTo(&buf); err != nil {
		if s3err.IsCode(err, s3err.EntityTooLarge) {
			return nil, s3err.New(s3err.MaxMessageLengthExceeded)
		}
		return nil, err
	}
	b := []byte(buf.String())
	var md5sum [16]byte
	if p.HasContentMD5() {
		md5sum = md5.Sum(b)
	}
	if _, _, err := p.Verify(nil, md5sum); err != nil {
		return nil, err
	}
	return b, nil
}
