package meta

import (
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The write operations, one per metadata event. Each runs in a write
// transaction (the batch's inside Batch, else its own) and validates
// before it writes: one that returns an error has changed nothing.

// Limits every operation checks, so that arguments a buggy or hostile peer
// forwards cannot make bbolt refuse a write (which would be a bug and
// panic): S3's own limits, which the S3 API enforces first.
const (
	maxBucketName = 63
	maxKeyLen     = 1024
	maxPartNumber = 10000
)

func invalidName(what, s string, limit int) error {
	if s == "" || len(s) > limit {
		return invalid("%s of %d bytes", what, len(s))
	}
	return nil
}

// CreateBucket creates bucket name owned by owner, created at at. It
// refuses an existing name: ErrBucketOwnedByYou if owner has it, else
// ErrBucketExists.
func (s *Store) CreateBucket(name, owner string, at int64) error {
	return s.update(func(tx *bolt.Tx) error {
		if err := invalidName("bucket name", name, maxBucketName); err != nil {
			return err
		}
		bk := tx.Bucket(bktBuckets)
		if v := bk.Get([]byte(name)); v != nil {
			var info BucketInfo
			decodeMsg(v, &info)
			if info.Owner == owner {
				return ErrBucketOwnedByYou
			}
			return ErrBucketExists
		}
		must(bk.Put([]byte(name), encodeMsg(&BucketInfo{Name: name, Owner: owner, CreatedAt: at})))
		_, err := tx.CreateBucket(objectsBucket(name))
		must(err)
		return nil
	})
}

// DeleteBucket deletes an empty bucket and aborts its uploads in progress.
// It refuses a missing bucket (ErrNoSuchBucket) and one with objects,
// versions or delete markers (ErrBucketNotEmpty).
func (s *Store) DeleteBucket(name string) error {
	return s.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bktBuckets)
		if bk.Get([]byte(name)) == nil {
			return ErrNoSuchBucket
		}
		if k, _ := tx.Bucket(objectsBucket(name)).Cursor().First(); k != nil {
			return ErrBucketNotEmpty
		}
		// Uploads in progress go with the bucket.
		var ids [][]byte
		tx.Bucket(bktUploads).ForEach(func(k, v []byte) error {
			var rec uploadRecord
			decodeMsg(v, &rec)
			if rec.Bucket == name {
				ids = append(ids, append([]byte(nil), k...))
			}
			return nil
		})
		for _, id := range ids {
			dropUpload(tx, string(id))
		}
		must(bk.Delete([]byte(name)))
		dropLifecycle(tx, name)
		must(tx.DeleteBucket(objectsBucket(name)))
		// No latest version, so no noncurrent one either (versions.go):
		// their buckets are empty.
		for _, b := range [][]byte{inlineBucket(name), versionsBucket(name), versionIndexBucket(name)} {
			if tx.Bucket(b) != nil {
				must(tx.DeleteBucket(b))
			}
		}
		return nil
	})
}

// PutObject creates or replaces the object at bucket/key, if cond (nil:
// unconditional) holds for its latest version. In a bucket with
// versioning Enabled it is a new version with ID obj.VersionID (the
// previous latest becomes noncurrent), else the null version (versions.go).
// It refuses a missing bucket (ErrNoSuchBucket) and a failed condition
// (see WriteCondition).
func (s *Store) PutObject(bucket, key string, obj *ObjectMeta, cond *WriteCondition) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(objectsBucket(bucket))
		if b == nil {
			return ErrNoSuchBucket
		}
		if err := invalidName("key", key, maxKeyLen); err != nil {
			return err
		}
		if err := validInline(obj.Inline); err != nil {
			return err
		}
		if err := checkVersionID(obj.VersionID); err != nil {
			return err
		}
		if obj.DeleteMarker {
			return invalid("a delete marker is made by a delete")
		}
		if err := validObjectSize(obj); err != nil {
			return err
		}
		if err := cond.check(b, key); err != nil {
			return err
		}
		info, _ := bucketInfo(tx, bucket)
		if err := checkNewVersion(tx, &info, bucket, key, obj.VersionID); err != nil {
			return err
		}
		rec := *obj
		writeLatest(tx, b, &info, bucket, key, &rec, obj.VersionID)
		return nil
	})
}

// validObjectSize refuses an object whose Size is not the bytes it names:
// its blob parts' sizes plus its inline tail's. A GET sends Size bytes
// (Content-Length) from those: an object that broke it would answer a
// length it cannot deliver, or cut its bytes short. No correct proposer
// sends one.
func validObjectSize(obj *ObjectMeta) error {
	if obj.Size < 0 {
		return invalid("object size %d", obj.Size)
	}
	var n int64
	for _, p := range obj.Parts {
		if p.Size < 0 || p.Size > obj.Size-n {
			return invalid("object of %d bytes has a blob part of %d bytes after %d", obj.Size, p.Size, n)
		}
		n += p.Size
	}
	if obj.Inline != nil {
		n += obj.Inline.Size // validInline checked Size against the bytes
	}
	if n != obj.Size {
		return invalid("object of %d bytes names %d bytes (blob parts and inline tail)", obj.Size, n)
	}
	return nil
}

