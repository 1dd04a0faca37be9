package s3_test

// The handler's metrics and access log (observe.go), against the handler on
// its own (harness_test.go).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/s4/s4/accesslog"
	"github.com/s4/s4/fsm"
	"github.com/s4/s4/internal/s3test"
	"github.com/s4/s4/metrics"
	s4s3 "github.com/s4/s4/s3"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// counter returns the counter of family name with the labels.
func counter(t *testing.T, m *metrics.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range mfs[name].GetMetric() {
		if matches(mt, labels) {
			if mt.Histogram != nil {
				return float64(mt.GetHistogram().GetSampleCount())
			}
			return mt.GetCounter().GetValue()
		}
	}
	return 0
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(labels)
}

// TestS3MetricsAndAccessLog: requests are counted by operation and status
// (also those refused before routing), bytes in and out, auth failures by
// reason; the access log has one JSON line per request with its fields
// and no secret.
func TestS3MetricsAndAccessLog(t *testing.T) {
	e := newEnv(t)
	m := metrics.New(s4s3.OperationNames())
	var out lockedBuf
	al := accesslog.New(&out, "n1")
	h := s4s3.New(s4s3.Config{Metrics: m.S3, AccessLog: al}, e.prop.f, e.meta, e.prop, e.blobs, nil)
	e.prop.f.OnCredentialDropped(h.Dropped)
	c := e.serve(t, h)

	w := c.SDKFor(e.writer)
	s3test.MkBucket(t, w, "metered")
	body := strings.Repeat("x", 4096)
	s3test.PutString(t, w, "metered", "k/1", body)
	if got := s3test.GetString(t, w, "metered", "k/1"); got != body {
		t.Fatal("GET returned another body")
	}
	// Refused: by role, an unknown key, a wrong secret, no credential.
	if resp, _ := c.Signed(t, e.reader, "PUT", "/metered/denied", []byte("x"), nil); resp.StatusCode != 403 {
		t.Fatalf("a Reader's PUT: %d", resp.StatusCode)
	}
	nobody := s3test.User{AccessKey: "S4AKAAAAAAAAAAAAAAAAAAAA", SecretKey: strings.Repeat("s", 40)}
	if resp, _ := c.Signed(t, nobody, "GET", "/metered", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("an unknown key: %d", resp.StatusCode)
	}
	wrong := e.writer
	wrong.SecretKey = strings.Repeat("w", 40)
	if resp, _ := c.Signed(t, wrong, "HEAD", "/metered", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("a wrong secret: %d", resp.StatusCode)
	}
	if resp, err := c.HTTP.Get(c.Endpoint + "/metered"); err != nil || resp.StatusCode != 403 {
		t.Fatalf("anonymous: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// Revoked: the key the reader had.
	if err := e.prop.Propose(bg, fsm.MsgCredentialRevoke, &fsm.CredentialRevoke{UserID: e.reader.ID, At: time.Now().UnixNano()}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := c.Signed(t, e.reader, "GET", "/metered", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("a revoked key: %d", resp.StatusCode)
	}
	// Inactive: the super user, deactivated.
	inactive := false
	if err := e.prop.Propose(bg, fsm.MsgUserUpdate, &fsm.UserUpdate{ID: e.super.ID, Active: &inactive, At: time.Now().UnixNano()}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := c.Signed(t, e.super, "GET", "/metered", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("an inactive user: %d", resp.StatusCode)
	}

	for _, want := range []struct {
		name   string
		labels map[string]string
		n      float64
	}{
		{"s4_s3_requests_total", map[string]string{"operation": "CreateBucket", "code": "200"}, 1},
		{"s4_s3_requests_total", map[string]string{"operation": "PutObject", "code": "200"}, 1},
		{"s4_s3_requests_total", map[string]string{"operation": "PutObject", "code": "403"}, 1},
		{"s4_s3_requests_total", map[string]string{"operation": "GetObject", "code": "200"}, 1},
		{"s4_s3_requests_total", map[string]string{"operation": "ListObjects", "code": "403"}, 4},
		{"s4_s3_requests_total", map[string]string{"operation": "HeadBucket", "code": "403"}, 1},
		{"s4_s3_received_bytes_total", map[string]string{"operation": "PutObject"}, 4096 + 1},
		{"s4_s3_sent_bytes_total", map[string]string{"operation": "GetObject"}, 4096},
		{"s4_s3_request_duration_seconds", map[string]string{"operation": "GetObject"}, 1},
		{"s4_s3_auth_failures_total", map[string]string{"reason": "role"}, 1},
		{"s4_s3_auth_failures_total", map[string]string{"reason": "unknown_key"}, 1},
		{"s4_s3_auth_failures_total", map[string]string{"reason": "bad_signature"}, 1},
		{"s4_s3_auth_failures_total", map[string]string{"reason": "anonymous"}, 1},
		{"s4_s3_auth_failures_total", map[string]string{"reason": "revoked"}, 1},
		{"s4_s3_auth_failures_total", map[string]string{"reason": "inactive_user"}, 1},
	} {
		if got := counter(t, m, want.name, want.labels); got < want.n || (want.name == "s4_s3_auth_failures_total" && got != want.n) {
			t.Errorf("%s%v = %v, want %v", want.name, want.labels, got, want.n)
		}
	}

	if err := al.Close(); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	logged := out.b.String()
	out.mu.Unlock()
	for _, u := range []s3test.User{e.reader, e.writer, e.super, wrong, nobody} {
		if strings.Contains(logged, u.SecretKey) {
			t.Fatal("a secret key is in the access log")
		}
	}
	if strings.Contains(logged, "Signature=") || strings.Contains(logged, "AWS4-HMAC") {
		t.Fatal("a signature is in the access log")
	}
	sc := bufio.NewScanner(strings.NewReader(logged))
	ops := map[string]int{}
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not JSON: %s", sc.Bytes())
		}
		for _, f := range []string{"time", "request_id", "node", "access_key", "user_id", "operation", "bucket", "key",
			"status", "error_code", "bytes_in", "bytes_out", "duration_ms", "remote_addr"} {
			if _, ok := l[f]; !ok {
				t.Fatalf("no %s in %s", f, sc.Bytes())
			}
		}
		op, _ := l["operation"].(string)
		ops[op]++
		if op == "GetObject" && (l["key"] != "k/1" || l["bucket"] != "metered" || l["bytes_out"] != float64(4096) ||
			l["access_key"] != e.writer.AccessKey || l["user_id"] != e.writer.ID || l["status"] != float64(200) || l["node"] != "n1") {
			t.Errorf("GetObject line: %s", sc.Bytes())
		}
		if op == "PutObject" && l["status"] == float64(403) && (l["error_code"] != "AccessDenied" || l["access_key"] != e.reader.AccessKey) {
			t.Errorf("refused PutObject line: %s", sc.Bytes())
		}
	}
	if ops["GetObject"] != 1 || ops["PutObject"] != 2 || ops["ListObjects"] != 4 {
		t.Errorf("access log operations: %v", ops)
	}
}
