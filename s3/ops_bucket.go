package s3

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
)

// All users share one bucket namespace: ListBuckets lists every bucket, and
// a bucket's Owner is the user who created it. Roles, not ownership, decide
// what a user may do (docs/DESIGN.md "Roles").

func (h *Handler) listBuckets(r *request) error {
	res := ListAllMyBucketsResult{Owner: h.owner(r.user.ID)}
	for _, b := range h.meta.Buckets() {
		res.Buckets = append(res.Buckets, BucketInfo{Name: b.Name, CreationDate: XMLTime(unixTime(b.CreatedAt))})
	}
	return writeXML(r, fasthttp.StatusOK, &res)
}

func (h *Handler) createBucket(r *request) error {
	body, err := h.aclBody(r)
	if err != nil {
		return err
	}
	if body != nil {
		loc, err := DecodeCreateBucketConfiguration(bytes.NewReader(body))
		if err != nil {
			return err
		}
		if loc != "" && loc != h.region() {
			return s3err.Errorf(s3err.InvalidLocationConstraint, "The specified location-constraint is not valid.")
		}
	}
	err = h.propose(r, fsm.MsgBucketCreate, &fsm.BucketCreate{Name: r.bucket, Owner: r.user.ID, At: h.cfg.Now().UnixNano()})
	if s3err.IsCode(err, s3err.BucketAlreadyOwnedByYou) && h.region() == "us-east-1" {
		err = nil // us-east-1 answers 200 to the owner re-creating a bucket
	}
	if err != nil {
		return err
	}
	r.ctx.Response.Header.Set("Location", "/"+r.bucket)
	return nil
}

func (h *Handler) deleteBucket(r *request) error {
	if err := h.propose(r, fsm.MsgBucketDelete, &fsm.BucketDelete{Name: r.bucket}); err != nil {
		return err
	}
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

func (h *Handler) bucket(r *request) (meta.BucketInfo, error) {
	b, ok := h.meta.Bucket(r.bucket)
	if !ok {
		return b, s3err.New(s3err.NoSuchBucket)
	}
	return b, nil
}

func (h *Handler) headBucket(r *request) error {
	if _, err := h.bucket(r); err != nil {
		return err
	}
	r.ctx.Response.Header.Set("x-amz-bucket-region", h.region())
	return nil
}

func (h *Handler) getBucketLocation(r *request) error {
	if _, err := h.bucket(r); err != nil {
		return err
	}
	loc := h.region()
	if loc == "us-east-1" {
		loc = ""
	}
	return writeXML(r, fasthttp.StatusOK, &LocationConstraint{Location: loc})
}

func (h *Handler) getBucketVersioning(r *request) error {
	b, err := h.bucket(r)
	if err != nil {
		return err
	}
	return writeXML(r, fasthttp.StatusOK, &VersioningConfiguration{Status: b.Versioning})
}

// putBucketVersioning enables or suspends versioning; a bucket never goes
// back to unversioned (there is no status for it).
func (h *Handler) putBucketVersioning(r *request) error {
	if _, err := h.bucket(r); err != nil {
		return err
	}
	body, err := h.readSmallBody(r, MaxXMLBodySize)
	if err != nil {
		return err
	}
	status, err := DecodeVersioningConfiguration(bytes.NewReader(body))
	if err != nil {
		return err
	}
	return h.propose(r, fsm.MsgBucketVersioningSet, &fsm.BucketVersioningSet{Bucket: r.bucket, Status: status})
}

// aclOwner returns the owner of the bucket, or of the object, that an ACL
// request names.
func (h *Handler) aclOwner(r *request) (string, error) {
	if r.key == "" {
		b, err := h.bucket(r)
		return b.Owner, err
	}
	obj, err := h.object(r, false)
	return obj.Owner, err
}

// getACL serves GetBucketAcl and GetObjectAcl: the owner has full control,
// and that is all an ACL can say in S4.
func (h *Handler) getACL(r *request) error {
	owner, err := h.aclOwner(r)
	if err != nil {
		return err
	}
	p := OwnerFullControlPolicy(h.owner(owner))
	return writeXML(r, fasthttp.StatusOK, &p)
}

// putACL accepts only what leaves the resource private to its owner.
func (h *Handler) putACL(r *request) error {
	owner, err := h.aclOwner(r)
	if err != nil {
		return err
	}
	body, err := h.aclBody(r)
	if err != nil {
		return err
	}
	if body != nil {
		if _, err := DecodeAccessControlPolicy(bytes.NewReader(body), owner); err != nil {
			return err
		}
	}
	return nil
}

// aclBody checks the ACL headers of a CreateBucket or a Put*Acl and reads
// its XML body, which may be empty (nil).
func (h *Handler) aclBody(r *request) ([]byte, error) {
	if err := checkACLHeaders(r); err != nil {
		return nil, err
	}
	body, err := h.readSmallBody(r, MaxXMLBodySize)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return nil, err
	}
	return body, nil
}

