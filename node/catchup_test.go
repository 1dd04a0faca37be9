package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// logRecorder is a slog.Handler that keeps every record's message and
// attributes as one line of text.
type logRecorder struct {
	mu    *sync.Mutex
	lines *[]string
	attrs []slog.Attr
}

func newLogRecorder() *logRecorder { return &logRecorder{mu: new(sync.Mutex), lines: new([]string)} }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	*h.lines = append(*h.lines, b.String())
	h.mu.Unlock()
	return nil
}

func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

func (h *logRecorder) find(prefix string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, l := range *h.lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// patientRetries lets the SDK retry a 503 more often than its default 3
// attempts: on a loaded machine a leadership change fences the nodes for a
// moment.
func patientRetries(o *s3.Options) { o.RetryMaxAttempts = 10 }

// referencedBlobs lists every blob n's metadata references.
func referencedBlobs(t *testing.T, n *Node) [][32]byte {
	t.Helper()
	var all [][32]byte
	var after *[32]byte
	for {
		sums, more, err := n.meta.ReferencedBlobs(after, 3) // small pages: the paging is exercised too
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, sums...)
		if !more {
			return all
		}
		last := sums[len(sums)-1]
		after = &last
	}
}

// TestCatchUpBlobsAfterDowntime: a follower is down while objects (single
// PUTs, a completed multipart upload, a part of an upload in progress) are
// written; restarted, it fetches every blob it missed by itself, without
// serving any read, and logs one summary line.
func TestCatchUpBlobsAfterDowntime(t *testing.T) {
	nodes, cfgs := startClusterConfigs(t)
	leader := waitLeader(t, nodes)
	down := -1
	for i, n := range nodes {
		if n != leader {
			down = i
			break
		}
	}
	c := loginRetry(t, leader)
	var u userJSON
	if code := c.do("POST", "/api/admin/users", map[string]string{"username": "alice", "password": "alice123", "role": "Writer"}, &u); code != 201 {
		t.Fatalf("create: %d", code)
	}
	var cred credJSON
	if code := c.do("POST", "/api/admin/users/"+u.ID+"/credentials", nil, &cred); code != 201 {
		t.Fatalf("issue: %d", code)
	}
	lc := nodeS3Env(t, leader).sdk(cred.AccessKey, cred.SecretKey, patientRetries)
	mkBucket(t, lc, "catchup")
	caughtUp(t, leader, nodes...)
	nodes[down].Close()

	// Written while it is down.
	want := map[[32]byte]string{} // sum -> what it is
	for i, size := range []int{0, 1, 1000, 300 << 10} {
		body := randBytes(uint64(100+i), size)
		key := fmt.Sprintf("obj%d", i)
		if _, err := lc.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("catchup"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		want[sha256.Sum256(body)] = key
	}
	mp, err := lc.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("catchup"), Key: aws.String("multi")})
	if err != nil {
		t.Fatal(err)
	}
	var completed []types.CompletedPart
	for i, size := range []int{5 << 20, 100 << 10} {
		body := randBytes(uint64(200+i), size)
		out, err := lc.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("catchup"), Key: aws.String("multi"), UploadId: mp.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatalf("upload part %d: %v", i+1, err)
		}
		completed = append(completed, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
		want[sha256.Sum256(body)] = fmt.Sprintf("multi part %d", i+1)
	}
	if _, err := lc.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("catchup"), Key: aws.String("multi"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed}}); err != nil {
		t.Fatal(err)
	}
	pending, err := lc.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("catchup"), Key: aws.String("pending")})
	if err != nil {
		t.Fatal(err)
	}
	pbody := randBytes(300, 64<<10)
	if _, err := lc.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("catchup"), Key: aws.String("pending"), UploadId: pending.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(pbody)}); err != nil {
		t.Fatal(err)
	}
	want[sha256.Sum256(pbody)] = "part of an upload in progress"

	// The leader's metadata references exactly these blobs.
	refs := referencedBlobs(t, leader)
	if len(refs) != len(want) {
		t.Fatalf("the leader references %d blobs, want the %d written", len(refs), len(want))
	}
	for _, s := range refs {
		if _, ok := want[s]; !ok {
			t.Fatalf("the leader references blob %x, not written by the test", s[:8])
		}
	}

	rec := newLogRecorder()
	cfg := cfgs[down]
	cfg.Logger = slog.New(rec)
	back, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	// Catch-up starts only once the node is ready: now it still lacks
	// what was written while it was down.
	lacking := 0
	for s := range want {
		if !back.Blobs().Has(s) {
			lacking++
		}
	}
	if lacking == 0 {
		t.Fatal("the restarted node holds every blob already: the test would prove nothing")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := back.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}

	// No GET goes to it: the blobs arrive by themselves.
	ready := time.Now()
	deadline := ready.Add(60 * time.Second)
	for {
		var missing []string
		for s, what := range want {
			if !back.Blobs().Has(s) {
				missing = append(missing, what)
			}
		}
		if len(missing) == 0 {
			t.Logf("the restarted node lacked %d of %d blobs; it held them all %v after it was ready", lacking, len(want), time.Since(ready).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("60 s after the restart the node still lacks the blobs of %q; log: %q", missing, rec.find(""))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for s, what := range want {
		if err := back.Blobs().Verify(s); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// The pass that fetched them logged one summary line (it may still be
	// finishing when the last blob appears).
	deadline = time.Now().Add(10 * time.Second)
	for len(rec.find("fetched missing blobs from peers")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no summary line; log: %q", rec.find(""))
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := rec.find("fetched missing blobs from peers")
	if !strings.Contains(lines[0], "blobs=") || !strings.Contains(lines[0], "bytes=") || !strings.Contains(lines[0], "duration=") {
		t.Fatalf("summary line %q lacks a count, a size or a duration", lines[0])
	}
	if strings.Contains(strings.Join(rec.find(""), "\n"), cred.SecretKey) {
		t.Fatal("the log holds a secret key")
	}

	// Nothing is missing any more: a pass fetches nothing and succeeds.
	if n, err := back.CatchUpBlobs(bg); n != 0 || err != nil {
		t.Fatalf("CatchUpBlobs on a complete node: %d, %v", n, err)
	}
}

// TestCatchUpBlobsReleasesDeleted: a blob fetched for an object deleted
// meanwhile does not stay behind (the race with GC that catchup.go
// describes); a blob still referenced is kept.
func TestCatchUpBlobsReleasesDeleted(t *testing.T) {
	nodes := startCluster(t)
	leader := waitLeader(t, nodes)
	c := loginRetry(t, leader)
	var u userJSON
	if code := c.do("POST", "/api/admin/users", map[string]string{"username": "alice", "password": "alice123", "role": "Writer"}, &u); code != 201 {
		t.Fatalf("create: %d", code)
	}
	var cred credJSON
	if code := c.do("POST", "/api/admin/users/"+u.ID+"/credentials", nil, &cred); code != 201 {
		t.Fatalf("issue: %d", code)
	}
	lc := nodeS3Env(t, leader).sdk(cred.AccessKey, cred.SecretKey, patientRetries)
	mkBucket(t, lc, "release")
	kept, gone := randBytes(400, 2000), randBytes(401, 3000)
	for key, body := range map[string][]byte{"kept": kept, "gone": gone} {
		if _, err := lc.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("release"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	caughtUp(t, leader, nodes...)
	// The leader wrote both blobs and its pins ended with the PUTs; the
	// followers keep theirs pinned (cluster.BlobPinGrace), so they can
	// serve them after the delete.
	f := leader
	keptSum, goneSum := sha256.Sum256(kept), sha256.Sum256(gone)
	for _, s := range [][32]byte{keptSum, goneSum} {
		if _, err := f.Blobs().Remove(s, func() bool { return true }); err != nil {
			t.Fatal(err)
		}
		if f.Blobs().Has(s) {
			t.Fatal("a blob the test removed is still there")
		}
	}
	if _, err := lc.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("release"), Key: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, leader, nodes...)
	if f.meta.BlobRefs(goneSum) != 0 {
		t.Fatal("the deleted object's blob is still referenced")
	}

	// As if the walk had listed both before the delete: the fetch of the
	// deleted one is undone, the other is kept.
	size, ok, err := f.catchUpOne(bg, goneSum)
	if err != nil {
		t.Fatalf("fetching the deleted object's blob: %v", err)
	}
	if ok || f.Blobs().Has(goneSum) {
		t.Fatalf("the blob of a deleted object was kept (kept %v, %d bytes)", ok, size)
	}
	size, ok, err = f.catchUpOne(bg, keptSum)
	if err != nil || !ok || size != int64(len(kept)) || !f.Blobs().Has(keptSum) {
		t.Fatalf("the blob of a live object: kept %v, %d bytes, %v", ok, size, err)
	}
}

// TestCatchUpBlobsSingleNode: with no peer a pass does nothing; before the
// node is ready, or after Close, it refuses.
func TestCatchUpBlobsSingleNode(t *testing.T) {
	n := mustOpen(t, testConfig(t.TempDir()))
	if got, err := n.CatchUpBlobs(bg); got != 0 || err != nil {
		t.Fatalf("single node: %d, %v", got, err)
	}
	n.Close()
	if _, err := n.CatchUpBlobs(bg); err == nil {
		t.Fatal("a closed node ran a pass")
	}
}
