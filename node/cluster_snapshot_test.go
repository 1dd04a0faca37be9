package node

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestClusterCatchUpBySnapshot stops a follower, writes through the others
// until the leader has snapshotted and dropped the log the follower missed,
// restarts it: it catches up through an installed snapshot, serves the
// objects written meanwhile (fetching their blobs), and rejects a key
// revoked while it was down from its very first request.
func TestClusterCatchUpBySnapshot(t *testing.T) {
	nodes, cfgs := startClusterConfigs(t)
	leader := waitLeader(t, nodes)
	down := followerIndex(t, nodes, leader)
	c := loginRetry(t, leader)
	u := addUser(t, c, "alice", "alice123", "Writer")
	old := addKey(t, c, u.ID)
	nodes[down].Close()

	// While it is down: objects, a revoke, a new key, and enough events for
	// a snapshot that truncates the log.
	cred := addKey(t, c, u.ID)
	le := nodeS3Env(t, leader)
	lc := le.sdk(cred.AccessKey, cred.SecretKey, patientRetries)
	mkBucket(t, lc, "snap")
	body := randBytes(3, 300<<10)
	if _, err := lc.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("snap"), Key: aws.String("obj"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		putString(t, lc, "snap", fmt.Sprintf("k%02d", i), "v")
	}
	if err := leader.Snapshot(); err != nil {
		t.Fatal(err)
	}
	first, _ := leader.store.FirstIndex()
	if first <= 2 {
		t.Fatalf("the leader kept its whole log (first index %d): the test would not exercise a snapshot install", first)
	}

	back := reopen(t, cfgs[down], 15*time.Second)
	if _, ok := back.FSM().Lookup(old.AccessKey); ok {
		t.Fatal("the returning node accepts a key replaced while it was down")
	}
	be := nodeS3Env(t, back)
	_, err := be.sdk(old.AccessKey, old.SecretKey).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("snap")})
	wantCode(t, err, "InvalidAccessKeyId", 403)
	bc := be.sdk(cred.AccessKey, cred.SecretKey, patientRetries)
	res, err := bc.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("snap"), Key: aws.String("obj")})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, res.Body); !bytes.Equal(got, body) {
		t.Fatal("the returning node served other bytes")
	}
	out, err := bc.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("snap")})
	if err != nil || len(out.Contents) != 41 {
		t.Fatalf("listing on the returning node: %v, %d objects", err, len(out.Contents))
	}
}
