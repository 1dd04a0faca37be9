package meta

import (
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The history is written behind the apply, in groups. Writing an event's
// record costs a few bbolt puts, and a transaction of its own (a batch of
// IAM events wrote nothing else) costs a commit that dirties a page per
// bucket touched: written in the entry's transaction, the history made an
// IAM event cost 4-15× its apply (BENCHMARKS.md "IAM history").
// AppendHistory queues the record instead, and the queue is written
//
//   - in the writer's batch transaction once histGroup records wait, so
//     that their commit is one the batch makes anyway;
//   - in a transaction of its own when the writer applies outside Batch;
//   - before every question about the history (FlushHistory), so that an
//     answer includes every event applied before it was asked: the admin
//     API reads its own writes;
//   - before a snapshot's read view and before a prune, on the writer's
//     goroutine.
//
// A write is idempotent by index: h/meta "through" holds the last index
// written, and a write skips the records at or below it. So a record
// written by a transaction that then failed (the commit's retry when the
// disk is full runs the batch again, which queues its records again: the
// earlier copies are dropped) is written once, and a record stays queued
// until a transaction that wrote it has committed. Nothing is lost by a
// crash: meta.db is rebuilt from the snapshot and the log at every start.
//
// Every write of the queue holds bbolt's writer lock, so the writes are
// serialised and in index order; histMu guards the queue itself.

// histGroup is how many records wait before the writer's batch writes them.
const histGroup = 256

type queuedHistory struct {
	index uint64
	rec   *HistoryRecord
}

func (h *hist) through() uint64 {
	if v := h.meta.Get(histThrough); v != nil {
		return getBe64(v)
	}
	return 0
}

// queueHistory is AppendHistory: on the writer's goroutine.
func (s *Store) queueHistory(index uint64, rec *HistoryRecord) {
	s.histMu.Lock()
	for len(s.histQ) > 0 && s.histQ[len(s.histQ)-1].index >= index {
		s.histQ = s.histQ[:len(s.histQ)-1] // a batch run again
	}
	s.histQ = append(s.histQ, queuedHistory{index, rec})
	n := len(s.histQ)
	s.histMu.Unlock()
	switch {
	case s.tx == nil:
		s.FlushHistory()
	case n >= histGroup:
		s.histTxThrough = s.writeQueued(s.tx)
	}
}

// writeQueued writes the queued records that tx does not hold yet and
// returns the last index tx holds.
func (s *Store) writeQueued(tx *bolt.Tx) uint64 {
	s.histMu.Lock()
	q := slices.Clone(s.histQ)
	s.histMu.Unlock()
	h := histOf(tx)
	through := h.through()
	wrote := false
	for _, r := range q {
		if r.index <= through {
			continue
		}
		h.append(r.index, r.rec)
		through, wrote = r.index, true
	}
	if wrote {
		must(h.meta.Put(histThrough, be64(through)))
	}
	return through
}

// dropQueued removes the records a committed transaction wrote.
func (s *Store) dropQueued(through uint64) {
	s.histMu.Lock()
	i := 0
	for i < len(s.histQ) && s.histQ[i].index <= through {
		i++
	}
	s.histQ = s.histQ[i:]
	if len(s.histQ) == 0 {
		s.histQ = nil
	}
	s.histMu.Unlock()
}

// FlushHistory writes the queued records in a transaction of its own. The
// questions call it first; it must not be called inside Batch's fn.
func (s *Store) FlushHistory() {
	s.histMu.Lock()
	empty := len(s.histQ) == 0
	s.histMu.Unlock()
	if empty {
		return
	}
	var through uint64
	s.commit(func(tx *bolt.Tx) error {
		through = s.writeQueued(tx)
		return nil
	})
	s.dropQueued(through)
}

// flushInWriter writes the queue on the writer's goroutine: into the
// batch's transaction inside Batch, in its own otherwise.
func (s *Store) flushInWriter() {
	if s.tx != nil {
		s.histTxThrough = s.writeQueued(s.tx)
		return
	}
	s.FlushHistory()
}

// clearQueued forgets the queue (Restore replaced the store).
func (s *Store) clearQueued() {
	s.histMu.Lock()
	s.histQ = nil
	s.histMu.Unlock()
}
