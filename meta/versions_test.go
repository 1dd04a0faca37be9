package meta

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// versionsOf is "id[:m]" (m: a delete marker) of each version of key,
// newest first, with "*" after the latest's.
func versionsOf(m *Store, bucket, key string) string {
	var out []string
	for _, v := range m.ObjectVersions(bucket, key) {
		s := VersionIDOf(&v.Object)
		if v.Object.DeleteMarker {
			s += ":m"
		}
		if v.IsLatest {
			s += "*"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func withID(o *ObjectMeta, id string) *ObjectMeta { o.VersionID = id; return o }

// TestVersions: versions, delete markers and the null version as S3 has
// them, blob references counted per version, and a snapshot round trip
// that keeps every version.
func TestVersions(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	// Unversioned: a PUT replaces, its ID is ignored.
	ok(t, m.PutObject("b", "k", withID(objOf("a"), "ignored"), nil))
	ok(t, m.PutObject("b", "k", objOf("b"), nil))
	if got := versionsOf(m, "b", "k"); got != "null*" {
		t.Fatalf("unversioned: %s", got)
	}
	if m.BlobRefs(blobOf("a").ID) != 0 || m.BlobRefs(blobOf("b").ID) != 1 {
		t.Fatal("replaced blob still referenced")
	}
	wantInvalid(t, m.SetBucketVersioning("b", "Off"))
	ok(t, m.SetBucketVersioning("b", VersioningEnabled))
	ok(t, m.PutObject("b", "k", withID(objOf("c"), "v1"), nil))
	ok(t, m.PutObject("b", "k", withID(objOf("d", "e"), "v2"), nil))
	if got := versionsOf(m, "b", "k"); got != "v2* v1 null" {
		t.Fatalf("enabled: %s", got)
	}
	// A delete marker hides the key.
	ok(t, m.DeleteVersions("b", []VersionDelete{{Key: "k", MarkerID: "m1"}}, "u2", 9, nil))
	if got := versionsOf(m, "b", "k"); got != "m1:m* v2 v1 null" {
		t.Fatalf("after delete: %s", got)
	}
	if _, found := m.Object("b", "k"); found {
		t.Fatal("Object sees a key whose latest is a delete marker")
	}
	if res, _ := m.List("b", "", "", "", 10); len(res.Objects) != 0 {
		t.Fatalf("List lists a deleted key: %+v", res.Objects)
	}
	wantErr(t, m.DeleteObjectsIf("b", []string{"k"}, &WriteCondition{IfMatch: true}), ErrNoSuchKey)
	if o, latest, found := m.ObjectVersion("b", "k", "v1", false); !found || latest || o.Parts[0] != blobOf("c") {
		t.Fatalf("version v1: %+v %v %v", o, latest, found)
	}
	wantErr(t, m.DeleteBucket("b"), ErrBucketNotEmpty)
	// Deleting the marker brings v2 back; deleting a noncurrent version
	// frees its blobs.
	ok(t, m.DeleteVersions("b", []VersionDelete{{Key: "k", VersionID: "m1"}, {Key: "k", VersionID: "v1"}, {Key: "k", VersionID: "nope"}}, "", 0, nil))
	if got := versionsOf(m, "b", "k"); got != "v2* null" {
		t.Fatalf("after deleting m1, v1: %s", got)
	}
	if m.BlobRefs(blobOf("c").ID) != 0 || m.BlobRefs(blobOf("b").ID) != 1 {
		t.Fatal("references after deleting v1")
	}
	// Suspended: a null write replaces the null version, wherever it is.
	ok(t, m.SetBucketVersioning("b", VersioningSuspended))
	ok(t, m.PutObject("b", "k", withID(objOf("f"), "unused"), nil))
	if got := versionsOf(m, "b", "k"); got != "null* v2" {
		t.Fatalf("suspended put: %s", got)
	}
	if m.BlobRefs(blobOf("b").ID) != 0 || m.BlobRefs(blobOf("f").ID) != 1 {
		t.Fatal("the old null version's blob is still referenced")
	}
	ok(t, m.DeleteObjects("b", []string{"k"}))
	if got := versionsOf(m, "b", "k"); got != "null:m* v2" {
		t.Fatalf("suspended delete: %s", got)
	}
	if m.BlobRefs(blobOf("f").ID) != 0 {
		t.Fatal("the null version's blob is still referenced after a null delete marker replaced it")
	}
	// Inline bodies go with their versions.
	ok(t, m.SetBucketVersioning("b", VersioningEnabled))
	in1 := &ObjectMeta{ETag: `"1"`, Size: 3, Inline: NewInline([]byte("one"))}
	in2 := &ObjectMeta{ETag: `"2"`, Size: 3, Inline: NewInline([]byte("two"))}
	ok(t, m.PutObject("b", "in", withID(in1, "i1"), nil))
	ok(t, m.PutObject("b", "in", withID(in2, "i2"), nil))
	if o, _, _ := m.ObjectVersion("b", "in", "i1", true); string(o.Inline.Data) != "one" {
		t.Fatalf("noncurrent inline: %+v", o.Inline)
	}
	// Tags per version.
	ok(t, m.PutVersionTags("b", "in", "i1", []Tag{{"a", "1"}}))
	wantErr(t, m.PutVersionTags("b", "k", "null", []Tag{{"a", "1"}}), ErrNoSuchKey) // a marker
	// Snapshot round trip.
	want := dumpOf(t, m)
	m2 := newStore(t)
	ok(t, restoreFrom(m2, want))
	if !reflect.DeepEqual(dumpOf(t, m2), want) {
		t.Fatal("restored store differs")
	}
	if got := versionsOf(m2, "b", "in"); got != "i2* i1" {
		t.Fatalf("restored versions: %s", got)
	}
	ok(t, m2.DeleteVersions("b", []VersionDelete{{Key: "in", VersionID: "i2"}}, "", 0, nil))
	if o, found := m2.ObjectData("b", "in"); !found || string(o.Inline.Data) != "one" || len(o.Tags) != 1 {
		t.Fatalf("promoted inline version: %+v %v", o, found)
	}
	// Every version gone: the bucket can go.
	for _, k := range []string{"k", "in"} {
		for _, v := range m2.ObjectVersions("b", k) {
			ok(t, m2.DeleteVersions("b", []VersionDelete{{Key: k, VersionID: VersionIDOf(&v.Object)}}, "", 0, nil))
		}
	}
	ok(t, m2.DeleteBucket("b"))
	if n := len(m2.Garbage(100)); n == 0 {
		t.Fatal("no garbage after deleting every version")
	}
	for _, p := range []string{"a", "b", "c", "d", "e", "f"} {
		if m2.BlobRefs(blobOf(p).ID) != 0 {
			t.Fatalf("blob %s still referenced", p)
		}
	}
}

// TestListVersions: key order, newest first per key, paging by key and
// version-id markers, common prefixes.
func TestListVersions(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	ok(t, m.SetBucketVersioning("b", VersioningEnabled))
	var want []string
	for _, k := range []string{"a", "a\x00b", "d/1", "d/2", "z"} {
		for i := 3; i >= 1; i-- {
			ok(t, m.PutObject("b", k, withID(objOf(k), fmt.Sprintf("%s-%d", strings.ReplaceAll(k, "\x00", "0"), 4-i)), nil))
		}
	}
	for _, k := range []string{"a", "a\x00b", "d/1", "d/2", "z"} {
		for i := 3; i >= 1; i-- {
			want = append(want, fmt.Sprintf("%s-%d", strings.ReplaceAll(k, "\x00", "0"), i))
		}
	}
	for _, page := range []int{1, 2, 4, 100} {
		var got []string
		km, vm := "", ""
		for range 100 {
			res, found := m.ListVersions("b", "", km, vm, "", page)
			if !found {
				t.Fatal("no bucket")
			}
			for _, v := range res.Versions {
				got = append(got, v.Object.VersionID)
			}
			if !res.IsTruncated {
				break
			}
			km, vm = res.NextKeyMarker, res.NextVersionIDMarker
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("page %d: %q", page, got)
		}
	}
	res, _ := m.ListVersions("b", "", "", "", "/", 100)
	if !reflect.DeepEqual(res.CommonPrefixes, []string{"d/"}) || len(res.Versions) != 9 {
		t.Fatalf("delimiter: %+v", res)
	}
	res, _ = m.ListVersions("b", "", "a", "", "/", 2)
	if len(res.Versions) != 2 || res.Versions[0].Key != "a\x00b" || !res.IsTruncated {
		t.Fatalf("after key-marker a: %+v", res)
	}
	res, _ = m.ListVersions("b", "", "a\x00b", "a0b-2", "/", 2)
	if len(res.Versions) != 1 || res.Versions[0].Object.VersionID != "a0b-1" || res.CommonPrefixes[0] != "d/" || !res.IsTruncated {
		t.Fatalf("after version marker: %+v", res)
	}
	if res.NextKeyMarker != "d/" || res.NextVersionIDMarker != "" {
		t.Fatalf("next markers after a prefix: %q %q", res.NextKeyMarker, res.NextVersionIDMarker)
	}
}

// TestVersionIDsFromEvents: an Enabled bucket's write without an ID gets a
// derived one, a new one each time; a proposed ID a noncurrent version of
// the key has is refused and changes nothing; the latest's own ID again
// replaces it (the same event applied twice).
func TestVersionIDsFromEvents(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	ok(t, m.SetBucketVersioning("b", VersioningEnabled))
	ok(t, m.PutObject("b", "k", objOf("a"), nil))
	ok(t, m.PutObject("b", "k", objOf("b"), nil))
	ok(t, m.DeleteObjects("b", []string{"k"}))
	vs := m.ObjectVersions("b", "k")
	if len(vs) != 3 || vs[0].Object.VersionID == vs[1].Object.VersionID || vs[1].Object.VersionID == vs[2].Object.VersionID || vs[0].Object.VersionID == vs[2].Object.VersionID {
		t.Fatalf("derived IDs: %s", versionsOf(m, "b", "k"))
	}
	old := vs[1].Object.VersionID
	before := dumpOf(t, m)
	wantInvalid(t, m.PutObject("b", "k", withID(objOf("c"), old), nil))
	wantInvalid(t, m.DeleteVersions("b", []VersionDelete{{Key: "k", MarkerID: old}}, "", 0, nil))
	if !reflect.DeepEqual(dumpOf(t, m), before) {
		t.Fatal("a refused write changed the store")
	}
	ok(t, m.PutObject("b", "k", withID(objOf("d"), "x1"), nil))
	ok(t, m.PutObject("b", "k", withID(objOf("d"), "x1"), nil))
	if got := versionsOf(m, "b", "k"); !strings.HasPrefix(got, "x1* "+vs[0].Object.VersionID+":m ") || m.BlobRefs(blobOf("d").ID) != 1 {
		t.Fatalf("the same version twice: %s, %d references", got, m.BlobRefs(blobOf("d").ID))
	}
}

// TestVersionIDWithZeroByteRefused: a version ID with a 0x00 byte (only a
// buggy or hostile peer sends one: S3 requests refuse it) is refused and
// changes nothing; with it, key "a" and ID "b\x00c" would share the
// version index entry of key "a\x00b" and ID "c". Failed before: accepted.
func TestVersionIDWithZeroByteRefused(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	ok(t, m.SetBucketVersioning("b", VersioningEnabled))
	ok(t, m.PutObject("b", "a", withID(objOf("x"), "v1"), nil))
	before := dumpOf(t, m)
	wantInvalid(t, m.PutObject("b", "a", withID(objOf("y"), "b\x00c"), nil))
	wantInvalid(t, m.DeleteVersions("b", []VersionDelete{{Key: "a", MarkerID: "m\x00"}}, "", 0, nil))
	if !reflect.DeepEqual(dumpOf(t, m), before) {
		t.Fatal("a refused write changed the store")
	}
}
