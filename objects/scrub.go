package objects

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/s4/s4/blob"
)

// The scrubber re-reads every blob of this node in the background and
// checks each block against its CRC32C (package blob), at a bounded rate
// (Config.ScrubRate bytes per second, counted per block before it is read),
// one pass every Config.ScrubInterval (the time from the end of one pass
// to the start of the next; the first starts one interval after Start,
// once the node is ready). What it finds:
//
//   - a blob that fails, and that an object or part references, is
//     repaired from a peer (Repair: a good copy renamed over the bad one);
//     one log line at Warn for the finding, one at Info for the repair or
//     at Error if no peer could provide a good copy (unrepairable: it is
//     tried again on the next pass, and a GET of it tries again too);
//   - a blob that fails and that nothing references is left to the
//     garbage collector (counted as corrupt, neither repaired nor
//     unrepairable);
//   - inline bodies of the metadata store (Config.Inline: meta.Store's
//     ScrubInline) are checked after the blobs, through the same pace; one
//     that fails is repaired from a peer (RepairInline, inline.go: a peer
//     that holds the same version sends it, checked; only a key's latest
//     body: a noncurrent version's is counted unrepairable and logged at
//     Error), logged like a blob
//     (Warn, then Error if no peer had a good copy: tried again on the
//     next pass). Until it is repaired, the node takes no snapshot (the
//     snapshot refuses a body that fails its checksum, package meta).
//
// At the free-space reserve the scrubber pauses (a repair writes a new
// copy before the old one goes, and the reserve stores no object data,
// objects/reserve.go); it goes on where it was once the node has left it.
// The counters go to Config.ScrubMetrics (package metrics: blobs and bytes
// scrubbed, corrupt found, repaired, unrepairable, passes).

// Scrub defaults.
const (
	DefaultScrubRate     = 16 << 20 // bytes per second
	DefaultScrubInterval = 24 * time.Hour
	// scrubReservePoll is how often a scrubber paused at the reserve looks
	// whether the node has left it.
	scrubReservePoll = time.Second
)

// What the scrubber checked: a blob or an inline body (the metrics' kind
// label).
const (
	ScrubBlob   = "blob"
	ScrubInline = "inline"
)

// ScrubMetrics receives the scrubber's counts (*metrics.Scrub).
type ScrubMetrics interface {
	Scrubbed(kind string, bytes int64) // one item checked
	Corrupt(kind string)
	Repaired(kind string)
	Unrepairable(kind string)
	Pass()
}

// InlineBodies is the hook for the metadata store's inline bodies (small
// objects kept in their metadata record): ScrubInline checks every inline
// body against its checksum, calling pace(n) before it reads a body of n
// bytes (pace blocks for the rate and returns an error once the pass must
// stop: return it) and found for each body that fails, with the size and
// CRC32C its record holds and version "" for a key's latest body, else a
// noncurrent version's ID (the scrubber repairs a latest body from a
// peer, counts and logs it; a noncurrent one it reports unrepairable). RepairInline puts good bytes of bucket/key's body in place of
// a bad copy, if the record still names them (repaired false otherwise).
// Nil: no inline bodies.
type InlineBodies interface {
	ScrubInline(ctx context.Context, pace func(n int64) error, found func(bucket, key, version string, size int64, crc uint32, err error)) error
	RepairInline(bucket, key string, data []byte) (repaired bool, err error)
}

// ScrubStats are the counts of one scrub pass.
type ScrubStats struct {
	Blobs, Bytes                    int64
	Corrupt, Repaired, Unrepairable int64
	Inline, InlineCorrupt           int64
}

type nopScrubMetrics struct{}

func (nopScrubMetrics) Scrubbed(string, int64) {}
func (nopScrubMetrics) Corrupt(string)         {}
func (nopScrubMetrics) Repaired(string)        {}
func (nopScrubMetrics) Unrepairable(string)    {}
func (nopScrubMetrics) Pass()                  {}

// scrubLoop runs a pass every s.scrubEvery until the service stops.
func (s *Service) scrubLoop() {
	defer s.loops.Done()
	t := time.NewTimer(s.scrubEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if err := s.ready.WaitReady(s.stopped); err != nil {
			return
		}
		st, err := s.Scrub(s.stopped)
		if err != nil && !errors.Is(err, ErrStopped) && !errors.Is(context.Cause(s.stopped), ErrStopped) {
			s.log.Warn("scrub: the pass ended early", "err", err)
		}
		if err == nil {
			s.log.Info("scrub: pass done", "blobs", st.Blobs, "bytes", st.Bytes, "corrupt", st.Corrupt, "repaired", st.Repaired, "unrepairable", st.Unrepairable, "inline", st.Inline, "inline_corrupt", st.InlineCorrupt)
		}
		t.Reset(s.scrubEvery)
	}
}

// pacer bounds the scrubber's reads to rate bytes per second.
type pacer struct {
	s     *Service
	ctx   context.Context
	rate  int64
	start time.Time
	bytes int64
}

