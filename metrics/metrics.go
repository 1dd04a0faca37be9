// Package metrics is one S4 node's Prometheus metrics (the standard client,
// github.com/prometheus/client_golang): a registry per node, the counters
// the request paths move (S3, admin API, revocation barrier), and the text
// exposition of GET /metrics. What the node reads at scrape time (Raft, the
// leases, the disk, the FSM) is a collector in package node
// (node/metrics.go) registered here.
//
// The S3 path is the hot one: a request costs an atomic add per counter and
// one histogram observation, with no allocation and no label lookup (the
// operation is an index into slices built once; the status code an index
// into an array). Label sets are bounded: operations, status codes, routes,
// reasons and outcomes, never a key, a bucket or a user.
//
// Files:
//   - metrics.go: Registry, the exposition;
//   - s3.go: S3, the S3 API's requests, latencies, bytes and auth failures;
//   - admin.go: Admin, the admin API's requests; Barrier, the revocation
//     barrier's latency and how it was passed;
//   - scrub.go: Scrub, what the blob scrubber checked, found and repaired;
//   - lifecycle.go: Lifecycle, what the lifecycle evaluator expired and
//     aborted.
package metrics

import (
	"bytes"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// Namespace prefixes every S4 metric.
const Namespace = "s4"

// Registry is one node's metrics.
type Registry struct {
	reg       *prometheus.Registry
	S3        *S3
	Admin     *Admin
	Barrier   *Barrier
	Scrub     *Scrub
	Lifecycle *Lifecycle
}

// New returns a node's registry with the Go runtime and process
// collectors, and the S3 metrics of the operations named ops (their
// indexes are what S3.Request takes).
func New(ops []string) *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), S3: newS3(ops), Admin: newAdmin(), Barrier: newBarrier(), Scrub: newScrub(), Lifecycle: newLifecycle()}
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.S3, r.Admin, r.Barrier, r.Scrub, r.Lifecycle,
	)
	return r
}

// Register adds a collector (the node's, read at scrape time).
func (r *Registry) Register(c prometheus.Collector) error { return r.reg.Register(c) }

// ContentType is the media type of Write's output (the text format 0.0.4,
// which every Prometheus reads).
var ContentType = string(expfmt.NewFormat(expfmt.TypeTextPlain))

// Write gathers every metric and writes them in the text format. A
// collector's error is returned after what could be gathered was written.
func (r *Registry) Write(w io.Writer) error {
	mfs, gatherErr := r.reg.Gather()
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return err
	}
	return gatherErr
}

// Gatherer returns the registry for tests and embedding.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }
