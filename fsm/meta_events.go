package fsm

import "errors"

// Object-metadata events. Object bytes never travel in the log: a PUT writes
// its blob first (package blob) and then proposes the metadata, which names
// the blob by its SHA-256.
const (
	MsgBucketCreate   MessageType = 16
	MsgBucketDelete   MessageType = 17
	MsgObjectPut      MessageType = 18
	MsgObjectDelete   MessageType = 19
	MsgUploadCreate   MessageType = 20
	MsgPartPut        MessageType = 21
	MsgUploadComplete MessageType = 22
	MsgUploadAbort    MessageType = 23
)

// Domain errors of the metadata events.
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

// MinPartSize is the smallest size of every part of a multipart upload but
// the last (S3's rule).
const MinPartSize = 5 << 20

// BlobPart is one stretch of an object's bytes: a whole blob.
type BlobPart struct {
	SHA256 [32]byte
	Size   int64
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
}

// Checksum is a stored S3 checksum: algorithm name ("CRC32", ...) and its
// base64 value; composite multipart checksums end in "-N".
type Checksum struct {
	Algorithm string
	Value     string
}

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

// ObjectPut creates or replaces an object.
type ObjectPut struct {
	Bucket string
	Key    string
	Object ObjectMeta
	If     *WriteCondition // nil: unconditional
}

// WriteCondition is a conditional write (S3's If-None-Match and If-Match
// on PutObject and CompleteMultipartUpload). Apply checks it in the same
// step that writes, so that of two racing writes at most one passes. It is
// a field added to version 1 of the two events (2026-11-29): builds before
// it skip the unknown field and would apply the write unconditionally, so
// every node of a cluster must run a build that knows it before clients
// send conditional writes.
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
}

// ObjectDelete deletes objects; deleting a missing key is not an error.
type ObjectDelete struct {
	Bucket string
	Keys   []string
}

// UploadCreate starts a multipart upload; Object holds the metadata the
// completed object gets (headers, user metadata, owner, checksum algorithm).
type UploadCreate struct {
	Bucket   string
	Key      string
	UploadID string
	Object   ObjectMeta
	At       int64
}

// PartPut records an uploaded part, replacing one with the same number.
type PartPut struct {
	UploadID   string
	PartNumber int
	Part       PartMeta
}

// PartMeta describes one uploaded part.
type PartMeta struct {
	ETag         string // quoted hex MD5
	MD5          [16]byte
	Size         int64
	Blob         BlobPart
	LastModified int64
	Checksum     Checksum
}

// CompletePart is one entry of a CompleteMultipartUpload request.
type CompletePart struct {
	PartNumber int
	ETag       string
}

// UploadComplete assembles the listed parts into the object.
type UploadComplete struct {
	UploadID string
	Parts    []CompletePart
	At       int64
	If       *WriteCondition // nil: unconditional
}

// UploadAbort drops an upload and its parts.
type UploadAbort struct {
	UploadID string
}
