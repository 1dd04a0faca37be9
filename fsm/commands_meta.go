package fsm

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The object-metadata handlers (rows of eventTable, see metaEvent): each
// runs inside a bbolt write transaction and validates before it writes.

// Limits every node checks, so that an event a buggy or hostile peer
// forwards cannot make bbolt refuse a write (the handlers treat that as a
// bug and panic): S3's own limits, which the S3 API enforces first.
const (
	maxBucketName = 63
	maxKeyLen     = 1024
)

func invalidName(what, s string, limit int) error {
	if s == "" || len(s) > limit {
		return fmt.Errorf("%w: %s of %d bytes", ErrInvalidEvent, what, len(s))
	}
	return nil
}

func applyBucketCreate(tx *bolt.Tx, ev *BucketCreate) any {
	if err := invalidName("bucket name", ev.Name, maxBucketName); err != nil {
		return err
	}
	bk := tx.Bucket(bktBuckets)
	if v := bk.Get([]byte(ev.Name)); v != nil {
		var info BucketInfo
		decodeMsg(v, &info)
		if info.Owner == ev.Owner {
			return ErrBucketOwnedByYou
		}
		return ErrBucketExists
	}
	must(bk.Put([]byte(ev.Name), encodeMsg(&BucketInfo{Name: ev.Name, Owner: ev.Owner, CreatedAt: ev.At})))
	_, err := tx.CreateBucket(objectsBucket(ev.Name))
	must(err)
	return nil
}

func applyBucketDelete(tx *bolt.Tx, ev *BucketDelete) any {
	bk := tx.Bucket(bktBuckets)
	if bk.Get([]byte(ev.Name)) == nil {
		return ErrNoSuchBucket
	}
	if k, _ := tx.Bucket(objectsBucket(ev.Name)).Cursor().First(); k != nil {
		return ErrBucketNotEmpty
	}
	// Uploads in progress go with the bucket.
	var ids [][]byte
	tx.Bucket(bktUploads).ForEach(func(k, v []byte) error {
		var rec uploadRecord
		decodeMsg(v, &rec)
		if rec.Bucket == ev.Name {
			ids = append(ids, append([]byte(nil), k...))
		}
		return nil
	})
	for _, id := range ids {
		dropUpload(tx, string(id))
	}
	must(bk.Delete([]byte(ev.Name)))
	must(tx.DeleteBucket(objectsBucket(ev.Name)))
	return nil
}

func applyObjectPut(tx *bolt.Tx, ev *ObjectPut) any {
	b := tx.Bucket(objectsBucket(ev.Bucket))
	if b == nil {
		return ErrNoSuchBucket
	}
	if err := invalidName("key", ev.Key, maxKeyLen); err != nil {
		return err
	}
	if err := ev.If.check(b, ev.Key); err != nil {
		return err
	}
	putObject(tx, b, ev.Key, &ev.Object)
	return nil
}

// check returns why key in b fails the condition, or nil (also for a nil
// condition). It only reads.
func (c *WriteCondition) check(b *bolt.Bucket, key string) error {
	if c == nil {
		return nil
	}
	v := b.Get([]byte(key))
	if c.IfNoneMatch && v != nil {
		return fmt.Errorf("%w: the key exists (If-None-Match)", ErrPreconditionFailed)
	}
	if !c.IfMatch {
		return nil
	}
	if v == nil {
		return fmt.Errorf("%w (If-Match)", ErrNoSuchKey)
	}
	if len(c.ETags) == 0 {
		return nil
	}
	var old ObjectMeta
	decodeMsg(v, &old)
	for _, e := range c.ETags {
		if normalizeETag(e) == normalizeETag(old.ETag) {
			return nil
		}
	}
	return fmt.Errorf("%w: the key has another ETag (If-Match)", ErrPreconditionFailed)
}

// putObject stores obj under key, moving blob references from the object it
// replaces (if any) to the new one.
func putObject(tx *bolt.Tx, b *bolt.Bucket, key string, obj *ObjectMeta) {
	ref(tx, obj.Parts, +1)
	if v := b.Get([]byte(key)); v != nil {
		var old ObjectMeta
		decodeMsg(v, &old)
		ref(tx, old.Parts, -1)
	}
	must(b.Put([]byte(key), encodeMsg(obj)))
}

func applyObjectDelete(tx *bolt.Tx, ev *ObjectDelete) any {
	b := tx.Bucket(objectsBucket(ev.Bucket))
	if b == nil {
		return ErrNoSuchBucket
	}
	for _, key := range ev.Keys {
		if v := b.Get([]byte(key)); v != nil {
			var old ObjectMeta
			decodeMsg(v, &old)
			ref(tx, old.Parts, -1)
			must(b.Delete([]byte(key)))
		}
	}
	return nil
}

