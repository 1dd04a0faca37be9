package node

// Tests of the free-space reserve (disk.go, package disk, objects/reserve.go)
// on a real, small file system: a tmpfs mounted for a node's data dir (so
// they need root), filled with a filler file by the test.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/s4/s4/disk"
	"github.com/s4/s4/internal/testfs"
)

const MiB = 1 << 20

// mountTmpfs and fill: see package testfs.
func mountTmpfs(t *testing.T, size int64) string { return testfs.Mount(t, size) }

func fill(t *testing.T, dir string, free uint64) *testfs.Filler { return testfs.Fill(t, dir, free) }

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	joinWaitFor(t, timeout, what, cond)
}

// countingClient counts the HTTP requests an SDK client sends (to see that
// it does not retry).
type countingClient struct {
	hc *http.Client
	n  *atomic.Int64
	t  *testing.T
}

func (c countingClient) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	res, err := c.hc.Do(r)
	if err != nil {
		c.t.Logf("%s %s: %v", r.Method, r.URL.Path, err)
	} else if res.StatusCode >= 300 {
		c.t.Logf("%s %s: HTTP %d", r.Method, r.URL.Path, res.StatusCode)
	}
	return res, err
}

// wantStorageFull asserts a 507 XS4StorageFull whose message says what to
// do.
func wantStorageFull(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want 507 XS4StorageFull", what)
	}
	code, status := apiCode(err)
	var ae smithy.APIError
	if code != "XS4StorageFull" || status != 507 || !errors.As(err, &ae) ||
		!strings.Contains(ae.ErrorMessage(), "deleting objects") || !strings.Contains(ae.ErrorMessage(), "reserve") {
		t.Fatalf("%s: %s (%d), want XS4StorageFull (507) saying what to do: %v", what, code, status, err)
	}
}

// readyBody is what /health/ready answers.
type readyBody struct {
	Status string `json:"status"`
	Disk   struct {
		AtReserve bool   `json:"at_reserve"`
		Free      uint64 `json:"free_bytes"`
		Reserve   uint64 `json:"reserve_bytes"`
		Total     uint64 `json:"total_bytes"`
	} `json:"disk"`
}

func getReady(t *testing.T, n *Node) (int, readyBody) {
	t.Helper()
	code, b := newClient(t, n).doRaw("GET", "/health/ready", nil)
	var rb readyBody
	if err := json.Unmarshal(b, &rb); err != nil {
		t.Fatalf("/health/ready: %v: %s", err, b)
	}
	return code, rb
}

// blobCount counts the blobs in n's store.
func blobCount(t *testing.T, n *Node) int {
	t.Helper()
	c := 0
	if err := n.Blobs().Walk(func([32]byte, int64) error { c++; return nil }); err != nil {
		t.Fatal(err)
	}
	return c
}

// noTempFiles asserts that n's blob store holds no file being written.
func noTempFiles(t *testing.T, n *Node, what string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(n.cfg.DataDir, "blobs", "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 0 {
		t.Fatalf("%s: %d temp files left in the blob store", what, len(ents))
	}
}

func putBytes(c *s3.Client, bucket, key string, body []byte) error {
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	return err
}

// wantNoObject asserts that bucket/key does not exist.
func wantNoObject(t *testing.T, c *s3.Client, bucket, key string) {
	t.Helper()
	_, err := c.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	wantCode(t, err, "NotFound", 404)
}

