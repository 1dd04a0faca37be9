package objects

import "time"

// collectGarbage removes blobs that no object or part references any more,
// every GC interval and when the reserve kicks it (reserve.go), until the
// service stops. A blob is removed only if it is still unreferenced under
// the blob store's lock and not pinned by a write in flight (see package
// blob).
func (s *Service) collectGarbage() {
	defer s.loops.Done()
	t := time.NewTicker(s.every)
	defer t.Stop()
	for pass := 1; ; pass++ {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kicks.gc: // at the free-space reserve (reserve.go)
			s.CollectGarbage()
			pass-- // not a tick: the orphan sweep keeps its pace
			continue
		}
		s.CollectGarbage()
		if pass%orphanSweepEvery == 0 {
			s.SweepOrphans(orphanMinAge)
		}
	}
}

// orphanSweepEvery and orphanMinAge: every orphanSweepEvery GC passes the
// collector also walks the blob store for orphans, blobs that no object
// references and that never were on the garbage list: the blob of a PUT
// whose proposal failed after the blob was stored, a peer's copy for such a
// PUT, a blob fetched for an object deleted meanwhile. Only blobs older
// than orphanMinAge are removed, through the same Remove as GC (pins and
// the reference count re-checked under the store's lock); a PUT in flight
// keeps its blob pinned far shorter than that.
const (
	orphanSweepEvery = 10
	orphanMinAge     = 10 * time.Minute
)

// SweepOrphans removes the blobs that no object or part references and
// that were committed more than minAge ago; it returns how many.
func (s *Service) SweepOrphans(minAge time.Duration) int {
	var orphans [][32]byte
	s.blobs.Walk(func(sum [32]byte, _ int64) error {
		if s.refs.BlobRefs(sum) == 0 {
			orphans = append(orphans, sum)
		}
		return nil
	})
	removed := 0
	for _, sum := range orphans {
		at, err := s.blobs.Committed(sum)
		if err != nil || time.Since(at) < minAge {
			continue
		}
		ok, err := s.blobs.Remove(sum, func() bool { return s.refs.BlobRefs(sum) == 0 })
		if err != nil {
			s.log.Warn("removing an orphan blob", "err", err)
		}
		if ok {
			removed++
		}
	}
	if removed > 0 {
		s.log.Info("removed orphan blobs", "count", removed)
		s.freed()
	}
	return removed
}

// CollectGarbage runs one garbage-collection pass and returns how many
// blobs it removed.
func (s *Service) CollectGarbage() int {
	removed := 0
	for _, sum := range s.refs.Garbage(1000) {
		ok, err := s.blobs.Remove(sum, func() bool { return s.refs.BlobRefs(sum) == 0 })
		if err != nil {
			s.log.Warn("removing an unreferenced blob", "err", err)
			continue
		}
		if ok || !s.blobs.Has(sum) {
			if s.refs.BlobRefs(sum) == 0 {
				s.refs.ForgetGarbage(sum)
			}
		}
		if ok {
			removed++
		}
	}
	if removed > 0 {
		s.freed() // the next write sees the space at once
	}
	return removed
}