// checkACLHeaders accepts x-amz-acl private (or none) and no grants.
func checkACLHeaders(r *request) error {
	if err := CheckCannedACL(r.header("X-Amz-Acl")); err != nil {
		return err
	}
	for k := range r.ctx.Request.Header.All() {
		if len(k) > 12 && strings.EqualFold(string(k[:12]), "x-amz-grant-") {
			return s3err.New(s3err.AccessControlListNotSupported)
		}
	}
	return nil
}

// listParams are the parameters every listing shares.
type listParams struct {
	prefix, delimiter, encoding string
	maxKeys                     int
}

func parseListParams(r *request, maxName string) (listParams, error) {
	p := listParams{prefix: r.query.Get("prefix"), delimiter: r.query.Get("delimiter"), encoding: r.query.Get("encoding-type"), maxKeys: 1000}
	if p.encoding != "" && p.encoding != "url" {
		return p, s3err.Errorf(s3err.InvalidArgument, "Invalid Encoding Method specified in Request")
	}
	if v, ok := r.query[maxName]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			return p, s3err.Errorf(s3err.InvalidArgument, "Provided %s not an integer or within integer range", maxName)
		}
		p.maxKeys = min(n, 1000)
	}
	return p, nil
}

func (p listParams) enc(s string) string {
	if p.encoding == "url" {
		return URLEncodeKey(s)
	}
	return s
}

func (h *Handler) list(r *request, p listParams, after string) (meta.ListResult, error) {
	res, ok := h.meta.List(r.bucket, p.prefix, after, p.delimiter, p.maxKeys)
	if !ok {
		return res, s3err.New(s3err.NoSuchBucket)
	}
	return res, nil
}

// listAfter lists the objects of a ListObjects or ListObjectVersions: its
// parameters, and the keys after the marker that the query parameter
// markerName gives.
func (h *Handler) listAfter(r *request, markerName string) (p listParams, marker string, res meta.ListResult, err error) {
	if p, err = parseListParams(r, "max-keys"); err != nil {
		return p, "", res, err
	}
	marker = r.query.Get(markerName)
	res, err = h.list(r, p, marker)
	return p, marker, res, err
}

func (h *Handler) contents(p listParams, res meta.ListResult, withOwner bool) ([]Object, []CommonPrefix) {
	var objs []Object
	for _, e := range res.Objects {
		o := Object{Key: p.enc(e.Key), LastModified: XMLTime(unixTime(e.Object.LastModified)), ETag: e.Object.ETag, Size: e.Object.Size, StorageClass: "STANDARD"}
		if e.Object.Checksum.Algorithm != "" {
			o.ChecksumAlgorithm = []string{e.Object.Checksum.Algorithm}
		}
		if withOwner {
			ow := h.owner(e.Object.Owner)
			o.Owner = &ow
		}
		objs = append(objs, o)
	}
	var cps []CommonPrefix
	for _, cp := range res.CommonPrefixes {
		cps = append(cps, CommonPrefix{Prefix: p.enc(cp)})
	}
	return objs, cps
}

func (h *Handler) listObjects(r *request) error {
	p, marker, res, err := h.listAfter(r, "marker")
	if err != nil {
		return err
	}
	out := ListBucketResult{Name: r.bucket, Prefix: p.enc(p.prefix), Marker: p.enc(marker), MaxKeys: p.maxKeys,
		Delimiter: p.enc(p.delimiter), EncodingType: p.encoding, IsTruncated: res.IsTruncated}
	if res.IsTruncated && p.delimiter != "" {
		out.NextMarker = p.enc(res.NextMarker)
	}
	out.Contents, out.CommonPrefixes = h.contents(p, res, true)
	return writeXML(r, fasthttp.StatusOK, &out)
}

// Continuation tokens are the last key returned, base64url-encoded: opaque
// to clients, stable across nodes and restarts.
func encodeToken(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeToken(t string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return "", s3err.Errorf(s3err.InvalidArgument, "The continuation token provided is incorrect")
	}
	return string(b), nil
}

