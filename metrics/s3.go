package metrics

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// AuthReason is why an S3 request failed authentication or authorization.
type AuthReason uint8

const (
	AuthUnknownKey   AuthReason = iota // no such access key (never issued, or not known to this node)
	AuthRevoked                        // a key this node saw revoked, replaced or deleted with its user
	AuthInactiveUser                   // the key's user is deactivated
	AuthBadSignature                   // SignatureDoesNotMatch
	AuthSkew                           // the request's time is too far from the node's (or not yet valid)
	AuthExpired                        // a presigned URL past its expiry
	AuthRole                           // authenticated, but the user's role may not run the operation
	AuthAnonymous                      // no credential at all
	AuthMalformed                      // a credential that does not parse
	numAuthReasons
)

var authReasonNames = [numAuthReasons]string{
	"unknown_key", "revoked", "inactive_user", "bad_signature", "skew", "expired", "role", "anonymous", "malformed",
}

func (r AuthReason) String() string {
	if r < numAuthReasons {
		return authReasonNames[r]
	}
	return "unknown"
}

// maxStatus bounds the status codes counted one by one (HTTP's are below).
const maxStatus = 600

// S3 is the S3 API's request metrics. Its methods are safe for concurrent
// use, allocate nothing, and do nothing on a nil *S3.
type S3 struct {
	ops      []string // label values by index; the last is "unknown"
	requests [][maxStatus]atomic.Uint64
	in, out  []atomic.Uint64
	latency  []prometheus.Observer
	auth     [numAuthReasons]atomic.Uint64

	latencyVec                              *prometheus.HistogramVec
	requestsDesc, inDesc, outDesc, authDesc *prometheus.Desc
}

// LatencyBuckets are the S3 latency histogram's upper bounds, in seconds.
var LatencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newS3(ops []string) *S3 {
	s := &S3{ops: append(append([]string(nil), ops...), "unknown")}
	n := len(s.ops)
	s.requests = make([][maxStatus]atomic.Uint64, n)
	s.in, s.out = make([]atomic.Uint64, n), make([]atomic.Uint64, n)
	s.latencyVec = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "s3", Name: "request_duration_seconds",
		Help:    "Time an S3 request took, by operation, until its handler returned (for a GET, until the body starts streaming).",
		Buckets: LatencyBuckets,
	}, []string{"operation"})
	s.latency = make([]prometheus.Observer, n)
	for i, op := range s.ops {
		s.latency[i] = s.latencyVec.WithLabelValues(op)
	}
	s.requestsDesc = prometheus.NewDesc("s4_s3_requests_total", "S3 requests answered, by operation and status code.", []string{"operation", "code"}, nil)
	s.inDesc = prometheus.NewDesc("s4_s3_received_bytes_total", "Request body bytes of S3 requests (their Content-Length), by operation.", []string{"operation"}, nil)
	s.outDesc = prometheus.NewDesc("s4_s3_sent_bytes_total", "Response body bytes of S3 requests, by operation.", []string{"operation"}, nil)
	s.authDesc = prometheus.NewDesc("s4_s3_auth_failures_total", "S3 requests refused by authentication or by role, by reason.", []string{"reason"}, nil)
	return s
}

// Request records one answered request of operation op (an index of the
// ops given to New; out of range counts as "unknown").
func (s *S3) Request(op, status int, d time.Duration, in, out int64) {
	if s == nil {
		return
	}
	if op < 0 || op >= len(s.ops) {
		op = len(s.ops) - 1
	}
	if status < 0 || status >= maxStatus {
		status = 0
	}
	s.requests[op][status].Add(1)
	if in > 0 {
		s.in[op].Add(uint64(in))
	}
	if out > 0 {
		s.out[op].Add(uint64(out))
	}
	s.latency[op].Observe(d.Seconds())
}

// AuthFailure records a request refused for reason.
func (s *S3) AuthFailure(reason AuthReason) {
	if s == nil || reason >= numAuthReasons {
		return
	}
	s.auth[reason].Add(1)
}

// Describe implements prometheus.Collector.
func (s *S3) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.requestsDesc
	ch <- s.inDesc
	ch <- s.outDesc
	ch <- s.authDesc
	s.latencyVec.Describe(ch)
}

// Collect implements prometheus.Collector: counters that never moved are
// left out, except the auth failures, which are always there (alerts
// compare them).
func (s *S3) Collect(ch chan<- prometheus.Metric) {
	for op, name := range s.ops {
		for code := range s.requests[op] {
			if n := s.requests[op][code].Load(); n > 0 {
				label := "other"
				if code > 0 {
					label = strconv.Itoa(code)
				}
				ch <- prometheus.MustNewConstMetric(s.requestsDesc, prometheus.CounterValue, float64(n), name, label)
			}
		}
		if n := s.in[op].Load(); n > 0 {
			ch <- prometheus.MustNewConstMetric(s.inDesc, prometheus.CounterValue, float64(n), name)
		}
		if n := s.out[op].Load(); n > 0 {
			ch <- prometheus.MustNewConstMetric(s.outDesc, prometheus.CounterValue, float64(n), name)
		}
	}
	for r := range s.auth {
		ch <- prometheus.MustNewConstMetric(s.authDesc, prometheus.CounterValue, float64(s.auth[r].Load()), authReasonNames[r])
	}
	s.latencyVec.Collect(ch)
}
