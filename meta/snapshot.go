package meta

import (
	"errors"
	"fmt"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// A snapshot of the store is every bbolt bucket and its keys, in order;
// package fsm's snapshot format puts them after the IAM records. The view
// comes from one read transaction opened on the writer's goroutine (so no
// write runs between the state it snapshots and the view), and the snapshot
// is streamed from it while the writes go on: bbolt's MVCC keeps the view
// stable, and nothing of it is loaded in memory. A restore writes a new
// file in bounded pieces and swaps it in (Restore).

// Snapshot is a consistent read view of the store.
type Snapshot struct{ tx *bolt.Tx }

// Snapshot opens a read view of the store as it is now. Release it when
// done: it holds on to the pages it sees.
func (s *Store) Snapshot() (*Snapshot, error) {
	s.FlushHistory()
	s.mu.RLock()
	defer s.mu.RUnlock()
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("meta: snapshot: %w", err)
	}
	return &Snapshot{tx: tx}, nil
}

// Release ends the view. A nil *Snapshot is a no-op.
func (v *Snapshot) Release() {
	if v != nil {
		v.tx.Rollback()
	}
}

// Walk calls bucket for every bbolt bucket of the view, in name order, and
// kv for each of its keys after it, in key order, until one returns an
// error, which Walk returns. The slices are valid only during the call.
//
// Every inline body is checked against the length and CRC32C its record
// keeps before kv gets it (an object's tail in i/<bucket>, a noncurrent
// version's and an uploaded part's in their records): one that fails ends the walk with an error
// wrapping errInlineCorrupt that names the object or part, so that a
// snapshot never carries a body that rotted on this node's disk (another
// node would restore it, and the records' own checksums would vouch for
// it). The snapshot then fails, loudly; the last good one and the log
// stay, and once the body is repaired from a peer (a GET of it, or the
// scrubber) the next snapshot goes through.
func (v *Snapshot) Walk(bucket func(name []byte) error, kv func(k, v []byte) error) error {
	return v.tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if err := bucket(name); err != nil {
			return err
		}
		check := v.inlineCheck(name)
		return b.ForEach(func(k, val []byte) error {
			if val == nil {
				return fmt.Errorf("meta: nested bucket %q in the store", k)
			}
			if check != nil {
				if err := check(k, val); err != nil {
					return err
				}
			}
			return kv(k, val)
		})
	})
}

// inlineCheck returns the check of the inline bodies in bbolt bucket name
// (nil: it holds none): for i/<bucket>, each value against the record of
// its key in o/<bucket>; for v/<bucket> (noncurrent versions, their
// bytes in the record) and p/<upload> (inline parts), each record against
// its own length and CRC32C.
func (v *Snapshot) inlineCheck(name []byte) func(k, val []byte) error {
	switch s := string(name); {
	case strings.HasPrefix(s, "i/"):
		ob := v.tx.Bucket(objectsBucket(s[2:]))
		return func(k, val []byte) error {
			var rec []byte
			if ob != nil {
				rec = ob.Get(k)
			}
			if rec == nil {
				return nil // no record: nothing vouches for it, nothing to check against
			}
			var obj ObjectMeta
			decodeMsg(rec, &obj)
			if obj.Inline == nil {
				return nil
			}
			in := *obj.Inline
			in.Data = val
			if err := CheckInline(&in); err != nil {
				return fmt.Errorf("meta: snapshot: the inline body of %s/%s: %w: not copied into a snapshot", s[2:], k, err)
			}
			return nil
		}
	case strings.HasPrefix(s, "v/"):
		return func(k, val []byte) error {
			var obj ObjectMeta
			decodeMsg(val, &obj)
			if err := CheckInline(obj.Inline); err != nil {
				return fmt.Errorf("meta: snapshot: the inline body of version %q of %s/%s: %w: not copied into a snapshot", VersionIDOf(&obj), s[2:], k[:max(len(k)-9, 0)], err)
			}
			return nil
		}
	case strings.HasPrefix(s, "p/"):
		return func(k, val []byte) error {
			var p PartMeta
			decodeMsg(val, &p)
			if err := CheckInline(p.Inline); err != nil {
				return fmt.Errorf("meta: snapshot: the inline body of part %d of upload %s: %w: not copied into a snapshot", partNumber(k), s[2:], err)
			}
			return nil
		}
	}
	return nil
}