// wait blocks until n more bytes may be read, and while the node is at its
// free-space reserve; it returns an error once ctx ends.
func (p *pacer) wait(n int64) error {
	if p.s.atReserve() {
		p.s.log.Info("scrub: paused at the free-space reserve")
		paused := time.Now()
		tk := time.NewTicker(scrubReservePoll)
		for p.s.atReserve() {
			select {
			case <-p.ctx.Done():
				tk.Stop()
				return context.Cause(p.ctx)
			case <-tk.C:
			}
		}
		tk.Stop()
		p.start = p.start.Add(time.Since(paused)) // the pause is not credit
		p.s.log.Info("scrub: resumed, the node left its reserve")
	}
	if err := context.Cause(p.ctx); err != nil {
		return err
	}
	p.bytes += n
	due := p.start.Add(time.Duration(float64(p.bytes) / float64(p.rate) * float64(time.Second)))
	if d := time.Until(due); d > time.Millisecond {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-p.ctx.Done():
			return context.Cause(p.ctx)
		case <-tm.C:
		}
	}
	return nil
}

// Scrub runs one scrub pass now (the background loop calls it; so may a
// test or an operator's tool) and returns its counts. It stops when ctx
// ends or the service stops. The metadata must be ready (it decides which
// corrupt blobs are worth a repair).
func (s *Service) Scrub(ctx context.Context) (ScrubStats, error) {
	ctx, stop := s.untilStop(ctx)
	defer stop(nil)
	p := &pacer{s: s, ctx: ctx, rate: s.scrubRate, start: time.Now()}
	var st ScrubStats
	err := s.blobs.Walk(func(sum [32]byte, _ int64) error {
		return s.scrubBlob(ctx, sum, p, &st)
	})
	if err != nil {
		return st, err
	}
	if s.inline != nil {
		found := func(bucket, key, version string, size int64, crc uint32, ferr error) {
			what := bucket + "/" + key
			st.InlineCorrupt++
			s.metrics.Corrupt(ScrubInline)
			if version != "" { // a noncurrent version: the peers serve only a key's latest body
				st.Unrepairable++
				s.metrics.Unrepairable(ScrubInline)
				s.log.Error("scrub: the inline body of a noncurrent version fails its checksum on this node (a GET of it answers 500 here, and no snapshot is taken until it is gone); it is not repaired from a peer", "object", what, "version", version, "size", size, "err", ferr)
				return
			}
			s.log.Warn("scrub: an inline body fails its checksum; repairing it from a peer", "object", what, "size", size, "err", ferr)
			rctx, cancel := context.WithTimeout(ctx, replicateTimeout(size))
			_, err := s.RepairInline(rctx, bucket, key, size, crc)
			cancel()
			if err != nil {
				if context.Cause(ctx) != nil {
					return // the pass ends; ScrubInline returns that
				}
				st.Unrepairable++
				s.metrics.Unrepairable(ScrubInline)
				s.log.Error("scrub: could not repair a corrupt inline body (a GET of it answers 500 on this node, and no snapshot is taken until it is repaired); the next pass tries again", "object", what, "size", size, "err", err)
				return
			}
			st.Repaired++
			s.metrics.Repaired(ScrubInline)
		}
		pace := func(n int64) error {
			if err := p.wait(n); err != nil {
				return err
			}
			st.Inline++
			s.metrics.Scrubbed(ScrubInline, n)
			return nil
		}
		if err := s.inline.ScrubInline(ctx, pace, found); err != nil {
			return st, err
		}
	}
	s.metrics.Pass()
	return st, nil
}

// scrubBlob checks the blob sum block by block and repairs it if it fails.
// Only the end of the pass (ctx) is returned as an error.
func (s *Service) scrubBlob(ctx context.Context, sum [32]byte, p *pacer, st *ScrubStats) error {
	r, size, bad := s.blobs.Open(sum)
	if errors.Is(bad, blob.ErrNotFound) {
		return nil // removed meanwhile
	}
	if r != nil {
		for off := int64(0); off < size; off += blob.BlockSize {
			if err := p.wait(min(blob.BlockSize, size-off)); err != nil {
				r.Close()
				return err
			}
			if bad = r.Verify(off); bad != nil {
				break
			}
		}
		r.Close()
	}
	st.Blobs++
	st.Bytes += size
	s.metrics.Scrubbed(ScrubBlob, size)
	if bad == nil {
		return nil
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	h := hex.EncodeToString(sum[:])
	st.Corrupt++
	s.metrics.Corrupt(ScrubBlob)
	if s.refs.BlobRefs(sum) == 0 {
		s.log.Warn("scrub: a blob fails its checksum; nothing references it, left to the garbage collector", "blob", h, "err", bad)
		return nil
	}
	s.log.Warn("scrub: a blob fails its checksum; repairing it from a peer", "blob", h, "err", bad)
	rctx, cancel := context.WithTimeout(ctx, replicateTimeout(size))
	err := s.Repair(rctx, sum)
	cancel()
	if err != nil {
		if cerr := context.Cause(ctx); cerr != nil {
			return cerr
		}
		st.Unrepairable++
		s.metrics.Unrepairable(ScrubBlob)
		s.log.Error("scrub: could not repair a corrupt blob; the next pass tries again", "blob", h, "err", err)
		return nil
	}
	st.Repaired++
	s.metrics.Repaired(ScrubBlob)
	return nil
}
