package metrics

import "github.com/prometheus/client_golang/prometheus"

// Lifecycle is the lifecycle evaluator's counts (node/lifecycle.go), on
// the node that ran it (the leader): objects its expirations deleted,
// multipart uploads they aborted, and its runs. No labels: never a bucket
// or a key. Its methods do nothing on a nil *Lifecycle.
type Lifecycle struct {
	expired, aborted, runs prometheus.Counter
}

func newLifecycle() *Lifecycle {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "lifecycle", Name: name, Help: help})
	}
	return &Lifecycle{
		expired: c("expired_total", "Objects the lifecycle evaluator of this node expired (deleted by an Expiration rule)."),
		aborted: c("aborted_total", "Multipart uploads the lifecycle evaluator of this node aborted (AbortIncompleteMultipartUpload)."),
		runs:    c("runs_total", "Lifecycle evaluator runs this node made (as the leader)."),
	}
}

// Applied counts what one applied expiration event did.
func (l *Lifecycle) Applied(expired, aborted int) {
	if l != nil {
		l.expired.Add(float64(expired))
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
	for _, c := range []prometheus.Counter{l.expired, l.aborted, l.runs} {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (l *Lifecycle) Collect(ch chan<- prometheus.Metric) {
	for _, c := range []prometheus.Counter{l.expired, l.aborted, l.runs} {
		c.Collect(ch)
	}
}
