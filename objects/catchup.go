package objects

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
)

// Blob catch-up (docs/DESIGN.md, "Object data": a node that was down
// "catches up in the background").
//
// A PUT returns once a majority holds the blob; the other copies go on in
// the background and may fail, and a node that was down missed them all.
// Without catch-up such a node gets a blob only when it serves a GET of it
// (Fetch), so a later failure of the nodes that do hold it would lose data
// that the cluster acknowledged. The catch-up loop closes that gap: it walks
// every blob the metadata store references and fetches the ones missing
// here from a peer, through Fetch (which checks the copy against the size
// and CRC32C the peer's trailer gives, and keeps the blob).
//
// When it runs: catchUpFirstDelay after the node is ready (its FSM has
// caught up with the leader, so its metadata names every blob it should
// hold), then again catchUpInterval after a pass that found blobs missing;
// after a pass that found nothing missing the pause doubles, up to
// catchUpMaxIdle (a walk stats every referenced blob: cheap, not free, with
// a million objects on a small machine); after a pass with errors it is
// catchUpRetryMin, doubling up to catchUpRetryMax. A single-node cluster has
// no peer to fetch from and does nothing.
//
// A node at its free-space reserve (package disk, reserve.go) fetches
// nothing: a pass does not start, and one under way stops at the first
// fetch refused for space (or failed with ENOSPC). The loop logs that once
// and looks again every catchUpFirstDelay. When the node leaves the
// reserve it runs a pass at once, whatever it was waiting for: the node
// refused the copies of the PUTs made meanwhile. That pass first waits
// until the node's metadata holds every acknowledged write (FreshRead: a
// disk that was full may have stopped the log too).
//
// How: one producer pages through References.ReferencedBlobs (catchUpPage
// sums per short read transaction, so neither a long transaction nor all
// sums in RAM) and hands the sums this node lacks to catchUpWorkers
// fetchers. A blob that no peer has is counted and skipped (it is retried
// on the next pass); catchUpMaxFailures failures in a row of another kind
// (peers unreachable) end the pass early.
//
// Garbage collection: GC (gc.go) removes only blobs on the metadata store's
// garbage list, under the blob store's lock, when they are unpinned and
// still unreferenced; it drops a list entry once the blob is gone or
// absent. A catch-up fetch is neither pinned nor part of a writer's
// protocol, so it can race with a delete:
//
//  1. the walk lists sum (referenced);
//  2. the object is deleted: refs(sum) drops to 0, sum goes on the list;
//  3. GC runs: nothing to remove (not fetched yet), absent, so it forgets
//     the list entry;
//  4. the fetch commits the blob: nothing would ever remove it.
//
// So after every fetch catchUpOne checks the reference count again, and if
// it is 0 removes the blob itself, through blob.Store.Remove with the same
// callback as GC (so a pin of a concurrent writer or of a copy received from
// a peer still protects it). If the count is above 0 at that check, any
// later drop to 0 happens after the blob is on disk: it puts sum on the list
// again and GC finds the file and removes it. Either way a blob fetched for
// an object deleted meanwhile does not stay behind. Conversely GC can never
// remove a fetched blob that is referenced: its callback re-checks the count
// under the lock.
const (
	catchUpFirstDelay  = time.Second
	catchUpInterval    = 30 * time.Second
	catchUpMaxIdle     = 5 * time.Minute
	catchUpRetryMin    = 5 * time.Second
	catchUpRetryMax    = 5 * time.Minute
	catchUpWorkers     = 4
	catchUpPage        = 1000
	catchUpMaxFailures = 16
)

// catchUpStats is what one pass did.
type catchUpStats struct {
	missing  int   // referenced blobs this node lacked when the walk saw them
	fetched  int   // fetched and kept
	bytes    int64 // their size
	released int   // fetched, but unreferenced by then: removed again
	failed   int   // could not be fetched
}

// catchUpBlobs runs the catch-up loop until the service stops.
func (s *Service) catchUpBlobs() {
	defer s.loops.Done()
	ctx, cancel := s.untilStop(context.Background())
	err := s.ready.WaitReady(ctx)
	cancel(nil)
	if err != nil {
		return // stopped
	}
	idle, retry := catchUpInterval, catchUpRetryMin
	paused := false // at the free-space reserve; logged
	fresh := false  // the next pass first waits for FreshRead
	t := time.NewTimer(catchUpFirstDelay)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.kicks.left:
			// It refused the copies of the PUTs meanwhile: a pass now,
			// whatever this loop was waiting for.
			fresh = true
		case <-s.stop:
			return
		}
		if fresh && !s.atReserve() {
			// Back from the reserve. A disk that was full may have kept the
			// log from growing too: the pass waits until the metadata holds
			// every write acknowledged meanwhile, or it would miss their
			// blobs and then idle.
			if err := s.fresh.FreshRead(); err != nil {
				t.Reset(catchUpFirstDelay)
				continue
			}
		}
		st, err := s.catchUp(context.Background())
		if errors.Is(err, ErrStopped) {
			return
		}
		if disk.IsNoSpace(err) {
			if !paused {
				s.log.Info("blob catch-up paused: this node is at its free-space reserve; it resumes once space is back", "fetched", st.fetched, "missing", st.missing, "err", err)
				paused = true
			}
			fresh = true
			t.Reset(catchUpFirstDelay)
			continue
		}
		paused, fresh = false, false
		var next time.Duration
		switch {
		case err != nil:
			s.log.Warn("blob catch-up incomplete; retrying later", "missing", st.missing, "failed", st.failed, "retry_in", retry, "err", err)
			next, retry = retry, min(2*retry, catchUpRetryMax)
			idle = catchUpInterval
		case st.missing > 0:
			next, idle, retry = catchUpInterval, catchUpInterval, catchUpRetryMin
		default:
			next, idle, retry = idle, min(2*idle, catchUpMaxIdle), catchUpRetryMin
		}
		t.Reset(next)
	}
}

