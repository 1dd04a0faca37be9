package fsm

import (
	"testing"

	"github.com/s4/s4/meta"
)

// TestLifecycleEvents: BucketLifecycleSet stores and removes a bucket's
// configuration (a snapshot carries it); LifecycleExpire answers what it
// did and expires only the object evaluated, never one overwritten since.
func TestLifecycleEvents(t *testing.T) {
	h := newMetaHarness(t)
	m := h.f.Meta()
	lc := &meta.Lifecycle{Rules: []meta.LifecycleRule{{ID: "r", Enabled: true, ExpirationDays: 1}}}
	wantErr(t, h.apply(MsgBucketLifecycleSet, &BucketLifecycleSet{Bucket: "b", Lifecycle: lc}), ErrNoSuchBucket)
	h.mustApply(MsgBucketCreate, &BucketCreate{Name: "b", Owner: "u1", At: 1})
	h.mustApply(MsgBucketLifecycleSet, &BucketLifecycleSet{Bucket: "b", Lifecycle: lc})
	wantErr(t, h.apply(MsgBucketLifecycleSet, &BucketLifecycleSet{Bucket: "b", Lifecycle: &meta.Lifecycle{}}), ErrInvalidEvent)

	old := objOf("old")
	old.LastModified = 10
	h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "gone", Object: old})
	h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "kept", Object: old})
	newer := objOf("new")
	newer.LastModified = 11
	h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "kept", Object: newer})
	resp := h.apply(MsgLifecycleExpire, &LifecycleExpire{Bucket: "b", At: 99, Objects: []meta.ObjectExpiry{
		{Key: "gone", ETag: old.ETag, LastModified: 10}, {Key: "kept", ETag: old.ETag, LastModified: 10}}})
	if r, ok := resp.(*LifecycleResult); !ok || r.Expired != 1 || r.Aborted != 0 {
		t.Fatalf("LifecycleExpire answered %#v", resp)
	}
	if _, ok := m.Object("b", "gone"); ok {
		t.Error("gone not expired")
	}
	if o, ok := m.Object("b", "kept"); !ok || o.LastModified != 11 {
		t.Error("the overwritten object was expired")
	}
	wantErr(t, h.apply(MsgLifecycleExpire, &LifecycleExpire{Bucket: "b", Objects: []meta.ObjectExpiry{{Key: ""}}}), ErrInvalidEvent)

	g := snapshotRoundTripMeta(t, h.f)
	if got := g.f.Meta().BucketLifecycle("b"); got == nil || len(got.Rules) != 1 || got.Rules[0].ID != "r" {
		t.Fatalf("restored lifecycle %+v", got)
	}
	h.mustApply(MsgBucketLifecycleSet, &BucketLifecycleSet{Bucket: "b"})
	if m.BucketLifecycle("b") != nil {
		t.Fatal("lifecycle not deleted")
	}
}

// TestLifecycleExpireVersion: an expiration with the versions' fields is a
// version 2 event (a build that knows only version 1 stops at it); one
// without them stays version 1.
func TestLifecycleExpireVersion(t *testing.T) {
	for _, c := range []struct {
		ev   LifecycleExpire
		want uint8
	}{
		{LifecycleExpire{Bucket: "b", Objects: []meta.ObjectExpiry{{Key: "k"}}, Uploads: []string{"u"}}, 1},
		{LifecycleExpire{Bucket: "b", Objects: []meta.ObjectExpiry{{Key: "k", VersionID: "v", MarkerID: "m"}}}, 2},
		{LifecycleExpire{Bucket: "b", Noncurrent: []meta.VersionExpiry{{Key: "k", VersionID: "v"}}}, 2},
		{LifecycleExpire{Bucket: "b", Markers: []meta.VersionExpiry{{Key: "k", VersionID: "v"}}}, 2},
	} {
		cmd, err := Encode(MsgLifecycleExpire, &c.ev)
		if err != nil {
			t.Fatal(err)
		}
		if cmd[1] != c.want {
			t.Errorf("%+v: version %d, want %d", c.ev, cmd[1], c.want)
		}
		if err := CheckEvent(cmd); err != nil {
			t.Errorf("%+v: %v", c.ev, err)
		}
		if c.want == 2 {
			cmd[1] = 1
			if err := CheckEvent(cmd); err == nil {
				t.Errorf("%+v: accepted as version 1", c.ev)
			}
		}
	}
}
