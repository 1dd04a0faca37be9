package fsm

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
)

func newMetaHarness(t *testing.T) *harness {
	h := newHarness(t)
	m, err := OpenMeta(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	h.f.AttachMeta(m)
	return h
}

func blobOf(s string) BlobPart {
	return BlobPart{SHA256: sha256.Sum256([]byte(s)), Size: int64(len(s))}
}

func objOf(parts ...string) ObjectMeta {
	o := ObjectMeta{ETag: `"e"`, Owner: "u1"}
	for _, p := range parts {
		o.Parts = append(o.Parts, blobOf(p))
		o.Size += int64(len(p))
	}
	return o
}

func TestBuckets(t *testing.T) {
	h := newMetaHarness(t)
	m := h.f.Meta()
	h.mustApply(MsgBucketCreate, &BucketCreate{Name: "b1", Owner: "u1", At: 5})
	wantErr(t, h.apply(MsgBucketCreate, &BucketCreate{Name: "b1", Owner: "u1"}), ErrBucketOwnedByYou)
	wantErr(t, h.apply(MsgBucketCreate, &BucketCreate{Name: "b1", Owner: "u2"}), ErrBucketExists)
	if info, ok := m.Bucket("b1"); !ok || info.Owner != "u1" || info.CreatedAt != 5 {
		t.Fatalf("bucket = %+v %v", info, ok)
	}
	h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b1", Key: "k", Object: objOf("x")})
	wantErr(t, h.apply(MsgBucketDelete, &BucketDelete{Name: "b1"}), ErrBucketNotEmpty)
	h.mustApply(MsgObjectDelete, &ObjectDelete{Bucket: "b1", Keys: []string{"k", "missing"}})
	h.mustApply(MsgUploadCreate, &UploadCreate{Bucket: "b1", Key: "mp", UploadID: "up1"})
	h.mustApply(MsgPartPut, &PartPut{UploadID: "up1", PartNumber: 1, Part: PartMeta{Blob: blobOf("part")}})
	h.mustApply(MsgBucketDelete, &BucketDelete{Name: "b1"})
	if _, ok := m.Bucket("b1"); ok {
		t.Fatal("bucket still there")
	}
	if _, ok := m.Upload("up1"); ok {
		t.Fatal("upload survived its bucket")
	}
	if m.BlobRefs(blobOf("part").SHA256) != 0 || m.BlobRefs(blobOf("x").SHA256) != 0 {
		t.Fatal("blob references leaked")
	}
	wantErr(t, h.apply(MsgBucketDelete, &BucketDelete{Name: "b1"}), ErrNoSuchBucket)
	wantErr(t, h.apply(MsgObjectPut, &ObjectPut{Bucket: "b1", Key: "k", Object: objOf("x")}), ErrNoSuchBucket)
}

func TestObjectOverwriteMovesReferences(t *testing.T) {
	h := newMetaHarness(t)
	m := h.f.Meta()
	h.mustApply(MsgBucketCreate, &BucketCreate{Name: "b", Owner: "u1"})
	h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k1", Object: objOf("a")})
	h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k2", Object: objOf("a")})
	if n := m.BlobRefs(blobOf("a").SHA256); n != 2 {
		t.Fatalf("refs(a) = %d, want 2", n)
	}
	h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k1", Object: objOf("b")})
	if m.BlobRefs(blobOf("a").SHA256) != 1 || len(m.Garbage(10)) != 0 {
		t.Fatal("overwrite freed a blob still in use")
	}
	h.mustApply(MsgObjectDelete, &ObjectDelete{Bucket: "b", Keys: []string{"k2"}})
	g := m.Garbage(10)
	if len(g) != 1 || g[0] != blobOf("a").SHA256 {
		t.Fatalf("garbage = %x, want blob a", g)
	}
	// Referenced again: no longer garbage.
	h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k3", Object: objOf("a")})
	if len(m.Garbage(10)) != 0 {
		t.Fatal("a referenced blob is still listed as garbage")
	}
	if o, ok := m.Object("b", "k1"); !ok || o.Parts[0] != blobOf("b") {
		t.Fatalf("k1 = %+v", o)
	}
}

func TestMultipartComplete(t *testing.T) {
	h := newMetaHarness(t)
	m := h.f.Meta()
	h.mustApply(MsgBucketCreate, &BucketCreate{Name: "b", Owner: "u1"})
	h.mustApply(MsgUploadCreate, &UploadCreate{Bucket: "b", Key: "big", UploadID: "up", Object: ObjectMeta{ContentType: "text/plain"}})
	part := func(n int, size int64, content string) {
		sum := [16]byte{byte(n)}
		h.mustApply(MsgPartPut, &PartPut{UploadID: "up", PartNumber: n, Part: PartMeta{ETag: fmt.Sprintf(`"%02x"`, n), MD5: sum, Size: size, Blob: BlobPart{SHA256: sha256.Sum256([]byte(content)), Size: size}}})
	}
	part(1, MinPartSize, "p1")
	part(2, 10, "p2-old")
	part(2, MinPartSize-1, "p2") // replaces part 2
	part(3, 10, "p3")
	part(4, 10, "p4-unused")
	if n := m.BlobRefs(sha256.Sum256([]byte("p2-old"))); n != 0 {
		t.Fatalf("replaced part still referenced %d times", n)
	}
	wantErr(t, h.apply(MsgUploadComplete, &UploadComplete{UploadID: "up", Parts: []CompletePart{{2, `"02"`}, {1, `"01"`}}}), ErrInvalidPartOrder)
	wantErr(t, h.apply(MsgUploadComplete, &UploadComplete{UploadID: "up", Parts: []CompletePart{{1, `"01"`}, {5, `"05"`}}}), ErrInvalidPart)
	wantErr(t, h.apply(MsgUploadComplete, &UploadComplete{UploadID: "up", Parts: []CompletePart{{1, `"ff"`}}}), ErrInvalidPart)
	wantErr(t, h.apply(MsgUploadComplete, &UploadComplete{UploadID: "up", Parts: []CompletePart{{1, `"01"`}, {2, `"02"`}, {3, `"03"`}}}), ErrEntityTooSmall)
	// A failed complete changed nothing.
	if _, ok := m.Upload("up"); !ok {
		t.Fatal("failed complete dropped the upload")
	}
	h.mustApply(MsgUploadComplete, &UploadComplete{UploadID: "up", At: 77, Parts: []CompletePart{{1, `01`}, {3, `"03"`}}})
	o, ok := m.Object("b", "big")
	if !ok || o.Size != MinPartSize+10 || len(o.Parts) != 2 || o.ContentType != "text/plain" || o.LastModified != 77 {
		t.Fatalf("object = %+v %v", o, ok)
	}
	if want := MultipartETag([][16]byte{{1}, {3}}); o.ETag != want {
		t.Fatalf("etag %s, want %s", o.ETag, want)
	}
	if !reflect.DeepEqual(o.PartSizes, []int64{MinPartSize, 10}) {
		t.Fatalf("part sizes %v", o.PartSizes)
	}
	if _, ok := m.Upload("up"); ok {
		t.Fatal("completed upload still listed")
	}
	for _, unused := range []string{"p2", "p4-unused"} {
		if n := m.BlobRefs(sha256.Sum256([]byte(unused))); n != 0 {
			t.Fatalf("unused part %s still referenced", unused)
		}
	}
	if n := m.BlobRefs(sha256.Sum256([]byte("p1"))); n != 1 {
		t.Fatalf("object's part referenced %d times, want 1", n)
	}
	wantErr(t, h.apply(MsgUploadAbort, &UploadAbort{UploadID: "up"}), ErrNoSuchUpload)
}

func TestList(t *testing.T) {
	h := newMetaHarness(t)
	m := h.f.Meta()
	h.mustApply(MsgBucketCreate, &BucketCreate{Name: "b", Owner: "u1"})
	keys := []string{"a", "b/1", "b/2", "b/3/x", "c", "d/", "d/e", "e\xff"}
	for _, k := range keys {
		h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: k, Object: objOf(k)})
	}
	names := func(r ListResult) (out []string) {
		for _, o := range r.Objects {
			out = append(out, o.Key)
		}
		for _, p := range r.CommonPrefixes {
			out = append(out, "P:"+p)
		}
		return out
	}
	cases := []struct {
		prefix, after, delim string
		max                  int
		want                 []string
		trunc                bool
	}{
		{"", "", "", 100, keys, false},
		{"", "", "/", 100, []string{"a", "c", "e\xff", "P:b/", "P:d/"}, false},
		{"b/", "", "/", 100, []string{"b/1", "b/2", "P:b/3/"}, false},
		{"", "", "", 2, []string{"a", "b/1"}, true},
		{"", "b/1", "", 2, []string{"b/2", "b/3/x"}, true},
		{"", "a", "/", 2, []string{"c", "P:b/"}, true},
		{"", "b/", "/", 2, []string{"c", "P:d/"}, true},
		{"", "b/2", "/", 10, []string{"c", "e\xff", "P:d/"}, false},
		{"zz", "", "", 10, nil, false},
	}
	for _, c := range cases {
		r, ok := m.List("b", c.prefix, c.after, c.delim, c.max)
		if !ok {
			t.Fatal("bucket missing")
		}
		got := names(r)
		if !reflect.DeepEqual(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("List(%q, after %q, %q, %d) = %q, want %q", c.prefix, c.after, c.delim, c.max, got, c.want)
		}
		if r.IsTruncated != c.trunc {
			t.Errorf("List(%q, after %q, %q, %d) truncated = %v", c.prefix, c.after, c.delim, c.max, r.IsTruncated)
		}
	}
	if _, ok := m.List("nope", "", "", "", 10); ok {
		t.Fatal("listing a missing bucket succeeded")
	}
}