// CatchUp runs one catch-up pass: it fetches every blob that the metadata
// store references and this node lacks from a peer, and returns how many
// it fetched and kept, logging one summary line if that is more than none.
// err reports blobs that could not be fetched (the pass goes on past
// them), or why the pass stopped. It returns ErrNotReady before the node
// has caught up with the log, ErrStopped once the service stopped, an
// error wrapping disk.ErrFull at the free-space reserve, and does nothing
// on a single-node cluster.
func (s *Service) CatchUp(ctx context.Context) (fetched int, err error) {
	st, err := s.catchUp(ctx)
	return st.fetched, err
}

func (s *Service) catchUp(ctx context.Context) (st catchUpStats, err error) {
	if !s.ready.Ready() {
		return st, ErrNotReady
	}
	select {
	case <-s.stop:
		return st, ErrStopped
	default:
	}
	voters, others, _, err := s.peers.Peers()
	if err != nil {
		return st, fmt.Errorf("objects: blob catch-up: %w", err)
	}
	if len(voters)+len(others) == 0 {
		return st, nil
	}
	if err := s.Check(0); err != nil {
		return st, fmt.Errorf("objects: blob catch-up: %w", err)
	}
	start := time.Now()
	defer func() {
		if st.fetched > 0 { // one line per pass; blob sums and peers only in errors
			s.log.Info("fetched missing blobs from peers", "blobs", st.fetched, "bytes", st.bytes,
				"missing", st.missing, "released", st.released, "failed", st.failed, "duration", time.Since(start).Round(time.Millisecond))
		}
	}()

	// The pass ends when ctx ends, when the service stops, or when too many
	// fetches in a row failed (abort).
	ctx, cancel := s.untilStop(ctx)
	defer cancel(nil)
	p := &catchUpPass{cancel: cancel}
	sums := make(chan [32]byte)
	var wg sync.WaitGroup
	for range catchUpWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sum := range sums {
				size, kept, err := s.catchUpOne(ctx, sum)
				p.record(ctx, size, kept, err)
			}
		}()
	}
	walkErr := s.walkMissing(ctx, sums, p)
	close(sums)
	wg.Wait()

	st = p.st
	switch {
	case ctx.Err() != nil:
		return st, context.Cause(ctx)
	case walkErr != nil:
		return st, walkErr
	case st.failed > 0:
		return st, fmt.Errorf("objects: blob catch-up: %d of %d missing blobs not fetched: %w", st.failed, st.missing, p.firstErr)
	}
	return st, nil
}

// catchUpPass is the state of one pass that its fetchers share.
type catchUpPass struct {
	cancel context.CancelCauseFunc // ends the pass, with its cause

	mu       sync.Mutex
	st       catchUpStats
	firstErr error
	inARow   int // failures in a row other than "no peer has it"
}

// record counts the outcome of one fetch, and ends the pass at the reserve
// or after catchUpMaxFailures failures in a row.
func (p *catchUpPass) record(ctx context.Context, size int64, kept bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err != nil && ctx.Err() != nil:
		// Cancelled: not the blob's fault.
	case disk.IsNoSpace(err):
		// At the reserve: no other blob fits either.
		p.cancel(fmt.Errorf("objects: blob catch-up stopped: %w", err))
	case err != nil:
		p.st.failed++
		if p.firstErr == nil {
			p.firstErr = err
		}
		if !errors.Is(err, blob.ErrNotFound) {
			p.inARow++
			if p.inARow >= catchUpMaxFailures {
				p.cancel(fmt.Errorf("objects: blob catch-up: gave up after %d failed fetches in a row: %w", p.inARow, err))
			}
		}
	case kept:
		p.inARow = 0
		p.st.fetched++
		p.st.bytes += size
	default:
		p.inARow = 0
		p.st.released++
	}
}

// walkMissing pages through the referenced blobs and hands the ones this
// node lacks to the fetchers, until the walk is done or ctx ends.
func (s *Service) walkMissing(ctx context.Context, sums chan<- [32]byte, p *catchUpPass) error {
	var after *[32]byte
	for {
		page, more, err := s.refs.ReferencedBlobs(after, catchUpPage)
		if err != nil {
			return fmt.Errorf("objects: blob catch-up: %w", err)
		}
		for _, sum := range page {
			if s.blobs.Has(sum) {
				continue
			}
			select {
			case sums <- sum:
				p.mu.Lock()
				p.st.missing++
				p.mu.Unlock()
			case <-ctx.Done():
				return nil
			}
		}
		if !more || len(page) == 0 {
			return nil
		}
		last := page[len(page)-1]
		after = &last
	}
}

// catchUpOne fetches the missing blob sum from a peer. kept is false if the
// blob turned out to be unreferenced once fetched (its object was deleted
// meanwhile) and was removed again; see the comment at the top.
func (s *Service) catchUpOne(ctx context.Context, sum [32]byte) (size int64, kept bool, err error) {
	if err := s.Fetch(ctx, sum); err != nil {
		return 0, false, err
	}
	unreferenced := func() bool { return s.refs.BlobRefs(sum) == 0 }
	if unreferenced() {
		if _, err := s.blobs.Remove(sum, unreferenced); err != nil {
			return 0, false, err
		}
		if !s.blobs.Has(sum) {
			return 0, false, nil
		}
		// Pinned or referenced again meanwhile: it stays, GC decides.
	}
	f, size, err := s.blobs.Open(sum)
	if err != nil {
		return 0, false, err
	}
	f.Close()
	return size, true, nil
}
