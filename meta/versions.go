package meta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Versions (S3 versioning). A bucket starts unversioned; once versioning
// was enabled (SetBucketVersioning) it is Enabled or Suspended, never
// unversioned again (S3's rule).
//
// Layout, next to o/<bucket> (store.go):
//
//	o/<bucket>   key -> ObjectMeta: the latest version of every key, as before
//	             versioning; a delete marker as latest hides the key from
//	             Object, ObjectData and List (it is there for ListVersions)
//	v/<bucket>   key 0x00 ^seq (8 bytes BE) -> ObjectMeta: the noncurrent
//	             versions, so that a key's versions sort newest first; an
//	             inline tail's bytes are in the record (Inline.Data)
//	x/<bucket>   key 0x00 versionID -> seq (8 bytes BE): the noncurrent
//	             versions by ID ("null" for the null version)
//
// seq is BucketInfo.VersionSeq, counted up each time a version becomes
// noncurrent. A key has versions in v/<bucket> only while it has a latest
// in o/<bucket>: the latest is deleted only by deleting that version, and
// then the newest noncurrent one becomes latest.
//
// Version IDs are chosen by the proposing node and carried in the events
// (ObjectMeta.VersionID of a PutObject, CompleteUploadVersion's and
// DeleteVersions' arguments); a write operation uses one only when the
// bucket is Enabled at the time it is applied, and writes the null
// version ("") otherwise: a new null version replaces the previous one,
// wherever it is. Blob references and inline bodies go with each version:
// deleting one releases its blobs as deleting an object does.
//
// What lifecycle expiration (or any other caller) uses: ListVersions to
// walk a bucket's versions (newest first per key, IsLatest, delete
// markers), ObjectVersions for one key's, and DeleteVersions (the write
// operation of fsm.ObjectDelete with Versions) to delete given versions or
// add delete markers; a delete marker that is the only version of its key
// (an "expired" one) is a Version with IsLatest and Object.DeleteMarker
// and nothing after it.

// Versioning states of a bucket (BucketInfo.Versioning).
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
)

// NullVersion is the ID S3 gives the null version.
const NullVersion = "null"

// maxVersionID bounds a version ID in any event (S3: at most 1024 bytes).
const maxVersionID = 1024

func versionsBucket(name string) []byte     { return []byte("v/" + name) }
func versionIndexBucket(name string) []byte { return []byte("x/" + name) }

// VersionIDOf is the ID S3 shows of a version: NullVersion for "" (a
// null version written before the bucket had versioning; one written
// since is NullVersion).
func VersionIDOf(obj *ObjectMeta) string {
	if obj.VersionID == "" {
		return NullVersion
	}
	return obj.VersionID
}

func noncurrentKey(key string, seq uint64) []byte {
	k := make([]byte, len(key)+9)
	copy(k, key)
	binary.BigEndian.PutUint64(k[len(key)+1:], ^seq)
	return k
}

func indexKey(key, id string) []byte {
	if id == "" {
		id = NullVersion
	}
	k := make([]byte, 0, len(key)+1+len(id))
	k = append(append(append(k, key...), 0), id...)
	return k
}

// isNoncurrentOf reports whether k (of v/<bucket>) is a version of key:
// keys that contain 0x00 share prefixes, the length tells them apart.
func isNoncurrentOf(k []byte, key string) bool {
	return len(k) == len(key)+9 && k[len(key)] == 0 && string(k[:len(key)]) == key
}

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

// bucketInfo reads a bucket's record in tx.
func bucketInfo(tx *bolt.Tx, bucket string) (BucketInfo, bool) {
	var info BucketInfo
	v := tx.Bucket(bktBuckets).Get([]byte(bucket))
	if v == nil {
		return info, false
	}
	decodeMsg(v, &info)
	return info, true
}

