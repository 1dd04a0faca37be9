package meta

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Completed uploads. An SDK re-sends a CompleteMultipartUpload whose
// answer it did not get (a timeout, a reset connection), and S3 answers
// the re-sent request 200 with the result of the first, not NoSuchUpload.
// So CompleteUpload remembers, for CompletedUploadRetention after it, what
// each upload made:
//
//	done-uploads     uploadID -> CompletedUpload
//	done-uploads-at  at (8 bytes BE) + uploadID -> "" (the same, by time)
//
// and each CompleteUpload forgets the records older than the retention
// before its own event's time (the event's, not the clock: every node
// forgets the same records at the same entry). A record answers only while
// the key still holds the object that upload made (CompletedUpload).

// CompletedUploadRetention is how long after it completed an upload's
// result is remembered for a re-sent CompleteMultipartUpload: one day,
// which covers the SDKs' retries (seconds) and a job that re-runs its
// last step after a crash; a record is about 200 bytes.
const CompletedUploadRetention = 24 * time.Hour

var (
	bktDoneUploads   = []byte("done-uploads")
	bktDoneUploadsAt = []byte("done-uploads-at")
)

// CompletedUpload is what a completed multipart upload made.
type CompletedUpload struct {
	Bucket string
	Key    string
	ETag   string // the object's, quoted
	At     int64  // when it completed: the object's LastModified
	// VersionID is the version it made ("": the null version).
	VersionID string `codec:",omitempty"`
}

// rememberCompleted records that upload id made obj at bucket/key at at,
// and forgets the records older than the retention before at.
func rememberCompleted(tx *bolt.Tx, id string, c CompletedUpload) {
	done, byTime := tx.Bucket(bktDoneUploads), tx.Bucket(bktDoneUploadsAt)
	cutoff := timeKey(c.At-int64(CompletedUploadRetention), "")
	cur := byTime.Cursor()
	for k, _ := cur.First(); k != nil && string(k) < string(cutoff); k, _ = cur.First() {
		must(done.Delete(k[8:]))
		must(cur.Delete())
	}
	if v := done.Get([]byte(id)); v != nil { // an upload ID completes once; be safe all the same
		var old CompletedUpload
		decodeMsg(v, &old)
		must(byTime.Delete(timeKey(old.At, id)))
	}
	must(done.Put([]byte(id), encodeMsg(&c)))
	must(byTime.Put(timeKey(c.At, id), nil))
}

func timeKey(at int64, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(max(at, 0)))
	return append(k, id...)
}

// CompletedUpload returns what upload id made when it completed, if that
// was less than CompletedUploadRetention before the last completion and
// the key still holds that object (same ETag, same LastModified): a
// re-sent CompleteMultipartUpload is answered with it. An object replaced
// or deleted since makes it false, as does a bucket deleted since.
func (s *Store) CompletedUpload(id string) (CompletedUpload, bool) {
	var c CompletedUpload
	var ok bool
	s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bktDoneUploads).Get([]byte(id))
		if v == nil {
			return nil
		}
		decodeMsg(v, &c)
		b := tx.Bucket(objectsBucket(c.Bucket))
		if b == nil {
			return nil
		}
		ov := b.Get([]byte(c.Key))
		if ov == nil {
			return nil
		}
		var obj ObjectMeta
		decodeMsg(ov, &obj)
		ok = obj.ETag == c.ETag && obj.LastModified == c.At && obj.VersionID == c.VersionID && !obj.DeleteMarker
		return nil
	})
	return c, ok
}
