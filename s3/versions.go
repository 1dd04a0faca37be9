package s3

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
)

// Versioning (docs/DESIGN.md "Versions", meta/versions.go): the node that
// takes a request chooses the IDs of the versions and delete markers it
// makes and carries them in the event; the store uses them only when the
// bucket is Enabled when the event is applied.

// versionIDLen is the length of the version IDs S4 makes: 16 random bytes
// in lower-case hex.
const versionIDLen = 32

// NewVersionID returns a new random version ID.
func NewVersionID() string {
	var b [versionIDLen / 2]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ParseVersionID checks a version ID a client sent (versionId,
// version-id-marker, a copy source's versionId, a DeleteObjects entry's
// VersionId): "null", or 1 to 1024 of the characters S3's and S4's IDs
// are made of (letters, digits, '.', '_', '-'); an ID of that form that
// names no version is NoSuchVersion later, as S3 answers. Anything else is
// InvalidArgument, an empty ID too ("Version id cannot be the empty
// string").
func ParseVersionID(s string) (string, error) {
	if s == "" {
		return "", s3err.Errorf(s3err.InvalidArgument, "Version id cannot be the empty string")
	}
	if len(s) > maxVersionIDLen {
		return "", s3err.Errorf(s3err.InvalidArgument, "Invalid version id specified")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '.' || c == '_' || c == '-') {
			return "", s3err.Errorf(s3err.InvalidArgument, "Invalid version id specified")
		}
	}
	return s, nil
}

// maxVersionIDLen is S3's bound on a version ID.
const maxVersionIDLen = 1024

// versionParam returns the request's versionId query parameter, checked,
// and whether it has one.
func versionParam(r *request) (string, bool, error) {
	v, ok := r.query["versionId"]
	if !ok {
		return "", false, nil
	}
	id, err := ParseVersionID(v[0])
	return id, true, err
}

// setVersionHeader sends x-amz-version-id for a version of a bucket with
// versioning (or one asked for by ID).
func setVersionHeader(r *request, obj *meta.ObjectMeta, always bool) {
	if obj.VersionID != "" || always {
		r.ctx.Response.Header.Set("x-amz-version-id", meta.VersionIDOf(obj))
	}
}

// setDeleteMarker sends the headers of an answer about a delete marker.
func setDeleteMarker(r *request, obj *meta.ObjectMeta) {
	r.ctx.Response.Header.Set("x-amz-delete-marker", "true")
	r.ctx.Response.Header.Set("x-amz-version-id", meta.VersionIDOf(obj))
}

// objectVersion loads version id of bucket/key ("": the latest) with its
// inline bytes when withData: NoSuchBucket, NoSuchKey (no such key, or its
// latest is a delete marker: answered with x-amz-delete-marker),
// NoSuchVersion, or MethodNotAllowed for a delete marker asked for by ID
// (x-amz-delete-marker too), as S3 answers a GET or HEAD.
func (h *Handler) objectVersion(r *request, bucket, key, id string, withData bool) (meta.ObjectMeta, error) {
	obj, _, ok := h.meta.ObjectVersion(bucket, key, id, withData)
	switch {
	case !ok:
		if _, bok := h.meta.Bucket(bucket); !bok {
			return obj, s3err.New(s3err.NoSuchBucket)
		}
		if id != "" {
			return obj, s3err.New(s3err.NoSuchVersion)
		}
		return obj, s3err.New(s3err.NoSuchKey)
	case obj.DeleteMarker && id == "":
		setDeleteMarker(r, &obj)
		return obj, s3err.New(s3err.NoSuchKey)
	case obj.DeleteMarker:
		setDeleteMarker(r, &obj)
		r.ctx.Response.Header.Set("Allow", "DELETE")
		return obj, s3err.New(s3err.MethodNotAllowed)
	}
	return obj, nil
}

// versionOf is the ID of the version a write to bucket b makes: a new one
// when versioning is Enabled, else none (the null version).
func versionOf(b *meta.BucketInfo) string {
	if b.Versioning == meta.VersioningEnabled {
		return NewVersionID()
	}
	return ""
}

// setWrittenVersion sends x-amz-version-id after a write to r.bucket that
// this node has applied (a proposal returns once it has) and that made
// the version id returns ("": the null version), none for a bucket that
// never had versioning (and then id is not called). It reads the bucket's
// state after the write: the state the handler read before it proposed
// was this node's then, which a versioning change committed in between
// overtakes (the write then made a version although the handler saw none:
// on a follower that had not applied the change yet, or through any node
// in a race with it).
func (h *Handler) setWrittenVersion(r *request, id func() string) {
	if b, ok := h.meta.Bucket(r.bucket); !ok || b.Versioning == "" {
		return
	}
	v := id()
	if v == "" {
		v = meta.NullVersion
	}
	r.ctx.Response.Header.Set("x-amz-version-id", v)
}

// writtenVersion returns the ID of the version that the write of obj to
// r.key made, once this node has applied it. The apply keeps the ID
// proposed (versionOf) while the bucket has versioning Enabled, makes the
// null version while it has not, and derives an ID from the bucket's
// sequence when versioning was enabled after the handler read the bucket
// (so that it proposed none): every node derives the same, but only the
// store knows it. So the key's latest version is read back, if it is this
// write's (its LastModified, ETag and owner); if a later write replaced
// it already, the ID proposed is the answer, which is right unless that
// later write also raced a versioning change.
func (h *Handler) writtenVersion(r *request, obj *meta.ObjectMeta) func() string {
	return func() string {
		got, _, ok := h.meta.ObjectVersion(r.bucket, r.key, "", false)
		if ok && !got.DeleteMarker && got.LastModified == obj.LastModified && got.ETag == obj.ETag && got.Owner == obj.Owner {
			return got.VersionID
		}
		return obj.VersionID
	}
}

// completedVersion is the version a completed upload made, as its record
// has it (written by the apply).
func completedVersion(c meta.CompletedUpload) func() string {
	return func() string { return c.VersionID }
}
