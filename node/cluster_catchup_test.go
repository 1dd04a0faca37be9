package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

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
	down := followerIndex(t, nodes, leader)
	c := loginRetry(t, leader)
	u := addUser(t, c, "alice", "alice123", "Writer")
	cred := addKey(t, c, u.ID)
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
		if int64(size) > cfgs[down].InlineThreshold { // smaller ones are inline: no blob
			want[blobOf(t, leader, "catchup", key)] = key
		}
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
		want[partBlob(t, leader, *mp.UploadId, i+1)] = fmt.Sprintf("multi part %d", i+1)
	}
	if _, err := lc.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("catchup"), Key: aws.String("multi"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed}}); err != nil {
		t.Fatal(err)
	}
	pending, err := lc.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("catchup"), Key: aws.String("pending")})
	if err != nil {
		t.Fatal(err)
	}
	pbody := randBytes(300, int(cfgs[down].InlineThreshold)+1) // a blob part, just above the inline threshold
	if _, err := lc.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("catchup"), Key: aws.String("pending"), UploadId: pending.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(pbody)}); err != nil {
		t.Fatal(err)
	}
	want[partBlob(t, leader, *pending.UploadId, 1)] = "part of an upload in progress"

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
	if n, err := back.Objects().CatchUp(bg); n != 0 || err != nil {
		t.Fatalf("CatchUp on a complete node: %d, %v", n, err)
	}
}
