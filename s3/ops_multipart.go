package s3

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
	"github.com/s4/s4/s3/sig"
)

func newUploadID() string {
	var b [24]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (h *Handler) createMultipartUpload(r *request) error {
	obj, _, err := h.newObject(r)
	if err != nil {
		return err
	}
	if v := r.header("X-Amz-Checksum-Algorithm"); v != "" {
		alg, ok := sig.ParseChecksumAlgorithm(v)
		if !ok {
			return s3err.Errorf(s3err.InvalidRequest, "Checksum algorithm provided is unsupported.")
		}
		obj.Checksum.Algorithm = alg.String()
		r.ctx.Response.Header.Set("x-amz-checksum-algorithm", alg.String())
	}
	id := newUploadID()
	if err := h.propose(r, fsm.MsgUploadCreate, &fsm.UploadCreate{Bucket: r.bucket, Key: r.key, UploadID: id, Object: obj, At: h.cfg.Now().UnixNano()}); err != nil {
		return err
	}
	return writeXML(r, fasthttp.StatusOK, &InitiateMultipartUploadResult{Bucket: r.bucket, Key: r.key, UploadID: id})
}

// upload loads the upload named by ?uploadId and checks it belongs to the
// request's bucket and key.
func (h *Handler) upload(r *request) (meta.UploadInfo, error) {
	u, ok := h.meta.Upload(r.query.Get("uploadId"))
	if !ok || u.Bucket != r.bucket || u.Key != r.key {
		return u, s3err.New(s3err.NoSuchUpload)
	}
	return u, nil
}

// uploadPartTarget loads the upload and the part number an UploadPart or
// UploadPartCopy names.
func (h *Handler) uploadPartTarget(r *request) (meta.UploadInfo, int, error) {
	u, err := h.upload(r)
	if err != nil {
		return u, 0, err
	}
	n, err := strconv.Atoi(r.query.Get("partNumber"))
	if err != nil || n < 1 || n > 10000 {
		return u, 0, s3err.New(s3err.InvalidPartNumber)
	}
	return u, n, nil
}

func (h *Handler) uploadPart(r *request) error {
	u, n, err := h.uploadPartTarget(r)
	if err != nil {
		return err
	}
	return h.putBody(r, func(b storedBody, ck meta.Checksum) (string, error) {
		part, err := h.putPart(r, u.UploadID, n, b, ck)
		return part.ETag, err
	})
}

// uploadPartCopy copies a source object, or a byte range of it, into a new
// part blob.
func (h *Handler) uploadPartCopy(r *request) error {
	u, n, err := h.uploadPartTarget(r)
	if err != nil {
		return err
	}
	_, _, src, err := h.copySource(r)
	if err != nil {
		return err
	}
	start, length := int64(0), src.Size
	if rng := r.header("X-Amz-Copy-Source-Range"); rng != "" {
		s, l, err := ParseCopySourceRange(rng, src.Size)
		if err != nil {
			return err
		}
		start, length = s, l
	}
	if length > h.cfg.MaxObjectSize {
		return s3err.New(s3err.EntityTooLarge)
	}
	if err := h.checkSpace(length); err != nil {
		return err
	}
	unpinSrc := h.pinAll(&src)
	defer unpinSrc()
	body, err := h.openObject(&src, start, length)
	if err != nil {
		return err
	}
	defer body.Close()
	var sb storedBody
	if h.cfg.InlineThreshold > 0 && length <= h.cfg.InlineThreshold { // an inline part
		if sb, err = readInline(body, length); err != nil {
			var se *s3err.Error
			if errors.As(err, &se) {
				return se
			}
			return s3err.Errorf(s3err.InternalError, "cannot read the source of the copy").WithCause(err)
		}
		return h.copiedPart(r, u.UploadID, n, sb)
	}
	ref, unpin, err := h.blobs.PutPinned(body, length)
	if err != nil {
		var se *s3err.Error
		if errors.As(err, &se) { // reading the source failed
			return se
		}
		return h.writeFailed(r, err, "cannot copy the part")
	}
	if err := h.replicateNew(r, ref, unpin); err != nil {
		return err
	}
	defer unpin()
	return h.copiedPart(r, u.UploadID, n, storedBody{size: ref.Size, md5: ref.MD5, blob: &ref})
}

// copiedPart commits the body an UploadPartCopy stored as part n and
// answers.
func (h *Handler) copiedPart(r *request, uploadID string, n int, b storedBody) error {
	part, err := h.putPart(r, uploadID, n, b, meta.Checksum{})
	if err != nil {
		return err
	}
	return writeXML(r, fasthttp.StatusOK, &CopyPartResult{ETag: part.ETag, LastModified: XMLTime(unixTime(part.LastModified))})
}

// putPart commits the stored body b (its checksum ck) as part n of the
// upload.
func (h *Handler) putPart(r *request, uploadID string, n int, b storedBody, ck meta.Checksum) (meta.PartMeta, error) {
	part := meta.PartMeta{ETag: b.etag(), MD5: b.md5, Size: b.size, LastModified: h.cfg.Now().UnixNano(), Checksum: ck, Inline: b.inline}
	if b.blob != nil {
		part.Blob = meta.BlobPart{ID: b.blob.ID, Size: b.blob.Size}
	}
	return part, h.propose(r, fsm.MsgPartPut, &fsm.PartPut{UploadID: uploadID, PartNumber: n, Part: part})
}

func (h *Handler) completeMultipartUpload(r *request) error {
	cond, err := writeCondition(r.header("If-Match"), r.header("If-None-Match"))
	if err != nil {
		return err
	}
	u, err := h.upload(r)
	if err != nil {
		return h.completedAgain(r, nil, err)
	}
	// The parts are stored already, but the object is new data all the
	// same: refused at the reserve, before the body is read (the client may
	// retry later or abort the upload, which is never refused).
	if err := h.checkSpace(0); err != nil {
		return err
	}
	body, err := h.readSmallBody(r, MaxCompleteMultipartBodySize)
	if err != nil {
		return err
	}
	parts, err := DecodeCompleteMultipartUpload(bytes.NewReader(body))
	if err != nil {
		return err
	}
	if err := h.checkPartChecksums(u.UploadID, parts); err != nil {
		return err
	}
	bk, err := h.bucket(r)
	if err != nil {
		return err
	}
	ev := &fsm.UploadComplete{UploadID: u.UploadID, At: h.cfg.Now().UnixNano(), If: cond, VersionID: versionOf(&bk)}
	for _, p := range parts {
		ev.Parts = append(ev.Parts, meta.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag})
	}
	if err := h.propose(r, fsm.MsgUploadComplete, ev); err != nil {
		if s3err.IsCode(err, s3err.NoSuchUpload) { // a copy of this request completed it first
			return h.completedAgain(r, parts, err)
		}
		return err
	}
	c, _ := h.meta.CompletedUpload(u.UploadID)
	h.setWrittenVersion(r, completedVersion(c))
	return writeXML(r, fasthttp.StatusOK, &CompleteMultipartUploadResult{Location: "/" + r.bucket + "/" + r.key, Bucket: r.bucket, Key: r.key, ETag: c.ETag})
}

