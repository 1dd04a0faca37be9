package meta

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Lifecycle configuration (PutBucketLifecycleConfiguration) and the
// conditional expirations its evaluator proposes.
//
// A bucket's configuration is kept in its own bbolt bucket, next to the
// bucket's record (lifecycle: name -> Lifecycle), not inside BucketInfo:
// up to 1000 rules would otherwise be decoded by every request that reads
// the bucket. DeleteBucket removes it with the bucket. It is in the
// snapshots as every key of the store is.
//
// Expire applies what the leader's evaluator (node/lifecycle.go) decided:
// each version is expired only if it is still the version that was
// evaluated (same ID, ETag and LastModified), so an object overwritten
// between the evaluation and the apply is kept; each upload is aborted if
// it is still in progress.

var bktLifecycle = []byte("lifecycle")

// The forms a rule's filter takes in S3's XML, kept so that
// GetBucketLifecycleConfiguration answers the form it was given.
const (
	FilterPrefixLegacy uint8 = iota // <Rule><Prefix> (no <Filter>)
	FilterEmpty                     // <Filter/>
	FilterPrefix                    // <Filter><Prefix>
	FilterTag                       // <Filter><Tag>
	FilterSizeGreater               // <Filter><ObjectSizeGreaterThan>
	FilterSizeLess                  // <Filter><ObjectSizeLessThan>
	FilterAnd                       // <Filter><And>
	filterKinds
)

// LifecycleRule is one rule of a bucket's lifecycle configuration. Days
// count in the node's lifecycle day (24 h unless --lifecycle-day says
// otherwise); zero values mean "absent".
type LifecycleRule struct {
	ID      string
	Enabled bool // Status Enabled (else Disabled)
	// The filter: an object matches if its key has Prefix, it carries every
	// tag of Tags, and its size is above SizeGreaterThan (if set) and below
	// SizeLessThan (if not 0).
	FilterKind      uint8
	Prefix          string
	Tags            []Tag // sorted by key
	SizeGreaterThan *int64
	SizeLessThan    int64
	// Expiration: Days after LastModified (rounded up to the next day's
	// start), or at Date (Unix seconds of a midnight UTC), or
	// ExpiredObjectDeleteMarker.
	ExpirationDays            int
	ExpirationDate            *int64
	ExpiredObjectDeleteMarker *bool
	// NoncurrentVersionExpiration.
	NoncurrentDays          int
	NewerNoncurrentVersions int
	// AbortIncompleteMultipartUpload.
	AbortDays int
}

// Lifecycle is a bucket's lifecycle configuration.
type Lifecycle struct {
	Rules []LifecycleRule
}

// The limits PutBucketLifecycle checks (S3's, with room for four bytes per
// character), so that what a buggy peer forwards cannot grow a record
// without bound; the S3 API enforces S3's rules first.
const (
	MaxLifecycleRules = 1000
	maxRuleIDLen      = 255 * 4
)

func checkLifecycle(lc *Lifecycle) error {
	if len(lc.Rules) == 0 || len(lc.Rules) > MaxLifecycleRules {
		return invalid("lifecycle of %d rules", len(lc.Rules))
	}
	for i := range lc.Rules {
		r := &lc.Rules[i]
		if len(r.ID) > maxRuleIDLen || len(r.Prefix) > maxKeyLen || r.FilterKind >= filterKinds {
			return invalid("lifecycle rule of a %d-byte ID, a %d-byte prefix, filter %d", len(r.ID), len(r.Prefix), r.FilterKind)
		}
		if err := checkTags(r.Tags); err != nil {
			return err
		}
		if r.ExpirationDays < 0 || r.NoncurrentDays < 0 || r.NewerNoncurrentVersions < 0 || r.AbortDays < 0 || r.SizeLessThan < 0 {
			return invalid("lifecycle rule with a negative number")
		}
	}
	return nil
}

// PutBucketLifecycle replaces bucket's lifecycle configuration with lc
// (nil: delete it). It refuses a missing bucket (ErrNoSuchBucket).
func (s *Store) PutBucketLifecycle(bucket string, lc *Lifecycle) error {
	return s.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bktBuckets).Get([]byte(bucket)) == nil {
			return ErrNoSuchBucket
		}
		if lc == nil {
			if b := tx.Bucket(bktLifecycle); b != nil {
				must(b.Delete([]byte(bucket)))
			}
			return nil
		}
		if err := checkLifecycle(lc); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bktLifecycle)
		must(err)
		must(b.Put([]byte(bucket), encodeMsg(lc)))
		return nil
	})
}

