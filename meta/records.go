package meta

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// Domain errors of the write operations. Package fsm re-exports each
// (fsm.ErrX) and the internal RPC carries them under those names.
var (
	ErrNoSuchBucket       = errors.New("no such bucket")
	ErrBucketExists       = errors.New("bucket already exists")
	ErrBucketOwnedByYou   = errors.New("bucket already owned by you")
	ErrBucketNotEmpty     = errors.New("bucket not empty")
	ErrNoSuchUpload       = errors.New("no such upload")
	ErrInvalidPart        = errors.New("invalid part")
	ErrInvalidPartOrder   = errors.New("invalid part order")
	ErrEntityTooSmall     = errors.New("part too small")
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrNoSuchKey          = errors.New("no such key")
)

// InvalidError refuses a write operation whose arguments no correct
// proposer sends (an empty or oversized name, a part number out of range,
// an upload ID in use). Package fsm answers it as fsm.ErrInvalidEvent
// with the same reason.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return "invalid: " + e.Reason }

func invalid(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

// MinPartSize is the smallest size of every part of a multipart upload but
// the last (S3's rule).
const MinPartSize = 5 << 20

// BlobPart is one stretch of an object's bytes: a whole blob, named by its
// ID (package blob). The ID is encoded under the name "SHA256": blobs were
// named by their SHA-256 until format 3 of the blob store, and the events
// and snapshots of those releases still decode (such a blob's ID is its
// SHA-256).
type BlobPart struct {
	ID   [32]byte `codec:"SHA256"`
	Size int64
}

// ObjectMeta is what S4 knows of an object; Parts concatenated are its bytes.
type ObjectMeta struct {
	Size         int64
	ETag         string // quoted hex MD5, or "md5-N" for multipart
	LastModified int64  // Unix nanoseconds
	Owner        string // user ID
	ContentType  string
	Headers      map[string]string // Content-Encoding, Cache-Control, Content-Disposition, Content-Language, Expires
	UserMeta     map[string]string // x-amz-meta-* (lowercase names without the prefix)
	Checksum     Checksum
	Parts        []BlobPart
	// PartSizes records the client-visible part sizes of a multipart object
	// (for GET ?partNumber and composite checksums); empty for a single PUT.
	PartSizes []int64
	// Tags are the object's tags, sorted by key (tags.go).
	Tags []Tag
	// Inline is the object's inline tail, its last bytes after Parts
	// (inline.go); nil: none.
	Inline *Inline `codec:",omitempty"`
	// VersionID is the version's ID in a bucket with versioning
	// (versions.go); "" and "null" are the null version: "" one written
	// while the bucket never had versioning, "null" one written since.
	VersionID string `codec:",omitempty"`
	// DeleteMarker marks a delete marker: a version without data.
	DeleteMarker bool `codec:",omitempty"`
}

// Checksum is a stored S3 checksum: algorithm name ("CRC32", ...) and its
// base64 value; composite multipart checksums end in "-N".
type Checksum struct {
	Algorithm string
	Value     string
}

// WriteCondition is a conditional write (S3's If-None-Match and If-Match
// on PutObject and CompleteMultipartUpload, If-Match on DeleteObject). The
// write operation checks it in the same step that writes, so that of two
// racing writes at most one passes.
type WriteCondition struct {
	// IfNoneMatch: the key must not exist (If-None-Match: *), else
	// ErrPreconditionFailed.
	IfNoneMatch bool
	// IfMatch: the key must exist, else ErrNoSuchKey, and, unless ETags
	// is empty (If-Match: *), its ETag must be one of ETags (compared
	// without quotes; weak "W/" tags never match), else
	// ErrPreconditionFailed.
	IfMatch bool
	ETags   []string
	// NoneMatch (If-None-Match with ETags): the key must not have one of
	// them (compared without quotes and any "W/": a weak comparison, as
	// for If-None-Match), else ErrPreconditionFailed; a missing key passes.
	NoneMatch []string
}

// PartMeta describes one uploaded part.
type PartMeta struct {
	ETag         string // quoted hex MD5
	MD5          [16]byte
	Size         int64
	Blob         BlobPart
	LastModified int64
	Checksum     Checksum
	// Inline holds the part's bytes when it is inline (inline.go); Blob
	// is then zero.
	Inline *Inline `codec:",omitempty"`
}

// blobs returns the blobs the part references: none for an inline part.
func (p *PartMeta) blobs() []BlobPart {
	if p.Inline != nil {
		return nil
	}
	return []BlobPart{p.Blob}
}

// CompletePart is one entry of a CompleteMultipartUpload request.
type CompletePart struct {
	PartNumber int
	ETag       string
}

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name      string
	Owner     string
	CreatedAt int64
	Tags      []Tag // sorted by key (tags.go)
	// Versioning is the bucket's versioning state (versions.go): "" (never
	// enabled), VersioningEnabled or VersioningSuspended.
	Versioning string `codec:",omitempty"`
	// VersionSeq counts the versions that became noncurrent in the bucket:
	// the order of a key's noncurrent versions (versions.go).
	VersionSeq uint64 `codec:",omitempty"`
}

// uploadRecord is an upload in progress as the uploads bucket stores it.
type uploadRecord struct {
	Bucket    string
	Key       string
	Initiated int64
	Object    ObjectMeta
}

// UploadInfo describes a multipart upload in progress.
type UploadInfo struct {
	UploadID  string
	Bucket    string
	Key       string
	Initiated int64
	Object    ObjectMeta
}

func (r *uploadRecord) info(id string) UploadInfo {
	return UploadInfo{UploadID: id, Bucket: r.Bucket, Key: r.Key, Initiated: r.Initiated, Object: r.Object}
}

// ListEntry is one key of a listing.
type ListEntry struct {
	Key    string
	Object ObjectMeta
}

// ListResult is a page of a listing.
type ListResult struct {
	Objects        []ListEntry
	CommonPrefixes []string
	IsTruncated    bool
	// NextMarker is the last key or common prefix returned when truncated.
	NextMarker string
}

// PartEntry is one part of an upload.
type PartEntry struct {
	Number int
	Part   PartMeta
}

// MultipartETag is S3's ETag of a multipart object: the MD5 of the parts'
// binary MD5s, then "-" and the part count.
func MultipartETag(md5s [][16]byte) string {
	h := md5.New()
	for _, m := range md5s {
		h.Write(m[:])
	}
	return `"` + hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(md5s)) + `"`
}

func normalizeETag(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
