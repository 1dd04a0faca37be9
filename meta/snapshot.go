package meta

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// A snapshot of the store is every bbolt bucket and its keys, in order;
// package fsm's snapshot format puts them after the IAM records. The view
// comes from one read transaction opened on the writer's goroutine (so no
// write runs between the state it snapshots and the view), and the snapshot
// is written from it while the writes go on: bbolt's MVCC keeps the view
// stable.

// Snapshot is a consistent read view of the store.
type Snapshot struct{ tx *bolt.Tx }

// Snapshot opens a read view of the store as it is now. Release it when
// done: it holds on to the pages it sees.
func (s *Store) Snapshot() (*Snapshot, error) {
	s.FlushHistory()
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
func (v *Snapshot) Walk(bucket func(name []byte) error, kv func(k, v []byte) error) error {
	return v.tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if err := bucket(name); err != nil {
			return err
		}
		return b.ForEach(func(k, val []byte) error {
			if val == nil {
				return fmt.Errorf("meta: nested bucket %q in the store", k)
			}
			return kv(k, val)
		})
	})
}

// Restore replaces the whole content of the store with what fill puts in
// through the Restorer, in one transaction: if fill (or the store) fails,
// the old content stays and Restore returns the error.
func (s *Store) Restore(fill func(*Restorer) error) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		var names [][]byte
		tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, append([]byte(nil), name...))
			return nil
		})
		for _, n := range names {
			if err := tx.DeleteBucket(n); err != nil {
				return err
			}
		}
		if err := fill(&Restorer{tx: tx}); err != nil {
			return err
		}
		return initBuckets(tx)
	})
	if err == nil {
		s.clearQueued() // what was queued belongs to the state replaced (or is in it)
	}
	return err
}

// Restorer fills the store during Restore with what Walk gave: buckets,
// each followed by its keys.
type Restorer struct {
	tx  *bolt.Tx
	cur *bolt.Bucket
}

// Bucket creates bbolt bucket name; the keys Put adds next go into it.
func (r *Restorer) Bucket(name []byte) error {
	var err error
	if r.cur, err = r.tx.CreateBucket(name); err != nil {
		return fmt.Errorf("metadata bucket %q: %v", name, err)
	}
	return nil
}

// Put stores k and v in the bucket Bucket created last.
func (r *Restorer) Put(k, v []byte) error {
	if r.cur == nil {
		return errors.New("metadata key before any bucket")
	}
	if err := r.cur.Put(k, v); err != nil {
		return fmt.Errorf("metadata key: %v", err)
	}
	return nil
}
