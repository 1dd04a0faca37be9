package objects

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
)

// The service's dependencies, as small fakes: peers that are blob stores
// of their own, reached through a fake transfer; reference counts in a
// map; a disk that is at its reserve when the test says so.

var bg = context.Background()

func newStore(t *testing.T) *blob.Store {
	t.Helper()
	s, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// put stores data in s under the ID sumOf(data): the same bytes put in
// several stores are one blob held by several nodes, as a PUT's copies are.
func put(t *testing.T, s *blob.Store, data []byte) blob.Ref {
	t.Helper()
	w, err := s.CreateCopyOf(blob.Ref{ID: sumOf(data), Size: int64(len(data)), CRC32C: crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	ref, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// peer is another node, as the fake transfer reaches it.
type peer struct {
	store   *blob.Store
	down    bool              // every call fails as a connection refused
	full    bool              // copies are refused for space
	corrupt bool              // GetBlob sends other bytes than the blob's
	old     bool              // GetBlob answers as a node of format 2: no CRC32C
	puts    int64             // copies received
	inline  map[string][]byte // inline bodies by "bucket/key"
}

// transfer is the cluster RPC client between the fake nodes.
type transfer struct {
	mu    sync.Mutex
	peers map[string]*peer
}

func (tr *transfer) peer(addr string) (*peer, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	p := tr.peers[addr]
	if p == nil || p.down {
		return nil, fmt.Errorf("fake: dial %s: connection refused", addr)
	}
	return p, nil
}

func (tr *transfer) PutBlob(_ context.Context, addr string, ref blob.Ref, r io.Reader) error {
	p, err := tr.peer(addr)
	if err != nil {
		return err
	}
	if p.full {
		return fmt.Errorf("fake: %s has no room: %w", addr, disk.ErrFull)
	}
	w, err := p.store.CreateCopyOf(ref)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := io.Copy(w, io.LimitReader(r, ref.Size)); err != nil {
		return err
	}
	if _, err := w.Commit(); err != nil {
		return err
	}
	tr.mu.Lock()
	p.puts++
	tr.mu.Unlock()
	return nil
}

func (tr *transfer) GetBlob(_ context.Context, addr string, sum [32]byte) (io.ReadCloser, blob.Ref, error) {
	p, err := tr.peer(addr)
	if err != nil {
		return nil, blob.Ref{}, err
	}
	f, size, err := p.store.Open(sum)
	if err != nil {
		return nil, blob.Ref{}, err
	}
	ref := blob.Ref{ID: sum, Size: size, CRC32C: f.CRC32C()}
	if p.old {
		ref.CRC32C, ref.NoCRC = 0, true
	}
	if p.corrupt { // a byte flipped on the way, after the peer's checks
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			return nil, blob.Ref{}, err
		}
		b[len(b)-1] ^= 1
		return io.NopCloser(bytes.NewReader(b)), ref, nil
	}
	return f, ref, nil
}

func (tr *transfer) GetInline(_ context.Context, addr, bucket, key string, size int64, crc uint32) ([]byte, error) {
	p, err := tr.peer(addr)
	if err != nil {
		return nil, err
	}
	tr.mu.Lock()
	b, ok := p.inline[bucket+"/"+key]
	tr.mu.Unlock()
	if !ok || int64(len(b)) != size || crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) != crc {
		return nil, fmt.Errorf("fake: %s has no such inline body: %w", addr, blob.ErrNotFound)
	}
	return append([]byte(nil), b...), nil
}

// refs are the metadata store's reference counts and garbage list.
type refs struct {
	mu      sync.Mutex
	counts  map[[32]byte]uint64
	garbage map[[32]byte]bool
}

func newRefs() *refs {
	return &refs{counts: map[[32]byte]uint64{}, garbage: map[[32]byte]bool{}}
}

func (r *refs) set(sum [32]byte, n uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[sum] = n
	if n == 0 {
		delete(r.counts, sum)
		r.garbage[sum] = true
	}
}

func (r *refs) BlobRefs(sum [32]byte) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[sum]
}

func (r *refs) Garbage(max int) [][32]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][32]byte
	for sum := range r.garbage {
		out = append(out, sum)
	}
	slices.SortFunc(out, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	return out[:min(max, len(out))]
}

