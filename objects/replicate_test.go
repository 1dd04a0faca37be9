package objects

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/s4/s4/disk"
)

// TestReplicateMajority: a PUT's blob is acknowledged once a majority of
// the voters (this node counted) hold it; a peer that is down or full
// costs nothing while the others make the majority; without one the error
// is "no room" (disk.ErrFull) only if every failed copy failed for space.
func TestReplicateMajority(t *testing.T) {
	data := randBytes(1, 100<<10)

	e := newEnv(t, 2, 1) // three voters and a non-voter
	ref := put(t, e.local, data)
	e.peers[1].down = true
	if err := e.svc.Replicate(bg, ref); err != nil {
		t.Fatalf("one of two peers down: %v", err)
	}
	if !e.peers[0].store.Has(ref.ID) {
		t.Fatal("acknowledged without the blob on the peer that is up")
	}
	if e.peers[2].store.Has(ref.ID) {
		t.Fatal("the blob was copied to a non-voter")
	}

	e = newEnv(t, 2, 0)
	ref = put(t, e.local, data)
	e.peers[0].full, e.peers[1].full = true, true
	err := e.svc.Replicate(bg, ref)
	wantErr(t, "both peers full", err, disk.ErrFull, true)
	e.peers[1].full, e.peers[1].down = false, true
	err = e.svc.Replicate(bg, ref)
	if err == nil || disk.IsNoSpace(err) {
		t.Fatalf("one peer full, one down: %v, want an error that is not no space", err)
	}

	e = newEnv(t, 0, 1) // a single voter: its own copy is the majority
	ref = put(t, e.local, data)
	if err := e.svc.Replicate(bg, ref); err != nil || e.peers[0].puts != 0 {
		t.Fatalf("single voter: %v, %d copies", err, e.peers[0].puts)
	}

	e = newEnv(t, 2, 0)
	ref = put(t, e.local, data)
	e.svc.Stop()
	e.peers[0].down, e.peers[1].down = true, true
	if err := e.svc.Replicate(bg, ref); err == nil {
		t.Fatal("replicated with every peer down, after Stop")
	}
}

// TestReplicateFailedWrapsFullOnlyIfAll: a replication that missed its
// majority is "no room" (disk.ErrFull, 507) only if every failed copy
// failed for space.
func TestReplicateFailedWrapsFullOnlyIfAll(t *testing.T) {
	var sum [32]byte
	full := fmt.Errorf("peer: %w", disk.ErrFull)
	if err := replicateFailed(sum, 1, 2, []error{full, full}); !errors.Is(err, disk.ErrFull) {
		t.Fatalf("all full: %v", err)
	}
	if err := replicateFailed(sum, 1, 2, []error{full, errors.New("connection refused")}); disk.IsNoSpace(err) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("one full, one down: %v", err)
	}
}