// validPartSize refuses a part whose Size is not its blob's or its inline
// body's size.
func validPartSize(p *PartMeta) error {
	n := p.Blob.Size
	if p.Inline != nil {
		if p.Blob != (BlobPart{}) {
			return invalid("an inline part names a blob too")
		}
		n = p.Inline.Size
	}
	if p.Size != n || n < 0 {
		return invalid("part of %d bytes names %d bytes", p.Size, n)
	}
	return nil
}

// check returns why key in b fails the condition, or nil (also for a nil
// condition). It only reads.
func (c *WriteCondition) check(b *bolt.Bucket, key string) error {
	if c == nil {
		return nil
	}
	v := b.Get([]byte(key))
	var old ObjectMeta
	if v != nil {
		if decodeMsg(v, &old); old.DeleteMarker {
			v = nil // a delete marker as latest: no key
		}
	}
	if c.IfNoneMatch && v != nil {
		return fmt.Errorf("%w: the key exists (If-None-Match)", ErrPreconditionFailed)
	}
	if c.IfMatch && v == nil {
		return fmt.Errorf("%w (If-Match)", ErrNoSuchKey)
	}
	if v == nil || len(c.ETags) == 0 && len(c.NoneMatch) == 0 {
		return nil
	}
	for _, e := range c.NoneMatch {
		if normalizeETag(strings.TrimPrefix(e, "W/")) == normalizeETag(old.ETag) {
			return fmt.Errorf("%w: the key has that ETag (If-None-Match)", ErrPreconditionFailed)
		}
	}
	if !c.IfMatch || len(c.ETags) == 0 {
		return nil
	}
	for _, e := range c.ETags {
		if normalizeETag(e) == normalizeETag(old.ETag) {
			return nil
		}
	}
	return fmt.Errorf("%w: the key has another ETag (If-Match)", ErrPreconditionFailed)
}

// DeleteObjects deletes keys of bucket; a missing key is not an error. It
// refuses a missing bucket (ErrNoSuchBucket).
func (s *Store) DeleteObjects(bucket string, keys []string) error {
	return s.DeleteObjectsIf(bucket, keys, nil)
}

// DeleteObjectsIf is DeleteObjects if cond (nil: unconditional) holds for
// every key (If-Match on DeleteObject: a missing key is ErrNoSuchKey, one
// with another ETag ErrPreconditionFailed); if it fails for one, nothing
// is deleted. In a bucket with versioning it is DeleteVersions without
// version IDs: each key gets a delete marker.
func (s *Store) DeleteObjectsIf(bucket string, keys []string, cond *WriteCondition) error {
	dels := make([]VersionDelete, len(keys))
	for i, k := range keys {
		dels[i].Key = k
	}
	return s.DeleteVersions(bucket, dels, "", 0, cond)
}

// CreateUpload starts multipart upload id of bucket/key, initiated at at;
// obj is the metadata the completed object gets (headers, user metadata,
// owner, checksum algorithm). It refuses a missing bucket
// (ErrNoSuchBucket).
func (s *Store) CreateUpload(bucket, key, id string, obj *ObjectMeta, at int64) error {
	return s.update(func(tx *bolt.Tx) error {
		if tx.Bucket(objectsBucket(bucket)) == nil {
			return ErrNoSuchBucket
		}
		if err := invalidName("key", key, maxKeyLen); err != nil {
			return err
		}
		if err := invalidName("upload id", id, maxKeyLen); err != nil {
			return err
		}
		if obj.Inline != nil {
			return invalid("an upload's object has no inline body before it is completed")
		}
		up := tx.Bucket(bktUploads)
		if up.Get([]byte(id)) != nil {
			return invalid("upload id %s exists", id)
		}
		must(up.Put([]byte(id), encodeMsg(&uploadRecord{Bucket: bucket, Key: key, Initiated: at, Object: *obj})))
		_, err := tx.CreateBucket(partsBucket(id))
		must(err)
		return nil
	})
}

// PutPart records part number of upload id, replacing one with the same
// number. It refuses an unknown upload (ErrNoSuchUpload).
func (s *Store) PutPart(id string, number int, part *PartMeta) error {
	return s.update(func(tx *bolt.Tx) error {
		pb := tx.Bucket(partsBucket(id))
		if pb == nil {
			return ErrNoSuchUpload
		}
		if number < 1 || number > maxPartNumber {
			return invalid("part number %d", number)
		}
		if err := validInline(part.Inline); err != nil {
			return err
		}
		if err := validPartSize(part); err != nil {
			return err
		}
		ref(tx, part.blobs(), +1)
		k := partKey(number)
		if v := pb.Get(k); v != nil {
			var old PartMeta
			decodeMsg(v, &old)
			ref(tx, old.blobs(), -1)
		}
		must(pb.Put(k, encodeMsg(part)))
		return nil
	})
}