// dropLifecycle removes a deleted bucket's configuration.
func dropLifecycle(tx *bolt.Tx, bucket string) {
	if b := tx.Bucket(bktLifecycle); b != nil {
		must(b.Delete([]byte(bucket)))
	}
}

// BucketLifecycle returns bucket's lifecycle configuration (nil if none).
func (s *Store) BucketLifecycle(bucket string) *Lifecycle {
	var lc *Lifecycle
	s.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bktLifecycle); b != nil {
			if v := b.Get([]byte(bucket)); v != nil {
				lc = new(Lifecycle)
				decodeMsg(v, lc)
			}
		}
		return nil
	})
	return lc
}

// LifecycleBuckets lists the buckets that have a lifecycle configuration,
// by name.
func (s *Store) LifecycleBuckets() []string {
	var out []string
	s.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bktLifecycle); b != nil {
			return b.ForEach(func(k, _ []byte) error {
				out = append(out, string(k))
				return nil
			})
		}
		return nil
	})
	return out
}

// Matches reports whether an object (key, size, tags) is one the rule's
// filter selects.
func (r *LifecycleRule) Matches(key string, size int64, tags []Tag) bool {
	if !strings.HasPrefix(key, r.Prefix) {
		return false
	}
	if r.SizeGreaterThan != nil && size <= *r.SizeGreaterThan {
		return false
	}
	if r.SizeLessThan > 0 && size >= r.SizeLessThan {
		return false
	}
	for _, want := range r.Tags {
		found := false
		for _, t := range tags {
			if t.Key == want.Key {
				found = t.Value == want.Value
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// DueAfterDays is when something that happened at t (Unix nanoseconds)
// is due days later by S3's rule: t plus days, rounded up to the next
// start of a day, counted from the Unix epoch in days of length day
// (nanoseconds; with 24 h, midnight UTC). A time past what an int64 of
// nanoseconds holds (year 2262) is math.MaxInt64: never.
func DueAfterDays(t int64, days int, day int64) int64 {
	if day <= 0 {
		day = 1
	}
	if days < 0 || int64(days) > (math.MaxInt64-max(t, 0))/day-1 {
		return math.MaxInt64
	}
	d := t + int64(days)*day
	if r := d % day; r != 0 {
		if d > 0 {
			d += day - r
		} else {
			d -= r
		}
	}
	return d
}

// DateDue is when an Expiration Date (Unix seconds) is due, in Unix
// nanoseconds (math.MaxInt64 past year 2262: never).
func DateDue(date int64) int64 {
	if date > math.MaxInt64/int64(time.Second) {
		return math.MaxInt64
	}
	return date * int64(time.Second)
}

// ObjectExpiry is the Expiration the lifecycle evaluator decided for the
// latest version of one key: applied only if it is still the version
// evaluated (same version ID, ETag and LastModified, not a delete marker).
// MarkerID is the ID of the delete marker it makes in an Enabled bucket.
type ObjectExpiry struct {
	Key          string
	ETag         string
	LastModified int64
	VersionID    string `codec:",omitempty"` // "" or "null": the null version
	MarkerID     string `codec:",omitempty"`
}

// VersionExpiry names one version the evaluator decided to delete for
// good: a noncurrent version (NoncurrentVersionExpiration), or a delete
// marker that was the only version of its key (ExpiredObjectDeleteMarker).
type VersionExpiry struct {
	Key          string
	VersionID    string // "null": the null version
	ETag         string
	LastModified int64
}

// Expiry is one batch of the evaluator's decisions for one bucket.
type Expiry struct {
	Objects    []ObjectExpiry
	Noncurrent []VersionExpiry
	Markers    []VersionExpiry
	Uploads    []string // upload IDs (AbortIncompleteMultipartUpload)
	At         int64    // the delete markers' time (Unix nanoseconds)
}

// ExpiryResult counts what Expire did.
type ExpiryResult struct {
	Expired    int // latest versions expired: deleted (unversioned) or hidden by a delete marker
	Noncurrent int // noncurrent versions deleted
	Markers    int // lone delete markers removed
	Aborted    int // uploads aborted
}

// Expire applies x to bucket; every part of it is conditional, so what
// changed since the evaluation is kept:
//   - an object (the latest version of its key) is expired only if it is
//     still the version evaluated: in an unversioned bucket it is deleted,
//     in a versioned one a delete marker becomes the latest version (ID
//     MarkerID in an Enabled bucket, the null version in a Suspended one),
//     owned by the bucket's owner, at x.At (S3's rules);
//   - a noncurrent version is deleted only if it is still noncurrent and
//     the same (ETag, LastModified);
//   - a delete marker is removed only if it is still the latest and only
//     version of its key;
//   - an upload is aborted if it is still in progress in bucket.
//
// Blobs are released as DeleteObjects, DeleteVersions and AbortUpload
// release them. A missing bucket changes nothing.
func (s *Store) Expire(bucket string, x *Expiry) (res ExpiryResult, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		res = ExpiryResult{}
		for _, o := range x.Objects {
			if err := invalidName("key", o.Key, maxKeyLen); err != nil {
				return err
			}
			if err := errors.Join(checkVersionID(o.VersionID), checkVersionID(o.MarkerID)); err != nil {
				return err
			}
		}
		for _, v := range append(append([]VersionExpiry(nil), x.Noncurrent...), x.Markers...) {
			if err := invalidName("key", v.Key, maxKeyLen); err != nil {
				return err
			}
			if err := errors.Join(invalidName("version id", v.VersionID, maxVersionID), checkVersionID(v.VersionID)); err != nil {
				return err
			}
		}
		o := tx.Bucket(objectsBucket(bucket))
		info, ok := bucketInfo(tx, bucket)
		if o == nil || !ok {
			return nil
		}
		for _, e := range x.Objects {
			v := o.Get([]byte(e.Key))
			if v == nil {
				continue
			}
			var latest ObjectMeta
			decodeMsg(v, &latest)
			if latest.DeleteMarker || latest.ETag != e.ETag || latest.LastModified != e.LastModified || !sameVersion(latest.VersionID, e.VersionID) {
				continue // changed since it was evaluated: kept
			}
			deleteVersion(tx, o, &info, bucket, VersionDelete{Key: e.Key, MarkerID: e.MarkerID}, info.Owner, x.At)
			res.Expired++
		}
		for _, e := range x.Noncurrent {
			id := e.VersionID
			if id == NullVersion {
				id = ""
			}
			obj, _, found := noncurrent(tx, bucket, e.Key, id)
			if !found || obj.ETag != e.ETag || obj.LastModified != e.LastModified {
				continue
			}
			dropNoncurrent(tx, bucket, e.Key, id)
			res.Noncurrent++
		}
		for _, e := range x.Markers {
			v := o.Get([]byte(e.Key))
			if v == nil {
				continue
			}
			var latest ObjectMeta
			decodeMsg(v, &latest)
			if !latest.DeleteMarker || VersionIDOf(&latest) != e.VersionID || hasNoncurrent(tx, bucket, e.Key) {
				continue
			}
			dropLatest(tx, o, bucket, e.Key, &latest)
			res.Markers++
		}
		ub := tx.Bucket(bktUploads)
		for _, id := range x.Uploads {
			v := ub.Get([]byte(id))
			if v == nil {
				continue
			}
			var rec uploadRecord
			decodeMsg(v, &rec)
			if rec.Bucket != bucket {
				continue
			}
			dropUpload(tx, id)
			res.Aborted++
		}
		return nil
	})
	return res, err
}

func sameVersion(a, b string) bool {
	if a == NullVersion {
		a = ""
	}
	if b == NullVersion {
		b = ""
	}
	return a == b
}

// hasNoncurrent reports whether key has a noncurrent version.
func hasNoncurrent(tx *bolt.Tx, bucket, key string) bool {
	vb := tx.Bucket(versionsBucket(bucket))
	if vb == nil {
		return false
	}
	c := vb.Cursor()
	prefix := append([]byte(key), 0)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if isNoncurrentOf(k, key) {
			return true
		}
	}
	return false
}
