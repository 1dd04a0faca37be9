package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"time"
	"unicode/utf8"
)

// latencySummary is the distribution of successful request latencies, in
// milliseconds.
type latencySummary struct {
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted: the smallest sample with at least p% of the samples at or below
// it. It returns 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// summarize sorts lat in place and returns its summary.
func summarize(lat []time.Duration) latencySummary {
	if len(lat) == 0 {
		return latencySummary{}
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return latencySummary{
		Mean: ms(sum / time.Duration(len(lat))),
		P50:  ms(percentile(lat, 50)),
		P90:  ms(percentile(lat, 90)),
		P99:  ms(percentile(lat, 99)),
		Max:  ms(lat[len(lat)-1]),
	}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// report is the outcome of one run; -json prints it as is.
type report struct {
	Scenario    string  `json:"scenario"`
	Endpoint    string  `json:"endpoint"`
	Concurrency int     `json:"concurrency"`
	Duration    string  `json:"duration"`
	ElapsedSec  float64 `json:"elapsed_s"`

	Requests int64            `json:"requests"` // every completed op
	OK       int64            `json:"ok"`       // acknowledged events
	Errors   map[string]int64 `json:"errors"`   // by "HTTP nnn", "timeout", "transport"
	// ErrorHint holds one example message per error key.
	ErrorHint   map[string]string `json:"error_hint,omitempty"`
	EventsPerS  float64           `json:"events_per_s"`   // OK / elapsed
	RequestsPer float64           `json:"requests_per_s"` // Requests / elapsed
	Latency     latencySummary    `json:"latency"`        // of OK requests
	// Payload bytes per op (S3 GET/PUT) and MB/s (10^6 B/s) of OK ops.
	OpBytes int64    `json:"op_bytes,omitempty"`
	MBPerS  *float64 `json:"mb_per_s,omitempty"`

	// CPU-seconds (user+system) over the run; nil when not measured.
	ServerPID       string   `json:"server_pid,omitempty"` // one or several, comma-separated
	ServerCPUSec    *float64 `json:"server_cpu_s,omitempty"`
	ServerCPUPer1k  *float64 `json:"server_cpu_s_per_1000_req,omitempty"`
	ClientCPUSec    *float64 `json:"client_cpu_s,omitempty"`
	ClientCPUPer1k  *float64 `json:"client_cpu_s_per_1000_req,omitempty"`
	ServerCPUsBusy  *float64 `json:"server_cores_busy,omitempty"` // server CPU-s / elapsed s
	ClientCPUsBusy  *float64 `json:"client_cores_busy,omitempty"`
	ScenarioDetails string   `json:"scenario_details,omitempty"`
}

// newReport fills the request counts, rates and latencies from r.
func newReport(r runResult) report {
	var nerr int64
	for _, n := range r.Errors {
		nerr += n
	}
	rep := report{
		ElapsedSec: round3(r.Elapsed.Seconds()),
		OK:         int64(len(r.Latencies)),
		Errors:     r.Errors,
		ErrorHint:  r.ErrorHint,
		Latency:    summarize(r.Latencies),
	}
	rep.Requests = rep.OK + nerr
	if s := r.Elapsed.Seconds(); s > 0 {
		rep.EventsPerS = round3(float64(rep.OK) / s)
		rep.RequestsPer = round3(float64(rep.Requests) / s)
	}
	return rep
}

// setCPU records CPU-seconds used by the server and this client.
func (rep *report) setCPU(server, client *float64) {
	per1k := func(cpu *float64) *float64 {
		if cpu == nil || rep.Requests == 0 {
			return nil
		}
		v := round3(*cpu * 1000 / float64(rep.Requests))
		return &v
	}
	busy := func(cpu *float64) *float64 {
		if cpu == nil || rep.ElapsedSec == 0 {
			return nil
		}
		v := round3(*cpu / rep.ElapsedSec)
		return &v
	}
	rep.ServerCPUSec, rep.ServerCPUPer1k, rep.ServerCPUsBusy = server, per1k(server), busy(server)
	rep.ClientCPUSec, rep.ClientCPUPer1k, rep.ClientCPUsBusy = client, per1k(client), busy(client)
}

// setPayload records the payload size of one op and the resulting MB/s.
func (rep *report) setPayload(opBytes int64) {
	rep.OpBytes = opBytes
	if rep.ElapsedSec > 0 {
		v := round3(float64(rep.OK) * float64(opBytes) / rep.ElapsedSec / 1e6)
		rep.MBPerS = &v
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// writeText prints the human-readable block.
func (rep *report) writeText(w io.Writer) {
	fmt.Fprintf(w, "scenario      %s (%s)\n", rep.Scenario, rep.ScenarioDetails)
	fmt.Fprintf(w, "endpoint      %s\n", rep.Endpoint)
	fmt.Fprintf(w, "concurrency   %d workers for %s (elapsed %.2fs)\n", rep.Concurrency, rep.Duration, rep.ElapsedSec)
	fmt.Fprintf(w, "requests      %d total, %d ok, %d errors\n", rep.Requests, rep.OK, rep.Requests-rep.OK)
	for _, k := range slices.Sorted(maps.Keys(rep.Errors)) {
		fmt.Fprintf(w, "  %-11s %d  (e.g. %s)\n", k, rep.Errors[k], truncate(rep.ErrorHint[k], 120))
	}
	fmt.Fprintf(w, "throughput    %.1f ok/s (events/s), %.1f requests/s\n", rep.EventsPerS, rep.RequestsPer)
	if rep.MBPerS != nil {
		fmt.Fprintf(w, "payload       %.2f MB/s (ok ops × %d B, MB = 10^6 B)\n", *rep.MBPerS, rep.OpBytes)
	}
	l := rep.Latency
	fmt.Fprintf(w, "latency (ok)  p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms  mean %.2fms\n", l.P50, l.P90, l.P99, l.Max, l.Mean)
	if rep.ServerCPUSec != nil {
		fmt.Fprintf(w, "server CPU    %.2f CPU-s (pid %s), %.3f CPU-s per 1000 requests, %.2f cores busy\n",
			*rep.ServerCPUSec, rep.ServerPID, deref(rep.ServerCPUPer1k), deref(rep.ServerCPUsBusy))
	}
	if rep.ClientCPUSec != nil {
		fmt.Fprintf(w, "client CPU    %.2f CPU-s (s4load), %.3f CPU-s per 1000 requests, %.2f cores busy\n",
			*rep.ClientCPUSec, deref(rep.ClientCPUPer1k), deref(rep.ClientCPUsBusy))
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