// completedAgain answers a CompleteMultipartUpload of an upload that is
// not in progress (notFound, NoSuchUpload): if that upload completed (less
// than meta.CompletedUploadRetention ago), its key still holds the object
// it made, and the request lists the parts that made it (their ETags give
// the object's), it is a re-sent request, and gets the first one's answer,
// 200 with the same ETag and location, as S3 does. Anything else is
// notFound. parts is the request's, if it was read already.
func (h *Handler) completedAgain(r *request, parts []CompletedPart, notFound error) error {
	c, ok := h.meta.CompletedUpload(r.query.Get("uploadId"))
	if !ok || c.Bucket != r.bucket || c.Key != r.key {
		return notFound
	}
	if parts == nil {
		body, err := h.readSmallBody(r, MaxCompleteMultipartBodySize)
		if err != nil {
			return err
		}
		if parts, err = DecodeCompleteMultipartUpload(bytes.NewReader(body)); err != nil {
			return err
		}
	}
	md5s := make([][16]byte, len(parts))
	for i, p := range parts {
		if len(p.ETag) != 32 {
			return notFound
		}
		if _, err := hex.Decode(md5s[i][:], []byte(p.ETag)); err != nil {
			return notFound
		}
	}
	if meta.MultipartETag(md5s) != c.ETag {
		return notFound
	}
	h.setWrittenVersion(r, completedVersion(c))
	return writeXML(r, fasthttp.StatusOK, &CompleteMultipartUploadResult{Location: "/" + r.bucket + "/" + r.key, Bucket: r.bucket, Key: r.key, ETag: c.ETag})
}

