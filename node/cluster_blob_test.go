package node

import (
	"bytes"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestClusterObjectData: an object written through one node is listed and
// read through the others (which fetch the blob from a peer and keep it;
// a small one is inline, with no blob at all);
// the PUT is acknowledged only once a majority holds the blob; a delete
// through another node removes the object everywhere, and the garbage
// collector then removes the blob.
func TestClusterObjectData(t *testing.T) {
	nodes := startCluster(t)
	_, follower := leaderAndFollower(t, nodes)
	writer := slices.Index(nodes, follower)
	clients := writerClients(t, nodes)

	// Written through a follower: the metadata is forwarded, the blob copied.
	w := clients[writer]
	mkBucket(t, w, "data")
	small := []byte("hello from one node")
	big := randBytes(7, 5<<20)
	objects := map[string][]byte{"small.txt": small, "dir/big.bin": big}
	blobIDs := map[string][32]byte{}
	for key, body := range objects {
		before := blobCount(t, nodes[writer])
		if _, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		if inline := int64(len(body)) <= nodes[writer].cfg.InlineThreshold; inline {
			// Small: it traveled in its metadata event, no blob anywhere.
			if ids := blobsOf(t, nodes[writer], "data", key); len(ids) != 0 || blobCount(t, nodes[writer]) != before {
				t.Fatalf("inline %s references %d blobs, and the writer's blob count went %d -> %d", key, len(ids), before, blobCount(t, nodes[writer]))
			}
			continue
		}
		sum := blobOf(t, nodes[writer], "data", key)
		blobIDs[key] = sum
		holders := 0
		for _, n := range nodes {
			if n.Blobs().Has(sum) {
				holders++
			}
		}
		if holders < 2 {
			t.Fatalf("put %s acknowledged with the blob on %d node(s), want a majority", key, holders)
		}
	}
	caughtUp(t, nodes[writer], nodes...)

	for i, c := range clients {
		out, err := c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("data")})
		if err != nil {
			t.Fatalf("n%d: list: %v", i+1, err)
		}
		if got, want := keysOf(out.Contents), []string{"dir/big.bin", "small.txt"}; !slices.Equal(got, want) {
			t.Fatalf("n%d lists %v, want %v", i+1, got, want)
		}
		for key, body := range objects {
			res, err := c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String(key)})
			if err != nil {
				t.Fatalf("n%d: get %s: %v", i+1, key, err)
			}
			if got := readAll(t, res.Body); !bytes.Equal(got, body) {
				t.Fatalf("n%d: %s: got %d bytes, want the %d written", i+1, key, len(got), len(body))
			}
			// A range read of the big object, through the same path.
			if key == "dir/big.bin" {
				res, err := c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String(key), Range: aws.String("bytes=1000-1999")})
				if err != nil {
					t.Fatalf("n%d: range get: %v", i+1, err)
				}
				if got := readAll(t, res.Body); !bytes.Equal(got, body[1000:2000]) {
					t.Fatalf("n%d: range get returned other bytes", i+1)
				}
			}
		}
	}
	// Every node that served a read keeps the blob.
	for key, body := range objects {
		if int64(len(body)) <= nodes[writer].cfg.InlineThreshold {
			continue
		}
		sum := blobIDs[key]
		for i, n := range nodes {
			if !n.Blobs().Has(sum) {
				t.Fatalf("n%d lacks the blob of %s after serving it", i+1, key)
			}
		}
	}

	// Deleted through another node: gone everywhere, blobs collected.
	del := (writer + 1) % len(nodes)
	for key := range objects {
		if _, err := clients[del].DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("data"), Key: aws.String(key)}); err != nil {
			t.Fatalf("delete %s: %v", key, err)
		}
	}
	caughtUp(t, nodes[del], nodes...)
	for i, c := range clients {
		out, err := c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("data")})
		if err != nil {
			t.Fatalf("n%d: list: %v", i+1, err)
		}
		if len(out.Contents) != 0 {
			t.Fatalf("n%d still lists %v", i+1, keysOf(out.Contents))
		}
		for key := range objects {
			_, err := c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String(key)})
			wantCode(t, err, "NoSuchKey", 404)
		}
	}
	// The writer's pin ended with its PUT; the peers that received the
	// blob keep it pinned for cluster.BlobPinGrace, and their collector
	// removes it on a later pass.
	nodes[writer].CollectGarbage()
	for key, sum := range blobIDs {
		if nodes[writer].Blobs().Has(sum) {
			t.Fatalf("the writer still holds the blob of deleted %s", key)
		}
	}
}
