package fsm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/meta"
)

// Events as the release before inline bodies wrote them (version 1,
// Encode of 5e0197e): an ObjectPut of b/k naming one blob, and a PartPut.
const (
	oldObjectPut = "120184a64275636b6574a162a24966c0a34b6579a16ba64f626a6563748aa8436865636b73756d82a9416c676f726974686da0a556616c7565a0ab436f6e74656e7454797065aa746578742f706c61696ea445546167a3226522a748656164657273c0ac4c6173744d6f64696669656407a54f776e6572a27531a95061727453697a6573c0a550617274739182a6534841323536da00200102030000000000000000000000000000000000000000000000000000000000a453697a6503a453697a6503a8557365724d657461c0"
	oldPartPut   = "150183a45061727486a4426c6f6282a6534841323536da00200400000000000000000000000000000000000000000000000000000000000000a453697a6503a8436865636b73756d82a9416c676f726974686da0a556616c7565a0a445546167a3227022ac4c6173744d6f64696669656400a34d4435b000000000000000000000000000000000a453697a6503aa506172744e756d62657201a855706c6f61644944a27570"
)

// TestOldEventsReplay: version-1 events written before inline bodies
// existed still pass CheckEvent and apply as they did; a blob object
// encodes exactly as before (version 1, no new field), an inline one as
// version 2.
func TestOldEventsReplay(t *testing.T) {
	h := newMetaHarness(t)
	h.mustApply(MsgBucketCreate, &BucketCreate{Name: "b", Owner: "u1", At: 1})
	h.mustApply(MsgUploadCreate, &UploadCreate{Bucket: "b", Key: "mp", UploadID: "up", At: 2})
	for _, x := range []string{oldObjectPut, oldPartPut} {
		cmd, _ := hex.DecodeString(x)
		if err := CheckEvent(cmd); err != nil {
			t.Fatalf("CheckEvent(old event) = %v", err)
		}
		h.idx++
		if resp := h.f.Apply(&raft.Log{Index: h.idx, Term: 1, Type: raft.LogCommand, Data: cmd}); resp != nil {
			t.Fatalf("apply old event: %v", resp)
		}
	}
	o, ok := h.f.meta.Object("b", "k")
	if !ok || o.Size != 3 || len(o.Parts) != 1 || o.Parts[0].ID != [32]byte{1, 2, 3} || o.Inline != nil || o.ContentType != "text/plain" {
		t.Fatalf("old ObjectPut applied as %+v %v", o, ok)
	}
	if parts, _ := h.f.meta.Parts("up", 0, 10); len(parts) != 1 || parts[0].Part.Inline != nil || parts[0].Part.Blob.ID != [32]byte{4} {
		t.Fatalf("old PartPut applied as %+v", parts)
	}
	// The same event encoded now is still version 1, without an Inline
	// field (omitted when nil).
	again, err := Encode(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: meta.ObjectMeta{Size: 3, ETag: `"e"`, LastModified: 7, Owner: "u1", ContentType: "text/plain",
		Parts: []meta.BlobPart{{ID: [32]byte{1, 2, 3}, Size: 3}}}})
	if err != nil || again[1] != 1 || bytes.Contains(again, []byte("Inline")) {
		t.Fatalf("a blob ObjectPut encodes as %x (%v), want version 1 without Inline", again, err)
	}

	in, err := Encode(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "i", Object: meta.ObjectMeta{Size: 2, Inline: meta.NewInline([]byte("hi"))}})
	if err != nil || in[1] != 2 || CheckEvent(in) != nil {
		t.Fatalf("inline ObjectPut: version %d, %v, CheckEvent %v", in[1], err, CheckEvent(in))
	}
	h.idx++
	if resp := h.f.Apply(&raft.Log{Index: h.idx, Term: 1, Type: raft.LogCommand, Data: in}); resp != nil {
		t.Fatal(resp)
	}
	if d, _ := h.f.meta.ObjectData("b", "i"); d.Inline == nil || string(d.Inline.Data) != "hi" {
		t.Fatalf("inline object = %+v", d)
	}
}

// TestCheckEventBoundsInline: the leader refuses a forwarded event whose
// inline body is over meta.MaxInline, or whose version does not say what
// it carries; an inline body of the largest size fits the event bound.
func TestCheckEventBoundsInline(t *testing.T) {
	enc := func(n int) []byte {
		t.Helper()
		b, err := Encode(MsgPartPut, &PartPut{UploadID: "up", PartNumber: 1, Part: meta.PartMeta{Size: int64(n), Inline: meta.NewInline(make([]byte, n))}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := CheckEvent(enc(meta.MaxInline)); err != nil {
		t.Fatalf("largest inline body: %v", err)
	}
	// Encode refuses nothing under MaxEventSize; CheckEvent bounds the body itself.
	if err := CheckEvent(enc(meta.MaxInline + 1)); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("inline body over the bound: %v", err)
	}
	v1 := enc(10)
	v1[1] = 1
	if err := CheckEvent(v1); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("inline body in a version 1 event: %v", err)
	}
	v3 := enc(10)
	v3[1] = 3
	if err := CheckEvent(v3); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("version 3: %v", err)
	}
	blob, _ := Encode(MsgPartPut, &PartPut{UploadID: "up", PartNumber: 1, Part: meta.PartMeta{Size: 1}})
	blob[1] = 2
	if err := CheckEvent(blob); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("version 2 without an inline body: %v", err)
	}
}
