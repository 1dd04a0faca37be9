package s3

import (
	"context"
	"io"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
	"github.com/s4/s4/meta"
)

// The handler's view of the rest of the node: what it reads, how it
// writes, and when it may serve. The node's own parts satisfy them as
// they are (the FSM and the two stores are checked at the end of this
// file); the tests put temporary stores, a proposer applying to a real
// FSM and no gate behind them (harness_test.go).

// AuthIndex is the FSM's auth index and user table as the S3 API reads them:
// in memory, no lock, on every request.
type AuthIndex interface {
	Lookup(accessKey string) (*iam.User, bool)
	UserByID(id string) (*iam.User, bool)
}

// Proposer commits an event through the cluster and returns once the local
// FSM applied it (so the next read on this node sees it).
type Proposer interface {
	Propose(ctx context.Context, t fsm.MessageType, msg any) error
}

// Gate says whether this node may serve S3 requests now (ready, and, in a
// cluster, within its auth lease). A non-nil error answers 503.
type Gate interface {
	ServeS3() error
}

// Metadata is what the handler reads of the object-metadata store (package
// meta; *meta.Store implements it): buckets, objects, listings, multipart
// uploads and their parts, and blob reference counts. It never writes
// there: every change is an event (Proposer) that the FSM applies to the
// store.
type Metadata interface {
	Bucket(name string) (meta.BucketInfo, bool)
	Buckets() []meta.BucketInfo
	Object(bucket, key string) (meta.ObjectMeta, bool)
	// ObjectData is Object with the bytes of the object's inline tail
	// (Inline.Data), unchecked, read in the same transaction.
	ObjectData(bucket, key string) (meta.ObjectMeta, bool)
	// ObjectVersion is a version of an object, a delete marker too ("":
	// the latest; meta.NullVersion: the null version), with its inline
	// bytes when withData.
	ObjectVersion(bucket, key, id string, withData bool) (obj meta.ObjectMeta, latest, ok bool)
	// List lists bucket's keys after after under prefix; ok is false
	// when the bucket does not exist.
	List(bucket, prefix, after, delimiter string, max int) (res meta.ListResult, ok bool)
	// ListVersions lists the versions of bucket's keys (meta.ListVersions).
	ListVersions(bucket, prefix, keyMarker, versionIDMarker, delimiter string, max int) (res meta.VersionList, ok bool)
	Upload(id string) (meta.UploadInfo, bool)
	// CompletedUpload is what upload id made, while its key still holds
	// it (meta.CompletedUploadRetention).
	CompletedUpload(id string) (meta.CompletedUpload, bool)
	Parts(id string, after, max int) (parts []meta.PartEntry, truncated bool)
	Uploads(bucket, prefix string) []meta.UploadInfo
	// BlobRefs counts the objects and parts that use a blob.
	BlobRefs(sum [32]byte) uint64
	// BucketLifecycle is a bucket's lifecycle configuration (nil: none).
	BucketLifecycle(bucket string) *meta.Lifecycle
}

// Blobs is this node's blob store (package blob; *blob.Store implements
// it): object bytes addressed by their SHA-256, and the pins that keep a
// blob from the garbage collector until the metadata naming it is
// committed.
type Blobs interface {
	// Create starts a new blob (a PUT's body or part).
	Create() (*blob.Writer, error)
	// PutPinned stores r as a blob and pins it (UploadPartCopy).
	PutPinned(r io.Reader, maxSize int64) (ref blob.Ref, unpin func(), err error)
	// Open opens a blob; blob.ErrNotFound when this node lacks it. The
	// reader verifies each block before it returns bytes of it.
	Open(sum [32]byte) (*blob.Reader, int64, error)
	Has(sum [32]byte) bool
	Pin(sum [32]byte) (unpin func())
	// Remove removes a blob unless it is pinned or stillUnreferenced,
	// asked under the store's lock, says it is used again.
	Remove(sum [32]byte, stillUnreferenced func() bool) (removed bool, err error)
}

// FreshReader is implemented by a Gate whose node may not have applied
// every write the cluster acknowledged yet (a follower). FreshRead returns
// once it has applied every write acknowledged before the call; the handler
// calls it before every operation of an authenticated request, so that a
// request sees what any node acknowledged before it arrived.
type FreshReader interface {
	FreshRead() error
}

// Replicator copies blobs between the nodes of a cluster (objects.Service implements
// it; nil on a single node).
type Replicator interface {
	// Replicate returns once a majority of the voters (counting this node,
	// which holds the blob) hold the blob durably. ref is what this node's
	// blob.Writer computed (the peers check their copies by its CRC32C).
	Replicate(ctx context.Context, ref blob.Ref) error
	// Fetch copies a blob this node lacks from a peer into the local store.
	// It fails with an error wrapping disk.ErrFull when this node has no
	// room for it (at its free-space reserve).
	Fetch(ctx context.Context, sum [32]byte) error
	// Repair replaces this node's copy of a blob that failed its block
	// checksums with a good copy from a peer; the error wraps
	// blob.ErrNotFound if no peer has it.
	Repair(ctx context.Context, sum [32]byte) error
	// Stream reads a blob from a peer without keeping it (a GET on a node
	// at its reserve): the caller reads size bytes from rc and closes it.
	// rc fails with an error, instead of the last bytes or EOF, if the
	// content does not match the CRC32C the peer gave (or, from a peer of
	// the previous release, does not hash to sum) or ends early.
	Stream(ctx context.Context, sum [32]byte) (rc io.ReadCloser, size int64, err error)
	// RepairInline reads a good copy of the inline body of bucket/key (size
	// bytes, CRC32C crc: the version this node's record names) from a peer,
	// puts it in place of this node's copy, which failed its checksum, and
	// returns it; the error wraps blob.ErrNotFound if no peer has one.
	RepairInline(ctx context.Context, bucket, key string, size int64, crc uint32) ([]byte, error)
}

// Space guards this node's disk (package disk; objects.Service implements it).
// Object data stops at the free-space reserve: PutObject, UploadPart,
// UploadPartCopy, CopyObject and CompleteMultipartUpload answer 507
// XS4StorageFull. Deletes and everything else go on.
type Space interface {
	// Check returns nil if size more bytes of object data (size < 0:
	// unknown) may be stored now, or an error wrapping disk.ErrFull. It is
	// cheap (no system call).
	Check(size int64) error
	// NoSpace tells the node that a write failed for lack of space
	// (ENOSPC): it reads its free space again at once.
	NoSpace()
	// Released tells the node that a delete (objects, an upload) was
	// applied: at its reserve it collects the freed blobs soon.
	Released()
}

// The FSM and the stores the node hands to New.
var (
	_ AuthIndex = (*fsm.FSM)(nil)
	_ Metadata  = (*meta.Store)(nil)
	_ Blobs     = (*blob.Store)(nil)
)