func (h *Handler) abortMultipartUpload(r *request) error {
	u, err := h.upload(r)
	if err != nil {
		return err
	}
	if err := h.propose(r, fsm.MsgUploadAbort, &fsm.UploadAbort{UploadID: u.UploadID}); err != nil {
		return err
	}
	h.released()
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

func (h *Handler) listParts(r *request) error {
	u, err := h.upload(r)
	if err != nil {
		return err
	}
	maxParts := 1000
	if v := r.query.Get("max-parts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s3err.Errorf(s3err.InvalidArgument, "Provided max-parts not an integer or within integer range")
		}
		maxParts = min(n, 1000)
	}
	marker := 0
	if v := r.query.Get("part-number-marker"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s3err.Errorf(s3err.InvalidArgument, "Provided part-number-marker not an integer or within integer range")
		}
		marker = n
	}
	parts, truncated := h.meta.Parts(u.UploadID, marker, maxParts)
	ow := h.owner(u.Object.Owner)
	out := ListPartsResult{Bucket: r.bucket, Key: r.key, UploadID: u.UploadID, PartNumberMarker: marker, MaxParts: maxParts,
		IsTruncated: truncated, Initiator: ow, Owner: ow, StorageClass: "STANDARD", ChecksumAlgorithm: u.Object.Checksum.Algorithm}
	for _, p := range parts {
		xp := Part{PartNumber: p.Number, LastModified: XMLTime(unixTime(p.Part.LastModified)), ETag: p.Part.ETag, Size: p.Part.Size}
		setChecksum(&xp.Checksums, p.Part.Checksum)
		out.Parts = append(out.Parts, xp)
		out.NextPartNumberMarker = p.Number
	}
	return writeXML(r, fasthttp.StatusOK, &out)
}

// checkPartChecksums compares the checksums a CompleteMultipartUpload names
// for its parts (the SDKs send what UploadPart returned) with the parts'
// stored ones: a part whose checksum does not match is not the part the
// client means, so InvalidPart, as for a wrong ETag. Parts given without a
// checksum, and parts that do not exist (the FSM refuses those), are not
// checked here.
func (h *Handler) checkPartChecksums(uploadID string, parts []CompletedPart) error {
	var stored map[int]meta.Checksum
	for _, p := range parts {
		for _, c := range [...]struct{ alg, value string }{
			{sig.ChecksumCRC32.String(), p.ChecksumCRC32}, {sig.ChecksumCRC32C.String(), p.ChecksumCRC32C},
			{sig.ChecksumCRC64NVME.String(), p.ChecksumCRC64NVME}, {sig.ChecksumSHA1.String(), p.ChecksumSHA1},
			{sig.ChecksumSHA256.String(), p.ChecksumSHA256},
		} {
			if c.value == "" {
				continue
			}
			if stored == nil {
				stored = map[int]meta.Checksum{}
				list, _ := h.meta.Parts(uploadID, 0, MaxPartNumber)
				for _, e := range list {
					stored[e.Number] = e.Part.Checksum
				}
			}
			if ck, ok := stored[p.PartNumber]; ok && (ck.Algorithm != c.alg || ck.Value != c.value) {
				return s3err.New(s3err.InvalidPart)
			}
		}
	}
	return nil
}