// versionFor is the version ID a write to a bucket in state versioning
// gets: the proposer's id when it is Enabled; NullVersion when it is
// Suspended (so that a GET answers x-amz-version-id: null, as S3 does in a
// bucket with versioning); "" (the null version too) when it never had
// versioning, as every object before versioning. An Enabled bucket's
// write without an id (proposed before the proposer saw versioning
// enabled) gets one derived from the bucket's sequence, which it counts
// up, the same on every node.
func versionFor(info *BucketInfo, id string) string {
	switch {
	case info.Versioning == "":
		return ""
	case info.Versioning != VersioningEnabled:
		return NullVersion
	case id == "" || id == NullVersion:
		info.VersionSeq++
		return fmt.Sprintf("%032x", info.VersionSeq|1<<63)
	}
	return id
}

// checkNewVersion refuses (InvalidError) a proposed version ID that a
// noncurrent version of key already has: IDs are random, so only a buggy
// peer sends one. The latest's own ID is not refused: the same event
// applied twice replaces the version with itself.
func checkNewVersion(tx *bolt.Tx, info *BucketInfo, bucket, key, id string) error {
	if info.Versioning != VersioningEnabled || id == "" || id == NullVersion {
		return nil
	}
	if xb := tx.Bucket(versionIndexBucket(bucket)); xb != nil && xb.Get(indexKey(key, id)) != nil {
		return invalid("version id %s of %s exists", id, key)
	}
	return nil
}

// checkVersionID refuses a version ID no correct proposer sends: too long,
// or with a 0x00 byte (x/<bucket> keys are key 0x00 versionID: with IDs
// free of 0x00 the last 0x00 ends the key, so two keys' entries never
// collide).
func checkVersionID(id string) error {
	if len(id) > maxVersionID {
		return invalid("version id of %d bytes", len(id))
	}
	if strings.IndexByte(id, 0) >= 0 {
		return invalid("version id with a 0x00 byte")
	}
	return nil
}

// writeLatest makes obj the latest version of key in bucket, with the
// version ID versionFor gives the proposed id: the version it replaces is
// replaced outright if it has the same ID (the null version of an
// unversioned or suspended bucket), else it becomes noncurrent; a null
// obj also replaces a noncurrent null version. o is o/<bucket>; info is
// the bucket's record, written back if its sequence moved.
func writeLatest(tx *bolt.Tx, o *bolt.Bucket, info *BucketInfo, bucket, key string, obj *ObjectMeta, id string) {
	seq := info.VersionSeq
	obj.VersionID = versionFor(info, id)
	ref(tx, obj.Parts, +1)
	if v := o.Get([]byte(key)); v != nil {
		var old ObjectMeta
		decodeMsg(v, &old)
		if VersionIDOf(&old) == VersionIDOf(obj) || info.Versioning == "" {
			ref(tx, old.Parts, -1)
		} else {
			demote(tx, info, bucket, key, &old)
		}
	}
	if VersionIDOf(obj) == NullVersion && info.Versioning != "" {
		dropNoncurrent(tx, bucket, key, "")
	}
	rec := *obj
	rec.Inline = putInline(tx, bucket, key, obj.Inline)
	must(o.Put([]byte(key), encodeMsg(&rec)))
	if info.VersionSeq != seq {
		must(tx.Bucket(bktBuckets).Put([]byte(bucket), encodeMsg(info)))
	}
}

// demote moves old, the latest version of key, to the noncurrent
// versions, with its inline tail's bytes; its blob references stay.
func demote(tx *bolt.Tx, info *BucketInfo, bucket, key string, old *ObjectMeta) {
	if old.Inline != nil {
		if ib := tx.Bucket(inlineBucket(bucket)); ib != nil {
			old.Inline.Data = append([]byte{}, ib.Get([]byte(key))...)
		}
	}
	info.VersionSeq++
	vb, err := tx.CreateBucketIfNotExists(versionsBucket(bucket))
	must(err)
	xb, err := tx.CreateBucketIfNotExists(versionIndexBucket(bucket))
	must(err)
	must(vb.Put(noncurrentKey(key, info.VersionSeq), encodeMsg(old)))
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], info.VersionSeq)
	must(xb.Put(indexKey(key, old.VersionID), seq[:]))
}

