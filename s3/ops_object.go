package s3

import (
	"mime"
	"net/url"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
	"github.com/s4/s4/s3/sig"
)

// storedHeaders are the request headers an object keeps and returns.
var storedHeaders = []string{"Content-Encoding", "Cache-Control", "Content-Disposition", "Content-Language", "Expires"}

// maxUserMetadata is S3's limit on the size of x-amz-meta-* headers.
const maxUserMetadata = 2 << 10

// object loads the request's object, with the bytes of its inline tail
// when withData (for a GET; they are checked before they are sent).
// A versionId query parameter names a version (versions.go).
func (h *Handler) object(r *request, withData bool) (meta.ObjectMeta, error) {
	id, has, err := versionParam(r)
	if err != nil {
		return meta.ObjectMeta{}, err
	}
	obj, err := h.objectVersion(r, r.bucket, r.key, id, withData)
	if err == nil {
		setVersionHeader(r, &obj, has)
	}
	return obj, err
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
		if rest, found := sig.ChunkedStripContentEncoding(ce); found {
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
			value := decodeMetaValue(string(v))
			obj.UserMeta[name] = value
			size += len(name) + len(value)
		}
	}
	if size > maxUserMetadata {
		return s3err.New(s3err.MetadataTooLarge)
	}
	return nil
}

