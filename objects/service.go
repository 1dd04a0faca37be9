package objects

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
)

// Sentinel errors of the service; match with errors.Is.
var (
	// ErrStopped: the service was stopped (its node closes).
	ErrStopped = errors.New("objects: stopped")
	// ErrNotReady: the node has not caught up with the log yet, so its
	// metadata may not name every blob it should hold.
	ErrNotReady = errors.New("objects: the node has not caught up with the log")
)

// Peers is the node's view of the Raft configuration.
type Peers interface {
	// Peers returns the cluster addresses of the other servers of the
	// configuration, the voters among them and the others, and whether
	// this node votes.
	Peers() (voters, others []string, selfVotes bool, err error)
}

// Readiness tells whether the node has caught up with the log, so that its
// metadata names every blob it should hold.
type Readiness interface {
	Ready() bool
	// WaitReady blocks until the node is ready or ctx ends.
	WaitReady(ctx context.Context) error
}

// FreshReader brings the node's metadata up to every write the cluster
// acknowledged before the call (node.Node.FreshRead).
type FreshReader interface {
	FreshRead() error
}

// References are the metadata store's blob reference queries (*meta.Store).
type References interface {
	// BlobRefs returns how many objects and parts reference sum.
	BlobRefs(sum [32]byte) uint64
	// Garbage returns up to max blobs no object references any more.
	Garbage(max int) [][32]byte
	// ForgetGarbage drops sum from the garbage list if it is still
	// unreferenced.
	ForgetGarbage(sum [32]byte)
	// ReferencedBlobs pages through every referenced blob in sum order,
	// from the one after after (nil: from the first).
	ReferencedBlobs(after *[32]byte, limit int) (sums [][32]byte, more bool, err error)
}

// BlobStore is this node's blob store (*blob.Store).
type BlobStore interface {
	Open(sum [32]byte) (*blob.Reader, int64, error) // verifies each block as it reads
	Has(sum [32]byte) bool
	Committed(sum [32]byte) (time.Time, error)
	// CreateCopyOf starts a copy of want from a peer, checked against its
	// size and CRC32C; its Commit replaces a corrupt local copy.
	CreateCopyOf(want blob.Ref) (*blob.Writer, error)
	Remove(sum [32]byte, stillUnreferenced func() bool) (removed bool, err error)
	Walk(fn func(sum [32]byte, size int64) error) error
}

// Disk is the free-space monitor of the data dir's file system
// (*disk.Monitor).
type Disk interface {
	// Check returns nil if size more bytes may be stored, or an error
	// wrapping disk.ErrFull.
	Check(size int64) error
	AtReserve() bool
	// Refresh reads the free space now.
	Refresh() disk.Status
}

// Transfer copies blobs to and reads them from the other nodes over the
// cluster's internal RPC (*cluster.Client).
type Transfer interface {
	// PutBlob copies ref, whose ref.Size bytes it reads from r, to the
	// node at addr; the error wraps disk.ErrFull if that node has no room.
	PutBlob(ctx context.Context, addr string, ref blob.Ref, r io.Reader) error
	// GetBlob streams the blob id from the node at addr, ref.Size bytes
	// whose CRC32C is ref.CRC32C; err wraps blob.ErrNotFound if that node
	// lacks it.
	GetBlob(ctx context.Context, addr string, id [32]byte) (rc io.ReadCloser, ref blob.Ref, err error)
	// GetInline reads the inline body of bucket/key of size bytes and
	// CRC32C crc from the node at addr, checked (blob.ErrNotFound: it has
	// no such body).
	GetInline(ctx context.Context, addr, bucket, key string, size int64, crc uint32) ([]byte, error)
}

