package objects

import (
	"context"
	"errors"
	"hash/crc32"
	"sync"
	"testing"

	"github.com/s4/s4/blob"
)

// inlineStore is the metadata store's side of inline repairs.
type inlineStore struct {
	mu       sync.Mutex
	want     map[string]uint32 // the CRC32C each record names
	repaired map[string][]byte
}

func (s *inlineStore) ScrubInline(context.Context, func(int64) error, func(string, string, string, int64, uint32, error)) error {
	return nil
}

func (s *inlineStore) RepairInline(bucket, key string, data []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) != s.want[bucket+"/"+key] {
		return false, nil
	}
	s.repaired[bucket+"/"+key] = data
	return true, nil
}

// TestRepairInline: a corrupt inline body is read from the first peer that
// holds that version (a peer that is down, or holds another version, is
// skipped) and written over the local copy; with no peer holding it the
// error wraps blob.ErrNotFound and nothing is written.
func TestRepairInline(t *testing.T) {
	e := newEnv(t, 3, 0)
	good, other := []byte("the inline body"), []byte("another version")
	crc := crc32.Checksum(good, crc32.MakeTable(crc32.Castagnoli))
	e.peers[0].down = true
	e.peers[1].inline = map[string][]byte{"b/k": other}
	e.peers[2].inline = map[string][]byte{"b/k": good}
	st := &inlineStore{want: map[string]uint32{"b/k": crc}, repaired: map[string][]byte{}}
	svc := New(Config{Peers: e.cl, Ready: e.cl, Fresh: e.cl, Refs: e.refs, Blobs: e.local, Transfer: e.tr, Inline: st})

	got, err := svc.RepairInline(context.Background(), "b", "k", int64(len(good)), crc)
	if err != nil || string(got) != string(good) {
		t.Fatalf("RepairInline = %q, %v", got, err)
	}
	if string(st.repaired["b/k"]) != string(good) {
		t.Fatalf("local copy after the repair: %q", st.repaired["b/k"])
	}

	// No peer holds k2: while p1 is down that is not known (the caller
	// may retry), then it is blob.ErrNotFound.
	_, err = svc.RepairInline(context.Background(), "b", "k2", 3, 7)
	if err == nil || errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("with a peer down: %v", err)
	}
	e.tr.mu.Lock()
	e.peers[0].down = false
	e.tr.mu.Unlock()
	_, err = svc.RepairInline(context.Background(), "b", "k2", 3, 7)
	wantErr(t, "no peer holds it", err, blob.ErrNotFound, true)
	if _, ok := st.repaired["b/k2"]; ok {
		t.Fatal("wrote a body no peer had")
	}
}
