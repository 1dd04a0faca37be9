package fsm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/s4/s4/meta"
)

// TestNewFieldsMakeVersion2: an event that carries a field a release
// before it would skip, and so apply differently (a condition on a delete,
// tags, an If-None-Match ETag list, an inline body), is written as version
// 2, which such a release refuses (it reads version 1 only) instead of
// diverging; the same event without the field stays version 1. Before the
// fix, the conditions and tags rode in version 1 events.
func TestNewFieldsMakeVersion2(t *testing.T) {
	tags := []meta.Tag{{Key: "k", Value: "v"}}
	for _, c := range []struct {
		name string
		t    MessageType
		body any
		want uint8
	}{
		{"delete", MsgObjectDelete, &ObjectDelete{Bucket: "b", Keys: []string{"k"}}, 1},
		{"delete If-Match", MsgObjectDelete, &ObjectDelete{Bucket: "b", Keys: []string{"k"}, If: &meta.WriteCondition{IfMatch: true, ETags: []string{"e"}}}, 2},
		{"put", MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: objOf("x")}, 1},
		{"put If-None-Match *", MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: objOf("x"), If: &meta.WriteCondition{IfNoneMatch: true}}, 1},
		{"put If-None-Match etag", MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: objOf("x"), If: &meta.WriteCondition{NoneMatch: []string{"e"}}}, 2},
		{"put tags", MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: meta.ObjectMeta{ETag: `"e"`, Tags: tags}}, 2},
		{"create upload", MsgUploadCreate, &UploadCreate{Bucket: "b", Key: "k", UploadID: "u"}, 1},
		{"create upload tags", MsgUploadCreate, &UploadCreate{Bucket: "b", Key: "k", UploadID: "u", Object: meta.ObjectMeta{Tags: tags}}, 2},
		{"complete", MsgUploadComplete, &UploadComplete{UploadID: "u"}, 1},
		{"complete If-None-Match etag", MsgUploadComplete, &UploadComplete{UploadID: "u", If: &meta.WriteCondition{NoneMatch: []string{"e"}}}, 2},
		// Versioning's fields.
		{"put version", MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: meta.ObjectMeta{ETag: `"e"`, VersionID: "v"}}, 2},
		{"delete version", MsgObjectDelete, &ObjectDelete{Bucket: "b", Keys: []string{"k"}, Versions: []string{"v"}}, 2},
		{"delete marker", MsgObjectDelete, &ObjectDelete{Bucket: "b", Keys: []string{"k"}, MarkerIDs: []string{"m"}, At: 1}, 2},
		{"complete version", MsgUploadComplete, &UploadComplete{UploadID: "u", VersionID: "v"}, 2},
		{"tags", MsgObjectTagsSet, &ObjectTagsSet{Bucket: "b", Key: "k", Tags: tags}, 1},
		{"tags of a version", MsgObjectTagsSet, &ObjectTagsSet{Bucket: "b", Key: "k", Tags: tags, VersionID: "v"}, 2},
		{"versioning", MsgBucketVersioningSet, &BucketVersioningSet{Bucket: "b", Status: meta.VersioningEnabled}, 1},
	} {
		cmd, err := Encode(c.t, c.body)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cmd[1] != c.want {
			t.Errorf("%s: version %d, want %d", c.name, cmd[1], c.want)
		}
		if err := CheckEvent(cmd); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if c.want == 2 {
			// The same body claiming version 1 is refused by the leader.
			v1 := append([]byte{cmd[0], 1}, cmd[2:]...)
			if err := CheckEvent(v1); !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("%s as version 1: %v", c.name, err)
			}
		}
	}
}

// TestSnapshotVersions: snapshots are written as version 3 (a release that
// reads version 1 or 2 only refuses them rather than drop inline bodies or
// misread object versions); this release restores versions 1 to 3 and
// refuses a later one.
func TestSnapshotVersions(t *testing.T) {
	h := newMetaHarness(t)
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, &h.f.view.Load().iam, 7, testSealer, nil); err != nil {
		t.Fatal(err)
	}
	var hdr snapshotHeader
	if err := codec.NewDecoder(bytes.NewReader(buf.Bytes()), msgpackHandle).Decode(&hdr); err != nil || hdr.Version != 3 {
		t.Fatalf("written as version %d (%v), want 3", hdr.Version, err)
	}
	for v, ok := range map[int]bool{1: true, 2: true, 3: true, 4: false} {
		var b bytes.Buffer
		enc := codec.NewEncoder(&b, msgpackHandle)
		enc.Encode(snapshotHeader{Magic: snapshotMagic, Version: v, Index: 7})
		enc.Encode(recordEnd)
		_, err := readSnapshot(&b, testSealer, h.f.Meta())
		if ok && err != nil || !ok && !errors.Is(err, errBadSnapshot) {
			t.Errorf("a version %d snapshot: %v", v, err)
		}
	}
}
