package metrics

import "github.com/prometheus/client_golang/prometheus"

// Lifecycle is the lifecycle evaluator's counts (node/lifecycle.go), on
// the node that ran it (the leader): versions its expirations removed, by
// kind ("current": a latest version deleted or hidden by a delete marker,
// "noncurrent": a noncurrent version deleted, "delete_marker": a lone
// delete marker removed), multipart uploads they aborted, and its runs.
// Labels are bounded: never a bucket or a key. Its methods do nothing on
// a nil *Lifecycle.
type Lifecycle struct {
	expired       *prometheus.CounterVec
	aborted, runs prometheus.Counter
	current       prometheus.Counter
	noncurrent    prometheus.Counter
	deleteMarkers prometheus.Counter
}

// LifecycleKinds are the values of s4_lifecycle_expired_total's kind.
var LifecycleKinds = []string{"current", "noncurrent", "delete_marker"}

func newLifecycle() *Lifecycle {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "lifecycle", Name: name, Help: help})
	}
	l := &Lifecycle{
		expired: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "lifecycle", Name: "expired_total",
			Help: "Versions the lifecycle evaluator of this node expired, by kind: current (deleted, or hidden by a delete marker in a versioned bucket), noncurrent (deleted), delete_marker (a lone one removed)."}, []string{"kind"}),
		aborted: c("aborted_total", "Multipart uploads the lifecycle evaluator of this node aborted (AbortIncompleteMultipartUpload)."),
		runs:    c("runs_total", "Lifecycle evaluator runs this node made (as the leader)."),
	}
	l.current = l.expired.WithLabelValues("current")
	l.noncurrent = l.expired.WithLabelValues("noncurrent")
	l.deleteMarkers = l.expired.WithLabelValues("delete_marker")
	return l
}

// Applied counts what one applied expiration event did.
func (l *Lifecycle) Applied(current, noncurrent, deleteMarkers, aborted int) {
	if l != nil {
		l.current.Add(float64(current))
		l.noncurrent.Add(float64(noncurrent))
		l.deleteMarkers.Add(float64(deleteMarkers))
		l.aborted.Add(float64(aborted))
	}
}

// Run counts one evaluator run.
func (l *Lifecycle) Run() {
	if l != nil {
		l.runs.Inc()
	}
}

// Describe implements prometheus.Collector.
func (l *Lifecycle) Describe(ch chan<- *prometheus.Desc) {
	l.expired.Describe(ch)
	l.aborted.Describe(ch)
	l.runs.Describe(ch)
}

// Collect implements prometheus.Collector.
func (l *Lifecycle) Collect(ch chan<- prometheus.Metric) {
	l.expired.Collect(ch)
	l.aborted.Collect(ch)
	l.runs.Collect(ch)
}
