package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// counts is a table of request counts: kind -> outcome -> n.
type counts map[string]*[3]int

func (c counts) add(kind string, o Outcome) {
	if c[kind] == nil {
		c[kind] = &[3]int{}
	}
	c[kind][o]++
}

// tally counts every request of the history by kind and outcome.
func tally(h *History) (counts, map[string]int) {
	c := counts{}
	extra := map[string]int{}
	for _, w := range h.Writes {
		if w.Delete {
			c.add("s3 delete", w.Outcome)
		} else {
			c.add("s3 put", w.Outcome)
		}
	}
	for _, r := range h.Reads {
		c.add("s3 get", r.Outcome)
		if r.Outcome == OK && !r.Found {
			extra["s3 get 404"]++
		}
	}
	for _, a := range h.Admin {
		c.add("admin "+a.Kind, a.Outcome)
	}
	for _, r := range h.Revocations {
		c.add("admin probe "+r.Kind.String(), r.Outcome)
		if r.Outcome == OK && r.LeaseExpired != "" {
			extra["revocations acknowledged with a lease expired"]++
		}
	}
	revs := map[int]Revocation{}
	for _, r := range h.Revocations {
		revs[r.Round] = r
	}
	for _, p := range h.Probes {
		kind := "probe " + p.Op
		if p.Final {
			kind = "probe final " + p.Op
		}
		c.add(kind, classify(p.Status))
		if r, ok := revs[p.Round]; ok && r.Outcome == OK && p.Sent > r.Answered && r.Kind.denies(p.Op) && p.AccessKey == r.AccessKey {
			extra["probe requests with a revoked credential sent after A"]++
		}
	}
	return c, extra
}

// summary prints the run's report.
func (d *driver) summary(vs []Violation) {
	writeSummary(d.out, d.o, d.hist, vs)
}

func writeSummary(w io.Writer, o options, h *History, vs []Violation) {
	fmt.Fprintf(w, "\n=== s4faults summary: seed %d, duration %v, faults %s\n", o.seed, o.duration, strings.Join(o.faults, ","))
	fmt.Fprintf(w, "faults injected: %d\n", len(h.Faults))
	for _, f := range h.Faults {
		fmt.Fprintf(w, "  %s .. %s  %-13s %s  %s\n", at(f.Start), at(f.End), f.Kind, nodeName(f.Target), f.Note)
	}
	c, extra := tally(h)
	fmt.Fprintf(w, "requests:\n  %-40s %8s %8s %8s\n", "kind", "ok", "failed", "in-doubt")
	for _, k := range slices.Sorted(maps.Keys(c)) {
		fmt.Fprintf(w, "  %-40s %8d %8d %8d\n", k, c[k][OK], c[k][Failed], c[k][InDoubt])
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		fmt.Fprintf(w, "  %s: %d\n", k, extra[k])
	}
	if len(h.Notes) > 0 {
		fmt.Fprintf(w, "notes:\n")
		for _, n := range h.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	byCheck := map[string]int{}
	for _, v := range vs {
		byCheck[v.Check]++
	}
	if len(vs) == 0 {
		fmt.Fprintf(w, "violations: none\nresult: PASS (seed %d)\n", o.seed)
		return
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(byCheck)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, byCheck[k]))
	}
	fmt.Fprintf(w, "violations: %d (%s)\n", len(vs), strings.Join(parts, ", "))
	const perCheck = 25
	shown := map[string]int{}
	for _, v := range vs {
		if shown[v.Check]++; o.verbose || shown[v.Check] <= perCheck {
			fmt.Fprintf(w, "  %s\n", v)
		} else if shown[v.Check] == perCheck+1 {
			fmt.Fprintf(w, "  %-11s ... %d more (-v lists all)\n", v.Check, byCheck[v.Check]-perCheck)
		}
	}
	fmt.Fprintf(w, "result: FAIL (seed %d)\n", o.seed)
}