func (h *Handler) listObjectsV2(r *request) error {
	p, err := parseListParams(r, "max-keys")
	if err != nil {
		return err
	}
	startAfter := r.query.Get("start-after")
	after := startAfter
	token, hasToken := r.query["continuation-token"]
	if hasToken {
		if token[0] == "" {
			return s3err.Errorf(s3err.InvalidArgument, "The continuation token provided is incorrect")
		}
		if after, err = decodeToken(token[0]); err != nil {
			return err
		}
	}
	res, err := h.list(r, p, after)
	if err != nil {
		return err
	}
	out := ListBucketResultV2{Name: r.bucket, Prefix: p.enc(p.prefix), MaxKeys: p.maxKeys, Delimiter: p.enc(p.delimiter),
		EncodingType: p.encoding, IsTruncated: res.IsTruncated, StartAfter: p.enc(startAfter)}
	if hasToken {
		out.ContinuationToken = token[0]
	}
	if res.IsTruncated {
		out.NextContinuationToken = encodeToken(res.NextMarker)
	}
	out.Contents, out.CommonPrefixes = h.contents(p, res, r.query.Get("fetch-owner") == "true")
	out.KeyCount = len(out.Contents) + len(out.CommonPrefixes)
	return writeXML(r, fasthttp.StatusOK, &out)
}

// listObjectVersions lists versions and delete markers in key order,
// newest first per key (meta.ListVersions); a bucket that never had
// versioning lists its objects as null versions.
func (h *Handler) listObjectVersions(r *request) error {
	p, err := parseListParams(r, "max-keys")
	if err != nil {
		return err
	}
	keyMarker, idMarker := r.query.Get("key-marker"), ""
	if v, ok := r.query["version-id-marker"]; ok {
		if keyMarker == "" {
			return s3err.Errorf(s3err.InvalidArgument, "A version-id marker cannot be specified without a key marker.")
		}
		if idMarker, err = ParseVersionID(v[0]); err != nil {
			return err
		}
	}
	res, ok := h.meta.ListVersions(r.bucket, p.prefix, keyMarker, idMarker, p.delimiter, p.maxKeys)
	if !ok {
		return s3err.New(s3err.NoSuchBucket)
	}
	out := ListVersionsResult{Name: r.bucket, Prefix: p.enc(p.prefix), KeyMarker: p.enc(keyMarker), VersionIDMarker: idMarker,
		MaxKeys: p.maxKeys, Delimiter: p.enc(p.delimiter), EncodingType: p.encoding, IsTruncated: res.IsTruncated}
	if res.IsTruncated {
		out.NextKeyMarker = p.enc(res.NextKeyMarker)
		out.NextVersionIDMarker = res.NextVersionIDMarker
	}
	for _, v := range res.Versions {
		ow := h.owner(v.Object.Owner)
		ov := ObjectVersion{Key: p.enc(v.Key), VersionID: meta.VersionIDOf(&v.Object), IsLatest: v.IsLatest,
			LastModified: XMLTime(unixTime(v.Object.LastModified)), Owner: &ow}
		if v.Object.DeleteMarker {
			ov.DeleteMarker = true
		} else {
			ov.ETag, ov.Size, ov.StorageClass = v.Object.ETag, &v.Object.Size, "STANDARD"
		}
		out.Versions = append(out.Versions, ov)
	}
	for _, cp := range res.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, CommonPrefix{Prefix: p.enc(cp)})
	}
	return writeXML(r, fasthttp.StatusOK, &out)
}

// maxDeleteETag bounds a DeleteObjects entry's <ETag>: an ETag is a quoted
// MD5, with a part count for a multipart object (about 40 characters).
const maxDeleteETag = 1024

