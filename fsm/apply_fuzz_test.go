package fsm

import (
	"testing"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/iam"
	"github.com/s4/s4/meta"
)

// FuzzApplyEvent: an event that passes CheckEvent (what the leader lets
// into the log) applies on every node without a panic, whatever its
// fields say: a domain error at most. The store holds a bucket, an object
// and an upload with a part, so that the handlers get past their lookups.
func FuzzApplyEvent(f *testing.F) {
	seeds := []struct {
		t   MessageType
		msg any
	}{
		{MsgBucketCreate, &BucketCreate{Name: "b2", Owner: "u1", At: 1}},
		{MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k2", Object: meta.ObjectMeta{Size: 3, Parts: []meta.BlobPart{blobOf("abc")}}}},
		{MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k4", Object: meta.ObjectMeta{Size: 9, Parts: []meta.BlobPart{blobOf("abc")}, Inline: meta.NewInline([]byte("de"))}}}, // Size not its bytes
		{MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: meta.ObjectMeta{}, If: &meta.WriteCondition{IfMatch: true, ETags: []string{`"x"`}}}},
		{MsgObjectDelete, &ObjectDelete{Bucket: "b", Keys: []string{"k", ""}}},
		{MsgUploadCreate, &UploadCreate{Bucket: "b", Key: "k3", UploadID: "u2"}},
		{MsgPartPut, &PartPut{UploadID: "u1", PartNumber: 2, Part: meta.PartMeta{Size: 5, Blob: blobOf("part2")}}},
		{MsgUploadComplete, &UploadComplete{UploadID: "u1", Parts: []meta.CompletePart{{PartNumber: 1, ETag: `"e1"`}}}},
		{MsgUploadAbort, &UploadAbort{UploadID: "u1"}},
		{MsgObjectDelete, &ObjectDelete{Bucket: "b", Keys: []string{"k"}, If: &meta.WriteCondition{IfMatch: true, ETags: []string{`"x"`}}}},
		{MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: meta.ObjectMeta{}, If: &meta.WriteCondition{NoneMatch: []string{`"x"`}}}},
		{MsgObjectTagsSet, &ObjectTagsSet{Bucket: "b", Key: "k", Tags: []meta.Tag{{Key: "a", Value: "1"}}}},
		{MsgBucketTagsSet, &BucketTagsSet{Bucket: "b", Tags: []meta.Tag{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}}},
		{MsgObjectPut, &ObjectPut{Bucket: "b", Key: "in", Object: meta.ObjectMeta{Size: 2, Inline: meta.NewInline([]byte("hi"))}}},
		{MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: meta.ObjectMeta{Inline: &meta.Inline{}}}},
		{MsgObjectPut, &ObjectPut{Bucket: "b", Key: "bad", Object: meta.ObjectMeta{Size: 2, Inline: &meta.Inline{Data: []byte("hi"), Size: 2, CRC32C: 7}}}},
		{MsgPartPut, &PartPut{UploadID: "u1", PartNumber: 2, Part: meta.PartMeta{ETag: `"e2"`, Size: 2, Inline: meta.NewInline([]byte("pt"))}}},
		{MsgBucketDelete, &BucketDelete{Name: "b"}},
		{MsgUserCreate, &UserCreate{ID: "u9", Username: "zed", Role: iam.RoleWriter}},
		{MsgUserUpdate, &UserUpdate{ID: "u1"}},
		{MsgCredentialRevoke, &CredentialRevoke{UserID: "u1"}},
	}
	for _, s := range seeds {
		b, err := Encode(s.t, s.msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, cmd []byte) {
		if CheckEvent(cmd) != nil {
			return
		}
		h := newMetaHarness(t)
		h.create("u1", "alice", iam.RoleWriter)
		h.mustApply(MsgBucketCreate, &BucketCreate{Name: "b", Owner: "u1", At: 1})
		h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: meta.ObjectMeta{Size: 1, Parts: []meta.BlobPart{blobOf("a")}}})
		h.mustApply(MsgUploadCreate, &UploadCreate{Bucket: "b", Key: "k", UploadID: "u1"})
		h.mustApply(MsgPartPut, &PartPut{UploadID: "u1", PartNumber: 1, Part: meta.PartMeta{ETag: `"e1"`, Size: 1, Blob: blobOf("p")}})
		h.idx++
		h.f.Apply(&raft.Log{Index: h.idx, Term: 1, Type: raft.LogCommand, Data: cmd})
	})
}
