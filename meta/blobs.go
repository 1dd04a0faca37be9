package meta

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// BlobRefs returns how many objects and parts reference blob sum.
func (s *Store) BlobRefs(sum [32]byte) uint64 {
	var n uint64
	s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktRefs).Get(sum[:]); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return n
}

// Garbage returns up to max blobs no object references any more.
func (s *Store) Garbage(max int) [][32]byte {
	var out [][32]byte
	s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktGarbage).Cursor()
		for k, _ := c.First(); k != nil && len(out) < max; k, _ = c.Next() {
			var sum [32]byte
			copy(sum[:], k)
			out = append(out, sum)
		}
		return nil
	})
	return out
}

// ForgetGarbage drops sum from the garbage list if it is still unreferenced
// (the blob store removed its file). It is node-local bookkeeping, not an
// event: the list is rebuilt by replay after a restart.
func (s *Store) ForgetGarbage(sum [32]byte) {
	s.updateDB(func(tx *bolt.Tx) error { return tx.Bucket(bktGarbage).Delete(sum[:]) })
}

// ref adds delta to the reference count of every blob in parts, keeping the
// garbage list in step.
func ref(tx *bolt.Tx, parts []BlobPart, delta int64) {
	refs, garbage := tx.Bucket(bktRefs), tx.Bucket(bktGarbage)
	for _, p := range parts {
		var n uint64
		if v := refs.Get(p.ID[:]); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
		if delta < 0 && n < uint64(-delta) {
			panic(fmt.Errorf("meta: blob %x reference count below zero", p.ID))
		}
		n = uint64(int64(n) + delta)
		must(func() error {
			if n == 0 {
				if err := refs.Delete(p.ID[:]); err != nil {
					return err
				}
				return garbage.Put(p.ID[:], nil)
			}
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], n)
			if err := refs.Put(p.ID[:], b[:]); err != nil {
				return err
			}
			return garbage.Delete(p.ID[:])
		}())
	}
}

// ReferencedBlobs returns, in ascending order of their IDs, up to limit
// blobs that at least one object or multipart part references (a reference
// count above zero), starting strictly after *after (from the first one when
// after is nil). more reports that further blobs may follow: call again with
// the last sum returned as after.
//
// Each call is one short read transaction, so a walk over a million blobs
// neither holds a transaction open for long nor keeps the sums in memory;
// blobs referenced or released between two calls may or may not be seen.
func (s *Store) ReferencedBlobs(after *[32]byte, limit int) (sums [][32]byte, more bool, err error) {
	if limit <= 0 {
		return nil, false, fmt.Errorf("meta: referenced blobs: limit %d", limit)
	}
	err = s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktRefs).Cursor()
		var k []byte
		if after == nil {
			k, _ = c.First()
		} else {
			k, _ = c.Seek(after[:])
			if k != nil && bytes.Equal(k, after[:]) {
				k, _ = c.Next()
			}
		}
		for ; k != nil; k, _ = c.Next() {
			if len(k) != 32 {
				continue // not a blob sum: cannot happen, but never return a short one
			}
			if len(sums) == limit {
				more = true
				return nil
			}
			var sum [32]byte
			copy(sum[:], k)
			sums = append(sums, sum)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("meta: referenced blobs: %w", err)
	}
	return sums, more, nil
}
