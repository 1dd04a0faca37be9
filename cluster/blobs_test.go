package cluster

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
)

// blobServer starts a Server with a real blob store behind a loopback
// listener and returns its address and the store.
func blobServer(t *testing.T) (string, *blob.Store) {
	t.Helper()
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &fakeCluster{names: map[string]bool{}, nodes: map[string]*fakeNode{}}
	ln := mustListen(t)
	n := &fakeNode{c: c, id: "n1", addr: ln.Addr().String(), view: "n1", advance: make(chan struct{})}
	c.nodes[n.id] = n
	n.srv = NewServer(ln, n, nil, WithBlobStore(bs, nil))
	t.Cleanup(func() { n.srv.Close() })
	return n.addr, bs
}

func refOf(data []byte) blob.Ref {
	return blob.Ref{ID: sha256.Sum256(data), Size: int64(len(data)), CRC32C: crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))}
}

// TestPutBlobChecksCRC: a PUT copy lands under the sender's SHA-256 when its
// bytes match the sender's size and CRC32C, for small blobs (sent at once)
// and large ones (sent after 100 Continue); a copy whose bytes do not match
// is refused with an error and not stored; GetBlob reads a stored blob back.
func TestPutBlobChecksCRC(t *testing.T) {
	addr, bs := blobServer(t)
	client, _ := tcpClient(t)
	ctx := testCtx(t, 10*time.Second)

	for _, size := range []int{0, 1, 4 << 10, expectContinueMin, 1 << 20} {
		data := bytes.Repeat([]byte{byte(size), 'x', 7}, size/3+1)[:size]
		ref := refOf(data)
		if err := client.PutBlob(ctx, addr, ref, bytes.NewReader(data)); err != nil {
			t.Fatalf("%d bytes: PutBlob: %v", size, err)
		}
		rc, got0, err := client.GetBlob(ctx, addr, ref.ID)
		if err != nil {
			t.Fatalf("%d bytes: GetBlob: %v", size, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || got0 != ref || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d bytes (%+v, %v), differ", size, len(got), got0, err)
		}
		// A second copy is answered without error (the node has it).
		if err := client.PutBlob(ctx, addr, ref, bytes.NewReader(data)); err != nil {
			t.Fatalf("%d bytes: second PutBlob: %v", size, err)
		}
	}

	data := bytes.Repeat([]byte("corrupted on the way "), 5000)
	ref := refOf(data)
	for name, c := range map[string]struct {
		ref  blob.Ref
		body []byte
	}{
		"wrong CRC": {blob.Ref{ID: ref.ID, Size: ref.Size, CRC32C: ref.CRC32C ^ 1}, data},
		// The bytes are one short of the blob the sender means (its CRC).
		"truncated": {blob.Ref{ID: ref.ID, Size: ref.Size - 1, CRC32C: ref.CRC32C}, data[:len(data)-1]},
	} {
		err := client.PutBlob(ctx, addr, c.ref, bytes.NewReader(c.body))
		if err == nil || !strings.Contains(err.Error(), "400") && !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("%s: PutBlob = %v, want the server's refusal", name, err)
		}
		if bs.Has(ref.ID) {
			t.Fatalf("%s: the refused copy was stored", name)
		}
	}
	if _, _, err := client.GetBlob(ctx, addr, ref.ID); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("GetBlob of a refused blob: %v, want ErrNotFound", err)
	}
}

