package meta

import (
	"bytes"
	"encoding/binary"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// The reads: each is one short read transaction, which never waits for the
// writer.

// Bucket returns a bucket's description.
func (s *Store) Bucket(name string) (BucketInfo, bool) {
	var info BucketInfo
	var ok bool
	s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktBuckets).Get([]byte(name)); v != nil {
			decodeMsg(v, &info)
			ok = true
		}
		return nil
	})
	return info, ok
}

// Buckets lists all buckets by name.
func (s *Store) Buckets() []BucketInfo {
	var out []BucketInfo
	s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktBuckets).ForEach(func(k, v []byte) error {
			var info BucketInfo
			decodeMsg(v, &info)
			out = append(out, info)
			return nil
		})
	})
	return out
}

// Object returns an object's metadata: its latest version, none if that is
// a delete marker (ObjectVersion returns it).
func (s *Store) Object(bucket, key string) (ObjectMeta, bool) {
	var obj ObjectMeta
	var ok bool
	s.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(objectsBucket(bucket)); b != nil {
			if v := b.Get([]byte(key)); v != nil {
				decodeMsg(v, &obj)
				ok = !obj.DeleteMarker
			}
		}
		return nil
	})
	return obj, ok
}

// List walks bucket's keys in order: keys with prefix, strictly after
// after, rolling keys that contain delimiter after the prefix into common
// prefixes, at most max entries (objects plus prefixes). A key whose latest
// version is a delete marker is not listed, nor a common prefix of only
// such keys. ok is false when the bucket does not exist.
func (s *Store) List(bucket, prefix, after, delimiter string, max int) (res ListResult, ok bool) {
	s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(objectsBucket(bucket))
		if b == nil {
			return nil
		}
		ok = true
		if max <= 0 {
			return nil
		}
		info, _ := bucketInfo(tx, bucket)
		versioned := info.Versioning != ""
		c := b.Cursor()
		var k, v []byte
		start := prefix
		if after >= start {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		} else {
			k, v = c.Seek([]byte(start))
		}
		n := 0
		for ; k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			key := string(k)
			if delimiter != "" {
				if i := bytes.Index(k[len(prefix):], []byte(delimiter)); i >= 0 {
					cp := key[:len(prefix)+i+len(delimiter)]
					if cp > after && (!versioned || liveUnder(b, cp)) { // else: returned on an earlier page, or only delete markers
						if n == max {
							res.IsTruncated = true
							return nil
						}
						res.CommonPrefixes = append(res.CommonPrefixes, cp)
						res.NextMarker = cp
						n++
					}
					// Skip every key under this common prefix.
					next := prefixEnd(cp)
					if next == nil {
						return nil
					}
					k, v = c.Seek(next)
					if k == nil {
						return nil
					}
					k, v = c.Prev()
					continue
				}
			}
			var obj ObjectMeta
			if decodeMsg(v, &obj); obj.DeleteMarker {
				continue // hidden: not a reason to say there is more
			}
			if n == max {
				res.IsTruncated = true
				return nil
			}
			res.Objects = append(res.Objects, ListEntry{Key: key, Object: obj})
			res.NextMarker = key
			n++
		}
		return nil
	})
	return res, ok
}

// liveUnder reports whether a key with prefix cp in b has a latest
// version that is not a delete marker.
func liveUnder(b *bolt.Bucket, cp string) bool {
	c := b.Cursor()
	for k, v := c.Seek([]byte(cp)); k != nil && bytes.HasPrefix(k, []byte(cp)); k, v = c.Next() {
		var obj ObjectMeta
		if decodeMsg(v, &obj); !obj.DeleteMarker {
			return true
		}
	}
	return false
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil if there is none.
func prefixEnd(p string) []byte {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return b[:i+1]
		}
	}
	return nil
}

// BucketEmpty reports whether the bucket holds no objects.
func (s *Store) BucketEmpty(bucket string) bool {
	empty := true
	s.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(objectsBucket(bucket)); b != nil {
			k, _ := b.Cursor().First()
			empty = k == nil
		}
		return nil
	})
	return empty
}

// Upload returns a multipart upload.
func (s *Store) Upload(id string) (UploadInfo, bool) {
	var info UploadInfo
	var ok bool
	s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktUploads).Get([]byte(id)); v != nil {
			var rec uploadRecord
			decodeMsg(v, &rec)
			info, ok = rec.info(id), true
		}
		return nil
	})
	return info, ok
}

// Parts lists an upload's parts with numbers above after, at most max,
// without the bytes of inline parts (Inline.Data is nil: a list of 10,000
// inline parts would otherwise hold their bodies, up to 2.5 GiB, for a
// ListParts or a checksum check).
func (s *Store) Parts(id string, after, max int) (parts []PartEntry, truncated bool) {
	s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(partsBucket(id))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(partKey(after + 1)); k != nil; k, v = c.Next() {
			if len(parts) == max {
				truncated = true
				return nil
			}
			var p PartMeta
			decodeMsg(v, &p)
			if p.Inline != nil {
				p.Inline.Data = nil
			}
			parts = append(parts, PartEntry{Number: int(binary.BigEndian.Uint32(k)), Part: p})
		}
		return nil
	})
	return parts, truncated
}

// Uploads lists a bucket's uploads in progress ordered by key, then upload
// ID (then initiation), with key prefix.
func (s *Store) Uploads(bucket, prefix string) []UploadInfo {
	var out []UploadInfo
	s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktUploads).ForEach(func(k, v []byte) error {
			var rec uploadRecord
			decodeMsg(v, &rec)
			if rec.Bucket == bucket && len(rec.Key) >= len(prefix) && rec.Key[:len(prefix)] == prefix {
				out = append(out, rec.info(string(k)))
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].UploadID < out[j].UploadID
	})
	return out
}

// partNumber is the part number of key k of a parts bucket (0: not one).
func partNumber(k []byte) int {
	if len(k) != 4 {
		return 0
	}
	return int(binary.BigEndian.Uint32(k))
}

func partKey(n int) []byte {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], uint32(n))
	return k[:]
}
