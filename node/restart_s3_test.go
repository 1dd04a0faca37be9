package node

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestS3SurvivesRestart writes objects and starts a multipart upload, takes
// a snapshot, writes more (so that the restart replays both a snapshot and
// the log after it), restarts the node on the same data dir and reads
// everything back with the same credentials.
func TestS3SurvivesRestart(t *testing.T) {
	e := newS3Env(t)
	ctx := context.Background()
	c := e.sdkFor(e.writer)
	mkBucket(t, c, "keep")
	putString(t, c, "keep", "before/snapshot.txt", "one")
	big := strings.Repeat("b", int(e.n.cfg.InlineThreshold)+1) // a blob, not inline
	putString(t, c, "keep", "big", big)
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("keep"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	putString(t, c, "keep", "after/snapshot.txt", "two")
	putString(t, c, "keep", "before/snapshot.txt", "one, overwritten")
	putString(t, c, "keep", "big", big+"!")
	dir := e.n.cfg.DataDir
	if err := e.n.Close(); err != nil {
		t.Fatal(err)
	}

	m := mustOpen(t, testConfig(dir))
	e2 := nodeS3Env(t, m)
	c2 := e2.sdkFor(e.writer)
	if got := getString(t, c2, "keep", "before/snapshot.txt"); got != "one, overwritten" {
		t.Fatalf("before/snapshot.txt = %q", got)
	}
	if got := getString(t, c2, "keep", "after/snapshot.txt"); got != "two" {
		t.Fatalf("after/snapshot.txt = %q", got)
	}
	ups, err := c2.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("keep")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 1 || aws.ToString(ups.Uploads[0].UploadId) != aws.ToString(up.UploadId) {
		t.Fatalf("uploads after restart: %+v", ups.Uploads)
	}
	if got := getString(t, c2, "keep", "big"); got != big+"!" {
		t.Fatalf("big: %d bytes", len(got))
	}
	// The overwritten big body's blob is garbage; the live one is not (the
	// small bodies are inline: no blobs).
	if removed := m.CollectGarbage(); removed != 1 {
		t.Fatalf("garbage collection removed %d blobs, want 1 (the overwritten body)", removed)
	}
	if got := getString(t, c2, "keep", "big"); got != big+"!" {
		t.Fatalf("big after GC: %d bytes", len(got))
	}
	if got := getString(t, c2, "keep", "before/snapshot.txt"); got != "one, overwritten" {
		t.Fatalf("after GC: %q", got)
	}
}