// Size is the size of the store's file, in bytes: what a snapshot
// rewrites (about; free pages are not written).
func (s *Store) Size() int64 {
	var n int64
	s.view(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return n
}

// restoreSuffix names the file a restore fills (next to the store's).
const restoreSuffix = ".restore"

// restoreChunk is how many bytes of keys and values a restore writes per
// transaction: bbolt keeps a write transaction's keys, values and dirty
// pages in memory until it commits, so a snapshot of a million inline
// objects restored in one would need gigabytes of heap.
var restoreChunk = 16 << 20

// Restore replaces the whole content of the store with what fill puts in
// through the Restorer. The content goes into a new file next to the
// store's, committed every restoreChunk bytes, so that memory stays
// bounded whatever the snapshot's size; once fill returned without error,
// the new file replaces the old one (a rename, then the store reads and
// writes the new one; reads still open on the old file finish there). If
// fill (or the new file) fails, the old content stays and Restore returns
// the error. It runs on the writer's goroutine, outside Batch.
func (s *Store) Restore(fill func(*Restorer) error) error {
	tmp := s.path + restoreSuffix
	os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o600, boltOptions())
	if err != nil {
		return fmt.Errorf("meta: restore: %w", err)
	}
	r := &Restorer{db: db}
	err = fill(r)
	if err == nil {
		err = r.finish()
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		r.abort()
		db.Close()
		os.Remove(tmp)
		return err
	}
	s.mu.Lock()
	old := s.db
	s.db = db
	s.mu.Unlock()
	s.clearQueued() // what was queued belongs to the state replaced (or is in it)
	// Close waits for the read transactions still open on the old file
	// (a snapshot being written from it): not on the writer's goroutine.
	go old.Close()
	return nil
}

// Restorer fills the store during Restore with what Walk gave: buckets,
// each followed by its keys.
type Restorer struct {
	db      *bolt.DB
	tx      *bolt.Tx
	cur     *bolt.Bucket
	curName []byte
	pending int // bytes put in tx
}

func (r *Restorer) begin() error {
	if r.tx != nil {
		return nil
	}
	tx, err := r.db.Begin(true)
	if err != nil {
		return fmt.Errorf("metadata restore: %v", err)
	}
	r.tx, r.pending = tx, 0
	if r.curName != nil {
		r.cur = tx.Bucket(r.curName)
	}
	return nil
}

// commit commits the transaction so far; the next write begins another.
func (r *Restorer) commit() error {
	if r.tx == nil {
		return nil
	}
	tx := r.tx
	r.tx, r.cur = nil, nil
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("metadata restore: %v", err)
	}
	return nil
}

// finish creates the top-level buckets a snapshot lacks and commits.
func (r *Restorer) finish() error {
	if err := r.begin(); err != nil {
		return err
	}
	if err := initBuckets(r.tx); err != nil {
		return err
	}
	return r.commit()
}

func (r *Restorer) abort() {
	if r.tx != nil {
		r.tx.Rollback()
		r.tx, r.cur = nil, nil
	}
}

// Bucket creates bbolt bucket name; the keys Put adds next go into it.
func (r *Restorer) Bucket(name []byte) error {
	if err := r.begin(); err != nil {
		return err
	}
	var err error
	if r.cur, err = r.tx.CreateBucket(name); err != nil {
		return fmt.Errorf("metadata bucket %q: %v", name, err)
	}
	r.curName = append([]byte(nil), name...)
	return nil
}

// Put stores k and v in the bucket Bucket created last. bbolt keeps k and
// v (not copies) until the transaction commits.
func (r *Restorer) Put(k, v []byte) error {
	if r.curName == nil {
		return errors.New("metadata key before any bucket")
	}
	if err := r.begin(); err != nil {
		return err
	}
	if err := r.cur.Put(k, v); err != nil {
		return fmt.Errorf("metadata key: %v", err)
	}
	if r.pending += len(k) + len(v); r.pending >= restoreChunk {
		return r.commit()
	}
	return nil
}
