package fsm

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// ReferencedBlobs returns, in ascending order of their SHA-256, up to limit
// blobs that at least one object or multipart part references (a reference
// count above zero), starting strictly after *after (from the first one when
// after is nil). more reports that further blobs may follow: call again with
// the last sum returned as after.
//
// Each call is one short read transaction, so a walk over a million blobs
// neither holds a transaction open for long nor keeps the sums in memory;
// blobs referenced or released between two calls may or may not be seen.
func (m *Meta) ReferencedBlobs(after *[32]byte, limit int) (sums [][32]byte, more bool, err error) {
	if limit <= 0 {
		return nil, false, fmt.Errorf("fsm: referenced blobs: limit %d", limit)
	}
	err = m.db.View(func(tx *bolt.Tx) error {
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
			var s [32]byte
			copy(s[:], k)
			sums = append(sums, s)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("fsm: referenced blobs: %w", err)
	}
	return sums, more, nil
}
