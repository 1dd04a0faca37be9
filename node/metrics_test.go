package node

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeTokenJSON is the admin API's answer to a token's creation.
type scrapeTokenJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Token string `json:"token"`
}

// scrape GETs /metrics from c's node with token ("" for none) and returns
// the status and body.
func scrape(t *testing.T, c *client, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// families parses a scrape with Prometheus's text parser.
func families(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	return mfs
}

// metricValue is the value of the sample of family name whose labels
// include labels (a histogram's sample count); ok false if none.
func metricValue(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
next:
	for _, m := range mfs[name].GetMetric() {
		for k, v := range labels {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// scrapeOK scrapes until the node accepts token (10 s at most) and returns
// the parsed metrics.
func scrapeOK(t *testing.T, c *client, token string) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := scrape(t, c, token)
		if code == 200 {
			return families(t, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the token gets %d: %s", c.base, code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newScrapeToken(t *testing.T, c *client, name string) scrapeTokenJSON {
	t.Helper()
	var tok scrapeTokenJSON
	code, b, _ := c.doRetry("POST", "/api/admin/metrics/tokens", map[string]string{"name": name})
	if code != 201 || json.Unmarshal(b, &tok) != nil || tok.Token == "" {
		t.Fatalf("create scrape token: %d %s", code, b)
	}
	return tok
}

// TestMetricsEndpoint: /metrics refuses a scrape without a token, or with
// an unknown one; with a token it parses with Prometheus's text parser and
// has the node's metrics; counters move as requests are made (a Reader's
// PUT raises the role-denied counter, a revoke the barrier histogram's
// count, admin requests theirs); a revoked token stops working; an S3
// client still reaches a bucket named "metrics".
func TestMetricsEndpoint(t *testing.T) {
	e := newS3Env(t)
	c := e.admin
	if code, body := scrape(t, c, ""); code != 401 || !strings.Contains(string(body), "scrape token") {
		t.Fatalf("no token: %d %s", code, body)
	}
	if code, _ := scrape(t, c, "s4mt_not-a-token"); code != 401 {
		t.Fatalf("an unknown token: %d", code)
	}
	if code, _ := scrape(t, c, c.token); code != 401 {
		t.Fatalf("an admin session token: %d", code)
	}
	tok := newScrapeToken(t, c, "prometheus")
	code, body := scrape(t, c, tok.Token)
	if code != 200 {
		t.Fatalf("with the token: %d %s", code, body)
	}
	before := families(t, body)
	for _, want := range []struct {
		name   string
		labels map[string]string
		v      float64
	}{
		{"s4_node_info", map[string]string{"node": e.n.ID()}, 1},
		{"s4_node_ready", nil, 1},
		{"s4_node_fenced", nil, 0},
		{"s4_raft_state", map[string]string{"state": "leader"}, 1},
		{"s4_raft_state", map[string]string{"state": "follower"}, 0},
		{"s4_leader_lease_held", nil, 1},
		{"s4_raft_voters", nil, 1},
		{"s4_iam_users", nil, 4},
		{"s4_iam_credentials", nil, 3},
		{"s4_iam_scrape_tokens", nil, 1},
		{"s4_fsm_events_applied_total", map[string]string{"event": "UserCreate", "kind": "iam"}, 4},
		{"s4_fsm_events_applied_total", map[string]string{"event": "ScrapeTokenCreate", "kind": "iam"}, 1},
		{"s4_disk_at_reserve", nil, 0},
	} {
		if v, ok := metricValue(before, want.name, want.labels); !ok || v != want.v {
			t.Errorf("%s%v = %v (found %v), want %v", want.name, want.labels, v, ok, want.v)
		}
	}
	for _, name := range []string{"s4_raft_term", "s4_raft_commit_index", "s4_raft_applied_index", "s4_fsm_applied_index",
		"s4_leader_lease_remaining_seconds", "s4_disk_free_bytes", "s4_disk_reserve_bytes", "s4_disk_total_bytes",
		"s4_raft_leader_changes_total", "go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total"} {
		if _, ok := metricValue(before, name, nil); !ok {
			t.Errorf("no %s", name)
		}
	}
	if v, _ := metricValue(before, "s4_raft_leader_changes_total", nil); v < 1 {
		t.Errorf("leader changes %v on a node that was elected", v)
	}

	// Requests move the counters.
	w := e.sdkFor(e.writer)
	mkBucket(t, w, "metrics") // a bucket named like the path: S3 clients still reach it
	putString(t, w, "metrics", "k", "hello")
	out := must[*s3.ListObjectsV2Output](t)(w.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("metrics")}))
	if len(out.Contents) != 1 {
		t.Fatalf("list of bucket metrics: %d keys", len(out.Contents))
	}
	if resp, _ := e.s3().Signed(t, e.writer, "GET", "/metrics", nil, nil); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "xml") {
		t.Fatalf("a signed GET /metrics is not ListObjects: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	_, err := e.sdkFor(e.reader).PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("metrics"), Key: aws.String("no"), Body: strings.NewReader("x")})
	wantCode(t, err, "AccessDenied", 403)
	if code := c.do("DELETE", "/api/admin/users/"+e.reader.ID+"/credentials", nil, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	_, body = scrape(t, c, tok.Token)
	after := families(t, body)
	delta := func(name string, labels map[string]string) float64 {
		b, _ := metricValue(before, name, labels)
		a, _ := metricValue(after, name, labels)
		return a - b
	}
	if d := delta("s4_s3_auth_failures_total", map[string]string{"reason": "role"}); d != 1 {
		t.Errorf("role-denied counter moved by %v, want 1", d)
	}
	if d := delta("s4_revocation_barrier_duration_seconds", map[string]string{"outcome": "confirmed"}); d != 1 {
		t.Errorf("barrier histogram count moved by %v, want 1", d)
	}
	if d := delta("s4_s3_requests_total", map[string]string{"operation": "PutObject", "code": "200"}); d != 1 {
		t.Errorf("PutObject 200 moved by %v", d)
	}
	if d := delta("s4_s3_requests_total", map[string]string{"operation": "PutObject", "code": "403"}); d != 1 {
		t.Errorf("PutObject 403 moved by %v", d)
	}
	if d := delta("s4_s3_received_bytes_total", map[string]string{"operation": "PutObject"}); d < 5 {
		t.Errorf("received bytes moved by %v", d)
	}
	if d := delta("s4_s3_request_duration_seconds", map[string]string{"operation": "ListObjectsV2"}); d != 1 {
		t.Errorf("ListObjectsV2 latency count moved by %v", d)
	}
	if d := delta("s4_admin_requests_total", map[string]string{"route": "credentials", "code": "204"}); d != 1 {
		t.Errorf("admin credentials 204 moved by %v", d)
	}
	if d := delta("s4_fsm_events_applied_total", map[string]string{"event": "ObjectPut"}); d != 1 {
		t.Errorf("ObjectPut events moved by %v", d)
	}
	for _, f := range after {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, bad := range []string{"metrics", "k", e.writer.Name, e.writer.ID, e.writer.AccessKey} {
					if l.GetValue() == bad && l.GetName() != "node" {
						t.Errorf("%s has the label %s=%q", f.GetName(), l.GetName(), bad)
					}
				}
			}
		}
	}

	// The blob store's size comes from a walk that a scrape starts (the
	// first one's, before the PUT, found nothing; the next in 5 minutes).
	putString(t, w, "metrics", "blob", strings.Repeat("b", int(e.n.cfg.InlineThreshold)+1)) // a blob (small bodies are inline)
	e.n.obs.blobScan.Store(nil)
	scrape(t, c, tok.Token)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body = scrape(t, c, tok.Token)
		if v, ok := metricValue(families(t, body), "s4_blob_store_bytes", nil); ok {
			if v <= 0 {
				t.Errorf("blob store bytes %v with an object stored", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no s4_blob_store_bytes 10 s after the first scrape")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Revoked: the next scrape is refused.
	if code := c.do("DELETE", "/api/admin/metrics/tokens/"+tok.ID, nil, nil); code != 204 {
		t.Fatalf("revoke the scrape token: %d", code)
	}
	if code, _ := scrape(t, c, tok.Token); code != 401 {
		t.Fatalf("a revoked token: %d", code)
	}
}

func TestMetricsPublic(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MetricsPublic = true
	n := mustOpen(t, cfg)
	c := newClient(t, n)
	code, body := scrape(t, c, "")
	if code != 200 {
		t.Fatalf("public metrics: %d", code)
	}
	if _, ok := metricValue(families(t, body), "s4_node_ready", nil); !ok {
		t.Fatal("no s4_node_ready")
	}
}

// TestClusterScrapeTokenRevoke: a token created through a follower works
// on every node of a three-node cluster; once its revoke (through the
// other follower) is acknowledged, the very next scrape on every node
// refuses it.
func TestClusterScrapeTokenRevoke(t *testing.T) {
	nodes := startCluster(t)
	leader, f1 := leaderAndFollower(t, nodes)
	var f2 *Node
	for _, n := range nodes {
		if n != leader && n != f1 {
			f2 = n
		}
	}
	c1 := loginRetry(t, f1)
	tok := newScrapeToken(t, c1, "prometheus")
	clients := []*client{newClient(t, nodes[0]), newClient(t, nodes[1]), newClient(t, nodes[2])}
	for _, c := range clients {
		scrapeOK(t, c, tok.Token) // a creation reaches the other nodes soon after
	}
	c2 := loginRetry(t, f2)
	if code := c2.do("DELETE", "/api/admin/metrics/tokens/"+tok.ID, nil, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	// Every node either applied the revoke before the answer or had its
	// lease run out (on a loaded machine a healthy node may be waited out).
	confirmed, expired := c2.last.Get("X-S4-Confirmed-By"), c2.last.Get("X-S4-Lease-Expired")
	for _, n := range nodes {
		if !slices.Contains(strings.Split(confirmed, ","), n.ID()) && !slices.Contains(strings.Split(expired, ","), n.ID()) {
			t.Errorf("the revoke's answer (confirmed by %q, lease expired %q) does not account for %s", confirmed, expired, n.ID())
		}
	}
	for i, c := range clients {
		if code, _ := scrape(t, c, tok.Token); code == 200 {
			t.Errorf("node %s accepts the revoked token (confirmed %q expired %q; leader %s f2 %s; node applied %d role %v)", nodes[i].ID(), confirmed, expired, leader.ID(), f2.ID(), nodes[i].raft.AppliedIndex(), nodes[i].raft.State())
		}
	}
	// Whoever led ran the barrier and counted it (under load the
	// leadership may have moved since the test began: sum over the nodes).
	lc := newClient(t, leader)
	lc.token = c1.token
	tok2 := newScrapeToken(t, lc, "second")
	var conf, exp float64
	for _, c := range clients {
		m := scrapeOK(t, c, tok2.Token)
		v, _ := metricValue(m, "s4_revocation_barrier_nodes_total", map[string]string{"how": "confirmed"})
		w, _ := metricValue(m, "s4_revocation_barrier_nodes_total", map[string]string{"how": "lease_expired"})
		conf, exp = conf+v, exp+w
	}
	if conf+exp < 2 {
		t.Errorf("the barriers counted %v confirmations and %v expired leases, want at least the two other nodes", conf, exp)
	}
	var follower *Node
	for _, n := range nodes {
		if !n.IsLeader() {
			follower = n
			break
		}
	}
	mfs := scrapeOK(t, newClient(t, follower), tok2.Token)
	if v, ok := metricValue(mfs, "s4_auth_lease_held", nil); !ok || v != 1 {
		t.Errorf("a follower's auth_lease_held = %v (%v)", v, ok)
	}
	if v, ok := metricValue(mfs, "s4_auth_lease_grant_age_seconds", nil); !ok || v < 0 || v > 1 {
		t.Errorf("a follower's grant age = %v (%v)", v, ok)
	}
}
