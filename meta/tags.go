package meta

import (
	bolt "go.etcd.io/bbolt"
)

// Tagging: the tags of an object (ObjectMeta.Tags) and of a bucket
// (BucketInfo.Tags), each a set of keys with a value, kept sorted by key.

// Tag is one tag of an object or a bucket.
type Tag struct {
	Key   string
	Value string
}

// The limits the tag operations check, so that what a buggy peer forwards
// cannot grow a record without bound: S3's (10 tags per object, 50 per
// bucket, keys of at most 128 characters, values of 256), which the S3 API
// enforces first, with room for four bytes per character.
const (
	maxTags        = 50
	maxTagKeyLen   = 128 * 4
	maxTagValueLen = 256 * 4
)

func checkTags(tags []Tag) error {
	if len(tags) > maxTags {
		return invalid("%d tags", len(tags))
	}
	for i, t := range tags {
		if t.Key == "" || len(t.Key) > maxTagKeyLen || len(t.Value) > maxTagValueLen {
			return invalid("tag of %d and %d bytes", len(t.Key), len(t.Value))
		}
		if i > 0 && tags[i-1].Key >= t.Key {
			return invalid("tags not sorted by key, or a key twice")
		}
	}
	return nil
}

// PutObjectTags replaces the tags of the object at bucket/key with tags
// (sorted by key, each key once; none: delete them). It refuses a missing
// bucket (ErrNoSuchBucket) or key (ErrNoSuchKey; a delete marker as
// latest is none).
func (s *Store) PutObjectTags(bucket, key string, tags []Tag) error {
	return s.PutVersionTags(bucket, key, "", tags)
}

// PutVersionTags is PutObjectTags of version id of the object ("": the
// latest; NullVersion: the null version). It refuses a missing version
// or a delete marker (ErrNoSuchKey).
func (s *Store) PutVersionTags(bucket, key, id string, tags []Tag) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(objectsBucket(bucket))
		if b == nil {
			return ErrNoSuchBucket
		}
		if err := checkTags(tags); err != nil {
			return err
		}
		v := b.Get([]byte(key))
		if v == nil {
			return ErrNoSuchKey
		}
		var obj ObjectMeta
		decodeMsg(v, &obj)
		if id != "" && id != VersionIDOf(&obj) {
			nid := id
			if nid == NullVersion {
				nid = ""
			}
			nobj, vkey, ok := noncurrent(tx, bucket, key, nid)
			if !ok || nobj.DeleteMarker {
				return ErrNoSuchKey
			}
			nobj.Tags = tags
			must(tx.Bucket(versionsBucket(bucket)).Put(vkey, encodeMsg(&nobj)))
			return nil
		}
		if obj.DeleteMarker {
			return ErrNoSuchKey
		}
		obj.Tags = tags
		must(b.Put([]byte(key), encodeMsg(&obj))) // the same blobs: no reference moves
		return nil
	})
}

// PutBucketTags replaces the tags of bucket with tags (sorted by key, each
// key once; none: delete them). It refuses a missing bucket
// (ErrNoSuchBucket).
func (s *Store) PutBucketTags(bucket string, tags []Tag) error {
	return s.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bktBuckets)
		v := bk.Get([]byte(bucket))
		if v == nil {
			return ErrNoSuchBucket
		}
		if err := checkTags(tags); err != nil {
			return err
		}
		var info BucketInfo
		decodeMsg(v, &info)
		info.Tags = tags
		must(bk.Put([]byte(bucket), encodeMsg(&info)))
		return nil
	})
}