// Config is what a Service works with. Every field but Disk, GCInterval
// and Logger is required.
type Config struct {
	Peers    Peers
	Ready    Readiness
	Fresh    FreshReader
	Refs     References
	Blobs    BlobStore
	Transfer Transfer
	// Disk is the free-space monitor; nil: no reserve.
	Disk Disk
	// GCInterval is the time between two garbage-collection passes.
	// Default 30s.
	GCInterval time.Duration
	// ScrubRate bounds the scrubber's reads, in bytes per second; 0:
	// DefaultScrubRate; negative: no scrubber (scrub.go).
	ScrubRate int64
	// ScrubInterval is the pause between two scrub passes (from the end
	// of one to the start of the next). Default DefaultScrubInterval.
	ScrubInterval time.Duration
	// ScrubMetrics receives the scrubber's counts; nil: none.
	ScrubMetrics ScrubMetrics
	// Inline is the metadata store's inline bodies, scrubbed after the
	// blobs; nil: none.
	Inline InlineBodies
	// Logger; nil discards.
	Logger *slog.Logger
}

// Service is the object data of one node (see the package doc). It is safe
// for concurrent use.
type Service struct {
	peers    Peers
	ready    Readiness
	fresh    FreshReader
	refs     References
	blobs    BlobStore
	transfer Transfer
	disk     Disk // nil: no reserve
	every    time.Duration
	log      *slog.Logger

	scrubRate  int64         // bytes per second; negative: no scrubber
	scrubEvery time.Duration // between two passes
	metrics    ScrubMetrics
	inline     InlineBodies // nil: none

	kicks kicks // the reserve's signals to the collector and to catch-up

	stopped context.Context         // ends, with ErrStopped, at Stop
	stopNow context.CancelCauseFunc // Stop
	stop    <-chan struct{}         // stopped.Done()
	loops   sync.WaitGroup          // the collector and the catch-up loop
	xfers   sync.WaitGroup          // blob copies to peers (Replicate)
}

// kicks are the signals of the free-space reserve (reserve.go).
type kicks struct {
	gc     chan struct{} // collectGarbage runs a pass when it receives
	kicked atomic.Int64  // unix nanoseconds of the last GC kick
	left   chan struct{} // the node left its reserve (catch-up resumes)
}

// New returns a Service for cfg; Start starts its background work.
func New(cfg Config) *Service {
	s := &Service{
		peers: cfg.Peers, ready: cfg.Ready, fresh: cfg.Fresh, refs: cfg.Refs, blobs: cfg.Blobs,
		transfer: cfg.Transfer, disk: cfg.Disk, every: cfg.GCInterval, log: cfg.Logger,
		kicks: kicks{gc: make(chan struct{}, 1), left: make(chan struct{}, 1)},
	}
	s.stopped, s.stopNow = context.WithCancelCause(context.Background())
	s.stop = s.stopped.Done()
	if s.every <= 0 {
		s.every = 30 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.scrubRate, s.scrubEvery, s.metrics, s.inline = cfg.ScrubRate, cfg.ScrubInterval, cfg.ScrubMetrics, cfg.Inline
	if s.scrubRate == 0 {
		s.scrubRate = DefaultScrubRate
	}
	if s.scrubEvery <= 0 {
		s.scrubEvery = DefaultScrubInterval
	}
	if s.metrics == nil {
		s.metrics = nopScrubMetrics{}
	}
	return s
}

// Start starts the garbage collector, the catch-up loop and the
// scrubber (unless ScrubRate is negative).
func (s *Service) Start() {
	s.loops.Add(2)
	go s.collectGarbage() // gc.go
	go s.catchUpBlobs()   // catchup.go
	if s.scrubRate > 0 {
		s.loops.Add(1)
		go s.scrubLoop() // scrub.go
	}
}

// Stop ends the background work (the loops, the copies that go on after
// a Replicate returned) and makes a Replicate waiting for its majority, a
// Stream and a catch-up pass return (ErrStopped); it does not wait. It is
// safe to call more than once.
func (s *Service) Stop() { s.stopNow(ErrStopped) }

// Wait returns once the background work, including the copies that go on
// after a Replicate returned, has ended (after Stop).
func (s *Service) Wait() {
	s.loops.Wait()
	s.xfers.Wait()
}

// untilStop returns a context of parent that also ends, with the cause
// ErrStopped, when the service stops.
func (s *Service) untilStop(parent context.Context) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	unhook := context.AfterFunc(s.stopped, func() { cancel(ErrStopped) })
	return ctx, func(cause error) {
		unhook()
		cancel(cause)
	}
}
