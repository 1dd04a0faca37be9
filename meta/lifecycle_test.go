package meta

import (
	"math"
	"strings"
	"testing"
)

// TestBucketLifecycle: a configuration is stored, replaced, deleted, and
// goes with its bucket; an invalid one is refused and changes nothing.
func TestBucketLifecycle(t *testing.T) {
	m := newStore(t)
	wantErr(t, m.PutBucketLifecycle("b", &Lifecycle{Rules: []LifecycleRule{{ID: "r", ExpirationDays: 1}}}), ErrNoSuchBucket)
	ok(t, m.CreateBucket("b", "u1", 1))
	ok(t, m.CreateBucket("c", "u1", 1))
	if m.BucketLifecycle("b") != nil || len(m.LifecycleBuckets()) != 0 {
		t.Fatal("a new bucket has a lifecycle")
	}
	ok(t, m.PutBucketLifecycle("b", &Lifecycle{Rules: []LifecycleRule{{ID: "r", Enabled: true, Prefix: "p/", ExpirationDays: 3}}}))
	if lc := m.BucketLifecycle("b"); lc == nil || len(lc.Rules) != 1 || lc.Rules[0].ExpirationDays != 3 || lc.Rules[0].Prefix != "p/" {
		t.Fatalf("lifecycle %+v", lc)
	}
	wantInvalid(t, m.PutBucketLifecycle("b", &Lifecycle{}))
	wantInvalid(t, m.PutBucketLifecycle("b", &Lifecycle{Rules: []LifecycleRule{{Tags: []Tag{{Key: "b"}, {Key: "a"}}}}}))
	if lc := m.BucketLifecycle("b"); lc == nil || lc.Rules[0].ExpirationDays != 3 {
		t.Fatalf("lifecycle after refused writes %+v", lc)
	}
	ok(t, m.PutBucketLifecycle("c", &Lifecycle{Rules: []LifecycleRule{{ID: "x", AbortDays: 1}}}))
	if got := m.LifecycleBuckets(); len(got) != 2 || got[0] != "b" || got[1] != "c" {
		t.Fatalf("lifecycle buckets %q", got)
	}
	ok(t, m.PutBucketLifecycle("c", nil))
	ok(t, m.DeleteBucket("b"))
	if got := m.LifecycleBuckets(); len(got) != 0 {
		t.Fatalf("lifecycle buckets after delete %q", got)
	}
	ok(t, m.CreateBucket("b", "u1", 2))
	if m.BucketLifecycle("b") != nil {
		t.Fatal("a re-created bucket kept its lifecycle")
	}
}

// TestExpireObjects: an object is expired only while it is the object
// evaluated; one overwritten since is kept; uploads are aborted and their
// parts' blobs released; a missing bucket or key is skipped.
func TestExpireObjects(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	a, c := objOf("a"), objOf("c")
	a.LastModified, c.LastModified = 10, 10
	ok(t, m.PutObject("b", "a", a, nil))
	ok(t, m.PutObject("b", "c", c, nil))
	newer := objOf("c2")
	newer.LastModified = 20
	ok(t, m.PutObject("b", "c", newer, nil)) // overwritten after the evaluation saw c at 10
	ok(t, m.CreateUpload("b", "u", "up1", &ObjectMeta{}, 5))
	ok(t, m.PutPart("up1", 1, &PartMeta{ETag: `"p"`, Size: 4, Blob: blobOf("part")}))
	ok(t, m.CreateBucket("d", "u1", 1))
	ok(t, m.CreateUpload("d", "u", "up2", &ObjectMeta{}, 5)) // another bucket's: kept
	res, err := m.Expire("b", &Expiry{Objects: []ObjectExpiry{
		{Key: "a", ETag: a.ETag, LastModified: 10},
		{Key: "c", ETag: c.ETag, LastModified: 10},
		{Key: "missing", ETag: `"e"`, LastModified: 10},
	}, Uploads: []string{"up1", "up2", "nope"}})
	ok(t, err)
	if res != (ExpiryResult{Expired: 1, Aborted: 1}) {
		t.Fatalf("result %+v", res)
	}
	if _, found := m.Object("b", "a"); found {
		t.Error("a not expired")
	}
	if o, found := m.Object("b", "c"); !found || o.LastModified != 20 {
		t.Error("the overwritten c was expired")
	}
	if _, found := m.Upload("up1"); found {
		t.Error("upload not aborted")
	}
	if _, found := m.Upload("up2"); !found {
		t.Error("another bucket's upload aborted")
	}
	if n := m.BlobRefs(blobOf("a").ID); n != 0 {
		t.Errorf("a's blob has %d refs", n)
	}
	if n := m.BlobRefs(blobOf("part").ID); n != 0 {
		t.Errorf("the part's blob has %d refs", n)
	}
	if r, err := m.Expire("gone", &Expiry{Objects: []ObjectExpiry{{Key: "a"}}}); err != nil || r != (ExpiryResult{}) {
		t.Errorf("missing bucket: %+v %v", r, err)
	}
	_, err = m.Expire("b", &Expiry{Objects: []ObjectExpiry{{Key: ""}}})
	wantInvalid(t, err)
}