// TestDiskReserveSingleNode: a node whose disk fills up to its reserve
// refuses object data with 507 XS4StorageFull (PutObject, UploadPart,
// UploadPartCopy, CopyObject, CompleteMultipartUpload), once, without the
// SDK retrying, and stores nothing; revoke, deactivation, DeleteObject and
// AbortMultipartUpload go on; a delete frees space and the next PUT works,
// and so does one after the filler is removed, all without a restart.
// /health/ready and the log say when the node is at its reserve.
func TestDiskReserveSingleNode(t *testing.T) {
	mnt := mountTmpfs(t, 64*MiB)
	logs := newLogRecorder()
	cfg := testConfig(filepath.Join(mnt, "data"))
	cfg.Logger = slog.New(logs)
	n := mustOpen(t, cfg)
	c := newClient(t, n)
	c.login("root", rootPassword)
	e := &s3Env{n: n, admin: c, endpoint: c.base, http: s3HTTPClient(t, n)}
	w := e.newUser(t, "writer", "Writer")
	victim := e.newUser(t, "victim", "Reader")
	sleeper := e.newUser(t, "sleeper", "Reader")
	var sent atomic.Int64
	cl := e.sdk(w.AccessKey, w.SecretKey, func(o *s3.Options) { o.HTTPClient = countingClient{hc: e.http, n: &sent, t: t} })

	// The default reserve on 64 MiB: half of it (256 MiB would be more).
	st := n.DiskStatus()
	if st.Reserve != 32*MiB || st.AtReserve || st.Total != 64*MiB {
		t.Fatalf("disk status %+v, want a 32 MiB reserve of 64 MiB, not at it", st)
	}
	if code, rb := getReady(t, n); code != 200 || rb.Status != "ready" || rb.Disk.AtReserve || rb.Disk.Reserve != 32*MiB || rb.Disk.Total != 64*MiB || rb.Disk.Free == 0 {
		t.Fatalf("/health/ready: %d %+v", code, rb)
	}

	mkBucket(t, cl, "bkt")
	big := randBytes(1, 4*MiB)
	if err := putBytes(cl, "bkt", "big", big); err != nil {
		t.Fatal(err)
	}
	up, err := cl.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	part1, err := cl.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(randBytes(2, 64<<10))})
	if err != nil {
		t.Fatal(err)
	}

	// Filled to 1 MiB below the reserve: the monitor's tick notices.
	filled := fill(t, mnt, st.Reserve-MiB)
	waitFor(t, 10*time.Second, "the node at its reserve", func() bool { return n.DiskStatus().AtReserve })
	if got := logs.find("disk at its free-space reserve"); len(got) != 1 {
		t.Fatalf("logged %q, want one warning on entering the reserve", got)
	}
	// Ready as before, and says it is at the reserve.
	if code, rb := getReady(t, n); code != 200 || rb.Status != "ready" || !rb.Disk.AtReserve || rb.Disk.Free >= rb.Disk.Reserve {
		t.Fatalf("/health/ready at the reserve: %d %+v", code, rb)
	}

	// Object data: 507, sent once, nothing stored.
	body := randBytes(3, 256<<10)
	blobs := blobCount(t, n)
	sent.Store(0)
	wantStorageFull(t, "PutObject", putBytes(cl, "bkt", "new", body))
	if got := sent.Load(); got != 1 {
		t.Fatalf("PutObject sent %d times, want once (a 507 is not retried)", got)
	}
	wantNoObject(t, cl, "bkt", "new")
	if got := blobCount(t, n); got > blobs {
		t.Fatalf("the refused object's blob is stored: %d blobs, were %d", got, blobs)
	}
	noTempFiles(t, n, "PutObject")
	_, err = cl.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(2), Body: bytes.NewReader(body)})
	wantStorageFull(t, "UploadPart", err)
	_, err = cl.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(3), CopySource: aws.String("bkt/big"), CopySourceRange: aws.String("bytes=0-99999")})
	wantStorageFull(t, "UploadPartCopy", err)
	_, err = cl.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy"), CopySource: aws.String("bkt/big")})
	wantStorageFull(t, "CopyObject", err)
	wantNoObject(t, cl, "bkt", "copy")
	_, err = cl.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part1.ETag}}}})
	wantStorageFull(t, "CompleteMultipartUpload", err)
	wantNoObject(t, cl, "bkt", "mp")
	parts, err := cl.ListParts(bg, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: up.UploadId})
	if err != nil || len(parts.Parts) != 1 {
		t.Fatalf("parts after the refused writes: %v %v", parts, err)
	}
	noTempFiles(t, n, "the multipart writes")
	// Reads go on.
	if got := readAll(t, must[*s3.GetObjectOutput](t)(cl.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")})).Body); !bytes.Equal(got, big) {
		t.Fatal("GET at the reserve returned other bytes")
	}

	// IAM: a revoke and a deactivation are applied, and take effect.
	vcl := e.sdk(victim.AccessKey, victim.SecretKey)
	if _, err := vcl.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")}); err != nil {
		t.Fatalf("victim before the revoke: %v", err)
	}
	if code := c.do("DELETE", "/api/admin/users/"+victim.ID+"/credentials", nil, nil); code != 204 {
		t.Fatalf("revoke at the reserve: %d, want 204", code)
	}
	_, err = vcl.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")})
	wantCode(t, err, "InvalidAccessKeyId", 403)
	scl := e.sdk(sleeper.AccessKey, sleeper.SecretKey)
	if code := c.do("PUT", "/api/admin/users/"+sleeper.ID, map[string]any{"is_active": false}, nil); code != 200 {
		t.Fatalf("deactivation at the reserve: %d, want 200", code)
	}
	_, err = scl.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")})
	wantCode(t, err, "AccessDenied", 403)
	if _, err := cl.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: up.UploadId}); err != nil {
		t.Fatalf("AbortMultipartUpload at the reserve: %v", err)
	}

	// A delete frees the space without a restart: the collector runs at
	// once, the node leaves the reserve, the next PUT is taken.
	bigBlob := blobOf(t, n, "bkt", "big")
	if _, err := cl.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")}); err != nil {
		t.Fatalf("DeleteObject at the reserve: %v", err)
	}
	waitFor(t, 10*time.Second, "the node to leave its reserve after a delete", func() bool { return !n.DiskStatus().AtReserve })
	if n.Blobs().Has(bigBlob) {
		t.Fatal("the deleted object's blob is still there")
	}
	if got := logs.find("disk left its free-space reserve"); len(got) != 1 {
		t.Fatalf("logged %q, want one info line on leaving the reserve", got)
	}
	if err := putBytes(cl, "bkt", "new", body); err != nil {
		t.Fatalf("PUT after the delete: %v", err)
	}
	if got := getString(t, cl, "bkt", "new"); got != string(body) {
		t.Fatal("the PUT after the delete reads back other bytes")
	}

	// At the reserve again; the fillers removed, writes go on.
	again := fill(t, mnt, n.DiskStatus().Reserve-MiB)
	waitFor(t, 10*time.Second, "the node at its reserve again", func() bool { return n.DiskStatus().AtReserve })
	wantStorageFull(t, "PutObject, again", putBytes(cl, "bkt", "new2", body[:1000]))
	filled.Remove()
	again.Remove()
	waitFor(t, 10*time.Second, "the node to leave its reserve", func() bool { return !n.DiskStatus().AtReserve })
	if err := putBytes(cl, "bkt", "new2", body[:1000]); err != nil {
		t.Fatalf("PUT with the filler removed: %v", err)
	}
	up2 := must[*s3.CreateMultipartUploadOutput](t)(cl.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp2")}))
	p := must[*s3.UploadPartOutput](t)(cl.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("mp2"), UploadId: up2.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(body)}))
	if _, err := cl.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp2"), UploadId: up2.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p.ETag}}}}); err != nil {
		t.Fatalf("CompleteMultipartUpload with room: %v", err)
	}
	if got := getString(t, cl, "bkt", "mp2"); got != string(body) {
		t.Fatal("the multipart object reads back other bytes")
	}
}

