package meta

import (
	bolt "go.etcd.io/bbolt"
)

// Versioning states of a bucket (BucketInfo.Versioning). A bucket starts
// unversioned (""); once versioning was enabled it is Enabled or
// Suspended, never unversioned again (S3's rule).
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
)

// SetBucketVersioning sets the versioning state of bucket to status
// (VersioningEnabled or VersioningSuspended). It refuses a missing bucket
// (ErrNoSuchBucket) and any other status (InvalidError).
func (s *Store) SetBucketVersioning(bucket, status string) error {
	return s.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bktBuckets)
		v := bk.Get([]byte(bucket))
		if v == nil {
			return ErrNoSuchBucket
		}
		if status != VersioningEnabled && status != VersioningSuspended {
			return invalid("versioning status %q", status)
		}
		var info BucketInfo
		decodeMsg(v, &info)
		if info.Versioning == status {
			return nil
		}
		info.Versioning = status
		must(bk.Put([]byte(bucket), encodeMsg(&info)))
		return nil
	})
}
