package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Admin is the admin API's request metrics (not a hot path: a label lookup
// per request is fine). Its methods do nothing on a nil *Admin.
type Admin struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newAdmin() *Admin {
	return &Admin{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "admin", Name: "requests_total",
			Help: "Admin API requests answered, by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "admin", Name: "request_duration_seconds",
			Help:    "Time an admin API request took, by route (a revocation includes its barrier; a login its password hash).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
}

// Request records one answered admin request; route is one of the admin
// API's fixed route names.
func (a *Admin) Request(route string, status int, d time.Duration) {
	if a == nil {
		return
	}
	a.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	a.latency.WithLabelValues(route).Observe(d.Seconds())
}

// Describe implements prometheus.Collector.
func (a *Admin) Describe(ch chan<- *prometheus.Desc) {
	a.requests.Describe(ch)
	a.latency.Describe(ch)
}

// Collect implements prometheus.Collector.
func (a *Admin) Collect(ch chan<- prometheus.Metric) {
	a.requests.Collect(ch)
	a.latency.Collect(ch)
}

// Barrier is the revocation barrier's metrics (on the leader, which runs
// it). Its methods do nothing on a nil *Barrier.
type Barrier struct {
	latency *prometheus.HistogramVec
	nodes   *prometheus.CounterVec
}

// The barrier's outcomes: every other voter confirmed it applied the
// event, or at least one was waited out until its lease had certainly
// expired.
const (
	BarrierConfirmed    = "confirmed"
	BarrierLeaseExpired = "lease_expired"
)

func newBarrier() *Barrier {
	b := &Barrier{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "revocation_barrier", Name: "duration_seconds",
			Help: "Time from a revocation-class event's apply on the leader to its acknowledgement, by outcome: " +
				"confirmed (every other voter confirmed it applied the event) or lease_expired (at least one was waited out).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2, 5},
		}, []string{"outcome"}),
		nodes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "revocation_barrier", Name: "nodes_total",
			Help: "Other voters a revocation barrier passed, by how: confirmed (applied the event) or lease_expired (waited out).",
		}, []string{"how"}),
	}
	for _, o := range []string{BarrierConfirmed, BarrierLeaseExpired} {
		b.latency.WithLabelValues(o)
		b.nodes.WithLabelValues(o)
	}
	return b
}

// Observe records one barrier that took d, passed by confirmed other
// voters and by expired ones whose lease it waited out.
func (b *Barrier) Observe(d time.Duration, confirmed, expired int) {
	if b == nil {
		return
	}
	outcome := BarrierConfirmed
	if expired > 0 {
		outcome = BarrierLeaseExpired
	}
	b.latency.WithLabelValues(outcome).Observe(d.Seconds())
	b.nodes.WithLabelValues(BarrierConfirmed).Add(float64(confirmed))
	b.nodes.WithLabelValues(BarrierLeaseExpired).Add(float64(expired))
}

// Describe implements prometheus.Collector.
func (b *Barrier) Describe(ch chan<- *prometheus.Desc) {
	b.latency.Describe(ch)
	b.nodes.Describe(ch)
}

// Collect implements prometheus.Collector.
func (b *Barrier) Collect(ch chan<- prometheus.Metric) {
	b.latency.Collect(ch)
	b.nodes.Collect(ch)
}
