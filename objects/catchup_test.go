package objects

import (
	"testing"
	"time"

	"github.com/s4/s4/disk"
)

// TestCatchUp: a pass fetches every referenced blob this node lacks from
// the peers and keeps it; a second pass finds nothing missing.
// At the reserve a pass does not start (disk.ErrFull). The three-node
// version, with a restart and a real log, is node's
// TestCatchUpBlobsAfterDowntime.
func TestCatchUp(t *testing.T) {
	e := newEnv(t, 2, 0)
	var want [][32]byte
	held := 0
	for i := range 7 {
		data := randBytes(uint64(100+i), 1000+i)
		ref := put(t, e.peers[i%2].store, data)
		if i%3 == 0 {
			put(t, e.local, data)
			held++
		}
		e.refs.set(ref.ID, 1)
		want = append(want, ref.ID)
	}
	e.disk.full.Store(true)
	if _, err := e.svc.CatchUp(bg); !disk.IsNoSpace(err) {
		t.Fatalf("at the reserve: %v, want disk.ErrFull", err)
	}
	e.disk.full.Store(false)
	fetched, err := e.svc.CatchUp(bg)
	if err != nil || fetched != len(want)-held {
		t.Fatalf("fetched %d of the %d missing, %v", fetched, len(want)-held, err)
	}
	for _, sum := range want {
		if err := e.local.Verify(sum); err != nil {
			t.Fatalf("after the pass: %v", err)
		}
	}
	if fetched, err := e.svc.CatchUp(bg); fetched != 0 || err != nil {
		t.Fatalf("a pass on a complete node: %d, %v", fetched, err)
	}
}

// TestCatchUpReleasesDeleted: a blob fetched for an object deleted
// meanwhile does not stay behind (the race with GC that catchup.go
// describes); a blob still referenced is kept.
func TestCatchUpReleasesDeleted(t *testing.T) {
	e := newEnv(t, 2, 0)
	kept, gone := randBytes(400, 2000), randBytes(401, 3000)
	keptSum, goneSum := sumOf(kept), sumOf(gone)
	for _, p := range e.peers {
		put(t, p.store, kept)
		put(t, p.store, gone)
	}
	e.refs.set(keptSum, 1)
	e.refs.set(goneSum, 0) // deleted after the walk listed it

	// As if the walk had listed both before the delete: the fetch of the
	// deleted one is undone, the other is kept.
	size, ok, err := e.svc.catchUpOne(bg, goneSum)
	if err != nil {
		t.Fatalf("fetching the deleted object's blob: %v", err)
	}
	if ok || e.local.Has(goneSum) {
		t.Fatalf("the blob of a deleted object was kept (kept %v, %d bytes)", ok, size)
	}
	size, ok, err = e.svc.catchUpOne(bg, keptSum)
	if err != nil || !ok || size != int64(len(kept)) || !e.local.Has(keptSum) {
		t.Fatalf("the blob of a live object: kept %v, %d bytes, %v", ok, size, err)
	}
}

// TestCatchUpSingleNode: with no peer a pass does nothing; before the
// node is ready, or once the service stopped, it refuses.
func TestCatchUpSingleNode(t *testing.T) {
	e := newEnv(t, 0, 0)
	if got, err := e.svc.CatchUp(bg); got != 0 || err != nil {
		t.Fatalf("single node: %d, %v", got, err)
	}
	e.cl.ready.Store(false)
	if _, err := e.svc.CatchUp(bg); err != ErrNotReady {
		t.Fatalf("before the node is ready: %v, want ErrNotReady", err)
	}
	e.cl.ready.Store(true)
	e.svc.Stop()
	if _, err := e.svc.CatchUp(bg); err != ErrStopped {
		t.Fatalf("after Stop: %v, want ErrStopped", err)
	}
}

// TestCatchUpAfterReserve: the loop runs a pass as soon as the node has
// left its reserve, after a fresh read, without waiting for its timer.
func TestCatchUpAfterReserve(t *testing.T) {
	e := newEnv(t, 1, 0)
	data := randBytes(500, 5000)
	ref := put(t, e.peers[0].store, data)
	e.refs.set(ref.ID, 1)
	e.disk.full.Store(true)
	e.svc.Start()
	// The first pass, catchUpFirstDelay after the start, finds the node at
	// its reserve and pauses.
	time.Sleep(catchUpFirstDelay + 200*time.Millisecond)
	if e.local.Has(ref.ID) {
		t.Fatal("fetched at the reserve")
	}
	e.disk.full.Store(false)
	e.svc.OnDiskChange(disk.Status{})
	deadline := time.Now().Add(catchUpFirstDelay / 2)
	for !e.local.Has(ref.ID) {
		if time.Now().After(deadline) {
			t.Fatal("no pass right after the node left its reserve")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if e.cl.freshReads.Load() == 0 {
		t.Fatal("the pass after the reserve did not wait for a fresh read first")
	}
}
