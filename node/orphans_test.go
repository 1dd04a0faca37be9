package node

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSweepOrphans: a blob no object references (the blob of a PUT whose
// proposal failed, say) is removed once it is old enough; a young orphan, a
// pinned one and the blobs of live objects stay.
func TestSweepOrphans(t *testing.T) {
	e := newS3Env(t)
	c := e.sdkFor(e.writer)
	mkBucket(t, c, "live")
	putString(t, c, "live", "obj", "referenced content")

	blobs := e.n.Blobs()
	put := func(s string) [32]byte {
		ref, err := blobs.Put(bytes.NewReader([]byte(s)), -1)
		if err != nil {
			t.Fatal(err)
		}
		return ref.SHA256
	}
	age := func(sum [32]byte, d time.Duration) {
		h := hex.EncodeToString(sum[:])
		p := filepath.Join(e.n.cfg.DataDir, "blobs", "sha256", h[:2], h)
		old := time.Now().Add(-d)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	old, young, pinned := put("an old orphan"), put("a young orphan"), put("an old pinned orphan")
	age(old, time.Hour)
	age(pinned, time.Hour)
	unpin := blobs.Pin(pinned)
	var live [][32]byte
	blobs.Walk(func(sum [32]byte, _ int64) error {
		if sum != old && sum != young && sum != pinned {
			live = append(live, sum)
			age(sum, time.Hour) // old, but referenced
		}
		return nil
	})
	if len(live) != 1 {
		t.Fatalf("%d blobs besides the orphans, want the object's one", len(live))
	}

	if n := e.n.SweepOrphans(10 * time.Minute); n != 1 {
		t.Fatalf("swept %d blobs, want 1", n)
	}
	if blobs.Has(old) {
		t.Fatal("the old orphan is still there")
	}
	if !blobs.Has(young) || !blobs.Has(pinned) || !blobs.Has(live[0]) {
		t.Fatal("the sweep removed a young, pinned or referenced blob")
	}
	if got := getString(t, c, "live", "obj"); got != "referenced content" {
		t.Fatalf("object = %q", got)
	}
	unpin()
	if n := e.n.SweepOrphans(10 * time.Minute); n != 1 || blobs.Has(pinned) {
		t.Fatalf("after unpin swept %d, pinned still there: %v", n, blobs.Has(pinned))
	}
}