// decodeMetaValue is a user metadata value as S4 stores it: RFC 2047
// encoded-words ("=?UTF-8?B?...?=") decoded, as S3 does before it stores
// one; a value in a charset the decoder does not know stays as it came.
// A raw UTF-8 value is stored as it is.
func decodeMetaValue(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	d, err := metaWordDecoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

var metaWordDecoder = &mime.WordDecoder{}

// encodeMetaValue is a stored user metadata value as it goes out: as it is
// if it is printable US-ASCII, else RFC 2047 B-encoded UTF-8, as S3 makes
// such values "mail-safe before returning" (a raw UTF-8 value comes back
// as the encoding of the same UTF-8, which SDKs that decode, botocore
// among them, turn back into what was sent; S3 itself re-encodes each raw
// byte as a Latin-1 character).
func encodeMetaValue(v string) string { return mime.BEncoding.Encode("UTF-8", v) }

// newObject starts the object a PutObject or CreateMultipartUpload
// creates: it refuses ACLs other than private and a missing bucket, then
// takes the object's metadata and tags (x-amz-tagging) from the request
// headers.
func (h *Handler) newObject(r *request) (meta.ObjectMeta, meta.BucketInfo, error) {
	if err := checkACLHeaders(r); err != nil {
		return meta.ObjectMeta{}, meta.BucketInfo{}, err
	}
	b, err := h.bucket(r)
	if err != nil {
		return meta.ObjectMeta{}, b, err
	}
	obj := meta.ObjectMeta{Owner: r.user.ID}
	if err := objectHeaders(r, &obj); err != nil {
		return meta.ObjectMeta{}, b, err
	}
	tags, err := ParseTaggingHeader(r.header("X-Amz-Tagging"))
	if err != nil {
		return meta.ObjectMeta{}, b, err
	}
	obj.Tags = tags
	return obj, b, nil
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
		// SetCanonical keeps the name as stored, in lower case, as S3 sends
		// it (Set would make it X-Amz-Meta-Foo, which boto3 hands back as
		// the key "Foo").
		rh.SetCanonical([]byte("x-amz-meta-"+k), []byte(encodeMetaValue(v)))
	}
	rh.Set("Accept-Ranges", "bytes")
	setTaggingCount(r, obj)
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
	obj, err := h.object(r, !r.ctx.IsHead())
	if err != nil {
		return err
	}
	pre := Preconditions{IfMatch: r.header("If-Match"), IfNoneMatch: r.header("If-None-Match"),
		IfModifiedSince: r.header("If-Modified-Since"), IfUnmodifiedSince: r.header("If-Unmodified-Since")}
	if !pre.Empty() {
		if err := pre.Evaluate(TrimETag(obj.ETag), unixTime(obj.LastModified)); err != nil {
			if s3err.IsCode(err, s3err.NotModified) {
				r.ctx.Response.Header.Set("ETag", obj.ETag)
				r.ctx.Response.Header.Set("Last-Modified", unixTime(obj.LastModified).Format(http1123))
			}
			return err
		}
	}
	start, length, partial := int64(0), obj.Size, false
	if pn, ok := r.query["partNumber"]; ok {
		// As S3: part N of a multipart object, or part 1 of any other (the
		// whole object), each as a range (206 and Content-Range).
		n, err := strconv.Atoi(pn[0])
		if err != nil || n < 1 || n > MaxPartNumber {
			return s3err.New(s3err.InvalidPartNumber)
		}
		if r.header("Range") != "" {
			return s3err.Errorf(s3err.InvalidRequest, "Cannot specify both Range header and partNumber query parameter")
		}
		sizes := obj.PartSizes
		if len(sizes) == 0 {
			sizes = []int64{obj.Size}
		}
		if n > len(sizes) {
			return s3err.New(s3err.PartNumberNotSatisfiable)
		}
		if len(obj.PartSizes) > 0 {
			r.ctx.Response.Header.Set("x-amz-mp-parts-count", strconv.Itoa(len(sizes)))
		}
		for i := 0; i < n-1; i++ {
			start += sizes[i]
		}
		length, partial = sizes[n-1], sizes[n-1] > 0 // an empty object has no range to name
	} else if rng := r.header("Range"); rng != "" {
		s, l, p, err := ParseRange(rng, obj.Size)
		if err != nil {
			r.ctx.Response.Header.Set("Content-Range", UnsatisfiedContentRange(obj.Size))
			return err
		}
		start, length, partial = s, l, p
	}
	// A range that reaches the inline tail: its bytes are checked before
	// any header of the object is set (an error answer carries none).
	if !r.ctx.IsHead() && obj.Inline != nil && start+length > obj.Size-obj.Inline.Size {
		if err := h.checkInline(r.bucket, r.key, &obj); err != nil {
			return err
		}
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
	if len(obj.Parts) == 0 && obj.Inline != nil { // all of it in memory
		r.ctx.SetBody(obj.Inline.Data[start : start+length])
		return nil
	}
	body, err := h.openObject(&obj, start, length)
	if err != nil {
		return err
	}
	r.ctx.SetBodyStream(body, int(length))
	return nil
}

func (h *Handler) putObject(r *request) error {
	cond, err := writeCondition(r.header("If-Match"), r.header("If-None-Match"))
	if err != nil {
		return err
	}
	obj, bk, err := h.newObject(r)
	if err != nil {
		return err
	}
	return h.putBody(r, func(b storedBody, ck meta.Checksum) (string, error) {
		obj.Size = b.size
		obj.ETag = b.etag()
		obj.LastModified = h.cfg.Now().UnixNano()
		obj.Checksum = ck
		obj.Parts = b.parts()
		obj.Inline = b.inline
		obj.VersionID = versionOf(&bk)
		err := h.propose(r, fsm.MsgObjectPut, &fsm.ObjectPut{Bucket: r.bucket, Key: r.key, Object: obj, If: cond})
		if err == nil {
			h.setWrittenVersion(r, h.writtenVersion(r, &obj))
		}
		return obj.ETag, err
	})
}

func (h *Handler) deleteObject(r *request) error {
	id, has, err := versionParam(r)
	if err != nil {
		return err
	}
	// If-Match, as S3's conditional deletes: the key must exist (else
	// NoSuchKey) with one of the ETags (else PreconditionFailed), checked
	// when the delete is applied.
	cond, err := writeCondition(r.header("If-Match"), "")
	if err != nil {
		return err
	}
	b, err := h.bucket(r)
	if err != nil {
		return err
	}
	ev, res := h.deleteEvent(r, &b, r.key, id, has)
	ev.If = cond
	if err := h.propose(r, fsm.MsgObjectDelete, ev); err != nil {
		return err
	}
	h.released()
	if res.DeleteMarker {
		r.ctx.Response.Header.Set("x-amz-delete-marker", "true")
	}
	if has {
		r.ctx.Response.Header.Set("x-amz-version-id", res.VersionID)
	} else if res.DeleteMarker {
		r.ctx.Response.Header.Set("x-amz-version-id", res.DeleteMarkerVersionID)
	}
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// deleteEvent is the event that deletes version id of key (has: a
// versionId was given) in bucket b, and what the answer says of it: the
// version deleted, whether it is a delete marker, or the delete marker the
// delete makes.
func (h *Handler) deleteEvent(r *request, b *meta.BucketInfo, key, id string, has bool) (*fsm.ObjectDelete, DeletedObject) {
	ev := &fsm.ObjectDelete{Bucket: r.bucket, Keys: []string{key}}
	res := DeletedObject{Key: key}
	switch {
	case has:
		ev.Versions = []string{id}
		res.VersionID = id
		if obj, _, ok := h.meta.ObjectVersion(r.bucket, key, id, false); ok && obj.DeleteMarker {
			res.DeleteMarker, res.DeleteMarkerVersionID = true, id
		}
	case b.Versioning != "":
		mid := versionOf(b)
		if mid != "" {
			ev.MarkerIDs = []string{mid}
		} else {
			mid = meta.NullVersion
		}
		ev.Owner, ev.At = r.user.ID, h.cfg.Now().UnixNano()
		res.DeleteMarker, res.DeleteMarkerVersionID = true, mid
	}
	return ev, res
}

// copySource parses x-amz-copy-source ("/bucket/key" or "bucket/key",
// URL-encoded, optional ?versionId=) and loads the source object (that
// version of it), answering x-amz-copy-source-version-id for a version of
// a bucket with versioning or one named by ID.
func (h *Handler) copySource(r *request) (bucket, key string, obj meta.ObjectMeta, err error) {
	src := r.header("X-Amz-Copy-Source")
	id := ""
	if i := strings.IndexByte(src, '?'); i >= 0 {
		q, qerr := url.ParseQuery(src[i+1:])
		if qerr != nil {
			return "", "", obj, s3err.New(s3err.InvalidArgument)
		}
		if v, ok := q["versionId"]; ok {
			if id, err = ParseVersionID(v[0]); err != nil {
				return "", "", obj, err
			}
		}
		src = src[:i]
	}
	src, uerr := url.PathUnescape(src)
	if uerr != nil {
		return "", "", obj, s3err.New(s3err.InvalidCopySource)
	}
	src = strings.TrimPrefix(src, "/")
	bucket, key, ok := strings.Cut(src, "/")
	if !ok || !ValidBucketName(bucket) || ValidObjectKey(key) != nil {
		return "", "", obj, s3err.New(s3err.InvalidCopySource)
	}
	o, _, ok := h.meta.ObjectVersion(bucket, key, id, true)
	switch {
	case !ok || o.DeleteMarker && id == "":
		if _, bok := h.meta.Bucket(bucket); !bok {
			return "", "", obj, s3err.New(s3err.NoSuchBucket)
		}
		if id != "" {
			return "", "", obj, s3err.New(s3err.NoSuchVersion)
		}
		return "", "", obj, s3err.New(s3err.NoSuchKey)
	case o.DeleteMarker:
		return "", "", obj, s3err.Errorf(s3err.InvalidRequest, "The source of a copy request may not specifically refer to a delete marker by version id.")
	}
	if o.VersionID != "" || id != "" {
		r.ctx.Response.Header.Set("x-amz-copy-source-version-id", meta.VersionIDOf(&o))
	}
	// The copy carries the source's inline bytes: checked first.
	if err := h.checkInline(bucket, key, &o); err != nil {
		return "", "", obj, err
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
		unpins = append(unpins, h.blobs.Pin(p.ID))
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
	bk, err := h.bucket(r)
	if err != nil {
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
		if !h.blobs.Has(p.ID) {
			if err := h.fetch(p.ID, p.Size); err != nil {
				return h.writeFailed(r, err, "object data is missing on this node")
			}
		}
	}
	obj := src
	obj.Owner = r.user.ID
	obj.LastModified = h.cfg.Now().UnixNano()
	obj.VersionID = versionOf(&bk)
	switch strings.ToUpper(r.header("X-Amz-Metadata-Directive")) {
	case "", "COPY":
		// (A version copied onto its key is allowed: that restores it.)
		if sb == r.bucket && sk == r.key && !strings.Contains(r.header("X-Amz-Copy-Source"), "versionId=") {
			return s3err.Errorf(s3err.InvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
		}
	case "REPLACE":
		if err := objectHeaders(r, &obj); err != nil {
			return err
		}
	default:
		return s3err.Errorf(s3err.InvalidArgument, "Unknown metadata directive.")
	}
	if obj.Tags, err = copyTags(r, src.Tags); err != nil {
		return err
	}
	if err := h.propose(r, fsm.MsgObjectPut, &fsm.ObjectPut{Bucket: r.bucket, Key: r.key, Object: obj}); err != nil {
		return err
	}
	h.setWrittenVersion(r, h.writtenVersion(r, &obj))
	res := CopyObjectResult{ETag: obj.ETag, LastModified: XMLTime(unixTime(obj.LastModified))}
	setChecksum(&res.Checksums, obj.Checksum)
	return writeXML(r, fasthttp.StatusOK, &res)
}

// setChecksumHeader sends a stored checksum as its x-amz-checksum-* header.
func setChecksumHeader(r *request, ck meta.Checksum) {
	if alg, ok := sig.ParseChecksumAlgorithm(ck.Algorithm); ok {
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
