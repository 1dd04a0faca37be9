package meta

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}

func wantInvalid(t testing.TB, err error) {
	t.Helper()
	if _, ok := errors.AsType[*InvalidError](err); !ok {
		t.Fatalf("got %v, want an InvalidError", err)
	}
}

func blobOf(s string) BlobPart {
	return BlobPart{ID: sha256.Sum256([]byte(s)), Size: int64(len(s))}
}

// partOf is an uploaded part of one blob of content s.
func partOf(s string) *PartMeta {
	b := blobOf(s)
	return &PartMeta{Blob: b, Size: b.Size}
}

func objOf(parts ...string) *ObjectMeta {
	o := &ObjectMeta{ETag: `"e"`, Owner: "u1"}
	for _, p := range parts {
		o.Parts = append(o.Parts, blobOf(p))
		o.Size += int64(len(p))
	}
	return o
}

func TestBuckets(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b1", "u1", 5))
	wantErr(t, m.CreateBucket("b1", "u1", 6), ErrBucketOwnedByYou)
	wantErr(t, m.CreateBucket("b1", "u2", 6), ErrBucketExists)
	if info, ok := m.Bucket("b1"); !ok || info.Owner != "u1" || info.CreatedAt != 5 {
		t.Fatalf("bucket = %+v %v", info, ok)
	}
	ok(t, m.PutObject("b1", "k", objOf("x"), nil))
	wantErr(t, m.DeleteBucket("b1"), ErrBucketNotEmpty)
	ok(t, m.DeleteObjects("b1", []string{"k", "missing"}))
	if !m.BucketEmpty("b1") {
		t.Fatal("bucket not empty after the delete")
	}
	ok(t, m.CreateUpload("b1", "mp", "up1", &ObjectMeta{}, 6))
	ok(t, m.PutPart("up1", 1, partOf("part")))
	ok(t, m.DeleteBucket("b1"))
	if _, ok := m.Bucket("b1"); ok {
		t.Fatal("bucket still there")
	}
	if _, ok := m.Upload("up1"); ok {
		t.Fatal("upload survived its bucket")
	}
	if m.BlobRefs(blobOf("part").ID) != 0 || m.BlobRefs(blobOf("x").ID) != 0 {
		t.Fatal("blob references leaked")
	}
	wantErr(t, m.DeleteBucket("b1"), ErrNoSuchBucket)
	wantErr(t, m.PutObject("b1", "k", objOf("x"), nil), ErrNoSuchBucket)
	wantErr(t, m.DeleteObjects("b1", []string{"k"}), ErrNoSuchBucket)
	wantErr(t, m.CreateUpload("b1", "k", "up2", &ObjectMeta{}, 7), ErrNoSuchBucket)
	ok(t, m.CreateBucket("b2", "u1", 8))
	ok(t, m.CreateBucket("a0", "u2", 9))
	if got := m.Buckets(); len(got) != 2 || got[0].Name != "a0" || got[1].Name != "b2" {
		t.Fatalf("buckets = %+v", got)
	}
}

// TestInvalidArguments: names no correct proposer sends are refused, and
// the refusal wrote nothing.
func TestInvalidArguments(t *testing.T) {
	m := newStore(t)
	long := func(n int) string { return fmt.Sprintf("%0*d", n, 0) }
	wantInvalid(t, m.CreateBucket("", "u1", 1))
	wantInvalid(t, m.CreateBucket(long(64), "u1", 1))
	ok(t, m.CreateBucket(long(63), "u1", 1))
	ok(t, m.CreateBucket("b", "u1", 1))
	wantInvalid(t, m.PutObject("b", "", objOf("x"), nil))
	wantInvalid(t, m.PutObject("b", long(1025), objOf("x"), nil))
	wantInvalid(t, m.CreateUpload("b", "", "up", &ObjectMeta{}, 1))
	wantInvalid(t, m.CreateUpload("b", "k", "", &ObjectMeta{}, 1))
	ok(t, m.CreateUpload("b", "k", "up", &ObjectMeta{}, 1))
	wantInvalid(t, m.CreateUpload("b", "k2", "up", &ObjectMeta{}, 1)) // the ID is in use
	wantInvalid(t, m.PutPart("up", 0, partOf("p")))
	wantInvalid(t, m.PutPart("up", 10001, partOf("p")))
	wantErr(t, m.PutPart("nope", 1, partOf("p")), ErrNoSuchUpload)
	if m.BlobRefs(blobOf("x").ID) != 0 || m.BlobRefs(blobOf("p").ID) != 0 || !m.BucketEmpty("b") {
		t.Fatal("a refused write changed the store")
	}
	if up, ok := m.Upload("up"); !ok || up.Key != "k" {
		t.Fatalf("upload = %+v %v", up, ok)
	}
}