// noncurrent finds the noncurrent version id of key: its record and its
// key in v/<bucket>.
func noncurrent(tx *bolt.Tx, bucket, key, id string) (obj ObjectMeta, vkey []byte, ok bool) {
	xb := tx.Bucket(versionIndexBucket(bucket))
	if xb == nil {
		return obj, nil, false
	}
	s := xb.Get(indexKey(key, id))
	if len(s) != 8 {
		return obj, nil, false
	}
	vkey = noncurrentKey(key, binary.BigEndian.Uint64(s))
	v := tx.Bucket(versionsBucket(bucket)).Get(vkey)
	if v == nil {
		return obj, nil, false
	}
	decodeMsg(v, &obj)
	return obj, vkey, true
}

// dropNoncurrent deletes the noncurrent version id of key, if there is
// one, releasing its blobs.
func dropNoncurrent(tx *bolt.Tx, bucket, key, id string) bool {
	obj, vkey, ok := noncurrent(tx, bucket, key, id)
	if !ok {
		return false
	}
	ref(tx, obj.Parts, -1)
	must(tx.Bucket(versionsBucket(bucket)).Delete(vkey))
	must(tx.Bucket(versionIndexBucket(bucket)).Delete(indexKey(key, id)))
	return true
}

// dropLatest deletes the latest version of key (whose record in o is
// old), releasing its blobs; the newest noncurrent version, if any,
// becomes the latest.
func dropLatest(tx *bolt.Tx, o *bolt.Bucket, bucket, key string, old *ObjectMeta) {
	ref(tx, old.Parts, -1)
	if old.Inline != nil {
		putInline(tx, bucket, key, nil)
	}
	if vb := tx.Bucket(versionsBucket(bucket)); vb != nil {
		c := vb.Cursor()
		prefix := append([]byte(key), 0)
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if !isNoncurrentOf(k, key) {
				continue
			}
			var next ObjectMeta
			decodeMsg(v, &next)
			vk := append([]byte(nil), k...)
			rec := next
			rec.Inline = putInline(tx, bucket, key, next.Inline)
			must(o.Put([]byte(key), encodeMsg(&rec)))
			must(vb.Delete(vk))
			must(tx.Bucket(versionIndexBucket(bucket)).Delete(indexKey(key, next.VersionID)))
			return
		}
	}
	must(o.Delete([]byte(key)))
}

// VersionDelete is one deletion of DeleteVersions.
type VersionDelete struct {
	Key string
	// VersionID names the version to delete for good ("null": the null
	// version); "" deletes as a DELETE without versionId does: the key in
	// an unversioned bucket, else a delete marker becomes its latest
	// version (MarkerID in an Enabled bucket, the null version in a
	// Suspended one).
	VersionID string
	MarkerID  string
}

// DeleteVersions applies dels to bucket in order, if cond (nil:
// unconditional) holds for the latest version of every key that dels
// names without a VersionID (S3's If-Match on DeleteObject; a delete
// marker as latest is no key). Delete markers get owner and at as their
// owner and time. A missing key or version is not an error. It refuses a
// missing bucket (ErrNoSuchBucket).
func (s *Store) DeleteVersions(bucket string, dels []VersionDelete, owner string, at int64, cond *WriteCondition) error {
	return s.update(func(tx *bolt.Tx) error {
		o := tx.Bucket(objectsBucket(bucket))
		if o == nil {
			return ErrNoSuchBucket
		}
		info, _ := bucketInfo(tx, bucket)
		if owner == "" {
			owner = info.Owner // an event of a node that saw the bucket unversioned
		}
		for _, d := range dels {
			if err := invalidName("key", d.Key, maxKeyLen); err != nil {
				return err
			}
			if err := checkVersionID(d.VersionID); err != nil {
				return err
			}
			if err := checkVersionID(d.MarkerID); err != nil {
				return err
			}
			if d.VersionID == "" {
				if err := cond.check(o, d.Key); err != nil {
					return err
				}
				if err := checkNewVersion(tx, &info, bucket, d.Key, d.MarkerID); err != nil {
					return err
				}
			}
		}
		for _, d := range dels {
			deleteVersion(tx, o, &info, bucket, d, owner, at)
		}
		return nil
	})
}