func applyUploadCreate(tx *bolt.Tx, ev *UploadCreate) any {
	if tx.Bucket(objectsBucket(ev.Bucket)) == nil {
		return ErrNoSuchBucket
	}
	if err := invalidName("key", ev.Key, maxKeyLen); err != nil {
		return err
	}
	if err := invalidName("upload id", ev.UploadID, maxKeyLen); err != nil {
		return err
	}
	up := tx.Bucket(bktUploads)
	if up.Get([]byte(ev.UploadID)) != nil {
		return fmt.Errorf("%w: upload id %s exists", ErrInvalidEvent, ev.UploadID)
	}
	must(up.Put([]byte(ev.UploadID), encodeMsg(&uploadRecord{Bucket: ev.Bucket, Key: ev.Key, Initiated: ev.At, Object: ev.Object})))
	_, err := tx.CreateBucket(partsBucket(ev.UploadID))
	must(err)
	return nil
}

func applyPartPut(tx *bolt.Tx, ev *PartPut) any {
	pb := tx.Bucket(partsBucket(ev.UploadID))
	if pb == nil {
		return ErrNoSuchUpload
	}
	if ev.PartNumber < 1 || ev.PartNumber > 10000 {
		return fmt.Errorf("%w: part number %d", ErrInvalidEvent, ev.PartNumber)
	}
	ref(tx, []BlobPart{ev.Part.Blob}, +1)
	k := partKey(ev.PartNumber)
	if v := pb.Get(k); v != nil {
		var old PartMeta
		decodeMsg(v, &old)
		ref(tx, []BlobPart{old.Blob}, -1)
	}
	must(pb.Put(k, encodeMsg(&ev.Part)))
	return nil
}

func applyUploadComplete(tx *bolt.Tx, ev *UploadComplete) any {
	v := tx.Bucket(bktUploads).Get([]byte(ev.UploadID))
	if v == nil {
		return ErrNoSuchUpload
	}
	var rec uploadRecord
	decodeMsg(v, &rec)
	ob := tx.Bucket(objectsBucket(rec.Bucket))
	if ob == nil {
		return ErrNoSuchBucket
	}
	if err := ev.If.check(ob, rec.Key); err != nil {
		return err // the upload stays: the client may retry or abort it
	}
	pb := tx.Bucket(partsBucket(ev.UploadID))
	if len(ev.Parts) == 0 {
		return fmt.Errorf("%w: no parts", ErrInvalidPart)
	}
	obj := rec.Object
	obj.LastModified = ev.At
	obj.Size = 0
	obj.Parts = nil
	obj.PartSizes = nil
	md5s := make([][16]byte, 0, len(ev.Parts))
	for i := 1; i < len(ev.Parts); i++ {
		if ev.Parts[i].PartNumber <= ev.Parts[i-1].PartNumber {
			return ErrInvalidPartOrder
		}
	}
	for i, cp := range ev.Parts {
		pv := pb.Get(partKey(cp.PartNumber))
		if pv == nil {
			return fmt.Errorf("%w: part %d was not uploaded", ErrInvalidPart, cp.PartNumber)
		}
		var p PartMeta
		decodeMsg(pv, &p)
		if normalizeETag(cp.ETag) != normalizeETag(p.ETag) {
			return fmt.Errorf("%w: part %d has another ETag", ErrInvalidPart, cp.PartNumber)
		}
		if i < len(ev.Parts)-1 && p.Size < MinPartSize {
			return fmt.Errorf("%w: part %d is %d bytes", ErrEntityTooSmall, cp.PartNumber, p.Size)
		}
		obj.Parts = append(obj.Parts, p.Blob)
		obj.PartSizes = append(obj.PartSizes, p.Size)
		obj.Size += p.Size
		md5s = append(md5s, p.MD5)
	}
	obj.ETag = MultipartETag(md5s)
	// The object takes its own references before the upload drops the parts'.
	putObject(tx, ob, rec.Key, &obj)
	dropUpload(tx, ev.UploadID)
	return nil
}

func applyUploadAbort(tx *bolt.Tx, ev *UploadAbort) any {
	if tx.Bucket(bktUploads).Get([]byte(ev.UploadID)) == nil {
		return ErrNoSuchUpload
	}
	dropUpload(tx, ev.UploadID)
	return nil
}

// dropUpload removes an upload and releases its parts' blobs.
func dropUpload(tx *bolt.Tx, id string) {
	if pb := tx.Bucket(partsBucket(id)); pb != nil {
		pb.ForEach(func(k, v []byte) error {
			var p PartMeta
			decodeMsg(v, &p)
			ref(tx, []BlobPart{p.Blob}, -1)
			return nil
		})
		must(tx.DeleteBucket(partsBucket(id)))
	}
	must(tx.Bucket(bktUploads).Delete([]byte(id)))
}

func normalizeETag(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