// TestExpireVersions: in a versioned bucket Expiration makes a delete
// marker (the version evaluated becomes noncurrent), NoncurrentVersion
// Expiration deletes a noncurrent version for good, and a delete marker
// is removed only once it is the only version of its key; stale decisions
// change nothing.
func TestExpireVersions(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "owner", 1))
	ok(t, m.SetBucketVersioning("b", VersioningEnabled))
	put := func(id string, at int64) *ObjectMeta {
		o := objOf(id)
		o.VersionID, o.LastModified, o.ETag = id, at, `"`+id+`"`
		ok(t, m.PutObject("b", "k", o, nil))
		return o
	}
	v1, v2 := put("v1", 10), put("v2", 20)
	ids := func() (out []string) {
		for _, v := range m.ObjectVersions("b", "k") {
			id := VersionIDOf(&v.Object)
			if v.Object.DeleteMarker {
				id += "(marker)"
			}
			out = append(out, id)
		}
		return out
	}
	want := func(what string, got ExpiryResult, wantRes ExpiryResult, versions ...string) {
		t.Helper()
		if got != wantRes {
			t.Errorf("%s: result %+v, want %+v", what, got, wantRes)
		}
		if g := ids(); len(g) != len(versions) || strings.Join(g, ",") != strings.Join(versions, ",") {
			t.Errorf("%s: versions %q, want %q", what, g, versions)
		}
	}
	run := func(x *Expiry) ExpiryResult {
		t.Helper()
		r, err := m.Expire("b", x)
		ok(t, err)
		return r
	}
	// Stale: the evaluator saw v1 as the latest.
	want("stale", run(&Expiry{Objects: []ObjectExpiry{{Key: "k", ETag: v1.ETag, LastModified: 10, VersionID: "v1", MarkerID: "m0"}}}), ExpiryResult{}, "v2", "v1")
	want("expire v2", run(&Expiry{At: 30, Objects: []ObjectExpiry{{Key: "k", ETag: v2.ETag, LastModified: 20, VersionID: "v2", MarkerID: "m1"}}}),
		ExpiryResult{Expired: 1}, "m1(marker)", "v2", "v1")
	if mk, latest, found := m.ObjectVersion("b", "k", "m1", false); !found || !latest || !mk.DeleteMarker || mk.Owner != "owner" || mk.LastModified != 30 {
		t.Errorf("marker %+v latest %v found %v", mk, latest, found)
	}
	want("the marker is not alone", run(&Expiry{Markers: []VersionExpiry{{Key: "k", VersionID: "m1", LastModified: 30}}}), ExpiryResult{}, "m1(marker)", "v2", "v1")
	want("stale noncurrent", run(&Expiry{Noncurrent: []VersionExpiry{{Key: "k", VersionID: "v1", ETag: `"other"`, LastModified: 10}}}), ExpiryResult{}, "m1(marker)", "v2", "v1")
	want("noncurrent", run(&Expiry{Noncurrent: []VersionExpiry{{Key: "k", VersionID: "v1", ETag: v1.ETag, LastModified: 10}, {Key: "k", VersionID: "v2", ETag: v2.ETag, LastModified: 20}}}),
		ExpiryResult{Noncurrent: 2}, "m1(marker)")
	if n := m.BlobRefs(blobOf("v1").ID); n != 0 {
		t.Errorf("v1's blob has %d refs", n)
	}
	want("lone marker", run(&Expiry{Markers: []VersionExpiry{{Key: "k", VersionID: "m1", LastModified: 30}}}), ExpiryResult{Markers: 1})
	// Suspended: the marker is the null version.
	ok(t, m.SetBucketVersioning("b", VersioningSuspended))
	o := objOf("n")
	o.LastModified = 40
	ok(t, m.PutObject("b", "k", o, nil))
	want("suspended", run(&Expiry{At: 50, Objects: []ObjectExpiry{{Key: "k", ETag: o.ETag, LastModified: 40, VersionID: "null", MarkerID: "ignored"}}}),
		ExpiryResult{Expired: 1}, "null(marker)")
}

// TestDueAfterDays: S3's rule, a time plus the days rounded up to the next
// start of a day (midnight UTC for 24 h days).
func TestDueAfterDays(t *testing.T) {
	const day = int64(24 * 3600 * 1e9)
	for _, c := range []struct {
		t    int64
		days int
		want int64
	}{
		{0, 1, day},
		{1, 1, 2 * day},
		{day - 1, 1, 2 * day},
		{day, 2, 3 * day},
		{5*day + 7, 30, 36 * day},
	} {
		if got := DueAfterDays(c.t, c.days, day); got != c.want {
			t.Errorf("DueAfterDays(%d, %d) = %d, want %d", c.t, c.days, got, c.want)
		}
	}
	if got := DueAfterDays(5*day, math.MaxInt32, day); got != math.MaxInt64 {
		t.Errorf("2^31 days: %d, want never", got)
	}
	if got := DateDue(253402214400); got != math.MaxInt64 { // 9999-12-31
		t.Errorf("year 9999: %d, want never", got)
	}
	if got := DueAfterDays(1500, 1, 1000); got != 3000 {
		t.Errorf("a 1000 ns day: %d", got)
	}
}
