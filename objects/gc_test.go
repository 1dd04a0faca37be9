package objects

import (
	"os"
	"testing"
	"time"

	"github.com/s4/s4/blob"
)

// age makes the blob sum look committed d ago.
func age(t *testing.T, s *blob.Store, sum [32]byte, d time.Duration) {
	t.Helper()
	name := s.Path(sum)
	old := time.Now().Add(-d)
	if err := os.Chtimes(name, old, old); err != nil {
		t.Fatal(err)
	}
}

// TestSweepOrphans: a blob no object references (the blob of a PUT whose
// proposal failed, say) is removed once it is old enough; a young orphan, a
// pinned one and the blobs of live objects stay.
func TestSweepOrphans(t *testing.T) {
	e := newEnv(t, 0, 0)
	blobs := e.local
	live := put(t, blobs, []byte("referenced content")).ID
	e.refs.set(live, 1)
	old := put(t, blobs, []byte("an old orphan")).ID
	young := put(t, blobs, []byte("a young orphan")).ID
	pinned := put(t, blobs, []byte("an old pinned orphan")).ID
	age(t, blobs, old, time.Hour)
	age(t, blobs, pinned, time.Hour)
	age(t, blobs, live, time.Hour) // old, but referenced
	unpin := blobs.Pin(pinned)

	if n := e.svc.SweepOrphans(10 * time.Minute); n != 1 {
		t.Fatalf("swept %d blobs, want 1", n)
	}
	if blobs.Has(old) {
		t.Fatal("the old orphan is still there")
	}
	if !blobs.Has(young) || !blobs.Has(pinned) || !blobs.Has(live) {
		t.Fatal("the sweep removed a young, pinned or referenced blob")
	}
	if err := blobs.Verify(live); err != nil {
		t.Fatalf("the live object's blob: %v", err)
	}
	if e.disk.refreshes.Load() == 0 {
		t.Fatal("the free space was not read again after the sweep removed a blob")
	}
	unpin()
	if n := e.svc.SweepOrphans(10 * time.Minute); n != 1 || blobs.Has(pinned) {
		t.Fatalf("after unpin swept %d, pinned still there: %v", n, blobs.Has(pinned))
	}
}

// TestCollectGarbage: a pass removes the unreferenced, unpinned blobs on
// the garbage list and forgets them; a pinned one stays and stays listed,
// one referenced again stays, an absent one is forgotten.
func TestCollectGarbage(t *testing.T) {
	e := newEnv(t, 0, 0)
	gone := put(t, e.local, []byte("deleted")).ID
	pinned := put(t, e.local, []byte("deleted, but a write pins it")).ID
	again := put(t, e.local, []byte("deleted, then written again")).ID
	absent := sumOf([]byte("never here"))
	for _, sum := range [][32]byte{gone, pinned, again, absent} {
		e.refs.set(sum, 0)
	}
	e.refs.mu.Lock()
	e.refs.counts[again] = 1 // referenced again, still on the list
	e.refs.mu.Unlock()
	unpin := e.local.Pin(pinned)

	if n := e.svc.CollectGarbage(); n != 1 {
		t.Fatalf("removed %d blobs, want 1", n)
	}
	if e.local.Has(gone) || e.refs.onList(gone) {
		t.Fatal("the unreferenced blob is still there, or still listed")
	}
	if !e.local.Has(pinned) || !e.refs.onList(pinned) {
		t.Fatal("the pinned blob was removed, or forgotten")
	}
	if !e.local.Has(again) {
		t.Fatal("a referenced blob was removed")
	}
	if e.refs.onList(absent) {
		t.Fatal("an absent blob is still listed")
	}
	unpin()
	if n := e.svc.CollectGarbage(); n != 1 || e.local.Has(pinned) {
		t.Fatalf("after unpin removed %d, pinned still there: %v", n, e.local.Has(pinned))
	}
}
