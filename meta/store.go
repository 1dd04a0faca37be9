// Package meta is S4's object-metadata store: buckets, objects, multipart
// uploads and the reference counts of the blobs they name, in one bbolt
// file, so that a million objects do not live in RAM and a listing is a
// key-ordered walk. Package fsm applies the metadata events of the Raft log
// to it, one write operation per event; the S3 handler and the node read it.
//
// Files:
//   - store.go: Store, its bbolt layout, the write transactions (each
//     operation's own, or one that a batch of operations shares);
//   - records.go: the records (ObjectMeta, PartMeta, ...) and the domain
//     errors;
//   - read.go: buckets, objects, listings and uploads;
//   - write.go: the write operations (CreateBucket, PutObject, ...);
//   - blobs.go: blob reference counts and the garbage list;
//   - inline.go: inline bodies (small objects and parts kept here, with
//     their CRC32C, instead of in blobs);
//   - snapshot.go: a consistent view to snapshot, and restoring one;
//   - completed.go: what completed multipart uploads made, for a re-sent
//     CompleteMultipartUpload;
//   - tags.go: object and bucket tags;
//   - versions.go: S3 versioning: the noncurrent versions, delete markers
//     and the null version, ListVersions, DeleteVersions;
//   - lifecycle.go: bucket lifecycle configurations, their rules' filters
//     and due dates, and the evaluator's conditional expirations.
//
// Invariants:
//   - The write operations are deterministic: they read nothing but their
//     arguments and the store (never the clock, a random source or the
//     network); the caller supplies names, IDs and timestamps.
//   - A write operation validates before it writes: one that returns an
//     error has changed nothing, not even inside a transaction that other
//     operations share (Batch). That is what makes one transaction for a
//     batch of events sound.
//   - A blob's reference count is the number of object versions and
//     uploaded parts that name it; a blob whose count drops to zero is on the garbage list
//     until it is referenced again or the blob store forgets it.
//   - The file is a cache of the log: Open starts it empty, and Raft
//     rebuilds it from the last snapshot and the log after it. Nothing is
//     fsynced (bolt NoSync): durability comes from the Raft log.
package meta

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	bolt "go.etcd.io/bbolt"
)

// Store is the object-metadata store.
//
// Layout (bbolt buckets):
//
//	buckets              name -> BucketInfo
//	o/<bucket>           key -> ObjectMeta           (one bbolt bucket per S3 bucket; the latest version)
//	v/<bucket>           key 0x00 ^seq -> ObjectMeta (the noncurrent versions, versions.go)
//	x/<bucket>           key 0x00 versionID -> seq   (their index by version ID)
//	i/<bucket>           key -> the inline tail's bytes (inline.go; created by the first inline object)
//	uploads              uploadID -> uploadRecord
//	p/<uploadID>         partNumber (4 bytes BE) -> PartMeta
//	refs                 blob ID -> count (8 bytes BE)
//	garbage              blob ID -> "" (blobs whose count dropped to 0)
//	done-uploads         uploadID -> CompletedUpload (completed.go)
//	done-uploads-at      at + uploadID -> ""
//	lifecycle            bucket name -> Lifecycle (lifecycle.go; created by the first configuration)
//
// The write operations run on one goroutine (the FSM's); the reads run on
// any, concurrently with them. ForgetGarbage, node-local bookkeeping of the
// blob store's collector, may run on any goroutine too: it takes a write
// transaction of its own, never the batch's.
type Store struct {
	mu   sync.RWMutex // guards db, which Restore replaces: use it only through view, updateDB or under mu
	db   *bolt.DB
	path string
	tx   *bolt.Tx // the batch's write transaction while Batch runs (the writer's goroutine only)
	log  *slog.Logger

	// The history's queue (history_queue.go). histTxThrough: the last
	// index the batch's transaction wrote of it (the writer's goroutine).
	histMu        sync.Mutex
	histQ         []queuedHistory
	histTxThrough uint64

	// The idle index builder (history_queue.go): lastBatch is when the
	// last batch ended, as time.Since(born); idleAfter and idleChunk are
	// histIdle and histIdleChunk when the store was opened.
	born      time.Time
	idleAfter time.Duration
	idleChunk int
	lastBatch atomic.Int64
	idleStop  chan struct{}
	idleDone  chan struct{}
	closeOnce sync.Once
}

// view runs fn in a read transaction of the current file.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(fn)
}

// updateDB runs fn in a write transaction of its own on the current file.
func (s *Store) updateDB(fn func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Update(fn)
}

// boltOptions are the options of meta.db: never fsynced (the Raft log is
// what is durable).
func boltOptions() *bolt.Options {
	return &bolt.Options{NoSync: true, NoFreelistSync: true, FreelistType: bolt.FreelistMapType}
}

var (
	bktBuckets = []byte("buckets")
	bktUploads = []byte("uploads")
	bktRefs    = []byte("refs")
	bktGarbage = []byte("garbage")
)

func objectsBucket(name string) []byte { return []byte("o/" + name) }
func partsBucket(id string) []byte     { return []byte("p/" + id) }