// TestDiskFullWithoutReserve: with the reserve off, a PUT that finds the
// disk full (ENOSPC while the blob is written) answers 507 XS4StorageFull,
// not 500, is not retried, and leaves nothing behind; with space back the
// PUT works. (Nothing is proposed while the disk is full: a Raft leader
// that cannot append steps down.)
func TestDiskFullWithoutReserve(t *testing.T) {
	mnt := mountTmpfs(t, 64*MiB)
	cfg := testConfig(filepath.Join(mnt, "data"))
	cfg.DiskReserve = disk.Bytes(0)
	n := mustOpen(t, cfg)
	c := newClient(t, n)
	c.login("root", rootPassword)
	e := &s3Env{n: n, admin: c, endpoint: c.base, http: s3HTTPClient(t, n)}
	w := e.newUser(t, "writer", "Writer")
	var sent atomic.Int64
	cl := e.sdk(w.AccessKey, w.SecretKey, func(o *s3.Options) { o.HTTPClient = countingClient{hc: e.http, n: &sent, t: t} })
	mkBucket(t, cl, "bkt")

	full := fill(t, mnt, 0)
	if n.RefreshDisk().AtReserve {
		t.Fatal("at the reserve with the reserve off")
	}
	body := randBytes(4, 2*MiB)
	blobs := blobCount(t, n)
	sent.Store(0)
	wantStorageFull(t, "PutObject on a full disk", putBytes(cl, "bkt", "k", body))
	if got := sent.Load(); got != 1 {
		t.Fatalf("PutObject sent %d times, want once", got)
	}
	if got := blobCount(t, n); got > blobs {
		t.Fatalf("a blob of the refused PUT is stored: %d blobs, were %d", got, blobs)
	}
	noTempFiles(t, n, "PutObject on a full disk")
	full.Remove()
	if err := putBytes(cl, "bkt", "k", body); err != nil {
		t.Fatalf("PUT with space back: %v", err)
	}
	if got := getString(t, cl, "bkt", "k"); got != string(body) {
		t.Fatal("reads back other bytes")
	}
}

