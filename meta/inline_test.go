package meta

import (
	"bytes"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func inlineObj(body string) *ObjectMeta {
	return &ObjectMeta{ETag: `"e"`, Owner: "u1", Size: int64(len(body)), Inline: NewInline([]byte(body))}
}

// TestInlineObject: an inline object's bytes are stored with its metadata,
// returned by ObjectData only, checked by CheckInline, moved out on
// overwrite and delete, and kept in snapshots.
func TestInlineObject(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	ok(t, m.PutObject("b", "k", inlineObj("hello"), nil))
	ok(t, m.PutObject("b", "empty", inlineObj(""), nil))

	o, found := m.Object("b", "k")
	if !found || o.Inline == nil || o.Inline.Data != nil || o.Inline.Size != 5 || len(o.Parts) != 0 {
		t.Fatalf("Object = %+v %v (want the tail's size and CRC, not its bytes)", o, found)
	}
	if res, _ := m.List("b", "", "", "", 10); len(res.Objects) != 2 || res.Objects[1].Object.Inline.Data != nil || res.Objects[1].Object.Size != 5 {
		t.Fatalf("List = %+v", res)
	}
	d, found := m.ObjectData("b", "k")
	if !found || string(d.Inline.Data) != "hello" || CheckInline(d.Inline) != nil {
		t.Fatalf("ObjectData = %+v %v", d, found)
	}
	if e, _ := m.ObjectData("b", "empty"); e.Inline == nil || len(e.Inline.Data) != 0 || CheckInline(e.Inline) != nil {
		t.Fatalf("empty ObjectData = %+v", e)
	}

	// A flipped byte is caught.
	ok(t, m.DamageInline("b", "k", 1))
	d, _ = m.ObjectData("b", "k")
	if err := CheckInline(d.Inline); !errors.Is(err, errInlineCorrupt) {
		t.Fatalf("CheckInline of a damaged body = %v", err)
	}

	// An invalid body (size or CRC not matching, too large) is refused.
	bad := inlineObj("x")
	bad.Inline.CRC32C++
	wantInvalid(t, m.PutObject("b", "bad", bad, nil))
	big := inlineObj(string(make([]byte, MaxInline+1)))
	wantInvalid(t, m.PutObject("b", "bad", big, nil))
	if _, found := m.Object("b", "bad"); found {
		t.Fatal("an invalid inline put wrote")
	}

	// A snapshot refuses the damaged body, naming it; once a good copy is
	// back, snapshot and restore carry the bytes.
	if err := walkErr(m); !errors.Is(err, errInlineCorrupt) || !strings.Contains(err.Error(), "b/k") {
		t.Fatalf("snapshot of a store with a damaged inline body: %v", err)
	}
	ok(t, m.PutObject("b", "k", inlineObj("hello"), nil))
	other := newStore(t)
	ok(t, restoreFrom(other, dumpOf(t, m)))
	if d, _ := other.ObjectData("b", "k"); d.Inline == nil || string(d.Inline.Data) != "hello" || CheckInline(d.Inline) != nil {
		t.Fatalf("restored = %+v", d)
	}
	if d, _ := other.ObjectData("b", "empty"); d.Inline == nil || CheckInline(d.Inline) != nil {
		t.Fatalf("restored = %+v", d)
	}

	// Overwrite with a blob object, then delete: the bytes go.
	ok(t, m.PutObject("b", "k", objOf("blob"), nil))
	if d, _ := m.ObjectData("b", "k"); d.Inline != nil {
		t.Fatalf("overwritten by a blob object: %+v", d)
	}
	ok(t, m.PutObject("b", "k", inlineObj("again"), nil))
	if m.BlobRefs(blobOf("blob").ID) != 0 {
		t.Fatal("the blob replaced by an inline object is still referenced")
	}
	ok(t, m.DeleteObjects("b", []string{"k", "empty"}))
	for _, e := range dumpOf(t, m) {
		if e.bucket == "i/b" && e.k != "" {
			t.Fatalf("inline bytes left after delete: %q", e.k)
		}
	}
	ok(t, m.DeleteBucket("b"))
	for _, e := range dumpOf(t, m) {
		if e.bucket == "i/b" {
			t.Fatal("inline bucket left after the bucket's delete")
		}
	}
	ok(t, m.CreateBucket("b", "u1", 2))
	if _, found := m.ObjectData("b", "k"); found {
		t.Fatal("object back after its bucket was recreated")
	}
}

// TestInlineParts: inline parts reference no blob; completing an upload
// whose last part is inline makes it the object's tail; a single inline
// part makes an inline object.
func TestInlineParts(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	ok(t, m.CreateUpload("b", "mixed", "up", &ObjectMeta{}, 2))
	ok(t, m.PutPart("up", 1, &PartMeta{ETag: `"01"`, MD5: [16]byte{1}, Size: MinPartSize, Blob: BlobPart{ID: blobOf("p1").ID, Size: MinPartSize}}))
	ok(t, m.PutPart("up", 2, &PartMeta{ETag: `"02"`, MD5: [16]byte{2}, Size: 4, Inline: NewInline([]byte("tail"))}))
	var zero [32]byte
	if m.BlobRefs(zero) != 0 {
		t.Fatal("an inline part references the zero blob")
	}
	if parts, _ := m.Parts("up", 0, 10); len(parts) != 2 || parts[1].Part.Inline == nil || parts[1].Part.Inline.Size != 4 || parts[1].Part.Inline.Data != nil {
		t.Fatalf("parts = %+v", parts)
	}
	ok(t, m.CompleteUpload("up", []CompletePart{{1, `"01"`}, {2, `"02"`}}, 3, nil))
	o, _ := m.ObjectData("b", "mixed")
	if o.Size != MinPartSize+4 || len(o.Parts) != 1 || o.Inline == nil || string(o.Inline.Data) != "tail" || CheckInline(o.Inline) != nil ||
		!reflect.DeepEqual(o.PartSizes, []int64{MinPartSize, 4}) {
		t.Fatalf("mixed object = %+v", o)
	}

	// An inline part that is not the last is too small.
	ok(t, m.CreateUpload("b", "two", "up2", &ObjectMeta{}, 2))
	ok(t, m.PutPart("up2", 1, &PartMeta{ETag: `"01"`, Size: 1, Inline: NewInline([]byte("a"))}))
	ok(t, m.PutPart("up2", 2, &PartMeta{ETag: `"02"`, Size: 1, Inline: NewInline([]byte("b"))}))
	wantErr(t, m.CompleteUpload("up2", []CompletePart{{1, `"01"`}, {2, `"02"`}}, 3, nil), ErrEntityTooSmall)
	ok(t, m.CompleteUpload("up2", []CompletePart{{2, `"02"`}}, 3, nil))
	if o, _ := m.ObjectData("b", "two"); len(o.Parts) != 0 || !bytes.Equal(o.Inline.Data, []byte("b")) {
		t.Fatalf("single inline part object = %+v", o)
	}
	// A replaced or aborted inline part releases nothing it did not hold.
	ok(t, m.CreateUpload("b", "ab", "up3", &ObjectMeta{}, 2))
	ok(t, m.PutPart("up3", 1, &PartMeta{Size: 1, Inline: NewInline([]byte("a"))}))
	ok(t, m.PutPart("up3", 1, &PartMeta{Size: 1, Blob: blobOf("z")}))
	ok(t, m.PutPart("up3", 1, &PartMeta{Size: 1, Inline: NewInline([]byte("a"))}))
	ok(t, m.AbortUpload("up3"))
	if m.BlobRefs(blobOf("z").ID) != 0 {
		t.Fatal("blob of a replaced part still referenced")
	}
	wantInvalid(t, m.CreateUpload("b", "x", "up4", inlineObj("no"), 2))
}

// TestPartsListHoldsNoInlineBodies: listing the parts of an upload made of
// inline parts (ListParts, CompleteMultipartUpload's checksum check) does
// not hold their bodies: 200 parts of 64 KiB, the whole list is small.
// Before the fix the list held every body (12.5 MiB here, 2.5 GiB for
// 10,000 parts at the largest threshold).
func TestPartsListHoldsNoInlineBodies(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	ok(t, m.CreateUpload("b", "k", "up", &ObjectMeta{}, 2))
	body := bytes.Repeat([]byte("x"), 64<<10)
	for n := 1; n <= 200; n++ {
		ok(t, m.PutPart("up", n, &PartMeta{ETag: `"01"`, Size: int64(len(body)), Inline: NewInline(body)}))
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	parts, _ := m.Parts("up", 0, 10000)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(parts) != 200 {
		t.Fatalf("%d parts", len(parts))
	}
	for _, p := range parts {
		if p.Part.Inline == nil || p.Part.Inline.Size != int64(len(body)) || p.Part.Inline.Data != nil {
			t.Fatalf("part %d: inline %v, %d bytes held", p.Number, p.Part.Inline != nil, len(p.Part.Inline.Data))
		}
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 2<<20 {
		t.Errorf("the list of 200 inline parts holds %d bytes", grew)
	}
	runtime.KeepAlive(parts)
}

// walkErr walks a snapshot of m and returns Walk's error.
func walkErr(m *Store) error {
	snap, err := m.Snapshot()
	if err != nil {
		return err
	}
	defer snap.Release()
	return snap.Walk(func([]byte) error { return nil }, func(k, v []byte) error { return nil })
}

// TestSnapshotRefusesDamagedInlinePart: an uploaded inline part whose
// bytes no longer match its CRC32C is not copied into a snapshot either:
// the walk fails and names the part.
func TestSnapshotRefusesDamagedInlinePart(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	ok(t, m.CreateUpload("b", "k", "up", &ObjectMeta{}, 2))
	ok(t, m.PutPart("up", 3, &PartMeta{ETag: `"03"`, Size: 4, Inline: NewInline([]byte("tail"))}))
	ok(t, walkErr(m))
	ok(t, m.updateDB(func(tx *bolt.Tx) error { // a byte rots on disk
		pb := tx.Bucket(partsBucket("up"))
		var p PartMeta
		decodeMsg(pb.Get(partKey(3)), &p)
		p.Inline.Data[0] ^= 0xff
		return pb.Put(partKey(3), encodeMsg(&p))
	}))
	if err := walkErr(m); !errors.Is(err, errInlineCorrupt) || !strings.Contains(err.Error(), "part 3 of upload up") {
		t.Fatalf("snapshot of a store with a damaged inline part: %v", err)
	}
}

// TestSnapshotRefusesDamagedNoncurrentInline: a noncurrent version keeps
// its inline bytes in its record (v/<bucket>); damaged, it is not copied
// into a snapshot either.
func TestSnapshotRefusesDamagedNoncurrentInline(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	ok(t, m.SetBucketVersioning("b", VersioningEnabled))
	ok(t, m.PutObject("b", "k", withID(inlineObj("old body"), "v1"), nil))
	ok(t, m.PutObject("b", "k", withID(inlineObj("new body"), "v2"), nil))
	ok(t, walkErr(m))
	ok(t, m.updateDB(func(tx *bolt.Tx) error {
		vb := tx.Bucket(versionsBucket("b"))
		k, v := vb.Cursor().First()
		var obj ObjectMeta
		decodeMsg(v, &obj)
		obj.Inline.Data[0] ^= 0xff
		return vb.Put(append([]byte(nil), k...), encodeMsg(&obj))
	}))
	if err := walkErr(m); !errors.Is(err, errInlineCorrupt) || !strings.Contains(err.Error(), `version "v1" of b/k`) {
		t.Fatalf("snapshot of a store with a damaged noncurrent inline body: %v", err)
	}
}
