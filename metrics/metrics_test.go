package metrics

import (
	"bytes"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parse writes r and parses it back with Prometheus's text parser.
func parse(t *testing.T, r *Registry) map[string]*dto.MetricFamily {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// value returns the value of the metric of family name whose labels
// include want (a counter, a gauge, or a histogram's sample count).
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
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

func TestS3Metrics(t *testing.T) {
	r := New([]string{"GetObject", "PutObject"})
	r.S3.Request(0, 200, time.Millisecond, 0, 4096)
	r.S3.Request(0, 200, time.Millisecond, 0, 4096)
	r.S3.Request(1, 403, time.Millisecond, 100, 200)
	r.S3.Request(-1, 503, time.Millisecond, 0, 0)
	r.S3.Request(7, 999, time.Millisecond, 0, 0)
	r.S3.AuthFailure(AuthRole)
	r.Admin.Request("users", 201, time.Millisecond)
	r.Barrier.Observe(2*time.Millisecond, 2, 0)
	r.Barrier.Observe(time.Second, 1, 1)
	mfs := parse(t, r)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"s4_s3_requests_total", map[string]string{"operation": "GetObject", "code": "200"}, 2},
		{"s4_s3_requests_total", map[string]string{"operation": "PutObject", "code": "403"}, 1},
		{"s4_s3_requests_total", map[string]string{"operation": "unknown", "code": "503"}, 1},
		{"s4_s3_requests_total", map[string]string{"operation": "unknown", "code": "other"}, 1},
		{"s4_s3_sent_bytes_total", map[string]string{"operation": "GetObject"}, 8192},
		{"s4_s3_received_bytes_total", map[string]string{"operation": "PutObject"}, 100},
		{"s4_s3_request_duration_seconds", map[string]string{"operation": "GetObject"}, 2},
		{"s4_s3_auth_failures_total", map[string]string{"reason": "role"}, 1},
		{"s4_s3_auth_failures_total", map[string]string{"reason": "revoked"}, 0},
		{"s4_admin_requests_total", map[string]string{"route": "users", "code": "201"}, 1},
		{"s4_revocation_barrier_duration_seconds", map[string]string{"outcome": "confirmed"}, 1},
		{"s4_revocation_barrier_duration_seconds", map[string]string{"outcome": "lease_expired"}, 1},
		{"s4_revocation_barrier_nodes_total", map[string]string{"how": "confirmed"}, 3},
		{"s4_revocation_barrier_nodes_total", map[string]string{"how": "lease_expired"}, 1},
	} {
		if v, ok := value(mfs, c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if mfs["go_goroutines"] == nil || mfs["process_cpu_seconds_total"] == nil {
		t.Error("no Go runtime or process metrics")
	}
	var nilS3 *S3
	nilS3.Request(0, 200, 0, 0, 0) // a node without metrics: no panic
	nilS3.AuthFailure(AuthRole)
}

// TestS3RequestAllocatesNothing: the S3 hot path's metrics cost no
// allocation.
func TestS3RequestAllocatesNothing(t *testing.T) {
	r := New([]string{"HeadBucket"})
	if n := testing.AllocsPerRun(1000, func() {
		r.S3.Request(0, 200, 30*time.Microsecond, 0, 0)
		r.S3.AuthFailure(AuthBadSignature)
	}); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}

func BenchmarkS3Request(b *testing.B) {
	r := New([]string{"HeadBucket"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.S3.Request(0, 200, 30*time.Microsecond, 0, 4096)
		}
	})
}

// TestScrubMetrics: the scrub counters are there at 0 for both kinds from
// the start, move with the scrubber's calls, and an unknown kind does not
// add a label value.
func TestScrubMetrics(t *testing.T) {
	r := New(nil)
	mfs := parse(t, r)
	for _, k := range ScrubKinds {
		for _, name := range []string{"s4_scrub_checked_total", "s4_scrub_checked_bytes_total", "s4_scrub_corrupt_total", "s4_scrub_repaired_total", "s4_scrub_unrepairable_total"} {
			if v, ok := value(mfs, name, map[string]string{"kind": k}); !ok || v != 0 {
				t.Fatalf("%s{kind=%s} = %v, %v at the start", name, k, v, ok)
			}
		}
	}
	r.Scrub.Scrubbed("blob", 1000)
	r.Scrub.Scrubbed("inline", 10)
	r.Scrub.Corrupt("blob")
	r.Scrub.Repaired("blob")
	r.Scrub.Unrepairable("some other kind")
	r.Scrub.Pass()
	mfs = parse(t, r)
	for _, c := range []struct {
		name, kind string
		want       float64
	}{
		{"s4_scrub_checked_total", "blob", 1}, {"s4_scrub_checked_bytes_total", "blob", 1000},
		{"s4_scrub_checked_bytes_total", "inline", 10}, {"s4_scrub_corrupt_total", "blob", 1},
		{"s4_scrub_repaired_total", "blob", 1}, {"s4_scrub_unrepairable_total", "blob", 1},
	} {
		if v, _ := value(mfs, c.name, map[string]string{"kind": c.kind}); v != c.want {
			t.Errorf("%s{kind=%s} = %v, want %v", c.name, c.kind, v, c.want)
		}
	}
	if n := len(mfs["s4_scrub_unrepairable_total"].GetMetric()); n != 2 {
		t.Errorf("%d label values of kind, want 2", n)
	}
	if v, _ := value(mfs, "s4_scrub_passes_total", nil); v != 1 {
		t.Errorf("passes %v", v)
	}
	var nilScrub *Scrub
	nilScrub.Scrubbed("blob", 1) // no panic
}
