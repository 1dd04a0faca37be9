package node

// The lifecycle evaluator through real nodes: rules set with
// aws-sdk-go-v2, days of one second.

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/meta"
)

// lifecycleConfig makes days one second long and runs the evaluator every
// 100 ms.
func lifecycleConfig(cfg *Config) {
	cfg.LifecycleDay = time.Second
	cfg.LifecycleInterval = 100 * time.Millisecond
}

// gone reports whether HEAD of bucket/key answers 404 through c.
func gone(t *testing.T, c *s3.Client, bucket, key string) bool {
	t.Helper()
	_, err := c.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		return false
	}
	if _, status := apiCode(err); status != 404 {
		t.Fatalf("HEAD %s/%s: %v", bucket, key, err)
	}
	return true
}

// lifecycleEvents is how many LifecycleExpire events n's FSM applied.
func lifecycleEvents(n *Node) uint64 {
	var got uint64
	n.FSM().EventsApplied(func(name string, _ bool, c uint64) {
		if name == "LifecycleExpire" {
			got = c
		}
	})
	return got
}

// metricLine returns the line of n's GET /metrics that starts with name.
func metricLine(t *testing.T, n *Node, name string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := n.obs.metrics.Write(&buf); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(l, name+" ") {
			return l
		}
	}
	t.Fatalf("no %s in the metrics", name)
	return ""
}

// dueAfterOneDay waits until an object of n at bucket/key is past its
// expiration with Days=1.
func dueAfterOneDay(t *testing.T, n *Node, bucket string, keys ...string) {
	t.Helper()
	var due int64
	for _, k := range keys {
		o, ok := n.meta.Object(bucket, k)
		if !ok {
			t.Fatalf("no %s/%s", bucket, k)
		}
		due = max(due, meta.DueAfterDays(o.LastModified, 1, n.cfg.LifecycleDay.Nanoseconds()))
	}
	waitFor(t, 10*time.Second, "due time", func() bool { return time.Now().UnixNano() > due })
}

// TestLifecycleSingleNode: with one-second days, Expiration by Days (a
// prefix filter) and by Date (a tag filter) deletes the objects they
// select and no other, AbortIncompleteMultipartUpload aborts an upload, a
// disabled rule does nothing; the counters and the run's log line say so.
func TestLifecycleSingleNode(t *testing.T) {
	logs := newLogRecorder()
	cfg := testConfig(t.TempDir())
	lifecycleConfig(&cfg)
	cfg.Logger = slog.New(logs)
	e := newS3EnvWith(t, cfg)
	w := e.sdkFor(e.writer)
	const b = "lcnode"
	mkBucket(t, w, b)
	for _, k := range []string{"tmp/a", "tmp/b", "keep/a", "off/a"} {
		putString(t, w, b, k, "data of "+k)
	}
	must[*s3.PutObjectOutput](t)(w.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("keep/tagged"),
		Body: strings.NewReader("x"), Tagging: aws.String("expire=yes")}))
	up := must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("up/big")}))
	must[*s3.UploadPartOutput](t)(w.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("up/big"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(randBytes(1, 100<<10))}))
	dueAfterOneDay(t, e.n, b, "tmp/a", "tmp/b", "off/a")

	today := time.Now().UTC().Truncate(24 * time.Hour)
	must[*s3.PutBucketLifecycleConfigurationOutput](t)(w.PutBucketLifecycleConfiguration(bg, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(b),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			{ID: aws.String("tmp"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}},
			{ID: aws.String("tagged"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Tag: &types.Tag{Key: aws.String("expire"), Value: aws.String("yes")}},
				Expiration: &types.LifecycleExpiration{Date: &today}},
			{ID: aws.String("off"), Status: types.ExpirationStatusDisabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("off/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}},
			{ID: aws.String("uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("up/")},
				AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)}},
		}}}))

	waitFor(t, 20*time.Second, "expiration", func() bool {
		return gone(t, w, b, "tmp/a") && gone(t, w, b, "tmp/b") && gone(t, w, b, "keep/tagged")
	})
	waitFor(t, 20*time.Second, "aborted upload", func() bool {
		out := must[*s3.ListMultipartUploadsOutput](t)(w.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: aws.String(b)}))
		return len(out.Uploads) == 0
	})
	for _, k := range []string{"keep/a", "off/a"} {
		if got := getString(t, w, b, k); got != "data of "+k {
			t.Errorf("%s: %q", k, got)
		}
	}
	_, err := w.ListParts(bg, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String("up/big"), UploadId: up.UploadId})
	wantCode(t, err, "NoSuchUpload", 404)
	if l := metricLine(t, e.n, `s4_lifecycle_expired_total{kind="current"}`); l != `s4_lifecycle_expired_total{kind="current"} 3` {
		t.Errorf("metric: %s", l)
	}
	if l := metricLine(t, e.n, "s4_lifecycle_aborted_total"); l != "s4_lifecycle_aborted_total 1" {
		t.Errorf("metric: %s", l)
	}
	waitFor(t, 10*time.Second, "run log line", func() bool {
		for _, l := range logs.find("lifecycle: run done") {
			if strings.Contains(l, "expired=") && !strings.Contains(l, "tmp/") {
				return true
			}
		}
		return false
	})
}

