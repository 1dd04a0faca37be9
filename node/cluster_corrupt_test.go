package node

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	dto "github.com/prometheus/client_model/go"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/internal/testfs"
	"github.com/s4/s4/meta"
)

// flipByte flips one bit of the byte at off of the blob sum on n's disk.
func flipByte(t *testing.T, n *Node, sum [32]byte, off int64) {
	t.Helper()
	testfs.FlipBit(t, n.Blobs().Path(sum), off)
}

// TestClusterCorruptBlobNeverServed: a flipped byte in a blob on one
// node's disk is never served: a GET through that node (whole, or a range
// that touches the bad block) returns the right bytes, read from a peer's
// good copy, and the local copy is repaired; when no node has a good copy
// the GET fails with an error instead of wrong bytes.
func TestClusterCorruptBlobNeverServed(t *testing.T) {
	nodes := startCluster(t)
	leader := slices.Index(nodes, waitLeader(t, nodes))
	clients := writerClients(t, nodes)
	mkBucket(t, clients[leader], "data")
	body := randBytes(11, 3*blob.BlockSize+4321)
	if _, err := clients[leader].PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("big"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	sum := blobOf(t, nodes[leader], "data", "big")
	caughtUp(t, nodes[leader], nodes...)
	waitFor(t, 60*time.Second, "every node holds the blob", func() bool {
		for _, n := range nodes {
			if !n.Blobs().Has(sum) {
				return false
			}
		}
		return true
	})
	victim := (leader + 1) % len(nodes)
	c := clients[victim]
	get := func(rng string) ([]byte, error) {
		in := &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("big")}
		if rng != "" {
			in.Range = aws.String(rng)
		}
		res, err := c.GetObject(bg, in)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		_, err = buf.ReadFrom(res.Body)
		return buf.Bytes(), err
	}

	for _, tc := range []struct {
		name   string
		bad    int64
		rng    string
		lo, hi int64 // the bytes expected
	}{
		{"first block", 100, "", 0, int64(len(body))},
		{"mid-stream", 2*blob.BlockSize + 99, "", 0, int64(len(body))},
		{"range", blob.BlockSize + 10, fmt.Sprintf("bytes=%d-%d", blob.BlockSize-5, blob.BlockSize+20), blob.BlockSize - 5, blob.BlockSize + 21},
	} {
		flipByte(t, nodes[victim], sum, tc.bad)
		if err := nodes[victim].Blobs().Verify(sum); err == nil {
			t.Fatalf("%s: the flipped byte went unnoticed", tc.name)
		}
		got, err := get(tc.rng)
		if err != nil {
			t.Fatalf("%s: GET through the node with the bad copy: %v", tc.name, err)
		}
		if !bytes.Equal(got, body[tc.lo:tc.hi]) {
			t.Fatalf("%s: GET returned %d bytes that differ from the %d written", tc.name, len(got), tc.hi-tc.lo)
		}
		if err := nodes[victim].Blobs().Verify(sum); err != nil {
			t.Fatalf("%s: the local copy was not repaired: %v", tc.name, err)
		}
	}

	// No good copy anywhere: an error, never the bad bytes.
	for _, n := range nodes {
		flipByte(t, n, sum, 7)
	}
	if got, err := get(""); err == nil {
		t.Fatalf("GET with every copy corrupt returned %d bytes and no error", len(got))
	}
}

// scrubCount is the node's scrub counter name{kind="blob"}.
func scrubCount(t *testing.T, n *Node, name string) float64 {
	t.Helper()
	return scrubCountOf(t, n, name, "blob")
}

// scrubCountOf is the node's scrub counter name{kind=kind}.
func scrubCountOf(t *testing.T, n *Node, name, kind string) float64 {
	t.Helper()
	list, err := n.obs.metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	mfs := map[string]*dto.MetricFamily{}
	for _, mf := range list {
		mfs[mf.GetName()] = mf
	}
	v, _ := metricValue(mfs, name, map[string]string{"kind": kind})
	return v
}

// TestClusterScrubberRepairs: a flipped byte in a blob on one node of
// three is found by that node's scrubber, which repairs the copy from a
// peer, without any client reading it; its counters move. A flipped byte
// in an inline body (kept in the metadata store) is found, counted and
// repaired from a peer too.
func TestClusterScrubberRepairs(t *testing.T) {
	var peers []Peer
	for i := 1; i <= 3; i++ {
		peers = append(peers, Peer{ID: fmt.Sprintf("n%d", i), Addr: freeAddr(t)})
	}
	nodes, _, err := tryStartClusterWith(t, peers, func(_ int, cfg *Config) {
		cfg.ScrubInterval = 50 * time.Millisecond
	})
	if err != nil {
		t.Fatal(err)
	}
	leader := waitLeader(t, nodes)
	admin := loginRetry(t, leader)
	u := addUser(t, admin, "writer", "writer-password", "Writer")
	cred := addKey(t, admin, u.ID)
	c := nodeS3Env(t, leader).sdk(cred.AccessKey, cred.SecretKey)
	mkBucket(t, c, "data")
	body := randBytes(12, 2*blob.BlockSize+99)
	if _, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("scrubbed"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	sum := blobOf(t, leader, "data", "scrubbed")
	caughtUp(t, leader, nodes...)
	waitFor(t, 60*time.Second, "every node holds the blob", func() bool {
		for _, n := range nodes {
			if !n.Blobs().Has(sum) {
				return false
			}
		}
		return true
	})
	var victim *Node
	for _, n := range nodes {
		if n != leader {
			victim = n
		}
	}
	before := map[string]float64{}
	for _, name := range []string{"s4_scrub_corrupt_total", "s4_scrub_repaired_total"} {
		before[name] = scrubCount(t, victim, name)
	}
	flipByte(t, victim, sum, blob.BlockSize+4242)
	waitFor(t, 60*time.Second, "the scrubber repairs the copy", func() bool {
		return scrubCount(t, victim, "s4_scrub_repaired_total") > before["s4_scrub_repaired_total"] && victim.Blobs().Verify(sum) == nil
	})
	if got := scrubCount(t, victim, "s4_scrub_corrupt_total"); got <= before["s4_scrub_corrupt_total"] {
		t.Fatalf("s4_scrub_corrupt_total %v, was %v", got, before["s4_scrub_corrupt_total"])
	}
	if got := scrubCount(t, victim, "s4_scrub_checked_total"); got < 1 {
		t.Fatalf("s4_scrub_checked_total %v", got)
	}
	if got := scrubCount(t, victim, "s4_scrub_unrepairable_total"); got != 0 {
		t.Fatalf("s4_scrub_unrepairable_total %v", got)
	}

	if _, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("small"), Body: bytes.NewReader([]byte("an inline body"))}); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, leader, nodes...)
	if err := victim.meta.DamageInline("data", "small", 3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the scrubber finds the damaged inline body and repairs it from a peer", func() bool {
		d, _ := victim.meta.ObjectData("data", "small")
		return scrubCountOf(t, victim, "s4_scrub_repaired_total", "inline") >= 1 && meta.CheckInline(d.Inline) == nil && string(d.Inline.Data) == "an inline body"
	})
	if got := scrubCountOf(t, victim, "s4_scrub_corrupt_total", "inline"); got < 1 {
		t.Fatalf("inline bodies found corrupt: %v", got)
	}
	if got := scrubCountOf(t, victim, "s4_scrub_checked_total", "inline"); got < 1 {
		t.Fatalf("inline bodies checked: %v", got)
	}
}