// startClusterOnTmpfs starts three nodes of which nodes[k] has its data dir
// on a new tmpfs of size bytes (returned), with Raft timing less eager than
// testConfig's so that the shared machine does not trigger elections (a
// node whose disk is full cannot record a new term). nodes[k] is then made
// a follower.
func startClusterOnTmpfs(t *testing.T, k int, size int64) ([]*Node, []Config, string) {
	t.Helper()
	mnt := mountTmpfs(t, size)
	for attempt := 1; ; attempt++ {
		var peers []Peer
		for i := 1; i <= 3; i++ {
			peers = append(peers, Peer{ID: fmt.Sprintf("n%d", i), Addr: freeAddr(t)})
		}
		dataDir := filepath.Join(mnt, fmt.Sprintf("data-%d", attempt))
		nodes, cfgs, err := tryStartClusterWith(t, peers, func(i int, cfg *Config) {
			cfg.SnapshotThreshold, cfg.TrailingLogs = 16, 8 // a node far behind gets a snapshot
			cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 250*time.Millisecond, 250*time.Millisecond, 125*time.Millisecond
			if i == k {
				cfg.DataDir = dataDir
			}
		})
		if err == nil {
			arrangeLeader(t, nodes, cfgs, k, false)
			return nodes, cfgs, mnt
		}
		if attempt == 5 || !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatal(err)
		}
		t.Logf("retrying on other ports: %v", err)
	}
}

// issueKey gives user u a key pair through c, retrying a 503.
func issueKey(t *testing.T, c *client, u userJSON) credJSON {
	t.Helper()
	var cr credJSON
	if code := adminRetry(t, c, "POST", "/api/admin/users/"+u.ID+"/credentials", nil, &cr); code != 201 {
		t.Fatalf("issue a key for %s: %d", u.Username, code)
	}
	return cr
}

