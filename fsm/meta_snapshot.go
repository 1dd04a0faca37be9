package fsm

import (
	"fmt"

	"github.com/hashicorp/go-msgpack/v2/codec"
	bolt "go.etcd.io/bbolt"
)

// The metadata part of a snapshot follows the IAM records: every bbolt
// bucket as a recordMetaBucket, then its keys as recordMetaKV, in key order.
// The dump comes from one read transaction opened in FSM.Snapshot (on the
// FSM goroutine, so no Apply runs between), and Persist streams it while
// Apply goes on: bbolt's MVCC keeps the view stable.
const (
	recordMetaBucket uint8 = 2
	recordMetaKV     uint8 = 3
)

type metaBucketRecord struct{ Name []byte }

type metaKVRecord struct{ K, V []byte }

// metaSnapshot is a consistent read view of the metadata store.
type metaSnapshot struct{ tx *bolt.Tx }

func (m *Meta) snapshot() (*metaSnapshot, error) {
	tx, err := m.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("fsm: metadata snapshot: %w", err)
	}
	return &metaSnapshot{tx: tx}, nil
}

func (s *metaSnapshot) release() {
	if s != nil {
		s.tx.Rollback()
	}
}

func (s *metaSnapshot) write(enc *codec.Encoder) error {
	return s.tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if err := enc.Encode(recordMetaBucket); err != nil {
			return err
		}
		if err := enc.Encode(&metaBucketRecord{Name: name}); err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return fmt.Errorf("fsm: nested bucket %q in metadata store", k)
			}
			if err := enc.Encode(recordMetaKV); err != nil {
				return err
			}
			return enc.Encode(&metaKVRecord{K: k, V: v})
		})
	})
}

// restore replaces the whole store with the records that next yields, in
// one transaction: on error the old content stays. next returns the next
// record type, decoding its body into the given values; it returns
// recordEnd at the end.
func (m *Meta) restore(next func(kv *metaKVRecord, bk *metaBucketRecord) (uint8, error)) error {
	return m.db.Update(func(tx *bolt.Tx) error {
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
		var cur *bolt.Bucket
		for {
			var kv metaKVRecord
			var bk metaBucketRecord
			t, err := next(&kv, &bk)
			if err != nil {
				return err
			}
			switch t {
			case recordEnd:
				return m.init(tx)
			case recordMetaBucket:
				if cur, err = tx.CreateBucket(bk.Name); err != nil {
					return fmt.Errorf("%w: metadata bucket %q: %v", errBadSnapshot, bk.Name, err)
				}
			case recordMetaKV:
				if cur == nil {
					return fmt.Errorf("%w: metadata key before any bucket", errBadSnapshot)
				}
				if err := cur.Put(kv.K, kv.V); err != nil {
					return fmt.Errorf("%w: metadata key: %v", errBadSnapshot, err)
				}
			default:
				return fmt.Errorf("%w: unknown record type %d", errBadSnapshot, t)
			}
		}
	})
}