// startLifecycleCluster starts three nodes with lifecycleConfig, on other
// ports if another process took one (as startClusterConfigs does).
func startLifecycleCluster(t *testing.T) []*Node {
	t.Helper()
	for attempt := 1; ; attempt++ {
		var peers []Peer
		for i := 1; i <= 3; i++ {
			peers = append(peers, Peer{ID: fmt.Sprintf("n%d", i), Addr: freeAddr(t)})
		}
		nodes, _, err := tryStartClusterWith(t, peers, func(_ int, cfg *Config) { lifecycleConfig(cfg) })
		if err == nil {
			return nodes
		}
		if attempt == 5 || !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatal(err)
		}
		t.Logf("retrying on other ports: %v", err)
	}
}

// TestClusterLifecycle: three nodes, one-second days. Objects past their
// expiration go in one LifecycleExpire event, applied on every node; an
// object overwritten between the evaluation and the apply is kept; only
// the leader evaluates and proposes.
func TestClusterLifecycle(t *testing.T) {
	nodes := startLifecycleCluster(t)
	clients := writerClients(t, nodes)
	var leader *Node
	waitFor(t, 10*time.Second, "a serving leader", func() bool {
		for _, n := range nodes {
			if n.leaderServing() {
				leader = n
				return true
			}
		}
		return false
	})
	term := leader.raft.CurrentTerm()
	const b = "lccluster"
	mkBucket(t, clients[0], b)
	keys := []string{"exp/a", "exp/b", "exp/c"}
	for i, k := range keys {
		putString(t, clients[i], b, k, "data of "+k)
	}
	putString(t, clients[1], b, "exp/over", "old")
	putString(t, clients[2], b, "keep/x", "kept")
	dueAfterOneDay(t, leader, b, append(keys, "exp/over")...)

	// Every node counts its proposals; the first one (the leader's) also
	// overwrites exp/over after the evaluation saw it, and removes the
	// configuration, so that no later run expires the new exp/over.
	var proposed [3]atomic.Int32
	var first sync.Once
	var evaluated []meta.ObjectExpiry
	for i, n := range nodes {
		hook := func(ev *fsm.LifecycleExpire) {
			proposed[i].Add(1)
			if !n.leaderServing() {
				t.Errorf("n%d proposes without serving as the leader", i+1)
			}
			first.Do(func() {
				evaluated = append(evaluated, ev.Objects...)
				// (not t.Fatal: this is the evaluator's goroutine)
				if _, err := clients[i].PutObject(bg, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("exp/over"), Body: strings.NewReader("new")}); err != nil {
					t.Errorf("overwriting exp/over: %v", err)
				}
				if _, err := clients[i].DeleteBucketLifecycle(bg, &s3.DeleteBucketLifecycleInput{Bucket: aws.String(b)}); err != nil {
					t.Errorf("DeleteBucketLifecycle: %v", err)
				}
			})
		}
		n.lc.beforePropose.Store(&hook)
	}
	must[*s3.PutBucketLifecycleConfigurationOutput](t)(clients[2].PutBucketLifecycleConfiguration(bg, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(b),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			{ID: aws.String("exp"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("exp/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}}}}}))

	for i, c := range clients {
		waitFor(t, 20*time.Second, fmt.Sprintf("expiration on n%d", i+1), func() bool {
			for _, k := range keys {
				if !gone(t, c, b, k) {
					return false
				}
			}
			return true
		})
	}
	if len(evaluated) != 4 {
		t.Errorf("the event carried %d objects, want 4: %+v", len(evaluated), evaluated)
	}
	for i, c := range clients {
		if got := getString(t, c, b, "exp/over"); got != "new" {
			t.Errorf("n%d: the overwritten exp/over is %q", i+1, got)
		}
		if got := getString(t, c, b, "keep/x"); got != "kept" {
			t.Errorf("n%d: keep/x is %q", i+1, got)
		}
		_, err := c.GetBucketLifecycleConfiguration(bg, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(b)})
		wantCode(t, err, "NoSuchLifecycleConfiguration", 404)
	}
	// One event in the log, applied on every node; only the leader
	// proposed, and only the leader ran (unless the leadership moved, which
	// a loaded machine may cause: then the hook's check above is what
	// holds).
	for i, n := range nodes {
		waitFor(t, 10*time.Second, fmt.Sprintf("the event on n%d", i+1), func() bool { return lifecycleEvents(n) >= 1 })
		if got := lifecycleEvents(n); got != 1 {
			t.Errorf("n%d applied %d LifecycleExpire events, want 1", i+1, got)
		}
	}
	if got := leader.raft.CurrentTerm(); got != term {
		t.Logf("the term moved from %d to %d: not checking which node ran", term, got)
		return
	}
	for i, n := range nodes {
		want := int32(0)
		if n == leader {
			want = 1
		}
		if got := proposed[i].Load(); got != want {
			t.Errorf("n%d (leader %v) proposed %d times", i+1, n == leader, got)
		}
		if n != leader && n.lc.runs.Load() != 0 {
			t.Errorf("follower n%d ran the evaluator %d times", i+1, n.lc.runs.Load())
		}
	}
	if l := metricLine(t, leader, `s4_lifecycle_expired_total{kind="current"}`); l != `s4_lifecycle_expired_total{kind="current"} 3` {
		t.Errorf("leader's metric: %s", l)
	}
	for _, n := range nodes {
		if n != leader {
			if l := metricLine(t, n, `s4_lifecycle_expired_total{kind="current"}`); l != `s4_lifecycle_expired_total{kind="current"} 0` {
				t.Errorf("follower %s's metric: %s", n.ID(), l)
			}
		}
	}
}

// TestNextLifecycleRun: runs every interval from now, or aligned to a
// time of day.
func TestNextLifecycleRun(t *testing.T) {
	now := time.Date(2026, 12, 3, 17, 10, 0, 0, time.UTC)
	if got := nextLifecycleRun(now, time.Hour, 0, false); !got.Equal(now.Add(time.Hour)) {
		t.Errorf("no at: %v", got)
	}
	at, err := parseTimeOfDay("03:30")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := nextLifecycleRun(now, 24*time.Hour, at, true), time.Date(2026, 12, 4, 3, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("daily at 03:30: %v, want %v", got, want)
	}
	if got, want := nextLifecycleRun(now, time.Hour, at, true), time.Date(2026, 12, 3, 17, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("hourly at :30: %v, want %v", got, want)
	}
	for _, bad := range []string{"25:00", "3pm", "", "12:61"} {
		if _, err := parseTimeOfDay(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// versionsOf lists the versions and delete markers of bucket under prefix
// as "key@id" and "key@id(marker)", newest first per key.
func versionsOf(t *testing.T, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	out := must[*s3.ListObjectVersionsOutput](t)(c.ListObjectVersions(bg, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}))
	var got []string
	for _, v := range out.Versions {
		got = append(got, aws.ToString(v.Key)+"@"+aws.ToString(v.VersionId))
	}
	for _, m := range out.DeleteMarkers {
		got = append(got, aws.ToString(m.Key)+"@"+aws.ToString(m.VersionId)+"(marker)")
	}
	return got
}

// TestLifecycleVersions: in a versioned bucket, with one-second days,
// Expiration hides the latest version behind a delete marker (a GET is
// then 404), NoncurrentVersionExpiration deletes noncurrent versions but
// keeps NewerNoncurrentVersions of them, and ExpiredObjectDeleteMarker
// removes a delete marker once it is the only version of its key.
func TestLifecycleVersions(t *testing.T) {
	cfg := testConfig(t.TempDir())
	lifecycleConfig(&cfg)
	e := newS3EnvWith(t, cfg)
	w := e.sdkFor(e.writer)
	const b = "lcversions"
	mkBucket(t, w, b)
	must[*s3.PutBucketVersioningOutput](t)(w.PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: aws.String(b),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}))
	put := func(key, body string) string {
		return aws.ToString(putString(t, w, b, key, body).VersionId)
	}
	put("exp/a", "one")
	put("exp/a", "two")
	n1, n2, n3 := put("keep2/k", "1"), put("keep2/k", "2"), put("keep2/k", "3")
	mx := put("marker/x", "x")
	must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("marker/x")}))
	must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("marker/x"), VersionId: aws.String(mx)}))
	if got := versionsOf(t, w, b, "marker/"); len(got) != 1 || !strings.HasSuffix(got[0], "(marker)") {
		t.Fatalf("marker/x before the rules: %q", got)
	}

	must[*s3.PutBucketLifecycleConfigurationOutput](t)(w.PutBucketLifecycleConfiguration(bg, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(b),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			{ID: aws.String("exp"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("exp/")},
				Expiration:                  &types.LifecycleExpiration{Days: aws.Int32(1)},
				NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1)}},
			{ID: aws.String("keep2"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("keep2/")},
				NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1), NewerNoncurrentVersions: aws.Int32(1)}},
			{ID: aws.String("markers"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("marker/")},
				Expiration: &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)}},
		}}}))

	// exp/a: the latest version goes behind a marker, then both versions
	// go (noncurrent for a day); the marker stays (no marker rule there).
	waitFor(t, 20*time.Second, "exp/a down to its delete marker", func() bool {
		got := versionsOf(t, w, b, "exp/")
		return len(got) == 1 && strings.HasSuffix(got[0], "(marker)")
	})
	_, err := w.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("exp/a")})
	wantCode(t, err, "NoSuchKey", 404)
	// keep2/k: the oldest noncurrent version goes, the newest one is kept.
	waitFor(t, 20*time.Second, "keep2/k's oldest version deleted", func() bool {
		return len(versionsOf(t, w, b, "keep2/")) == 2
	})
	if got := versionsOf(t, w, b, "keep2/"); strings.Join(got, " ") != "keep2/k@"+n3+" keep2/k@"+n2 {
		t.Errorf("keep2/k: %q, want %s and %s (not %s)", got, n3, n2, n1)
	}
	if got := getString(t, w, b, "keep2/k"); got != "3" {
		t.Errorf("keep2/k: %q", got)
	}
	// marker/x: the lone delete marker is removed.
	waitFor(t, 20*time.Second, "marker/x's lone delete marker removed", func() bool {
		return len(versionsOf(t, w, b, "marker/")) == 0
	})
	for _, c := range []struct{ kind, min string }{{"current", "1"}, {"noncurrent", "3"}, {"delete_marker", "1"}} {
		name := `s4_lifecycle_expired_total{kind="` + c.kind + `"}`
		if l := metricLine(t, e.n, name); l != name+" "+c.min {
			t.Errorf("metric: %s, want %s", l, c.min)
		}
	}
}

