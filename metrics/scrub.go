package metrics

import "github.com/prometheus/client_golang/prometheus"

// Scrub is the scrubber's counts (package objects, scrub.go): what it
// checked and what it found, by kind: "blob" (a blob file, checked block
// by block) or "inline" (an object body kept in its metadata record); any
// other kind is counted as "blob", so the label stays bounded. Its methods
// do nothing on a nil *Scrub.
type Scrub struct {
	items, bytes, corrupt, repaired, unrepairable *prometheus.CounterVec
	passes                                        prometheus.Counter
}

// ScrubKinds are the values of the kind label.
var ScrubKinds = []string{"blob", "inline"}

func newScrub() *Scrub {
	c := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "scrub", Name: name, Help: help}, []string{"kind"})
		for _, k := range ScrubKinds {
			v.WithLabelValues(k) // present at 0 from the start
		}
		return v
	}
	return &Scrub{
		items:        c("checked_total", "Blobs (or inline bodies) the scrubber read and checked."),
		bytes:        c("checked_bytes_total", "Bytes the scrubber read and checked."),
		corrupt:      c("corrupt_total", "Blobs (or inline bodies) the scrubber found failing their checksums."),
		repaired:     c("repaired_total", "Corrupt blobs the scrubber replaced with a good copy from a peer."),
		unrepairable: c("unrepairable_total", "Corrupt blobs no peer could provide a good copy of (tried again next pass)."),
		passes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "scrub", Name: "passes_total",
			Help: "Scrub passes completed."}),
	}
}

func scrubKind(kind string) string {
	if kind == "inline" {
		return kind
	}
	return "blob"
}

// Scrubbed counts one item of n bytes checked.
func (s *Scrub) Scrubbed(kind string, n int64) {
	if s == nil {
		return
	}
	s.items.WithLabelValues(scrubKind(kind)).Inc()
	s.bytes.WithLabelValues(scrubKind(kind)).Add(float64(n))
}

// Corrupt counts one item found failing its checksum.
func (s *Scrub) Corrupt(kind string) {
	if s != nil {
		s.corrupt.WithLabelValues(scrubKind(kind)).Inc()
	}
}

// Repaired counts one corrupt item repaired.
func (s *Scrub) Repaired(kind string) {
	if s != nil {
		s.repaired.WithLabelValues(scrubKind(kind)).Inc()
	}
}

// Unrepairable counts one corrupt item that could not be repaired.
func (s *Scrub) Unrepairable(kind string) {
	if s != nil {
		s.unrepairable.WithLabelValues(scrubKind(kind)).Inc()
	}
}

// Pass counts one completed pass.
func (s *Scrub) Pass() {
	if s != nil {
		s.passes.Inc()
	}
}

// Describe implements prometheus.Collector.
func (s *Scrub) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range []*prometheus.CounterVec{s.items, s.bytes, s.corrupt, s.repaired, s.unrepairable} {
		v.Describe(ch)
	}
	s.passes.Describe(ch)
}

// Collect implements prometheus.Collector.
func (s *Scrub) Collect(ch chan<- prometheus.Metric) {
	for _, v := range []*prometheus.CounterVec{s.items, s.bytes, s.corrupt, s.repaired, s.unrepairable} {
		v.Collect(ch)
	}
	s.passes.Collect(ch)
}
