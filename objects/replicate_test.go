package objects

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s4/s4/blob"
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

// countingBlobs is the local blob store, counting Opens.
type countingBlobs struct {
	*blob.Store
	opens atomic.Int64
}

func (c *countingBlobs) Open(sum [32]byte) (*blob.Reader, int64, error) {
	c.opens.Add(1)
	return c.Store.Open(sum)
}

// TestReplicateReadsOnce: a blob of up to sharedMax bytes is read from the
// local disk once for both peers and a larger one once per peer; every
// peer ends with the blob's bytes, the shared buffers are all given back,
// with the budget used up the copies are streamed, and a local copy that
// fails its CRC32C reaches no peer.
func TestReplicateReadsOnce(t *testing.T) {
	newCounted := func(t *testing.T) (*env, *countingBlobs) {
		e := newEnv(t, 2, 0)
		c := &countingBlobs{Store: e.local}
		e.svc = New(Config{Peers: e.cl, Ready: e.cl, Fresh: e.cl, Refs: e.refs, Blobs: c, Transfer: e.tr, Disk: e.disk})
		return e, c
	}
	replicated := func(t *testing.T, e *env, ref blob.Ref, data []byte) {
		t.Helper()
		if err := e.svc.Replicate(bg, ref); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 10*time.Second, "both copies and the buffers back", func() bool {
			return e.peers[0].store.Has(ref.ID) && e.peers[1].store.Has(ref.ID) && sharedHeld.Load() == 0
		})
		for i, p := range e.peers {
			if got := readAll(t, p.store, ref.ID); !bytes.Equal(got, data) {
				t.Fatalf("peer %d holds %d other bytes", i, len(got))
			}
		}
	}
	for _, tc := range []struct {
		size  int
		opens int64
	}{{100 << 10, 1}, {3*blob.BlockSize + 1, 1}, {sharedMax, 1}, {sharedMax + 1, 2}} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			e, c := newCounted(t)
			data := randBytes(uint64(tc.size), tc.size)
			ref := put(t, e.local, data)
			replicated(t, e, ref, data)
			if n := c.opens.Load(); n != tc.opens {
				t.Fatalf("the blob was opened %d times, want %d", n, tc.opens)
			}
		})
	}
	t.Run("budget", func(t *testing.T) {
		e, c := newCounted(t)
		data := randBytes(7, 1<<20)
		ref := put(t, e.local, data)
		sharedHeld.Add(sharedBudget) // every byte of it held elsewhere
		defer sharedHeld.Add(-sharedBudget)
		if err := e.svc.Replicate(bg, ref); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 10*time.Second, "both copies", func() bool {
			return e.peers[0].store.Has(ref.ID) && e.peers[1].store.Has(ref.ID)
		})
		if n := c.opens.Load(); n != 2 {
			t.Fatalf("the blob was opened %d times with the budget used up, want 2 (streamed)", n)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		e, _ := newCounted(t)
		data := randBytes(8, 2*blob.BlockSize)
		ref := put(t, e.local, data)
		corruptBlob(t, e.local, ref.ID, blob.BlockSize+5)
		if err := e.svc.Replicate(bg, ref); !errors.Is(err, blob.ErrCorrupt) {
			t.Fatalf("a corrupt local copy: %v, want blob.ErrCorrupt", err)
		}
		if e.peers[0].store.Has(ref.ID) || e.peers[1].store.Has(ref.ID) || e.peers[0].puts+e.peers[1].puts != 0 {
			t.Fatal("a corrupt local copy reached a peer")
		}
		if n := sharedHeld.Load(); n != 0 {
			t.Fatalf("%d bytes still held after a failed read", n)
		}
	})
}
