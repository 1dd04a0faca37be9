package fsm

import "github.com/s4/s4/meta"

// The object-metadata handlers (rows of eventTable, see metaEvent): each is
// the event's write operation of the meta.Store, which runs in the write
// transaction of the batch (or its own) and validates before it writes.

func applyBucketCreate(m *meta.Store, ev *BucketCreate) error {
	return m.CreateBucket(ev.Name, ev.Owner, ev.At)
}

func applyBucketDelete(m *meta.Store, ev *BucketDelete) error {
	return m.DeleteBucket(ev.Name)
}

func applyObjectPut(m *meta.Store, ev *ObjectPut) error {
	return m.PutObject(ev.Bucket, ev.Key, &ev.Object, ev.If)
}

// applyObjectDelete applies ev; a delete marker of an event without a time
// (proposed by a node that saw the bucket unversioned) gets the time the
// leader appended the entry, the same on every node.
func applyObjectDelete(m *meta.Store, ev *ObjectDelete, appended int64) error {
	dels, err := ev.deletes()
	if err != nil {
		return err
	}
	at := ev.At
	if at == 0 {
		at = appended
	}
	return m.DeleteVersions(ev.Bucket, dels, ev.Owner, at, ev.If)
}

func applyUploadCreate(m *meta.Store, ev *UploadCreate) error {
	return m.CreateUpload(ev.Bucket, ev.Key, ev.UploadID, &ev.Object, ev.At)
}

func applyPartPut(m *meta.Store, ev *PartPut) error {
	return m.PutPart(ev.UploadID, ev.PartNumber, &ev.Part)
}

func applyUploadComplete(m *meta.Store, ev *UploadComplete) error {
	return m.CompleteUploadVersion(ev.UploadID, ev.Parts, ev.At, ev.If, ev.VersionID)
}

func applyUploadAbort(m *meta.Store, ev *UploadAbort) error {
	return m.AbortUpload(ev.UploadID)
}

func applyObjectTagsSet(m *meta.Store, ev *ObjectTagsSet) error {
	return m.PutVersionTags(ev.Bucket, ev.Key, ev.VersionID, ev.Tags)
}

func applyBucketTagsSet(m *meta.Store, ev *BucketTagsSet) error {
	return m.PutBucketTags(ev.Bucket, ev.Tags)
}

func applyBucketVersioningSet(m *meta.Store, ev *BucketVersioningSet) error {
	return m.SetBucketVersioning(ev.Bucket, ev.Status)
}

func applyBucketLifecycleSet(m *meta.Store, ev *BucketLifecycleSet) error {
	return m.PutBucketLifecycle(ev.Bucket, ev.Lifecycle)
}

func applyLifecycleExpire(m *meta.Store, ev *LifecycleExpire) (any, error) {
	res, err := m.Expire(ev.Bucket, &meta.Expiry{Objects: ev.Objects, Noncurrent: ev.Noncurrent, Markers: ev.Markers, Uploads: ev.Uploads, At: ev.At})
	if err != nil {
		return nil, err
	}
	return &res, nil
}