// Open creates a fresh, empty store at path (an existing file is removed
// first: the log rebuilds it).
func Open(path string) (*Store, error) {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	os.Remove(path + restoreSuffix) // what a restore cut short left
	db, err := bolt.Open(path, 0o600, boltOptions())
	if err != nil {
		return nil, fmt.Errorf("meta: open: %w", err)
	}
	s := &Store{db: db, path: path, log: slog.New(slog.DiscardHandler), born: time.Now(),
		idleAfter: histIdle, idleChunk: histIdleChunk, idleStop: make(chan struct{}), idleDone: make(chan struct{})}
	if err := s.db.Update(initBuckets); err != nil {
		db.Close()
		return nil, err
	}
	go s.indexWhenIdle(s.idleStop, s.idleDone)
	return s, nil
}

// initBuckets creates the top-level bbolt buckets that are missing.
func initBuckets(tx *bolt.Tx) error {
	for _, b := range append([][]byte{bktBuckets, bktUploads, bktRefs, bktGarbage, bktDoneUploads, bktDoneUploadsAt}, historyBuckets...) {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// SetLogger makes the store log through l (call it before writes start).
func (s *Store) SetLogger(l *slog.Logger) { s.log = l }

// Close closes the store.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.idleStop) })
	<-s.idleDone
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Close()
}

// msgpackHandle encodes the records, as package fsm encodes its events.
var msgpackHandle = &codec.MsgpackHandle{}

// The records' encoders and decoders are reused: making one costs more
// than encoding a small record.
var (
	encoders = sync.Pool{New: func() any { return codec.NewEncoderBytes(nil, msgpackHandle) }}
	decoders = sync.Pool{New: func() any { return codec.NewDecoderBytes(nil, msgpackHandle) }}
)

func encodeMsg(v any) []byte {
	var out []byte
	e := encoders.Get().(*codec.Encoder)
	e.ResetBytes(&out)
	if err := e.Encode(v); err != nil {
		panic(fmt.Errorf("meta: encode record: %w", err))
	}
	e.ResetBytes(nil)
	encoders.Put(e)
	return out
}

func decodeMsg(b []byte, v any) {
	d := decoders.Get().(*codec.Decoder)
	d.ResetBytes(b)
	if err := d.Decode(v); err != nil {
		panic(fmt.Errorf("meta: corrupt record: %w", err))
	}
	d.ResetBytes(nil)
	decoders.Put(d)
}

// Batch runs fn with one write transaction that every write operation
// inside it shares, and commits it once fn returns. fn runs on the
// writer's goroutine and calls the write operations itself (package fsm's
// ApplyBatch: the events Raft committed together). Since an operation
// that fails has written nothing, the transaction holds exactly the
// operations that succeeded. A commit that fails for lack of space is
// retried (commit); fn must therefore be able to run again from the start.
func (s *Store) Batch(fn func()) {
	s.commit(func(tx *bolt.Tx) error {
		s.tx, s.histTxThrough = tx, 0
		defer func() { s.tx = nil }()
		fn()
		return nil
	})
	if s.histTxThrough > 0 {
		s.dropQueued(s.histTxThrough)
	}
	s.lastBatch.Store(int64(time.Since(s.born)))
}

// update runs fn in a write transaction: the batch's inside Batch (fn must
// then not write before it returns an error), its own otherwise, rolled
// back when fn returns an error.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	if s.tx != nil {
		return fn(s.tx)
	}
	var verdict error
	s.commit(func(tx *bolt.Tx) error {
		if verdict = fn(tx); verdict != nil {
			return errRollback
		}
		return nil
	})
	return verdict
}

// commit runs fn in a write transaction until its commit succeeds. The
// writer is the FSM, which must apply every committed event, in order,
// and cannot skip one: when the disk is full (the free-space reserve keeps
// room for this, but another process may take it) the commit is retried
// every retryNoSpace until space is back, with one warning; the node's
// FSM stands still meanwhile, so its lease lapses (it fences) rather than
// serve a state it could not record. Any other I/O error means the disk
// failed under the FSM: it panics rather than let the node diverge.
func (s *Store) commit(fn func(tx *bolt.Tx) error) {
	warned := false
	for {
		err := s.updateDB(fn)
		if err == nil || err == errRollback {
			if warned {
				s.log.Info("metadata store: writing again, space is back")
			}
			return
		}
		if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) {
			panic(fmt.Errorf("meta: store: %w", err))
		}
		if !warned {
			s.log.Warn("metadata store: no space left to apply the log; waiting for space (the node refuses requests meanwhile)", "err", err)
			warned = true
		}
		time.Sleep(retryNoSpace)
	}
}

// retryNoSpace is how often commit retries a write that found no space.
const retryNoSpace = 100 * time.Millisecond

var errRollback = errors.New("rollback")

// must panics on a bbolt error inside a write operation (see update).
func must(err error) {
	if err != nil {
		panic(fmt.Errorf("meta: store: %w", err))
	}
}
