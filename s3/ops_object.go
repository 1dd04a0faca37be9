package s3

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
	"github.com/s4/s4/fsm"
	"github.com/s4/s4/meta"
)

// storedHeaders are the request headers an object keeps and returns.
var storedHeaders = []string{"Content-Encoding", "Cache-Control", "Content-Disposition", "Content-Language", "Expires"}

// maxUserMetadata is S3's limit on the size of x-amz-meta-* headers.
const maxUserMetadata = 2 << 10

func (h *Handler) object(r *request) (meta.ObjectMeta, error) {
	if v := r.query.Get("versionId"); v != "" && v != "null" {
		return meta.ObjectMeta{}, NewError(CodeNoSuchVersion)
	}
	obj, ok := h.meta.Object(r.bucket, r.key)
	if !ok {
		if _, bok := h.meta.Bucket(r.bucket); !bok {
			return obj, NewError(CodeNoSuchBucket)
		}
		return obj, NewError(CodeNoSuchKey)
	}
	return obj, nil
}

// objectHeaders collects Content-Type, the stored headers and user
// metadata from a PUT, CopyObject (REPLACE) or CreateMultipartUpload.
func objectHeaders(r *request, obj *meta.ObjectMeta) error {
	hdr := &r.ctx.Request.Header
	obj.ContentType = string(hdr.ContentType())
	if obj.ContentType == "" {
		obj.ContentType = "binary/octet-stream"
	}
	obj.Headers, obj.UserMeta = nil, nil
	for _, name := range storedHeaders {
		if v := hdr.Peek(name); len(v) > 0 {
			if obj.Headers == nil {
				obj.Headers = map[string]string{}
			}
			obj.Headers[name] = string(v)
		}
	}
	if ce := obj.Headers["Content-Encoding"]; ce != "" {
		// aws-chunked is transfer framing, not a property of the object.
		if rest, found := ChunkedStripContentEncoding(ce); found {
			if rest == "" {
				delete(obj.Headers, "Content-Encoding")
			} else {
				obj.Headers["Content-Encoding"] = rest
			}
		}
	}
	size := 0
	for k, v := range hdr.All() {
		if len(k) > 11 && strings.EqualFold(string(k[:11]), "x-amz-meta-") {
			if obj.UserMeta == nil {
				obj.UserMeta = map[string]string{}
			}
			name := strings.ToLower(string(k[11:]))
			obj.UserMeta[name] = string(v)
			size += len(name) + len(v)
		}
	}
	if size > maxUserMetadata {
		return NewError(CodeMetadataTooLarge)
	}
	return nil
}