func (h *Handler) deleteObjects(r *request) error {
	b, err := h.bucket(r)
	if err != nil {
		return err
	}
	body, err := h.readSmallBody(r, MaxDeleteObjectsBodySize)
	if err != nil {
		return err
	}
	quiet, objs, err := DecodeDeleteObjects(bytes.NewReader(body))
	if err != nil {
		return err
	}
	var res DeleteResult
	// The unconditional entries, batched: each entry's event (one key)
	// and what its answer says.
	var evs []*fsm.ObjectDelete
	var dels []DeletedObject
	for _, o := range objs {
		if err := ValidObjectKey(o.Key); err != nil {
			res.Errors = append(res.Errors, NewDeleteError(o.Key, o.VersionID, s3err.As(err)))
			continue
		}
		if o.VersionID != "" {
			if _, err := ParseVersionID(o.VersionID); err != nil {
				res.Errors = append(res.Errors, NewDeleteError(o.Key, o.VersionID, s3err.As(err)))
				continue
			}
		}
		ev, del := h.deleteEvent(r, &b, o.Key, o.VersionID, o.VersionID != "")
		if o.ETag != "" {
			// A conditional entry (as If-Match on DeleteObject): its own
			// event, so that its verdict is its own. Any failure is the
			// entry's (an ETag too long to be one is refused before it is
			// proposed; a leader change answers this entry 503's error),
			// so the others still run and the answer says what happened.
			cond, err := writeCondition(o.ETag, "")
			if err == nil && len(o.ETag) > maxDeleteETag {
				err = s3err.New(s3err.InvalidArgument)
			}
			if err == nil {
				ev.If = cond
				err = h.propose(r, fsm.MsgObjectDelete, ev)
			}
			if err != nil {
				res.Errors = append(res.Errors, NewDeleteError(o.Key, o.VersionID, s3err.As(err)))
				continue
			}
			h.released()
			if !quiet {
				res.Deleted = append(res.Deleted, del)
			}
			continue
		}
		evs, dels = append(evs, ev), append(dels, del)
	}
	// One event per batch of keys of about 32 KiB (well within the log
	// entry limit); a batch that fails is its keys' error.
	for len(evs) > 0 {
		n, size := 0, 0
		for n < len(evs) && size+len(evs[n].Keys[0]) < deleteBatchBytes {
			size += len(evs[n].Keys[0]) + 8 + 2*versionIDLen
			n++
		}
		err := h.propose(r, fsm.MsgObjectDelete, mergeDeletes(evs[:n]))
		for _, d := range dels[:n] {
			switch {
			case err != nil:
				res.Errors = append(res.Errors, NewDeleteError(d.Key, d.VersionID, s3err.As(err)))
			case !quiet:
				res.Deleted = append(res.Deleted, d)
			}
		}
		if err == nil {
			h.released()
		}
		evs, dels = evs[n:], dels[n:]
	}
	return writeXML(r, fasthttp.StatusOK, &res)
}

// mergeDeletes makes one event of the one-key events evs (of one bucket):
// without Versions or MarkerIDs if none has them, so that a batch of an
// unversioned bucket stays the event every release reads.
func mergeDeletes(evs []*fsm.ObjectDelete) *fsm.ObjectDelete {
	out := &fsm.ObjectDelete{Bucket: evs[0].Bucket}
	versioned := false
	for _, ev := range evs {
		out.Keys = append(out.Keys, ev.Keys[0])
		if ev.Versions != nil || ev.MarkerIDs != nil || ev.At != 0 {
			versioned = true
			out.Owner, out.At = ev.Owner, max(out.At, ev.At)
		}
	}
	if versioned {
		out.Versions, out.MarkerIDs = make([]string, len(evs)), make([]string, len(evs))
		for i, ev := range evs {
			if ev.Versions != nil {
				out.Versions[i] = ev.Versions[0]
			}
			if ev.MarkerIDs != nil {
				out.MarkerIDs[i] = ev.MarkerIDs[0]
			}
		}
	}
	return out
}

// deleteBatchBytes bounds the keys of one ObjectDelete event of a
// DeleteObjects request.
const deleteBatchBytes = 32 << 10

func (h *Handler) listMultipartUploads(r *request) error {
	if _, err := h.bucket(r); err != nil {
		return err
	}
	p, err := parseListParams(r, "max-uploads")
	if err != nil {
		return err
	}
	keyMarker, idMarker := r.query.Get("key-marker"), r.query.Get("upload-id-marker")
	out := ListMultipartUploadsResult{Bucket: r.bucket, KeyMarker: p.enc(keyMarker), UploadIDMarker: idMarker, Prefix: p.enc(p.prefix),
		Delimiter: p.enc(p.delimiter), MaxUploads: p.maxKeys, EncodingType: p.encoding}
	seen := map[string]bool{}
	for _, u := range h.meta.Uploads(r.bucket, p.prefix) {
		if u.Key < keyMarker || (u.Key == keyMarker && (idMarker == "" || u.UploadID <= idMarker)) {
			continue
		}
		if p.delimiter != "" {
			if i := strings.Index(u.Key[len(p.prefix):], p.delimiter); i >= 0 {
				cp := u.Key[:len(p.prefix)+i+len(p.delimiter)]
				if !seen[cp] {
					seen[cp] = true
					out.CommonPrefixes = append(out.CommonPrefixes, CommonPrefix{Prefix: p.enc(cp)})
				}
				continue
			}
		}
		if len(out.Uploads) == p.maxKeys {
			out.IsTruncated = true
			break
		}
		ow := h.owner(u.Object.Owner)
		out.Uploads = append(out.Uploads, Upload{Key: p.enc(u.Key), UploadID: u.UploadID, Initiator: ow, Owner: ow, StorageClass: "STANDARD",
			Initiated: XMLTime(unixTime(u.Initiated)), ChecksumAlgorithm: u.Object.Checksum.Algorithm})
		out.NextKeyMarker, out.NextUploadIDMarker = p.enc(u.Key), u.UploadID
	}
	return writeXML(r, fasthttp.StatusOK, &out)
}
