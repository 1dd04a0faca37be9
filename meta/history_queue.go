package meta

import (
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The history is written behind the apply, in two steps. Writing an
// event's record costs a few bbolt puts, and a transaction of its own (a
// batch of IAM events wrote nothing else) costs a commit that dirties a
// page per bucket touched: written in the entry's transaction, the history
// made an IAM event cost 4-15× its apply (BENCHMARKS.md "IAM history").
//
// First, AppendHistory queues the record, and the queue is written
//
//   - in the writer's batch transaction once histGroup records wait, so
//     that their commit is one the batch makes anyway;
//   - in a transaction of its own when the writer applies outside Batch;
//   - before every question about the history, before a snapshot's read
//     view and before a prune (on the writer's goroutine).
//
// Writing a record puts the event in h/events and the state of its user
// after it in h/pending: two puts at the end of two buckets keyed by
// index. Second, the indexes (the users' states, the keys' intervals,
// h/names) are built from h/pending, in index order, where they cost the
// apply nothing:
//
//   - before every question that reads them (historyCurrent: AccessAt,
//     KeyAccessAt, HistoryEvents), so that an answer includes every event
//     applied before it was asked: the admin API reads its own writes
//     (HistoryFirst, HistoryFloor and HistoryLast read h/events and
//     h/meta only, and write the queue alone);
//   - while the store is idle (no batch for histIdle), histIdleChunk
//     events per transaction, on a goroutine of the store's own;
//   - in the writer's batch, when more than histPendingMax events are
//     pending (a sustained stream of IAM events), as many as are over,
//     which bounds both the work a question may find waiting and h/pending;
//   - before a prune, all of them, in the prune's transaction.
//
// So a question, or a prune on a node, right after a long burst of IAM
// events waits for the indexes the burst left: at most histPendingMax
// events, about a second here.
//
// Built in the apply, the indexes were about half of the history's cost
// per event in-process and three quarters of its share of a busy
// follower's CPU (BENCHMARKS.md "What the IAM history costs, isolated").
// A snapshot holds h/pending as it is; the node that installs it builds
// the rest. The indexes are a function of the events in order, so every
// node answers the same, whenever it built them.
//
// A write is idempotent by index: h/meta "through" holds the last index
// written, and a write skips the records at or below it. So a record
// written by a transaction that then failed (the commit's retry when the
// disk is full runs the batch again, which queues its records again: the
// earlier copies are dropped) is written once, and a record stays queued
// until a transaction that wrote it has committed. Building an event's
// indexes deletes its h/pending entry in the same transaction, so it is
// built once too. Nothing is lost by a crash: meta.db is rebuilt from the
// snapshot and the log at every start.
//
// Every write of the queue and every build holds bbolt's writer lock, so
// they are serialised and in index order; histMu guards the queue itself.

// histGroup is how many records wait before the writer's batch writes
// them.
const histGroup = 256

// Variables, so that tests can lower them.
var (
	// histPendingMax is how many events may wait for their indexes
	// before the writer builds them in its batch: at about 15 µs each
	// (BENCHMARKS.md), a question finds at most a second's work waiting.
	histPendingMax uint64 = 65536
	// histIdle is how long the store must have applied nothing before
	// it builds pending indexes on its own, and how often it looks.
	histIdle = 100 * time.Millisecond
	// histIdleChunk is how many pending events one idle build handles,
	// so that a batch arriving meanwhile waits for milliseconds only.
	histIdleChunk = 1024
)

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
	wrote, pending := false, h.pendingCount()
	for _, r := range q {
		if r.index <= through {
			continue
		}
		if h.append(r.index, r.rec) {
			pending++
		}
		through, wrote = r.index, true
	}
	if wrote {
		must(h.meta.Put(histThrough, be64(through)))
		h.setPendingCount(pending)
	}
	if pending > histPendingMax {
		h.indexPending(int(pending - histPendingMax))
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

// FlushHistory writes the queued records in a transaction of its own
// (a snapshot's view and the questions that read no index call it first);
// it must not be called inside Batch's fn.
func (s *Store) FlushHistory() { s.flushHistory(false) }

// historyCurrent is FlushHistory that also builds every pending index: the
// questions that read them call it first.
func (s *Store) historyCurrent() { s.flushHistory(true) }

// flushHistory writes the queue and, with index, builds the pending
// indexes, in a transaction of its own (none when there is nothing to do).
func (s *Store) flushHistory(index bool) {
	s.histMu.Lock()
	empty := len(s.histQ) == 0
	s.histMu.Unlock()
	if empty && (!index || s.pendingHistory() == 0) {
		return
	}
	var through uint64
	s.commit(func(tx *bolt.Tx) error {
		through = s.writeQueued(tx)
		if index {
			histOf(tx).indexPending(-1)
		}
		return nil
	})
	s.dropQueued(through)
}

// pendingHistory returns how many events wait for their indexes.
func (s *Store) pendingHistory() (n uint64) {
	s.view(func(tx *bolt.Tx) error {
		n = histOf(tx).pendingCount()
		return nil
	})
	return n
}

// currentInWriter is historyCurrent on the writer's goroutine: into the
// batch's transaction inside Batch, in its own otherwise.
func (s *Store) currentInWriter() {
	if s.tx != nil {
		s.histTxThrough = s.writeQueued(s.tx)
		histOf(s.tx).indexPending(-1)
		return
	}
	s.historyCurrent()
}

// indexWhenIdle builds pending indexes while the store applies nothing,
// until stop is closed (Close).
func (s *Store) indexWhenIdle(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.idleAfter)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for s.idle() && s.pendingHistory() > 0 {
			select {
			case <-stop:
				return
			default:
			}
			// One attempt, not commit's retries: with the disk full it
			// tries again at the next tick (a question would build them
			// anyway), and Close never waits on it.
			if s.updateDB(func(tx *bolt.Tx) error {
				histOf(tx).indexPending(s.idleChunk)
				return nil
			}) != nil {
				break
			}
		}
	}
}

// idle reports whether no batch ran for the last histIdle.
func (s *Store) idle() bool {
	return time.Since(s.born)-time.Duration(s.lastBatch.Load()) >= s.idleAfter
}

// clearQueued forgets the queue (Restore replaced the store).
func (s *Store) clearQueued() {
	s.histMu.Lock()
	s.histQ = nil
	s.histMu.Unlock()
}