// TestDiskReserveOneOfThree: one follower of three at its reserve. The
// other two take PUTs (through themselves; through the full node as entry
// point a PUT answers 507: the node taking a PUT stores the blob itself);
// the full node refuses their blob copies and fetches nothing (a GET
// through it streams the blob from a peer without keeping it; catch-up
// pauses); it still serves reads and deletes. With space back it catches
// up and takes PUTs.
func TestDiskReserveOneOfThree(t *testing.T) {
	nodes, _, mnt := startClusterOnTmpfs(t, 2, 64*MiB)
	full := nodes[2]
	leader := waitSettled(t, nodes, 10*time.Second)
	other := nodes[0]
	if other == leader {
		other = nodes[1]
	}
	c := loginRetry(t, leader)
	u := createUser(t, c, leader, "writer", "Writer")
	cred := issueKey(t, c, u)
	cl := map[*Node]*s3.Client{}
	for _, n := range nodes {
		cl[n] = quickS3(t, n, cred.AccessKey, cred.SecretKey)
	}
	mkBucket(t, cl[leader], "bkt")
	before := randBytes(10, 3*MiB)
	if err := putBytes(cl[leader], "bkt", "before", before); err != nil {
		t.Fatal(err)
	}
	beforeBlob := blobOf(t, leader, "bkt", "before")
	waitFor(t, 10*time.Second, "every node holding the first blob", func() bool { return full.Blobs().Has(beforeBlob) })

	filled := fill(t, mnt, full.DiskStatus().Reserve-MiB)
	waitFor(t, 10*time.Second, "the full node at its reserve", func() bool { return full.DiskStatus().AtReserve })
	stored := blobCount(t, full)

	// The other two take PUTs, through themselves.
	objs := map[string][]byte{"via-leader": randBytes(11, 2*MiB), "via-other": randBytes(12, 100<<10)}
	if err := putBytes(cl[leader], "bkt", "via-leader", objs["via-leader"]); err != nil {
		t.Fatalf("PUT through the leader with one node at its reserve: %v", err)
	}
	if err := putBytes(cl[other], "bkt", "via-other", objs["via-other"]); err != nil {
		t.Fatalf("PUT through the other follower with one node at its reserve: %v", err)
	}
	ids := map[string][32]byte{"via-leader": blobOf(t, leader, "bkt", "via-leader"), "via-other": blobOf(t, other, "bkt", "via-other")}
	for key, sum := range ids {
		if !leader.Blobs().Has(sum) && !other.Blobs().Has(sum) {
			t.Fatalf("%s acknowledged without the blob on the two nodes with room", key)
		}
		waitFor(t, 10*time.Second, key+" on both nodes with room", func() bool { return leader.Blobs().Has(sum) && other.Blobs().Has(sum) })
	}
	// Through the full node: 507, nothing stored anywhere.
	refused := randBytes(13, 200<<10)
	counts := map[*Node]int{}
	for _, n := range nodes {
		counts[n] = blobCount(t, n)
	}
	wantStorageFull(t, "PUT through the node at its reserve", putBytes(cl[full], "bkt", "via-full", refused))
	wantNoObject(t, cl[leader], "bkt", "via-full")
	for _, n := range nodes {
		if got := blobCount(t, n); got > counts[n] {
			t.Fatalf("%s stores the blob of the refused PUT: %d blobs, were %d", n.ID(), got, counts[n])
		}
	}
	noTempFiles(t, full, "the refused PUT")

	// Reads through the full node: the blobs it lacks are streamed, not kept.
	caughtUp(t, leader, nodes...)
	for key, body := range objs {
		wantGet(t, "through the node at its reserve", cl[full], "bkt", key, body)
		res, err := cl[full].GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Range: aws.String("bytes=70000-79999")})
		if err != nil {
			t.Fatalf("range GET of %s through the node at its reserve: %v", key, err)
		}
		if got := readAll(t, res.Body); !bytes.Equal(got, body[70000:80000]) {
			t.Fatalf("range GET of %s through the node at its reserve: other bytes", key)
		}
		if full.Blobs().Has(ids[key]) {
			t.Fatalf("the node at its reserve kept the blob of %s", key)
		}
	}
	if _, err := full.Objects().CatchUp(bg); !errors.Is(err, disk.ErrFull) {
		t.Fatalf("catch-up at the reserve: %v, want disk.ErrFull", err)
	}
	if got := blobCount(t, full); got != stored {
		t.Fatalf("the node at its reserve went from %d to %d blobs", stored, got)
	}
	// It serves (ready), says it is at the reserve, and takes deletes.
	if code, rb := getReady(t, full); code != 200 || !rb.Disk.AtReserve {
		t.Fatalf("/health/ready of the node at its reserve: %d %+v", code, rb)
	}
	extra := randBytes(14, 1000)
	if err := putBytes(cl[leader], "bkt", "to-delete", extra); err != nil {
		t.Fatal(err)
	}
	if _, err := cl[full].DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("to-delete")}); err != nil {
		t.Fatalf("DeleteObject through the node at its reserve: %v", err)
	}
	wantNoObject(t, cl[leader], "bkt", "to-delete")

	// Space back: the node catches up by itself and takes PUTs.
	filled.Remove()
	waitFor(t, 10*time.Second, "the node to leave its reserve", func() bool { return !full.DiskStatus().AtReserve })
	for key, sum := range ids {
		waitFor(t, 30*time.Second, "the node to catch up "+key, func() bool { return full.Blobs().Has(sum) })
	}
	if err := putBytes(cl[full], "bkt", "via-full", refused); err != nil {
		t.Fatalf("PUT through the node with space back: %v", err)
	}
	wantGet(t, "after space is back", cl[leader], "bkt", "via-full", refused)
}