// TestPutBlobRefusesBadRequests: a malformed or missing CRC header gets 400
// and stores nothing.
func TestPutBlobRefusesBadRequests(t *testing.T) {
	addr, bs := blobServer(t)
	client, _ := tcpClient(t)
	data := []byte("some blob")
	ref := refOf(data)
	put := func(body []byte, crc ...string) *http.Response {
		req, err := http.NewRequest(http.MethodPut, "http://"+addr+pathBlobs+ref.Hex(), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range crc {
			req.Header.Add(headerCRC32C, v)
		}
		res, err := client.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	good := fmt.Sprintf("%08x", ref.CRC32C)
	cases := []struct {
		name string
		body []byte
		crc  []string
	}{
		{"upper-case CRC", data, []string{strings.ToUpper(good)}},
		{"short CRC", data, []string{good[:7]}},
		{"not hex", data, []string{"zzzzzzzz"}},
		{"two CRC headers", data, []string{good, good}},
		{"no CRC", data, nil},
	}
	for _, c := range cases {
		if res := put(c.body, c.crc...); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", c.name, res.StatusCode)
		}
		if bs.Has(ref.ID) {
			t.Fatalf("%s: stored", c.name)
		}
	}
	// The same request with a good header is taken.
	if res := put(data, good); res.StatusCode != http.StatusNoContent || !bs.Has(ref.ID) {
		t.Fatalf("good CRC: HTTP %d, stored %v", res.StatusCode, bs.Has(ref.ID))
	}
}

// guardedStore is a blob store whose node says whether it has room.
type guardedStore struct {
	*blob.Store
	full    atomic.Bool
	checked atomic.Int64 // the size of the last Check
}

func (g *guardedStore) Check(size int64) error {
	g.checked.Store(size)
	if g.full.Load() {
		return fmt.Errorf("node at its reserve: %w", disk.ErrFull)
	}
	return nil
}

func (g *guardedStore) NoSpace() {}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestPutBlobRefusedWithoutRoom: a node whose store says it has no room
// answers a copy with 507, which PutBlob reports as disk.ErrFull, stores
// nothing, and does not take the body of a large blob (Expect:
// 100-continue); a blob it holds already is still answered 204; with room
// again the copy is stored.
func TestPutBlobRefusedWithoutRoom(t *testing.T) {
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g := &guardedStore{Store: bs}
	c := &fakeCluster{names: map[string]bool{}, nodes: map[string]*fakeNode{}}
	ln := mustListen(t)
	n := &fakeNode{c: c, id: "n1", addr: ln.Addr().String(), view: "n1", advance: make(chan struct{})}
	c.nodes[n.id] = n
	n.srv = NewServer(ln, n, nil, WithBlobStore(g, g))
	t.Cleanup(func() { n.srv.Close() })
	client, _ := tcpClient(t)
	ctx := testCtx(t, 10*time.Second)

	held := []byte("a blob the node holds")
	heldRef, err := bs.Put(bytes.NewReader(held), -1)
	if err != nil {
		t.Fatal(err)
	}
	g.full.Store(true)
	for _, size := range []int{10, 4 << 20} {
		data := bytes.Repeat([]byte{'r'}, size)
		ref := refOf(data)
		body := &countingReader{r: bytes.NewReader(data)}
		err := client.PutBlob(ctx, n.addr, ref, body)
		if !errors.Is(err, disk.ErrFull) || !strings.Contains(err.Error(), "507") || !strings.Contains(err.Error(), "reserve") {
			t.Fatalf("%d bytes: PutBlob = %v, want a 507 wrapping disk.ErrFull", size, err)
		}
		if got := g.checked.Load(); got != int64(size) {
			t.Fatalf("%d bytes: checked for %d bytes", size, got)
		}
		if bs.Has(ref.ID) {
			t.Fatalf("%d bytes: stored without room", size)
		}
		if size > expectContinueMin && body.n.Load() == int64(size) {
			t.Fatalf("%d bytes: the whole body was sent to a node without room", size)
		}
	}
	if err := client.PutBlob(ctx, n.addr, heldRef, bytes.NewReader(held)); err != nil {
		t.Fatalf("a held blob on a node without room: %v", err)
	}
	g.full.Store(false)
	data := []byte("room again")
	if err := client.PutBlob(ctx, n.addr, refOf(data), bytes.NewReader(data)); err != nil || !bs.Has(refOf(data).ID) {
		t.Fatalf("with room: %v, stored %v", err, bs.Has(refOf(data).ID))
	}
}

// TestGetBlobFromFormat2Node: a node of the previous release answers a
// blob without X-S4-Crc32c; GetBlob reports that (NoCRC) instead of
// failing, so the caller checks the blob by its SHA-256 name. A malformed
// CRC header is an error.
func TestGetBlobFromFormat2Node(t *testing.T) {
	data := []byte("a blob of format 2")
	crcHeader := ""
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if crcHeader != "" {
			w.Header().Set(headerCRC32C, crcHeader)
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data)
	})}
	ln := mustListen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	client, _ := tcpClient(t)
	ctx := testCtx(t, 10*time.Second)
	id := sha256.Sum256(data)
	rc, ref, err := client.GetBlob(ctx, ln.Addr().String(), id)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !ref.NoCRC || ref.ID != id || ref.Size != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("ref %+v, %d bytes", ref, len(got))
	}
	crcHeader = "XYZ"
	if _, _, err := client.GetBlob(ctx, ln.Addr().String(), id); err == nil {
		t.Fatal("a malformed CRC header was accepted")
	}
}
