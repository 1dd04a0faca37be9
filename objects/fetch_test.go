package objects

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
)

// TestFetch: a missing blob comes from the first peer that holds it and
// sends it intact (voters first, then the others), and stays; a peer that
// lacks it or sends other bytes is skipped. When no peer has it the error
// is blob.ErrNotFound; at the reserve nothing is fetched (disk.ErrFull).
func TestFetch(t *testing.T) {
	data := randBytes(2, 70<<10)
	sum := sumOf(data)
	e := newEnv(t, 2, 1)
	put(t, e.peers[1].store, data)
	e.peers[1].corrupt = true
	put(t, e.peers[2].store, data)
	if err := e.svc.Fetch(bg, sum); err != nil {
		t.Fatal(err)
	}
	if err := e.local.Verify(sum); err != nil {
		t.Fatalf("the fetched blob: %v", err)
	}

	missing := sumOf([]byte("nobody has this"))
	wantErr(t, "a blob no peer has", e.svc.Fetch(bg, missing), blob.ErrNotFound, true)
	e.peers[0].down = true
	wantErr(t, "a blob no peer that answers has", e.svc.Fetch(bg, missing), blob.ErrNotFound, false)

	other := randBytes(3, 1000)
	put(t, e.peers[2].store, other)
	e.disk.full.Store(true)
	wantErr(t, "at the reserve", e.svc.Fetch(bg, sumOf(other)), disk.ErrFull, true)
	if e.local.Has(sumOf(other)) {
		t.Fatal("a node at its reserve kept a fetched blob")
	}
}

// TestStream: at the reserve a blob is read from a peer without being
// kept, and checked as it passes.
func TestStream(t *testing.T) {
	data := randBytes(4, 300<<10)
	sum := sumOf(data)
	e := newEnv(t, 2, 0)
	e.peers[0].down = true
	put(t, e.peers[1].store, data)
	e.disk.full.Store(true)
	rc, size, err := e.svc.Stream(bg, sum)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || size != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("streamed %d of %d bytes, %v", len(got), size, err)
	}
	if e.local.Has(sum) {
		t.Fatal("a streamed blob was kept")
	}
	e.peers[1].corrupt = true
	rc, _, err = e.svc.Stream(bg, sum)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	wantErr(t, "a corrupt stream", err, blob.ErrCorrupt, true)
	_, _, err = e.svc.Stream(bg, sumOf([]byte("nobody has this")))
	wantErr(t, "a blob no peer has", err, blob.ErrNotFound, true)
}

// TestCheckedStream: a blob streamed from a peer is passed on when its
// CRC32C is the one the peer gave, and fails instead of delivering its end
// when it is not or when it ends early.
func TestCheckedStream(t *testing.T) {
	data := randBytes(30, 100<<10)
	sum := sha256.Sum256(data)
	crc := crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
	stream := func(body []byte, size int64) *checkedStream {
		return &checkedStream{rc: io.NopCloser(bytes.NewReader(body)), stop: func(error) {}, sum: sum, size: size, crcWant: crc}
	}
	if got, err := io.ReadAll(stream(data, int64(len(data)))); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("good stream: %d bytes, %v", len(got), err)
	}
	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 1
	if _, err := io.ReadAll(stream(bad, int64(len(bad)))); !errors.Is(err, blob.ErrCorrupt) {
		t.Fatalf("corrupt stream: %v, want blob.ErrCorrupt", err)
	}
	if _, err := io.ReadAll(stream(data[:1000], int64(len(data)))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short stream: %v, want io.ErrUnexpectedEOF", err)
	}
	// A reader closed before the end (a range) checks nothing.
	s := stream(bad, int64(len(bad)))
	if _, err := io.ReadFull(s, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestFetchFromFormat2Peer: a peer of the previous release sends no
// CRC32C; a blob it holds under the SHA-256 of its content (every blob of
// that release) is fetched and checked by that hash, whole or streamed,
// and one whose content does not hash to its name is refused.
func TestFetchFromFormat2Peer(t *testing.T) {
	e := newEnv(t, 1, 0)
	e.peers[0].old = true
	data := randBytes(4, 300<<10)
	put(t, e.peers[0].store, data) // named by its SHA-256, as format 2 named it
	if err := e.svc.Fetch(bg, sumOf(data)); err != nil {
		t.Fatalf("fetching a format-2 blob: %v", err)
	}
	if got := readAll(t, e.local, sumOf(data)); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	rc, _, err := e.svc.Stream(bg, sumOf(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("streamed: %d bytes, %v", len(got), err)
	}

	// A blob named by a random ID (made by an upgraded node) cannot be
	// checked by its name: refused, not stored.
	ref, err := e.peers[0].store.Put(bytes.NewReader(randBytes(5, 1000)), -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Fetch(bg, ref.ID); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("fetching a random-ID blob from a format-2 peer: %v, want a refusal as corrupt", err)
	}
	if e.local.Has(ref.ID) {
		t.Fatal("stored a copy that was not checked")
	}
	rc, _, err = e.svc.Stream(bg, ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	wantErr(t, "a streamed random-ID blob from a format-2 peer", err, blob.ErrCorrupt, true)
}