func deleteVersion(tx *bolt.Tx, o *bolt.Bucket, info *BucketInfo, bucket string, d VersionDelete, owner string, at int64) {
	key := d.Key
	v := o.Get([]byte(key))
	var latest ObjectMeta
	if v != nil {
		decodeMsg(v, &latest)
	}
	switch {
	case d.VersionID == "" && info.Versioning == "":
		if v != nil {
			dropLatest(tx, o, bucket, key, &latest)
		}
	case d.VersionID == "":
		marker := ObjectMeta{DeleteMarker: true, LastModified: at, Owner: owner}
		writeLatest(tx, o, info, bucket, key, &marker, d.MarkerID)
	case v != nil && VersionIDOf(&latest) == d.VersionID:
		dropLatest(tx, o, bucket, key, &latest)
	default:
		id := d.VersionID
		if id == NullVersion {
			id = ""
		}
		dropNoncurrent(tx, bucket, key, id)
	}
}

// ObjectVersion returns version id of bucket/key ("" or the latest's ID:
// the latest; NullVersion: the null version), a delete marker too, and
// whether it is the latest; with withData, with the bytes of its inline
// tail (unchecked, as ObjectData).
func (s *Store) ObjectVersion(bucket, key, id string, withData bool) (obj ObjectMeta, latest, ok bool) {
	s.view(func(tx *bolt.Tx) error {
		o := tx.Bucket(objectsBucket(bucket))
		if o == nil {
			return nil
		}
		v := o.Get([]byte(key))
		if v == nil {
			return nil
		}
		decodeMsg(v, &obj)
		if id == "" || id == VersionIDOf(&obj) {
			latest, ok = true, true
			if withData && obj.Inline != nil {
				if ib := tx.Bucket(inlineBucket(bucket)); ib != nil {
					obj.Inline.Data = append([]byte{}, ib.Get([]byte(key))...)
				}
			}
			return nil
		}
		if id == NullVersion {
			id = ""
		}
		obj, _, ok = noncurrent(tx, bucket, key, id)
		if ok && !withData && obj.Inline != nil {
			obj.Inline.Data = nil
		}
		return nil
	})
	return obj, latest, ok
}

// Version is one version of a listing (ListVersions, ObjectVersions).
type Version struct {
	Key      string
	Object   ObjectMeta // Object.Inline.Data is nil
	IsLatest bool
}

// VersionList is a page of ListVersions.
type VersionList struct {
	Versions       []Version
	CommonPrefixes []string
	IsTruncated    bool
	// NextKeyMarker and NextVersionIDMarker: where the next page starts
	// (the last version or common prefix returned), when truncated.
	NextKeyMarker, NextVersionIDMarker string
}

// ObjectVersions returns every version of bucket/key, newest first (the
// latest, a delete marker too, first), without inline bytes.
func (s *Store) ObjectVersions(bucket, key string) []Version {
	var out []Version
	s.view(func(tx *bolt.Tx) error {
		o := tx.Bucket(objectsBucket(bucket))
		if o == nil {
			return nil
		}
		if v := o.Get([]byte(key)); v != nil {
			keyVersions(tx, bucket, key, v, func(ver Version) bool { out = append(out, ver); return true })
		}
		return nil
	})
	return out
}