// setObjectHeaders writes an object's metadata headers to the response.
func setObjectHeaders(r *request, obj *meta.ObjectMeta) {
	rh := &r.ctx.Response.Header
	rh.Set("ETag", obj.ETag)
	rh.Set("Last-Modified", unixTime(obj.LastModified).Format(http1123))
	rh.SetContentType(obj.ContentType)
	for k, v := range obj.Headers {
		rh.Set(k, v)
	}
	for k, v := range obj.UserMeta {
		rh.Set("x-amz-meta-"+k, v)
	}
	rh.Set("Accept-Ranges", "bytes")
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

// responseOverrides are the response-* query parameters of GetObject.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// getObject serves GetObject and HeadObject: conditionals, Range,
// response-* overrides, and the bytes streamed from the blob store.
func (h *Handler) getObject(r *request) error {
	obj, err := h.object(r)
	if err != nil {
		return err
	}
	pre := Preconditions{IfMatch: r.header("If-Match"), IfNoneMatch: r.header("If-None-Match"),
		IfModifiedSince: r.header("If-Modified-Since"), IfUnmodifiedSince: r.header("If-Unmodified-Since")}
	if !pre.Empty() {
		if err := pre.Evaluate(TrimETag(obj.ETag), unixTime(obj.LastModified)); err != nil {
			if IsCode(err, CodeNotModified) {
				r.ctx.Response.Header.Set("ETag", obj.ETag)
				r.ctx.Response.Header.Set("Last-Modified", unixTime(obj.LastModified).Format(http1123))
			}
			return err
		}
	}
	start, length, partial := int64(0), obj.Size, false
	if pn := r.query.Get("partNumber"); pn != "" {
		n, err := strconv.Atoi(pn)
		if err != nil || n < 1 || n > 10000 {
			return NewError(CodeInvalidPartNumber)
		}
		sizes := obj.PartSizes
		if len(sizes) == 0 {
			sizes = []int64{obj.Size}
		}
		if n > len(sizes) {
			return NewError(CodeInvalidPartNumber)
		}
		for i := 0; i < n-1; i++ {
			start += sizes[i]
		}
		length, partial = sizes[n-1], len(sizes) > 1
		r.ctx.Response.Header.Set("x-amz-mp-parts-count", strconv.Itoa(len(sizes)))
	} else if rng := r.header("Range"); rng != "" {
		s, l, p, err := ParseRange(rng, obj.Size)
		if err != nil {
			r.ctx.Response.Header.Set("Content-Range", UnsatisfiedContentRange(obj.Size))
			return err
		}
		start, length, partial = s, l, p
	}
	setObjectHeaders(r, &obj)
	for q, hname := range responseOverrides {
		if v, ok := r.query[q]; ok {
			r.ctx.Response.Header.Set(hname, v[0])
		}
	}
	// A whole-object checksum only on a whole-object answer (a client checks
	// it against what it received).
	if !partial && strings.EqualFold(r.header("X-Amz-Checksum-Mode"), "ENABLED") {
		setChecksumHeader(r, obj.Checksum)
	}
	if partial {
		r.ctx.Response.Header.Set("Content-Range", ContentRange(start, length, obj.Size))
		r.ctx.SetStatusCode(fasthttp.StatusPartialContent)
	}
	if r.ctx.IsHead() {
		r.ctx.Response.Header.SetContentLength(int(length))
		r.ctx.Response.SkipBody = true
		return nil
	}
	body, err := h.openObject(&obj, start, length)
	if err != nil {
		return err
	}
	r.ctx.SetBodyStream(body, int(length))
	return nil
}

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
	blobs     *blob.Store
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
			return Errorf(CodeServiceUnavailable, "The object data is not on this node and no other node could provide it now; please retry.").
				WithCause(fmt.Errorf("%w; fetching it from a peer: %v", err, ferr))
		default:
			err = fmt.Errorf("%w; fetching it from a peer: %v", err, ferr)
		}
	}
	if err != nil {
		return Errorf(CodeInternalError, "object data %s is missing on this node", hex.EncodeToString(p.sum[:8])).WithCause(err)
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
		return Errorf(CodeServiceUnavailable, "This node is at its free-space reserve and could not read the object data from another node; please retry.").
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
	if err := h.checkSpace(p.size); err != nil {
		return ref, ck, nil, err
	}
	w, err := h.blobs.Create()
	if err != nil {
		return ref, ck, nil, h.writeFailed(r, err, "cannot store the object")
	}
	defer w.Abort()
	if _, err := p.copyTo(w, h.cfg.MaxObjectSize); err != nil {
		if disk.IsNoSpace(err) { // the blob file's write; read errors are S3 errors
			return ref, ck, nil, h.writeFailed(r, err, "cannot store the object")
		}
		return ref, ck, nil, err
	}
	sum := w.Sum()
	alg, val, err := p.verify(&sum.SHA256, sum.MD5)
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
	if err := h.replicate(r, ref); err != nil {
		unpin()
		h.discardBlob(ref.SHA256)
		return ref, ck, nil, err
	}
	return ref, ck, unpin, nil
}

func (h *Handler) putObject(r *request) error {
	cond, err := writeCondition(r.header("If-Match"), r.header("If-None-Match"))
	if err != nil {
		return err
	}
	if err := checkACLHeaders(r); err != nil {
		return err
	}
	if _, err := h.bucket(r); err != nil {
		return err
	}
	obj := meta.ObjectMeta{Owner: r.user.ID}
	if err := objectHeaders(r, &obj); err != nil {
		return err
	}
	ref, ck, unpin, err := h.storeBody(r)
	if err != nil {
		return err
	}
	defer unpin()
	obj.Size = ref.Size
	obj.ETag = `"` + ref.MD5Hex() + `"`
	obj.LastModified = h.cfg.Now().UnixNano()
	obj.Checksum = ck
	obj.Parts = []meta.BlobPart{{SHA256: ref.SHA256, Size: ref.Size}}
	if err := h.propose(r, fsm.MsgObjectPut, &fsm.ObjectPut{Bucket: r.bucket, Key: r.key, Object: obj, If: cond}); err != nil {
		return err
	}
	r.ctx.Response.Header.Set("ETag", obj.ETag)
	setChecksumHeader(r, ck)
	return nil
}