// TestClusterLifecycleVersions: three nodes, a versioned bucket, one-second
// days: the delete marker the leader's Expiration makes has the same ID
// on every node, and every node lists the same versions after the
// noncurrent version is deleted.
func TestClusterLifecycleVersions(t *testing.T) {
	nodes := startLifecycleCluster(t)
	clients := writerClients(t, nodes)
	const b = "lcclusterv"
	mkBucket(t, clients[0], b)
	must[*s3.PutBucketVersioningOutput](t)(clients[1].PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: aws.String(b),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}))
	putString(t, clients[0], b, "k", "one")
	putString(t, clients[1], b, "k", "two")
	must[*s3.PutBucketLifecycleConfigurationOutput](t)(clients[2].PutBucketLifecycleConfiguration(bg, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(b),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			{ID: aws.String("k"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{},
				Expiration:                  &types.LifecycleExpiration{Days: aws.Int32(1)},
				NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1), NewerNoncurrentVersions: aws.Int32(1)}}}}}))
	// The end state: the marker, and "two" kept as the one newer
	// noncurrent version ("one" deleted).
	var want []string
	waitFor(t, 30*time.Second, "the marker and one noncurrent version", func() bool {
		got := versionsOf(t, clients[0], b, "")
		if len(got) != 2 || !strings.HasSuffix(got[1], "(marker)") {
			return false
		}
		want = got
		return true
	})
	for i, c := range clients {
		waitFor(t, 10*time.Second, fmt.Sprintf("n%d's versions", i+1), func() bool {
			return strings.Join(versionsOf(t, c, b, ""), " ") == strings.Join(want, " ")
		})
		if got := getStringVersion(t, c, b, "k", strings.TrimPrefix(want[0], "k@")); got != "two" {
			t.Errorf("n%d: the noncurrent version is %q", i+1, got)
		}
		_, err := c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k")})
		wantCode(t, err, "NoSuchKey", 404)
	}
}

func getStringVersion(t *testing.T, c *s3.Client, bucket, key, id string) string {
	t.Helper()
	out := must[*s3.GetObjectOutput](t)(c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(id)}))
	return string(readAll(t, out.Body))
}