// CompleteUpload assembles the listed parts of upload id into its object,
// last modified at at, if cond (nil: unconditional) holds, and drops the
// upload. It refuses an unknown upload (ErrNoSuchUpload), a bucket gone
// (ErrNoSuchBucket), a failed condition (the upload stays: the client may
// retry or abort it), and parts that are missing, out of order or too
// small (ErrInvalidPart, ErrInvalidPartOrder, ErrEntityTooSmall). What it
// made is remembered for a re-sent request (CompletedUpload).
func (s *Store) CompleteUpload(id string, parts []CompletePart, at int64, cond *WriteCondition) error {
	return s.CompleteUploadVersion(id, parts, at, cond, "")
}

// CompleteUploadVersion is CompleteUpload whose object, in a bucket with
// versioning Enabled, is a new version with ID versionID (versions.go).
func (s *Store) CompleteUploadVersion(id string, parts []CompletePart, at int64, cond *WriteCondition, versionID string) error {
	return s.update(func(tx *bolt.Tx) error {
		if err := checkVersionID(versionID); err != nil {
			return err
		}
		v := tx.Bucket(bktUploads).Get([]byte(id))
		if v == nil {
			return ErrNoSuchUpload
		}
		var rec uploadRecord
		decodeMsg(v, &rec)
		ob := tx.Bucket(objectsBucket(rec.Bucket))
		if ob == nil {
			return ErrNoSuchBucket
		}
		if err := cond.check(ob, rec.Key); err != nil {
			return err
		}
		obj, err := assemble(tx.Bucket(partsBucket(id)), rec.Object, parts)
		if err != nil {
			return err
		}
		obj.LastModified = at
		info, _ := bucketInfo(tx, rec.Bucket)
		if err := checkNewVersion(tx, &info, rec.Bucket, rec.Key, versionID); err != nil {
			return err
		}
		obj.DeleteMarker = false
		// The object takes its own references before the upload drops the parts'.
		writeLatest(tx, ob, &info, rec.Bucket, rec.Key, &obj, versionID)
		dropUpload(tx, id)
		rememberCompleted(tx, id, CompletedUpload{Bucket: rec.Bucket, Key: rec.Key, ETag: obj.ETag, At: at, VersionID: obj.VersionID})
		return nil
	})
}

// assemble returns the object that parts (of the upload whose parts bucket
// is pb) make, from obj's metadata, or why they make none. It only reads.
func assemble(pb *bolt.Bucket, obj ObjectMeta, parts []CompletePart) (ObjectMeta, error) {
	if len(parts) == 0 {
		return ObjectMeta{}, fmt.Errorf("%w: no parts", ErrInvalidPart)
	}
	obj.Size = 0
	obj.Parts = nil
	obj.PartSizes = nil
	obj.Inline = nil
	md5s := make([][16]byte, 0, len(parts))
	for i := 1; i < len(parts); i++ {
		if parts[i].PartNumber <= parts[i-1].PartNumber {
			return ObjectMeta{}, ErrInvalidPartOrder
		}
	}
	for i, cp := range parts {
		pv := pb.Get(partKey(cp.PartNumber))
		if pv == nil {
			return ObjectMeta{}, fmt.Errorf("%w: part %d was not uploaded", ErrInvalidPart, cp.PartNumber)
		}
		var p PartMeta
		decodeMsg(pv, &p)
		if normalizeETag(cp.ETag) != normalizeETag(p.ETag) {
			return ObjectMeta{}, fmt.Errorf("%w: part %d has another ETag", ErrInvalidPart, cp.PartNumber)
		}
		if i < len(parts)-1 && p.Size < MinPartSize {
			return ObjectMeta{}, fmt.Errorf("%w: part %d is %d bytes", ErrEntityTooSmall, cp.PartNumber, p.Size)
		}
		if p.Inline != nil {
			// Only the last part can be inline (the others are at least
			// MinPartSize, above MaxInline): it becomes the object's inline
			// tail, its bytes and CRC32C as the part has them (a GET
			// checks them).
			if i < len(parts)-1 {
				return ObjectMeta{}, fmt.Errorf("%w: part %d is %d bytes", ErrEntityTooSmall, cp.PartNumber, p.Size)
			}
			obj.Inline = p.Inline
		} else {
			obj.Parts = append(obj.Parts, p.Blob)
		}
		obj.PartSizes = append(obj.PartSizes, p.Size)
		obj.Size += p.Size
		md5s = append(md5s, p.MD5)
	}
	obj.ETag = MultipartETag(md5s)
	return obj, nil
}

// AbortUpload drops upload id and its parts. It refuses an unknown upload
// (ErrNoSuchUpload).
func (s *Store) AbortUpload(id string) error {
	return s.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bktUploads).Get([]byte(id)) == nil {
			return ErrNoSuchUpload
		}
		dropUpload(tx, id)
		return nil
	})
}

// dropUpload removes an upload and releases its parts' blobs.
func dropUpload(tx *bolt.Tx, id string) {
	if pb := tx.Bucket(partsBucket(id)); pb != nil {
		pb.ForEach(func(k, v []byte) error {
			var p PartMeta
			decodeMsg(v, &p)
			ref(tx, p.blobs(), -1)
			return nil
		})
		must(tx.DeleteBucket(partsBucket(id)))
	}
	must(tx.Bucket(bktUploads).Delete([]byte(id)))
}