// TestDiskFullFollowerFences: a follower whose disk is 100 % full (below
// any reserve: the filler takes everything) cannot append to its log once
// an append needs new space: here a DeleteObjects of 1000 long (missing)
// keys, about 1 MB of log entries. Its reads then answer 503 (it cannot
// reach the leader's index), and it fences (its auth lease cannot follow
// the leader's), so a key revoked through another node is refused by it
// (503) from the revoke's acknowledgement on, which waited out its lease;
// writes the other two acknowledge are not lost: once space is back it
// catches up (log and blobs), serves them and refuses the old key.
func TestDiskFullFollowerFences(t *testing.T) {
	nodes, _, mnt := startClusterOnTmpfs(t, 2, 64*MiB)
	full := nodes[2]
	leader := waitSettled(t, nodes, 10*time.Second)
	other := nodes[0]
	if other == leader {
		other = nodes[1]
	}
	c := loginRetry(t, leader)
	writer := issueKey(t, c, createUser(t, c, leader, "writer", "Writer"))
	victimUser := createUser(t, c, leader, "victim", "Reader")
	victim := issueKey(t, c, victimUser)
	wLeader := quickS3(t, leader, writer.AccessKey, writer.SecretKey)
	mkBucket(t, wLeader, "bkt")
	first := randBytes(20, MiB)
	if err := putBytes(wLeader, "bkt", "first", first); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, leader, nodes...)
	vFull := quickS3(t, full, victim.AccessKey, victim.SecretKey)
	wantGet(t, "the victim's key on the node before it fills", vFull, "bkt", "first", first)

	filled := fill(t, mnt, 0)
	waitFor(t, 10*time.Second, "the full node at its reserve", func() bool { return full.DiskStatus().AtReserve })
	// About 1 MB of log entries: more than the free pages of the full
	// node's log store, so it cannot append them (nor anything after).
	var del []types.ObjectIdentifier
	for i := range s3MaxDeleteKeys {
		del = append(del, types.ObjectIdentifier{Key: aws.String(fmt.Sprintf("%04d-%s", i, strings.Repeat("k", 995)))})
	}
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	_, err := wLeader.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{Objects: del, Quiet: aws.Bool(true)}})
	cancel()
	if err != nil {
		t.Fatalf("DeleteObjects with a follower's disk full: %v", err)
	}
	// It cannot reach the leader's index: reads through it answer 503.
	wFull := quickS3(t, full, writer.AccessKey, writer.SecretKey)
	waitFor(t, 10*time.Second, "reads through the full node to answer 503", func() bool {
		_, _, status, _ := s3Get(wFull, "bkt", "first")
		return status == 503
	})
	t.Logf("the full node's log ends at %d, the leader's at %d", full.raft.LastIndex(), leader.raft.LastIndex())

	// Writes through the other two are acknowledged.
	during := map[string][]byte{}
	duringBlob := map[string][32]byte{}
	for i, n := range []*Node{leader, other, leader} {
		key := fmt.Sprintf("during-%d", i)
		during[key] = randBytes(uint64(21+i), 300<<10)
		if err := putBytes(quickS3(t, n, writer.AccessKey, writer.SecretKey), "bkt", key, during[key]); err != nil {
			t.Fatalf("PUT %s through %s with a follower's disk full: %v", key, n.ID(), err)
		}
		duringBlob[key] = blobOf(t, n, "bkt", key)
	}

	// The revoke, through the other follower: acknowledged once the full
	// node's lease has run out.
	oc := loginRetry(t, other)
	if code := adminRetry(t, oc, "DELETE", "/api/admin/users/"+victimUser.ID+"/credentials", nil, nil); code != 204 {
		t.Fatalf("revoke with a follower's disk full: %d", code)
	}
	confirmed, expired := oc.last.Get("X-S4-Confirmed-By"), oc.last.Get("X-S4-Lease-Expired")
	if !strings.Contains(expired, full.ID()) || strings.Contains(confirmed, full.ID()) {
		t.Fatalf("revoke acknowledged with confirmed by %q, lease expired %q: want %s's lease waited out", confirmed, expired, full.ID())
	}
	// From now on the old key never works on the full node: it is fenced
	// (503), for more than two leases.
	for end := time.Now().Add(2*full.cfg.AuthLease + 500*time.Millisecond); time.Now().Before(end); {
		_, code, status, err := s3Get(vFull, "bkt", "first")
		if err == nil {
			t.Fatal("the full node accepted a key revoked and acknowledged")
		}
		if status != 503 {
			t.Fatalf("the revoked key on the full node, which cannot have applied the revoke: %s (%d), want 503: %v", code, status, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, n := range []*Node{leader, other} {
		wantGetCode(t, "the revoked key on "+n.ID(), quickS3(t, n, victim.AccessKey, victim.SecretKey), "bkt", "first", "InvalidAccessKeyId", 403, true)
	}

	// Space back: the node catches up, serves, refuses the old key and has
	// every acknowledged write.
	filled.Remove()
	waitFor(t, 10*time.Second, "the node to leave its reserve", func() bool { return !full.DiskStatus().AtReserve })
	waitFor(t, 60*time.Second, "the node to catch up with the log and serve", func() bool {
		return full.FSM().AppliedIndex() >= leader.FSM().AppliedIndex() && full.ServeS3() == nil
	})
	wantGetCode(t, "the revoked key after space is back", vFull, "bkt", "first", "InvalidAccessKeyId", 403, true)
	for key, body := range during {
		sum := duringBlob[key]
		waitFor(t, 30*time.Second, "the node to catch up the blob of "+key, func() bool { return full.Blobs().Has(sum) })
		wantGet(t, "after space is back", wFull, "bkt", key, body)
	}
	wantGet(t, "after space is back", wFull, "bkt", "first", first)
}

// s3MaxDeleteKeys is how many keys one DeleteObjects may name.
const s3MaxDeleteKeys = 1000
