package meta

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// scrubPage is how many inline keys ScrubInline reads per read
// transaction (a long read transaction keeps bbolt from reusing pages).
const scrubPage = 256

// ScrubInline checks every object's inline tail against the length and
// CRC32C in its record, for the scrubber (objects.InlineBodies): pace(n)
// is called before a body of n bytes is checked (it blocks for the
// scrubber's rate; its error ends the walk and is returned), found for
// each body that fails, with the size and CRC32C its record holds and
// version "" for a key's latest body, else the noncurrent version's ID
// (as S3 shows it). It reads the keys in
// short read transactions of scrubPage keys, and each body with its
// record in one more, so that objects written or deleted meanwhile are
// seen as they are now. The inline bodies of parts of uploads in progress
// are not checked (CompleteMultipartUpload checks them).
func (s *Store) ScrubInline(ctx context.Context, pace func(n int64) error, found func(bucket, key, version string, size int64, crc uint32, err error)) error {
	for _, b := range s.Buckets() {
		var after []byte
		for {
			keys, more := s.inlineKeys(b.Name, after)
			for _, k := range keys {
				if err := context.Cause(ctx); err != nil {
					return err
				}
				obj, ok := s.ObjectData(b.Name, string(k))
				if !ok || obj.Inline == nil {
					continue // deleted or overwritten meanwhile
				}
				if err := pace(obj.Inline.Size); err != nil {
					return err
				}
				if err := CheckInline(obj.Inline); err != nil {
					found(b.Name, string(k), "", obj.Inline.Size, obj.Inline.CRC32C, err)
				}
			}
			if !more {
				break
			}
			after = keys[len(keys)-1]
		}
		if err := s.scrubNoncurrent(ctx, b.Name, pace, found); err != nil {
			return err
		}
	}
	return nil
}

// scrubNoncurrent is ScrubInline of bucket's noncurrent versions.
func (s *Store) scrubNoncurrent(ctx context.Context, bucket string, pace func(n int64) error, found func(bucket, key, version string, size int64, crc uint32, err error)) error {
	var after []byte
	for {
		keys, more := s.noncurrentInlineKeys(bucket, after)
		for _, k := range keys {
			if err := context.Cause(ctx); err != nil {
				return err
			}
			var obj ObjectMeta
			var ok bool
			s.view(func(tx *bolt.Tx) error {
				if vb := tx.Bucket(versionsBucket(bucket)); vb != nil {
					if v := vb.Get(k); v != nil {
						decodeMsg(v, &obj)
						ok = true
					}
				}
				return nil
			})
			if !ok || obj.Inline == nil {
				continue // deleted meanwhile
			}
			if err := pace(obj.Inline.Size); err != nil {
				return err
			}
			if err := CheckInline(obj.Inline); err != nil {
				found(bucket, string(k[:len(k)-9]), VersionIDOf(&obj), obj.Inline.Size, obj.Inline.CRC32C, err)
			}
		}
		if !more {
			return nil
		}
		after = keys[len(keys)-1]
	}
}

// noncurrentInlineKeys returns up to scrubPage keys of bucket's
// noncurrent versions with an inline body after after (nil: from the
// first), and whether there may be more.
func (s *Store) noncurrentInlineKeys(bucket string, after []byte) (keys [][]byte, more bool) {
	s.view(func(tx *bolt.Tx) error {
		vb := tx.Bucket(versionsBucket(bucket))
		if vb == nil {
			return nil
		}
		c := vb.Cursor()
		k, v := c.First()
		if after != nil {
			k, v = c.Seek(after)
			if k != nil && string(k) == string(after) {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			if len(keys) == scrubPage {
				more = true
				return nil
			}
			var obj ObjectMeta
			if decodeMsg(v, &obj); obj.Inline != nil && len(k) > 9 {
				keys = append(keys, append([]byte(nil), k...))
			}
		}
		return nil
	})
	return keys, more
}

// inlineKeys returns up to scrubPage keys of bucket's inline bodies after
// after (nil: from the first), and whether there may be more.
func (s *Store) inlineKeys(bucket string, after []byte) (keys [][]byte, more bool) {
	s.view(func(tx *bolt.Tx) error {
		ib := tx.Bucket(inlineBucket(bucket))
		if ib == nil {
			return nil
		}
		c := ib.Cursor()
		k, _ := c.First()
		if after != nil {
			k, _ = c.Seek(after)
			if k != nil && string(k) == string(after) {
				k, _ = c.Next()
			}
		}
		for ; k != nil; k, _ = c.Next() {
			if len(keys) == scrubPage {
				more = true
				return nil
			}
			keys = append(keys, append([]byte(nil), k...))
		}
		return nil
	})
	return keys, more
}
