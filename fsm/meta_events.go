package fsm

import "github.com/s4/s4/meta"

// Object-metadata events. Object bytes travel in the log only when they are
// small (at most the node's inline threshold, never more than
// meta.MaxInline): ObjectPut and PartPut then carry them (version 2 of the
// two events, see versioned). Larger bodies do not: a PUT writes its blob
// first (package blob) and then proposes the metadata, which names the
// blob by its ID (package blob, "Names").
const (
	MsgBucketCreate   MessageType = 16
	MsgBucketDelete   MessageType = 17
	MsgObjectPut      MessageType = 18
	MsgObjectDelete   MessageType = 19
	MsgUploadCreate   MessageType = 20
	MsgPartPut        MessageType = 21
	MsgUploadComplete MessageType = 22
	MsgUploadAbort    MessageType = 23
	MsgObjectTagsSet  MessageType = 24
	MsgBucketTagsSet  MessageType = 25
	// MsgBucketVersioningSet (2026-12-03) is a type a release before it
	// does not know: such a release stops at it rather than diverge.
	MsgBucketVersioningSet MessageType = 26
	// Lifecycle (2026-12-03): types a release before them does not know,
	// so such a release stops at one rather than diverge. (26 is versioning's.)
	MsgBucketLifecycleSet MessageType = 27
	MsgLifecycleExpire    MessageType = 28
)

// BucketCreate creates a bucket owned by Owner.
type BucketCreate struct {
	Name  string
	Owner string
	At    int64
}

// BucketDelete deletes an empty bucket (and aborts its uploads).
type BucketDelete struct {
	Name string
}

// ObjectPut creates or replaces an object. Object.VersionID (versioning,
// 2026-12-03; version 2) is the ID of the version it makes in a bucket
// with versioning Enabled (meta.PutObject).
//
// If (here and in UploadComplete) is a field added to version 1 of the two
// events (2026-11-29): builds before it skip the unknown field and would
// apply the write unconditionally, so every node of a cluster must run a
// build that knows it before clients send conditional writes.
type ObjectPut struct {
	Bucket string
	Key    string
	Object meta.ObjectMeta
	If     *meta.WriteCondition // nil: unconditional
}

// Version 2 of ObjectPut, PartPut, ObjectDelete, UploadCreate and
// UploadComplete marks an event that carries a field a release before
// 2026-12-03 would skip and so apply differently: an inline body, tags,
// an If-None-Match ETag list, a condition on a delete. Such a release stops
// at a version 2 event (unknown version) rather than diverge; an event
// without those fields stays version 1, readable by every release.
func v2If(new bool) uint8 {
	if new {
		return 2
	}
	return 1
}

func noneMatch(c *meta.WriteCondition) bool { return c != nil && len(c.NoneMatch) > 0 }

func inlineLen(in *meta.Inline) int {
	if in == nil {
		return 0
	}
	return len(in.Data)
}

func (e ObjectPut) eventVersion() uint8 {
	return v2If(e.Object.Inline != nil || len(e.Object.Tags) > 0 || noneMatch(e.If) || e.Object.VersionID != "")
}
func (e ObjectPut) inlineSize() int   { return inlineLen(e.Object.Inline) }
func (e PartPut) eventVersion() uint8 { return v2If(e.Part.Inline != nil) }
func (e PartPut) inlineSize() int     { return inlineLen(e.Part.Inline) }
func (e ObjectDelete) eventVersion() uint8 {
	return v2If(e.If != nil || len(e.Versions) > 0 || len(e.MarkerIDs) > 0 || e.At != 0 || e.Owner != "")
}
func (e ObjectDelete) inlineSize() int     { return 0 }
func (e UploadCreate) eventVersion() uint8 { return v2If(len(e.Object.Tags) > 0) }
func (e UploadCreate) inlineSize() int     { return 0 }
func (e UploadComplete) eventVersion() uint8 {
	return v2If(noneMatch(e.If) || e.VersionID != "")
}
func (e ObjectTagsSet) eventVersion() uint8 { return v2If(e.VersionID != "") }
func (e ObjectTagsSet) inlineSize() int     { return 0 }
func (e UploadComplete) inlineSize() int    { return 0 }

// ObjectDelete deletes objects; deleting a missing key is not an error,
// unless If (DeleteObject's If-Match) says it must exist.
//
// If (2026-12-03) makes it a version 2 event (see v2If), as
// WriteCondition.NoneMatch (If-None-Match with ETags) does an ObjectPut or
// UploadComplete, and tags an ObjectPut or UploadCreate.
//
// Versions and MarkerIDs (versioning, 2026-12-03; version 2 too), when
// present, have an entry per key: the version of the key to delete for
// good ("" none: delete as a DELETE without versionId does), and the ID
// of the delete marker that such a delete makes in a bucket with
// versioning Enabled (meta.VersionDelete); Owner and At are the delete
// markers' owner and time. An event without them (its proposer saw the
// bucket unversioned; the bucket had versioning by the time it was
// applied) makes markers owned by the bucket's owner, at the time the
// leader appended the entry (raft.Log.AppendedAt, replicated with it).
type ObjectDelete struct {
	Bucket    string
	Keys      []string
	If        *meta.WriteCondition // nil: unconditional
	Versions  []string             `codec:",omitempty"`
	MarkerIDs []string             `codec:",omitempty"`
	Owner     string               `codec:",omitempty"`
	At        int64                `codec:",omitempty"`
}