// TestSizeMustMatchBytes: an object whose Size is not its blob parts'
// sizes plus its inline tail's, or a part whose Size is not its blob's or
// its inline body's, is refused and writes nothing (a GET would answer a
// Content-Length it cannot deliver).
func TestSizeMustMatchBytes(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	bad := []*ObjectMeta{
		{Size: 5}, // no bytes at all
		{Size: 2, Parts: []BlobPart{blobOf("abc")}},              // less than its blob
		{Size: 4, Parts: []BlobPart{blobOf("abc")}},              // more than its blob
		{Size: 3, Parts: []BlobPart{{Size: -1}, blobOf("abcd")}}, // a negative part
		{Size: 1, Inline: NewInline([]byte("ab"))},               // less than its tail
		{Size: 5, Parts: []BlobPart{blobOf("abc")}, Inline: NewInline([]byte("a"))},
		{Size: -1},
	}
	for i, o := range bad {
		if err := m.PutObject("b", fmt.Sprint("k", i), o, nil); err == nil {
			t.Fatalf("object %d (%+v) accepted", i, o)
		} else {
			wantInvalid(t, err)
		}
	}
	ok(t, m.PutObject("b", "good", &ObjectMeta{Size: 5, Parts: []BlobPart{blobOf("abc")}, Inline: NewInline([]byte("de"))}, nil))
	ok(t, m.PutObject("b", "empty", &ObjectMeta{}, nil))
	ok(t, m.CreateUpload("b", "k", "up", &ObjectMeta{}, 1))
	for i, p := range []*PartMeta{
		{Size: 4, Blob: blobOf("abc")},
		{Size: 0, Blob: blobOf("abc")},
		{Size: 3, Inline: NewInline([]byte("ab"))},
		{Size: 2, Blob: blobOf("xy"), Inline: NewInline([]byte("ab"))},
	} {
		if err := m.PutPart("up", i+1, p); err == nil {
			t.Fatalf("part %d (%+v) accepted", i+1, p)
		} else {
			wantInvalid(t, err)
		}
	}
	if m.BlobRefs(blobOf("xy").ID) != 0 || m.BlobRefs(blobOf("abcd").ID) != 0 || m.BlobRefs(blobOf("abc").ID) != 1 {
		t.Fatal("a refused write changed the reference counts")
	}
	for i := range bad {
		if _, found := m.Object("b", fmt.Sprint("k", i)); found {
			t.Fatalf("refused object %d stored", i)
		}
	}
	if parts, _ := m.Parts("up", 0, 100); len(parts) != 0 {
		t.Fatalf("refused parts stored: %+v", parts)
	}
}

func TestObjectOverwriteMovesReferences(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	ok(t, m.PutObject("b", "k1", objOf("a"), nil))
	ok(t, m.PutObject("b", "k2", objOf("a"), nil))
	if n := m.BlobRefs(blobOf("a").ID); n != 2 {
		t.Fatalf("refs(a) = %d, want 2", n)
	}
	ok(t, m.PutObject("b", "k1", objOf("b"), nil))
	if m.BlobRefs(blobOf("a").ID) != 1 || len(m.Garbage(10)) != 0 {
		t.Fatal("overwrite freed a blob still in use")
	}
	ok(t, m.DeleteObjects("b", []string{"k2"}))
	g := m.Garbage(10)
	if len(g) != 1 || g[0] != blobOf("a").ID {
		t.Fatalf("garbage = %x, want blob a", g)
	}
	// Referenced again: no longer garbage.
	ok(t, m.PutObject("b", "k3", objOf("a"), nil))
	if len(m.Garbage(10)) != 0 {
		t.Fatal("a referenced blob is still listed as garbage")
	}
	if o, ok := m.Object("b", "k1"); !ok || o.Parts[0] != blobOf("b") {
		t.Fatalf("k1 = %+v", o)
	}
	// Unreferenced again, then forgotten by the blob store.
	ok(t, m.DeleteObjects("b", []string{"k3", "k1"}))
	if g := m.Garbage(10); len(g) != 2 {
		t.Fatalf("garbage = %x, want blobs a and b", g)
	}
	m.ForgetGarbage(blobOf("a").ID)
	if g := m.Garbage(10); len(g) != 1 || g[0] != blobOf("b").ID {
		t.Fatalf("garbage after forgetting a = %x", g)
	}
}