func (r *refs) ForgetGarbage(sum [32]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts[sum] == 0 {
		delete(r.garbage, sum)
	}
}

func (r *refs) onList(sum [32]byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.garbage[sum]
}

func (r *refs) ReferencedBlobs(after *[32]byte, limit int) ([][32]byte, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all [][32]byte
	for sum := range r.counts {
		if after == nil || bytes.Compare(sum[:], after[:]) > 0 {
			all = append(all, sum)
		}
	}
	slices.SortFunc(all, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	if len(all) > limit {
		return all[:limit], true, nil
	}
	return all, false, nil
}

// fakeDisk is at its reserve while full is set.
type fakeDisk struct {
	full      atomic.Bool
	refreshes atomic.Int64
}

func (d *fakeDisk) Check(int64) error {
	if d.full.Load() {
		return fmt.Errorf("fake: at the reserve: %w", disk.ErrFull)
	}
	return nil
}

func (d *fakeDisk) AtReserve() bool { return d.full.Load() }

func (d *fakeDisk) Refresh() disk.Status {
	d.refreshes.Add(1)
	return disk.Status{AtReserve: d.full.Load()}
}

// fakeCluster is the configuration and readiness the service sees.
type fakeCluster struct {
	voters, others []string
	selfVotes      bool
	ready          atomic.Bool
	freshReads     atomic.Int64
}

func (c *fakeCluster) Peers() ([]string, []string, bool, error) {
	return c.voters, c.others, c.selfVotes, nil
}

func (c *fakeCluster) Ready() bool { return c.ready.Load() }

func (c *fakeCluster) WaitReady(ctx context.Context) error {
	if c.ready.Load() {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (c *fakeCluster) FreshRead() error {
	c.freshReads.Add(1)
	return nil
}

// env is one service with its fakes: this node, and peers p1..pN.
type env struct {
	svc   *Service
	local *blob.Store
	refs  *refs
	disk  *fakeDisk
	tr    *transfer
	cl    *fakeCluster
	peers []*peer
}

// newEnv returns a service on a voter of a cluster with voters peers
// voting and others not voting; it is ready and stops with the test.
func newEnv(t *testing.T, voters, others int) *env {
	t.Helper()
	e := &env{local: newStore(t), refs: newRefs(), disk: &fakeDisk{}, tr: &transfer{peers: map[string]*peer{}},
		cl: &fakeCluster{selfVotes: true}}
	for i := range voters + others {
		addr := fmt.Sprintf("p%d", i+1)
		p := &peer{store: newStore(t)}
		e.tr.peers[addr] = p
		e.peers = append(e.peers, p)
		if i < voters {
			e.cl.voters = append(e.cl.voters, addr)
		} else {
			e.cl.others = append(e.cl.others, addr)
		}
	}
	e.cl.ready.Store(true)
	e.svc = New(Config{Peers: e.cl, Ready: e.cl, Fresh: e.cl, Refs: e.refs, Blobs: e.local, Transfer: e.tr, Disk: e.disk})
	t.Cleanup(func() {
		e.svc.Stop()
		e.svc.Wait()
	})
	return e
}

// sumOf is the ID put gives data.
func sumOf(data []byte) [32]byte { return sha256.Sum256(data) }

// wantErr fails unless errors.Is(err, target) is want.
func wantErr(t *testing.T, what string, err, target error, want bool) {
	t.Helper()
	if errors.Is(err, target) != want {
		t.Fatalf("%s: %v; errors.Is(%v) should be %v", what, err, target, want)
	}
}

// readAll reads the blob id from s, verified.
func readAll(t *testing.T, s *blob.Store, id [32]byte) []byte {
	t.Helper()
	f, _, err := s.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