// deletes is the event's meta.VersionDelete list, or why it has none
// (Versions or MarkerIDs of another length than Keys).
func (e *ObjectDelete) deletes() ([]meta.VersionDelete, error) {
	if e.Versions != nil && len(e.Versions) != len(e.Keys) || e.MarkerIDs != nil && len(e.MarkerIDs) != len(e.Keys) {
		return nil, &meta.InvalidError{Reason: "versions or marker IDs do not match the keys"}
	}
	out := make([]meta.VersionDelete, len(e.Keys))
	for i, k := range e.Keys {
		out[i].Key = k
		if e.Versions != nil {
			out[i].VersionID = e.Versions[i]
		}
		if e.MarkerIDs != nil {
			out[i].MarkerID = e.MarkerIDs[i]
		}
	}
	return out, nil
}

// UploadCreate starts a multipart upload; Object holds the metadata the
// completed object gets (headers, user metadata, owner, checksum algorithm).
type UploadCreate struct {
	Bucket   string
	Key      string
	UploadID string
	Object   meta.ObjectMeta
	At       int64
}

// PartPut records an uploaded part, replacing one with the same number.
type PartPut struct {
	UploadID   string
	PartNumber int
	Part       meta.PartMeta
}

// UploadComplete assembles the listed parts into the object.
//
// VersionID (versioning, 2026-12-03; version 2) is the ID of the version
// it makes in a bucket with versioning Enabled.
type UploadComplete struct {
	UploadID  string
	Parts     []meta.CompletePart
	At        int64
	If        *meta.WriteCondition // nil: unconditional (see ObjectPut)
	VersionID string               `codec:",omitempty"`
}

// UploadAbort drops an upload and its parts.
type UploadAbort struct {
	UploadID string
}

// ObjectTagsSet replaces an object's tags (PutObjectTagging; none:
// DeleteObjectTagging). Tags are sorted by key, each key once.
//
// VersionID (versioning, 2026-12-03; version 2) names the version whose
// tags change ("": the latest).
type ObjectTagsSet struct {
	Bucket    string
	Key       string
	Tags      []meta.Tag
	VersionID string `codec:",omitempty"`
}

// BucketTagsSet replaces a bucket's tags (PutBucketTagging; none:
// DeleteBucketTagging). Tags are sorted by key, each key once.
type BucketTagsSet struct {
	Bucket string
	Tags   []meta.Tag
}

// BucketVersioningSet sets a bucket's versioning state
// (PutBucketVersioning): meta.VersioningEnabled or
// meta.VersioningSuspended; a bucket never goes back to unversioned.
type BucketVersioningSet struct {
	Bucket string
	Status string
}

// BucketLifecycleSet replaces a bucket's lifecycle configuration
// (PutBucketLifecycleConfiguration; nil: DeleteBucketLifecycle).
type BucketLifecycleSet struct {
	Bucket    string
	Lifecycle *meta.Lifecycle
}

// LifecycleExpire is what the leader's lifecycle evaluator decided for one
// bucket (node/lifecycle.go; meta.Store.Expire applies it): the latest
// versions whose Expiration came, each expired only if it is still the
// version evaluated (same ID, ETag and LastModified: one overwritten since
// is kept) — deleted in an unversioned bucket, hidden by a delete marker
// (MarkerID) in a versioned one; the noncurrent versions whose
// NoncurrentVersionExpiration came; the delete markers left alone
// (ExpiredObjectDeleteMarker); the multipart uploads whose
// AbortIncompleteMultipartUpload came. At is when the evaluator decided
// (Unix nanoseconds): the time of the delete markers it makes.
//
// The versions' fields (Noncurrent, Markers, ObjectExpiry.VersionID and
// MarkerID) make it a version 2 event: a build that knows only version 1
// would skip them and apply it differently.
type LifecycleExpire struct {
	Bucket     string
	Objects    []meta.ObjectExpiry
	Noncurrent []meta.VersionExpiry `codec:",omitempty"`
	Markers    []meta.VersionExpiry `codec:",omitempty"`
	Uploads    []string
	At         int64
}

func (e LifecycleExpire) eventVersion() uint8 {
	v2 := len(e.Noncurrent) > 0 || len(e.Markers) > 0
	for _, o := range e.Objects {
		v2 = v2 || o.VersionID != "" || o.MarkerID != ""
	}
	return v2If(v2)
}
func (e LifecycleExpire) inlineSize() int { return 0 }

// Size is how many decisions e carries.
func (e *LifecycleExpire) Size() int {
	return len(e.Objects) + len(e.Noncurrent) + len(e.Markers) + len(e.Uploads)
}

// LifecycleResult is the FSM's answer to a LifecycleExpire: what it did
// (meta.ExpiryResult).
type LifecycleResult = meta.ExpiryResult
