package meta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestScrubInline: every inline tail is paced and checked, across pages
// and buckets; the damaged ones are reported by bucket/key; blob objects
// are not inline bodies; the pace's error ends the walk.
func TestScrubInline(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("a", "u1", 1))
	ok(t, m.CreateBucket("b", "u1", 1))
	n := scrubPage*2 + 3
	for i := range n {
		ok(t, m.PutObject("a", fmt.Sprintf("k%04d", i), inlineObj(fmt.Sprintf("body %d", i)), nil))
	}
	ok(t, m.PutObject("b", "x", inlineObj("in b"), nil))
	ok(t, m.PutObject("b", "blob", &ObjectMeta{ETag: `"e"`, Owner: "u1", Size: 3, Parts: []BlobPart{{Size: 3}}}, nil))
	ok(t, m.DamageInline("a", "k0300", 2))
	ok(t, m.DamageInline("b", "x", 0))

	paced, bytes := 0, int64(0)
	var bad []string
	err := m.ScrubInline(context.Background(), func(sz int64) error { paced++; bytes += sz; return nil },
		func(bucket, key, version string, size int64, crc uint32, err error) {
			what := bucket + "/" + key
			if version != "" {
				t.Errorf("%s: version %q of an unversioned bucket", what, version)
			}
			if o, _ := m.Object(bucket, key); o.Inline == nil || o.Inline.Size != size || o.Inline.CRC32C != crc {
				t.Errorf("%s: found with size %d and CRC32C %08x, the record has %+v", what, size, crc, o.Inline)
			}
			if !errors.Is(err, errInlineCorrupt) {
				t.Errorf("%s: %v", what, err)
			}
			bad = append(bad, what)
		})
	if err != nil {
		t.Fatal(err)
	}
	if paced != n+1 || !slices.Equal(bad, []string{"a/k0300", "b/x"}) {
		t.Fatalf("paced %d (want %d), found %v", paced, n+1, bad)
	}
	stop := errors.New("stop")
	calls := 0
	if err := m.ScrubInline(context.Background(), func(int64) error { calls++; return stop }, func(string, string, string, int64, uint32, error) {}); err != stop || calls != 1 {
		t.Fatalf("pace error: %v after %d", err, calls)
	}
}

// TestScrubNoncurrentInline: the inline bodies of noncurrent versions are
// checked too, and a damaged one is reported with its version ID.
func TestScrubNoncurrentInline(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("a", "u1", 1))
	ok(t, m.SetBucketVersioning("a", VersioningEnabled))
	for i := range 3 {
		o := inlineObj(fmt.Sprintf("body %d", i))
		o.VersionID = fmt.Sprintf("v%d", i)
		ok(t, m.PutObject("a", "k", o, nil))
	}
	// Flip a byte of v1's body in its record, as a failing disk would.
	ok(t, m.updateDB(func(tx *bolt.Tx) error {
		_, vkey, found := noncurrent(tx, "a", "k", "v1")
		if !found {
			return errors.New("no v1")
		}
		vb := tx.Bucket(versionsBucket("a"))
		var obj ObjectMeta
		decodeMsg(vb.Get(vkey), &obj)
		obj.Inline.Data[0] ^= 0xff
		return vb.Put(vkey, encodeMsg(&obj))
	}))
	paced := 0
	var bad []string
	ok(t, m.ScrubInline(context.Background(), func(int64) error { paced++; return nil },
		func(bucket, key, version string, _ int64, _ uint32, err error) {
			bad = append(bad, bucket+"/"+key+"?versionId="+version)
		}))
	if paced != 3 || !slices.Equal(bad, []string{"a/k?versionId=v1"}) {
		t.Fatalf("paced %d, found %v", paced, bad)
	}
}
