package cluster

import (
	"context"
	"errors"
	"hash/crc32"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s4/s4/blob"
)

// inlineSource holds inline bodies by "bucket/key"; lie answers other
// bytes than the version asked for, bad says its copy fails its checksum.
type inlineSource struct {
	bodies map[string][]byte
	lie    atomic.Bool
	bad    atomic.Bool
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

func (s *inlineSource) InlineBody(bucket, key string, size int64, crc uint32) ([]byte, bool, error) {
	b, ok := s.bodies[bucket+"/"+key]
	if !ok || !s.lie.Load() && (int64(len(b)) != size || crcOf(b) != crc) {
		return nil, false, nil
	}
	if s.bad.Load() {
		return nil, true, errors.New("inline object data fails its CRC32C")
	}
	return b, true, nil
}

// TestGetInline: a peer sends an inline body only in the version asked
// for (size and CRC32C): 404 (blob.ErrNotFound) for another or none, an
// error (not ErrNotFound) when its own copy fails its checksum; the
// client refuses bytes that do not match what it asked for; a request
// without a valid size or CRC32C is 400.
func TestGetInline(t *testing.T) {
	src := &inlineSource{bodies: map[string][]byte{"b/k": []byte("hello"), "b/e": {}, "b/odd key?&=": []byte("x")}}
	ln := mustListen(t)
	c := &fakeCluster{names: map[string]bool{}, nodes: map[string]*fakeNode{}}
	n := &fakeNode{c: c, id: "n1", addr: ln.Addr().String(), view: "n1", advance: make(chan struct{})}
	c.nodes[n.id] = n
	n.srv = NewServer(ln, n, nil, WithInlineSource(src))
	t.Cleanup(func() { n.srv.Close() })
	client, _ := tcpClient(t)
	ctx := testCtx(t, 10*time.Second)

	for _, key := range []string{"k", "e", "odd key?&="} {
		want := src.bodies["b/"+key]
		got, err := client.GetInline(ctx, n.addr, "b", key, int64(len(want)), crcOf(want))
		if err != nil || string(got) != string(want) {
			t.Fatalf("%q: GetInline = %q, %v", key, got, err)
		}
	}
	if _, err := client.GetInline(ctx, n.addr, "b", "k", 5, crcOf([]byte("other"))); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("another version: %v", err)
	}
	if _, err := client.GetInline(ctx, n.addr, "b", "missing", 1, 0); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	src.bad.Store(true)
	if _, err := client.GetInline(ctx, n.addr, "b", "k", 5, crcOf([]byte("hello"))); err == nil || errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a corrupt copy on the peer: %v", err)
	}
	src.bad.Store(false)
	src.lie.Store(true)
	if got, err := client.GetInline(ctx, n.addr, "b", "k", 5, crcOf([]byte("other"))); !errors.Is(err, blob.ErrCorrupt) {
		t.Fatalf("bytes of another version = %q, %v", got, err)
	}

	for _, q := range []string{"", "bucket=b&key=k&size=5", "bucket=b&key=k&size=-1&crc32c=00000000", "bucket=b&key=k&size=5&crc32c=XYZ", "bucket=b&key=k&size=999999999&crc32c=00000000", "key=k&size=5&crc32c=00000000"} {
		res, err := http.Get((&url.URL{Scheme: "http", Host: n.addr, Path: pathInline, RawQuery: q}).String())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("%q: HTTP %d, want 400", q, res.StatusCode)
		}
	}
}

// FuzzInlineQuery feeds arbitrary query strings to GET /v1/inline: never a
// panic; the source is asked only with a non-empty bucket and key, a size
// of 0 to 256 KiB and a well-formed CRC32C, anything else is 400; what is
// sent is exactly the body the source vouched for.
func FuzzInlineQuery(f *testing.F) {
	for _, q := range []string{"bucket=b&key=k&size=5&crc32c=3610a686", "bucket=b&key=k&size=5", "size=-1", "bucket=%zz", "bucket=b&key=k&size=99999999999999999999&crc32c=00000000", "bucket=b&bucket=c&key=k&size=0&crc32c=00000000&crc32c=00000001", ""} {
		f.Add(q)
	}
	src := &inlineSource{bodies: map[string][]byte{"b/k": []byte("hello")}}
	node := &fakeNode{c: &fakeCluster{names: map[string]bool{}, nodes: map[string]*fakeNode{}}, id: "n1", view: "n1", advance: make(chan struct{})}
	node.c.nodes["n1"] = node
	s := &Server{local: node, log: slog.New(slog.DiscardHandler), inline: src}
	s.base, s.cancel = context.WithCancel(context.Background())
	defer s.cancel()
	h := s.handler()
	f.Fuzz(func(t *testing.T, q string) {
		req := httptest.NewRequestWithContext(context.Background(), "GET", "/v1/inline", nil)
		req.URL.RawQuery = q
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			if rec.Body.String() != "hello" {
				t.Fatalf("%q: sent %q", q, rec.Body)
			}
		case http.StatusBadRequest, http.StatusNotFound:
		default:
			t.Fatalf("%q: status %d", q, rec.Code)
		}
	})
}