func (h *Handler) deleteObject(r *request) error {
	if v := r.query.Get("versionId"); v != "" && v != "null" {
		return NewError(CodeNoSuchVersion)
	}
	if _, err := h.bucket(r); err != nil {
		return err
	}
	if err := h.propose(r, fsm.MsgObjectDelete, &fsm.ObjectDelete{Bucket: r.bucket, Keys: []string{r.key}}); err != nil {
		return err
	}
	h.released()
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// copySource parses x-amz-copy-source ("/bucket/key" or "bucket/key",
// URL-encoded, optional ?versionId=null) and loads the source object.
func (h *Handler) copySource(r *request) (bucket, key string, obj meta.ObjectMeta, err error) {
	src := r.header("X-Amz-Copy-Source")
	if i := strings.IndexByte(src, '?'); i >= 0 {
		q, qerr := url.ParseQuery(src[i+1:])
		if qerr != nil || (q.Get("versionId") != "" && q.Get("versionId") != "null") {
			return "", "", obj, NewError(CodeNoSuchVersion)
		}
		src = src[:i]
	}
	src, uerr := url.PathUnescape(src)
	if uerr != nil {
		return "", "", obj, NewError(CodeInvalidCopySource)
	}
	src = strings.TrimPrefix(src, "/")
	bucket, key, ok := strings.Cut(src, "/")
	if !ok || !ValidBucketName(bucket) || ValidObjectKey(key) != nil {
		return "", "", obj, NewError(CodeInvalidCopySource)
	}
	o, found := h.meta.Object(bucket, key)
	if !found {
		if _, bok := h.meta.Bucket(bucket); !bok {
			return "", "", obj, NewError(CodeNoSuchBucket)
		}
		return "", "", obj, NewError(CodeNoSuchKey)
	}
	pre := Preconditions{IfMatch: r.header("X-Amz-Copy-Source-If-Match"), IfNoneMatch: r.header("X-Amz-Copy-Source-If-None-Match"),
		IfModifiedSince: r.header("X-Amz-Copy-Source-If-Modified-Since"), IfUnmodifiedSince: r.header("X-Amz-Copy-Source-If-Unmodified-Since")}
	if err := pre.EvaluateCopySource(TrimETag(o.ETag), unixTime(o.LastModified)); err != nil {
		return "", "", obj, err
	}
	return bucket, key, o, nil
}

// pinAll pins every blob of obj so that the garbage collector keeps them
// until the new object that shares them is committed.
func (h *Handler) pinAll(obj *meta.ObjectMeta) func() {
	var unpins []func()
	for _, p := range obj.Parts {
		unpins = append(unpins, h.blobs.Pin(p.SHA256))
	}
	return func() {
		for _, u := range unpins {
			u()
		}
	}
}

// copyObject shares the source's blobs: a copy costs one metadata event.
func (h *Handler) copyObject(r *request) error {
	if err := checkACLHeaders(r); err != nil {
		return err
	}
	if _, err := h.bucket(r); err != nil {
		return err
	}
	sb, sk, src, err := h.copySource(r)
	if err != nil {
		return err
	}
	// A copy shares the source's blobs, but may have to fetch them, and
	// it is new data all the same: refused at the reserve.
	if err := h.checkSpace(0); err != nil {
		return err
	}
	unpin := h.pinAll(&src)
	defer unpin()
	for _, p := range src.Parts {
		if !h.blobs.Has(p.SHA256) {
			if err := h.fetch(p.SHA256, p.Size); err != nil {
				return h.writeFailed(r, err, "object data is missing on this node")
			}
		}
	}
	obj := src
	obj.Owner = r.user.ID
	obj.LastModified = h.cfg.Now().UnixNano()
	switch strings.ToUpper(r.header("X-Amz-Metadata-Directive")) {
	case "", "COPY":
		if sb == r.bucket && sk == r.key {
			return Errorf(CodeInvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
		}
	case "REPLACE":
		if err := objectHeaders(r, &obj); err != nil {
			return err
		}
	default:
		return Errorf(CodeInvalidArgument, "Unknown metadata directive.")
	}
	if err := h.propose(r, fsm.MsgObjectPut, &fsm.ObjectPut{Bucket: r.bucket, Key: r.key, Object: obj}); err != nil {
		return err
	}
	res := CopyObjectResult{ETag: obj.ETag, LastModified: XMLTime(unixTime(obj.LastModified))}
	setChecksum(&res.Checksums, obj.Checksum)
	return writeXML(r, fasthttp.StatusOK, &res)
}

// setChecksumHeader sends a stored checksum as its x-amz-checksum-* header.
func setChecksumHeader(r *request, ck meta.Checksum) {
	if alg, ok := ParseChecksumAlgorithm(ck.Algorithm); ok {
		r.ctx.Response.Header.Set(alg.HeaderName(), ck.Value)
	}
}

func setChecksum(c *Checksums, ck meta.Checksum) {
	switch ck.Algorithm {
	case "CRC32":
		c.ChecksumCRC32 = ck.Value
	case "CRC32C":
		c.ChecksumCRC32C = ck.Value
	case "CRC64NVME":
		c.ChecksumCRC64NVME = ck.Value
	case "SHA1":
		c.ChecksumSHA1 = ck.Value
	case "SHA256":
		c.ChecksumSHA256 = ck.Value
	}
}