// keyVersions calls fn for each version of key, newest first, latest (its
// record in o/<bucket> is latestRec) first, until fn returns false; it
// returns false if fn did.
func keyVersions(tx *bolt.Tx, bucket, key string, latestRec []byte, fn func(Version) bool) bool {
	var latest ObjectMeta
	decodeMsg(latestRec, &latest)
	if !fn(Version{Key: key, Object: latest, IsLatest: true}) {
		return false
	}
	vb := tx.Bucket(versionsBucket(bucket))
	if vb == nil {
		return true
	}
	c := vb.Cursor()
	prefix := append([]byte(key), 0)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if !isNoncurrentOf(k, key) {
			continue
		}
		var obj ObjectMeta
		decodeMsg(v, &obj)
		if obj.Inline != nil {
			obj.Inline.Data = nil
		}
		if !fn(Version{Key: key, Object: obj}) {
			return false
		}
	}
	return true
}

// hasVersion reports whether key (whose latest's record is latestRec) has
// version id (NullVersion: the null version).
func hasVersion(tx *bolt.Tx, bucket, key string, latestRec []byte, id string) bool {
	var latest ObjectMeta
	if decodeMsg(latestRec, &latest); VersionIDOf(&latest) == id {
		return true
	}
	if id == NullVersion {
		id = ""
	}
	_, _, ok := noncurrent(tx, bucket, key, id)
	return ok
}

// ListVersions walks the versions of bucket's keys with prefix, in key
// order and newest first per key: those after keyMarker, or, with a
// versionIDMarker, those of keyMarker after that version (all of them if
// it has no such version) and then those of the keys after it; keys that
// contain delimiter after the prefix roll up into common prefixes; at most
// max versions plus prefixes. ok is false when the bucket does not exist.
func (s *Store) ListVersions(bucket, prefix, keyMarker, versionIDMarker, delimiter string, max int) (res VersionList, ok bool) {
	s.view(func(tx *bolt.Tx) error {
		o := tx.Bucket(objectsBucket(bucket))
		if o == nil {
			return nil
		}
		ok = true
		if max <= 0 {
			return nil
		}
		n := 0
		add := func(ver Version) bool {
			if n == max {
				res.IsTruncated = true
				return false
			}
			res.Versions = append(res.Versions, ver)
			res.NextKeyMarker, res.NextVersionIDMarker = ver.Key, VersionIDOf(&ver.Object)
			n++
			return true
		}
		c := o.Cursor()
		var k, v []byte
		if keyMarker >= prefix {
			k, v = c.Seek([]byte(keyMarker))
			if k != nil && string(k) == keyMarker {
				if versionIDMarker != "" && (delimiter == "" || !bytes.Contains(k[len(prefix):], []byte(delimiter))) {
					// The rest of keyMarker's versions, after the marker's;
					// all of them if it names none of them (it was deleted
					// since the page that ended with it: a client that
					// empties a bucket page by page deletes it), so that
					// none is skipped: some may come again.
					seen := !hasVersion(tx, bucket, keyMarker, v, versionIDMarker)
					if !keyVersions(tx, bucket, keyMarker, v, func(ver Version) bool {
						if seen {
							return add(ver)
						}
						seen = VersionIDOf(&ver.Object) == versionIDMarker
						return true
					}) {
						return nil
					}
				}
				k, v = c.Next()
			}
		} else {
			k, v = c.Seek([]byte(prefix))
		}
		for ; k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			key := string(k)
			if delimiter != "" {
				if i := bytes.Index(k[len(prefix):], []byte(delimiter)); i >= 0 {
					cp := key[:len(prefix)+i+len(delimiter)]
					if cp > keyMarker {
						if n == max {
							res.IsTruncated = true
							return nil
						}
						res.CommonPrefixes = append(res.CommonPrefixes, cp)
						res.NextKeyMarker, res.NextVersionIDMarker = cp, ""
						n++
					}
					next := prefixEnd(cp)
					if next == nil {
						return nil
					}
					if k, v = c.Seek(next); k == nil {
						return nil
					}
					k, v = c.Prev()
					continue
				}
			}
			if !keyVersions(tx, bucket, key, v, add) {
				return nil
			}
		}
		return nil
	})
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = "", ""
	}
	return res, ok
}