// TestConditionalWrites: If-None-Match creates only a missing key, If-Match
// replaces only an existing key with one of the given ETags (any with no
// ETags); a failed condition changes nothing, blob references included,
// and a failed conditional CompleteMultipartUpload keeps the upload.
func TestConditionalWrites(t *testing.T) {
	h := newMetaHarness(t)
	m := h.f.Meta()
	h.mustApply(MsgBucketCreate, &BucketCreate{Name: "b", Owner: "u1"})
	create := &WriteCondition{IfNoneMatch: true}
	h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: objOf("v1"), If: create})
	wantErr(t, h.apply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: objOf("v2"), If: create}), ErrPreconditionFailed)
	if o, _ := m.Object("b", "k"); o.Parts[0] != blobOf("v1") || m.BlobRefs(blobOf("v2").SHA256) != 0 {
		t.Fatalf("a failed If-None-Match changed the object: %+v", o)
	}

	v2 := objOf("v2")
	v2.ETag = `"e2"`
	wantErr(t, h.apply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: v2, If: &WriteCondition{IfMatch: true, ETags: []string{"other", `W/"e"`}}}), ErrPreconditionFailed)
	wantErr(t, h.apply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "missing", Object: v2, If: &WriteCondition{IfMatch: true}}), ErrNoSuchKey)
	if _, ok := m.Object("b", "missing"); ok || m.BlobRefs(blobOf("v2").SHA256) != 0 {
		t.Fatal("a failed If-Match wrote")
	}
	h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: v2, If: &WriteCondition{IfMatch: true, ETags: []string{"other", `"e"`}}})
	h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: objOf("v3"), If: &WriteCondition{IfMatch: true}})
	if o, _ := m.Object("b", "k"); o.Parts[0] != blobOf("v3") || m.BlobRefs(blobOf("v1").SHA256) != 0 || m.BlobRefs(blobOf("v2").SHA256) != 0 {
		t.Fatalf("If-Match writes: %+v", o)
	}

	h.mustApply(MsgUploadCreate, &UploadCreate{Bucket: "b", Key: "k", UploadID: "up"})
	h.mustApply(MsgPartPut, &PartPut{UploadID: "up", PartNumber: 1, Part: PartMeta{ETag: `"p1"`, Size: 2, Blob: blobOf("p1")}})
	done := &UploadComplete{UploadID: "up", Parts: []CompletePart{{1, `"p1"`}}, If: create}
	wantErr(t, h.apply(MsgUploadComplete, done), ErrPreconditionFailed)
	if _, ok := m.Upload("up"); !ok {
		t.Fatal("a failed conditional complete dropped the upload")
	}
	done.If = &WriteCondition{IfMatch: true, ETags: []string{`"e"`}}
	h.mustApply(MsgUploadComplete, done)
	if o, _ := m.Object("b", "k"); o.Parts[0] != blobOf("p1") {
		t.Fatalf("conditional complete: %+v", o)
	}
}