func TestMultipartComplete(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	ok(t, m.CreateUpload("b", "big", "up", &ObjectMeta{ContentType: "text/plain"}, 2))
	part := func(n int, size int64, content string) {
		sum := [16]byte{byte(n)}
		ok(t, m.PutPart("up", n, &PartMeta{ETag: fmt.Sprintf(`"%02x"`, n), MD5: sum, Size: size, Blob: BlobPart{ID: sha256.Sum256([]byte(content)), Size: size}}))
	}
	part(1, MinPartSize, "p1")
	part(2, 10, "p2-old")
	part(2, MinPartSize-1, "p2") // replaces part 2
	part(3, 10, "p3")
	part(4, 10, "p4-unused")
	if n := m.BlobRefs(sha256.Sum256([]byte("p2-old"))); n != 0 {
		t.Fatalf("replaced part still referenced %d times", n)
	}
	if parts, trunc := m.Parts("up", 1, 2); len(parts) != 2 || !trunc || parts[0].Number != 2 || parts[1].Number != 3 || parts[0].Part.Size != MinPartSize-1 {
		t.Fatalf("parts after 1 = %+v, truncated %v", parts, trunc)
	}
	wantErr(t, m.CompleteUpload("up", []CompletePart{{2, `"02"`}, {1, `"01"`}}, 3, nil), ErrInvalidPartOrder)
	wantErr(t, m.CompleteUpload("up", []CompletePart{{1, `"01"`}, {5, `"05"`}}, 3, nil), ErrInvalidPart)
	wantErr(t, m.CompleteUpload("up", []CompletePart{{1, `"ff"`}}, 3, nil), ErrInvalidPart)
	wantErr(t, m.CompleteUpload("up", nil, 3, nil), ErrInvalidPart)
	wantErr(t, m.CompleteUpload("up", []CompletePart{{1, `"01"`}, {2, `"02"`}, {3, `"03"`}}, 3, nil), ErrEntityTooSmall)
	wantErr(t, m.CompleteUpload("nope", []CompletePart{{1, `"01"`}}, 3, nil), ErrNoSuchUpload)
	// A failed complete changed nothing.
	if _, ok := m.Upload("up"); !ok {
		t.Fatal("failed complete dropped the upload")
	}
	if ups := m.Uploads("b", "bi"); len(ups) != 1 || ups[0].UploadID != "up" || ups[0].Object.ContentType != "text/plain" {
		t.Fatalf("uploads = %+v", ups)
	}
	ok(t, m.CompleteUpload("up", []CompletePart{{1, `01`}, {3, `"03"`}}, 77, nil))
	o, found := m.Object("b", "big")
	if !found || o.Size != MinPartSize+10 || len(o.Parts) != 2 || o.ContentType != "text/plain" || o.LastModified != 77 {
		t.Fatalf("object = %+v %v", o, found)
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
	wantErr(t, m.AbortUpload("up"), ErrNoSuchUpload)
}

func TestList(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	keys := []string{"a", "b/1", "b/2", "b/3/x", "c", "d/", "d/e", "e\xff"}
	for _, k := range keys {
		ok(t, m.PutObject("b", k, objOf(k), nil))
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
		r, found := m.List("b", c.prefix, c.after, c.delim, c.max)
		if !found {
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
	if _, found := m.List("nope", "", "", "", 10); found {
		t.Fatal("listing a missing bucket succeeded")
	}
}

// TestConditionalWrites: If-None-Match creates only a missing key, If-Match
// replaces only an existing key with one of the given ETags (any with no
// ETags); a failed condition changes nothing, blob references included,
// and a failed conditional CompleteUpload keeps the upload.
func TestConditionalWrites(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	create := &WriteCondition{IfNoneMatch: true}
	ok(t, m.PutObject("b", "k", objOf("v1"), create))
	wantErr(t, m.PutObject("b", "k", objOf("v2"), create), ErrPreconditionFailed)
	if o, _ := m.Object("b", "k"); o.Parts[0] != blobOf("v1") || m.BlobRefs(blobOf("v2").ID) != 0 {
		t.Fatalf("a failed If-None-Match changed the object: %+v", o)
	}

	v2 := objOf("v2")
	v2.ETag = `"e2"`
	wantErr(t, m.PutObject("b", "k", v2, &WriteCondition{IfMatch: true, ETags: []string{"other", `W/"e"`}}), ErrPreconditionFailed)
	wantErr(t, m.PutObject("b", "missing", v2, &WriteCondition{IfMatch: true}), ErrNoSuchKey)
	if _, ok := m.Object("b", "missing"); ok || m.BlobRefs(blobOf("v2").ID) != 0 {
		t.Fatal("a failed If-Match wrote")
	}
	ok(t, m.PutObject("b", "k", v2, &WriteCondition{IfMatch: true, ETags: []string{"other", `"e"`}}))
	ok(t, m.PutObject("b", "k", objOf("v3"), &WriteCondition{IfMatch: true}))
	if o, _ := m.Object("b", "k"); o.Parts[0] != blobOf("v3") || m.BlobRefs(blobOf("v1").ID) != 0 || m.BlobRefs(blobOf("v2").ID) != 0 {
		t.Fatalf("If-Match writes: %+v", o)
	}

	// If-None-Match with ETags: refused when the key has one of them.
	v4 := objOf("v4")
	cur, _ := m.Object("b", "k")
	wantErr(t, m.PutObject("b", "k", v4, &WriteCondition{NoneMatch: []string{"other", `W/` + cur.ETag}}), ErrPreconditionFailed)
	if m.BlobRefs(blobOf("v4").ID) != 0 {
		t.Fatal("a failed If-None-Match with ETags wrote")
	}
	n1, n2 := objOf("n"), objOf("n2")
	n1.ETag, n2.ETag = `"n1"`, `"n2"`
	ok(t, m.PutObject("b", "new", n1, &WriteCondition{NoneMatch: []string{cur.ETag}})) // missing: passes
	ok(t, m.PutObject("b", "new", n2, &WriteCondition{NoneMatch: []string{cur.ETag}})) // another ETag: passes

	// Conditional deletes: every key must pass, or none goes.
	wantErr(t, m.DeleteObjectsIf("b", []string{"new"}, &WriteCondition{IfMatch: true, ETags: []string{"nope"}}), ErrPreconditionFailed)
	wantErr(t, m.DeleteObjectsIf("b", []string{"new", "gone"}, &WriteCondition{IfMatch: true}), ErrNoSuchKey)
	if _, found := m.Object("b", "new"); !found {
		t.Fatal("a failed conditional delete deleted")
	}
	nw, _ := m.Object("b", "new")
	ok(t, m.DeleteObjectsIf("b", []string{"new"}, &WriteCondition{IfMatch: true, ETags: []string{nw.ETag}}))
	if _, found := m.Object("b", "new"); found || m.BlobRefs(blobOf("n2").ID) != 0 {
		t.Fatal("a passing conditional delete kept the object")
	}

	ok(t, m.CreateUpload("b", "k", "up", &ObjectMeta{}, 2))
	ok(t, m.PutPart("up", 1, &PartMeta{ETag: `"p1"`, Size: 2, Blob: blobOf("p1")}))
	parts := []CompletePart{{1, `"p1"`}}
	wantErr(t, m.CompleteUpload("up", parts, 3, create), ErrPreconditionFailed)
	if _, ok := m.Upload("up"); !ok {
		t.Fatal("a failed conditional complete dropped the upload")
	}
	ok(t, m.CompleteUpload("up", parts, 3, &WriteCondition{IfMatch: true, ETags: []string{`"e"`}}))
	if o, _ := m.Object("b", "k"); o.Parts[0] != blobOf("p1") {
		t.Fatalf("conditional complete: %+v", o)
	}
}

// TestBatchSharesOneTransaction: the writes inside Batch commit together,
// and one that fails inside it leaves no trace while the others stay.
func TestBatchSharesOneTransaction(t *testing.T) {
	m := newStore(t)
	m.Batch(func() {
		ok(t, m.CreateBucket("b", "u1", 1))
		ok(t, m.PutObject("b", "k", objOf("x"), nil))
		wantErr(t, m.PutObject("b", "k", objOf("y"), &WriteCondition{IfNoneMatch: true}), ErrPreconditionFailed)
		wantErr(t, m.CompleteUpload("nope", []CompletePart{{1, `"e"`}}, 2, nil), ErrNoSuchUpload)
		ok(t, m.PutObject("b", "k2", objOf("z"), nil))
	})
	if o, found := m.Object("b", "k"); !found || o.Parts[0] != blobOf("x") {
		t.Fatalf("k = %+v %v", o, found)
	}
	if _, found := m.Object("b", "k2"); !found || m.BlobRefs(blobOf("y").ID) != 0 {
		t.Fatal("the batch lost a write or kept a refused one")
	}
}

// TestCompletedUploadRemembered: a completed upload's result is there for
// CompletedUploadRetention after it, while its key holds the object it
// made; the next completion after the retention forgets it.
func TestCompletedUploadRemembered(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u", 1))
	day := int64(CompletedUploadRetention)
	mk := func(id, key string, at int64) {
		t.Helper()
		ok(t, m.CreateUpload("b", key, id, &ObjectMeta{}, at))
		ok(t, m.PutPart(id, 1, &PartMeta{ETag: `"p"`, Size: blobOf(id).Size, Blob: blobOf(id)}))
		ok(t, m.CompleteUpload(id, []CompletePart{{PartNumber: 1, ETag: "p"}}, at, nil))
	}
	mk("u1", "k1", 100)
	c, found := m.CompletedUpload("u1")
	if obj, _ := m.Object("b", "k1"); !found || c.Bucket != "b" || c.Key != "k1" || c.ETag != obj.ETag || c.At != 100 {
		t.Fatalf("CompletedUpload(u1) = %+v, %v; object %+v", c, found, obj)
	}
	if _, found := m.CompletedUpload("nope"); found {
		t.Fatal("an unknown upload is remembered")
	}
	mk("u2", "k2", 100+day) // exactly the retention later: u1 stays
	if _, found := m.CompletedUpload("u1"); !found {
		t.Fatal("u1 forgotten at the retention's edge")
	}
	mk("u3", "k3", 101+day)
	if _, found := m.CompletedUpload("u1"); found {
		t.Fatal("u1 remembered past the retention")
	}
	for _, id := range []string{"u2", "u3"} {
		if _, found := m.CompletedUpload(id); !found {
			t.Fatalf("%s forgotten", id)
		}
	}
	// The key's object replaced or deleted: no longer that upload's result.
	ok(t, m.PutObject("b", "k2", objOf("x"), nil))
	if _, found := m.CompletedUpload("u2"); found {
		t.Fatal("u2 remembered after its object was replaced")
	}
	ok(t, m.DeleteObjects("b", []string{"k3"}))
	if _, found := m.CompletedUpload("u3"); found {
		t.Fatal("u3 remembered after its object was deleted")
	}
}

// TestTags: object and bucket tags replace the set, keep the object (its
// blobs, ETag), refuse missing buckets and keys and tag sets no correct
// proposer sends, and an empty set deletes them.
func TestTags(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u", 1))
	ok(t, m.PutObject("b", "k", objOf("data"), nil))
	two := []Tag{{"a", "1"}, {"b", ""}}
	ok(t, m.PutObjectTags("b", "k", two))
	if o, _ := m.Object("b", "k"); !slices.Equal(o.Tags, two) || o.ETag != `"e"` || m.BlobRefs(blobOf("data").ID) != 1 {
		t.Fatalf("object after PutObjectTags: %+v, refs %d", o, m.BlobRefs(blobOf("data").ID))
	}
	wantErr(t, m.PutObjectTags("b", "missing", two), ErrNoSuchKey)
	wantErr(t, m.PutObjectTags("nob", "k", two), ErrNoSuchBucket)
	wantInvalid(t, m.PutObjectTags("b", "k", []Tag{{"b", ""}, {"a", ""}}))
	wantInvalid(t, m.PutObjectTags("b", "k", []Tag{{"a", ""}, {"a", "x"}}))
	wantInvalid(t, m.PutObjectTags("b", "k", []Tag{{"", "x"}}))
	wantInvalid(t, m.PutObjectTags("b", "k", make([]Tag, 51)))
	if o, _ := m.Object("b", "k"); !slices.Equal(o.Tags, two) {
		t.Fatalf("a refused PutObjectTags changed the tags: %+v", o.Tags)
	}
	ok(t, m.PutObjectTags("b", "k", nil))
	if o, _ := m.Object("b", "k"); len(o.Tags) != 0 {
		t.Fatalf("tags after deleting them: %+v", o.Tags)
	}

	ok(t, m.PutBucketTags("b", two))
	if info, _ := m.Bucket("b"); !slices.Equal(info.Tags, two) || info.Owner != "u" || info.CreatedAt != 1 {
		t.Fatalf("bucket after PutBucketTags: %+v", info)
	}
	wantErr(t, m.PutBucketTags("nob", two), ErrNoSuchBucket)
	wantInvalid(t, m.PutBucketTags("b", []Tag{{"a", strings.Repeat("v", 1025)}}))
	ok(t, m.PutBucketTags("b", nil))
	if info, _ := m.Bucket("b"); len(info.Tags) != 0 {
		t.Fatalf("bucket tags after deleting them: %+v", info.Tags)
	}
}
