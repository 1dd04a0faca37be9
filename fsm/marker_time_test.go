package fsm

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/meta"
)

// A node that has not applied PutBucketVersioning(Enabled) yet proposes a
// DELETE as for an unversioned bucket: no time, owner or marker ID. The
// delete marker it makes once applied to the Enabled bucket gets the time
// the leader appended the entry (the same on every node) and the bucket's
// owner, not 1970 and nobody (which made the version it hides noncurrent
// since 1970 for lifecycle's NoncurrentDays). Failed before: LastModified 0,
// Owner "".
func TestDeleteMarkerFromAnUnversionedStyleDelete(t *testing.T) {
	h := newMetaHarness(t)
	h.mustApply(MsgBucketCreate, BucketCreate{Name: "b", Owner: "u1", At: 1})
	h.mustApply(MsgObjectPut, ObjectPut{Bucket: "b", Key: "k", Object: objOf("x")})
	h.mustApply(MsgBucketVersioningSet, BucketVersioningSet{Bucket: "b", Status: meta.VersioningEnabled})
	appended := time.Date(2026, 12, 3, 18, 30, 0, 0, time.UTC)
	b, err := Encode(MsgObjectDelete, ObjectDelete{Bucket: "b", Keys: []string{"k"}})
	if err != nil {
		t.Fatal(err)
	}
	h.idx++
	if resp := h.f.Apply(&raft.Log{Index: h.idx, Term: 1, Type: raft.LogCommand, Data: b, AppendedAt: appended}); resp != nil {
		t.Fatalf("delete: %v", resp)
	}
	vs := h.f.meta.ObjectVersions("b", "k")
	if len(vs) != 2 || !vs[0].Object.DeleteMarker {
		t.Fatalf("versions %+v, want a delete marker over the object", vs)
	}
	if m := vs[0].Object; m.LastModified != appended.UnixNano() || m.Owner != "u1" {
		t.Fatalf("delete marker at %d owned by %q, want %d (the entry's append time) and the bucket's owner u1", m.LastModified, m.Owner, appended.UnixNano())
	}
}
