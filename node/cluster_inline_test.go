package node

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"github.com/s4/s4/meta"
)

// TestClusterInlineObjects: bodies of 0 B, threshold − 1, threshold and
// threshold + 1, and a multipart upload of a blob part and an inline part,
// written through a follower with aws-sdk-go-v2 and minio-go, are read
// through every node; the inline ones leave no blob file on any node; a
// flipped byte of an inline body in one node's store is never served by
// it: it serves a good copy read from a peer and repairs its own; after a snapshot that truncates the log, a follower that was down
// installs it, restarts serve, and every inline object is still served
// through every node.
func TestClusterInlineObjects(t *testing.T) {
	nodes, cfgs := startClusterConfigs(t)
	th := int(cfgs[0].InlineThreshold)
	if th <= 0 {
		t.Fatal("the test config has inline objects off")
	}
	leader := waitLeader(t, nodes)
	wi := followerIndex(t, nodes, leader)
	c := loginRetry(t, leader)
	u := addUser(t, c, "alice", "alice123", "Writer")
	cred := addKey(t, c, u.ID)
	sdkOf := func(n *Node) *s3.Client { return nodeS3Env(t, n).sdk(cred.AccessKey, cred.SecretKey, patientRetries) }
	w := sdkOf(nodes[wi])
	we := nodeS3Env(t, nodes[wi])
	we.tls = we.http.Transport.(*http.Transport).TLSClientConfig
	mc := we.minioClient(t, s3User{AccessKey: cred.AccessKey, SecretKey: cred.SecretKey})
	mkBucket(t, w, "inl")

	want := map[string][]byte{}
	inline := map[string]bool{}
	for i, n := range []int{0, th - 1, th, th + 1} {
		body := randBytes(uint64(10+i), n)
		key := fmt.Sprintf("sdk/%d", n)
		if _, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("inl"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		want[key], inline[key] = body, n <= th
		key = fmt.Sprintf("minio/%d", n)
		if _, err := mc.PutObject(bg, "inl", key, bytes.NewReader(body), int64(n), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("minio put %s: %v", key, err)
		}
		want[key], inline[key] = body, n <= th
	}
	p1, p2 := randBytes(20, 5<<20), randBytes(21, 700)
	mp, err := w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("inl"), Key: aws.String("multi")})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, body := range [][]byte{p1, p2} {
		out, err := w.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("inl"), Key: aws.String("multi"), UploadId: mp.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	if _, err := w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("inl"), Key: aws.String("multi"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	want["multi"] = append(append([]byte{}, p1...), p2...)
	caughtUp(t, nodes[wi], nodes...)

	readAllThrough := func(what string, ns []*Node) {
		t.Helper()
		for i, n := range ns {
			c := sdkOf(n)
			for key, body := range want {
				out, err := c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("inl"), Key: aws.String(key)})
				if err != nil {
					t.Fatalf("%s: node %d: get %s: %v", what, i, key, err)
				}
				if got := readAll(t, out.Body); !bytes.Equal(got, body) {
					t.Fatalf("%s: node %d: %s: %d bytes, want %d", what, i, key, len(got), len(body))
				}
			}
		}
	}
	readAllThrough("written", nodes)
	for key := range want {
		if !inline[key] {
			continue
		}
		for i, n := range nodes {
			if ids := blobsOf(t, n, "inl", key); len(ids) != 0 {
				t.Fatalf("node %d: inline %s references %d blobs", i, key, len(ids))
			}
		}
	}
	above := blobOf(t, nodes[wi], "inl", "sdk/"+fmt.Sprint(th+1))
	if holders := func() (k int) {
		for _, n := range nodes {
			if n.Blobs().Has(above) {
				k++
			}
		}
		return k
	}(); holders < 2 {
		t.Fatalf("the body above the threshold is a blob on %d nodes, want a majority", holders)
	}

	// A flipped byte on one node: that node never sends the bad bytes; it
	// reads a good copy from a peer, serves it and repairs its own.
	bad := (wi + 1) % len(nodes)
	if err := nodes[bad].meta.DamageInline("inl", "sdk/100", 50); err == nil {
		t.Fatal("damaged a key that does not exist")
	}
	key := fmt.Sprintf("sdk/%d", th)
	if err := nodes[bad].meta.DamageInline("inl", key, th/2); err != nil {
		t.Fatal(err)
	}
	if err := nodes[bad].meta.DamageInline("inl", "multi", 10); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{key, "multi"} {
		if d, _ := nodes[bad].meta.ObjectData("inl", k); meta.CheckInline(d.Inline) == nil {
			t.Fatalf("%s is not damaged on node %d", k, bad)
		}
		for i, n := range nodes {
			out, err := sdkOf(n).GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("inl"), Key: aws.String(k)})
			if err != nil {
				t.Fatalf("node %d: %v", i, err)
			}
			if !bytes.Equal(readAll(t, out.Body), want[k]) {
				t.Fatalf("node %d serves other bytes for %s", i, k)
			}
		}
		if d, _ := nodes[bad].meta.ObjectData("inl", k); meta.CheckInline(d.Inline) != nil || !bytes.Equal(d.Inline.Data, want[k][int64(len(want[k]))-d.Inline.Size:]) {
			t.Fatalf("%s on node %d after the GET: %v", k, bad, meta.CheckInline(d.Inline))
		}
	}

	// A follower down; more inline objects and enough events for a
	// snapshot that truncates the log; it comes back by installing it.
	leader = waitLeader(t, nodes)
	down := bad
	if nodes[down] == leader {
		down = followerIndex(t, nodes, leader)
	}
	nodes[down].Close()
	lc := sdkOf(leader)
	for i := range 40 {
		body := randBytes(uint64(100+i), 100+i)
		k := fmt.Sprintf("later/%02d", i)
		if _, err := lc.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("inl"), Key: aws.String(k), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
		want[k] = body
	}
	if err := leader.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if first, _ := leader.store.FirstIndex(); first <= 2 {
		t.Fatalf("the leader kept its whole log (first index %d): no snapshot install", first)
	}
	back := reopen(t, cfgs[down], 20*time.Second)
	nodes[down] = back
	caughtUp(t, leader, nodes...)
	readAllThrough("after the snapshot install", nodes)

	// And once more after restarting the leader too (its snapshot and log).
	li := 0
	for i, n := range nodes {
		if n == leader {
			li = i
		}
	}
	nodes[li].Close()
	nodes[li] = reopen(t, cfgs[li], 30*time.Second)
	caughtUp(t, waitLeader(t, nodes), nodes...)
	readAllThrough("after restarts", nodes)
}
