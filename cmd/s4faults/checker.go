package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Violation is one broken promise.
type Violation struct {
	Check string // revocation, new-key, stale-read, final-state, listing, recovery
	Node  int    // 1..3; 0: not one node's
	At    time.Duration
	Msg   string
}

func (v Violation) String() string {
	node := "--"
	if v.Node > 0 {
		node = nodeName(v.Node)
	}
	return fmt.Sprintf("%-11s %s %s %s", v.Check, node, at(v.At), v.Msg)
}

func nodeName(i int) string { return fmt.Sprintf("n%d", i) }

// Check runs every check over a finished history: (1) no request with a
// revoked credential sent after the revocation was acknowledged succeeded,
// and a regenerated key works; (2) after healing every node holds each
// key's last acknowledged state (or a later in-doubt one), byte-identical,
// and all nodes agree; (3) the listings agree with each other and with the
// final reads; (4) no read went back in time. Violations come sorted by
// check, then time.
func Check(h *History) []Violation {
	m := newModel(h)
	var out []Violation
	out = append(out, checkRevocations(h)...)
	out = append(out, m.checkReads(h.Reads)...)
	out = append(out, m.checkFinal(h.FinalReads)...)
	out = append(out, m.checkListings(h.FinalLists, h.FinalReads)...)
	out = append(out, h.Failures...)
	order := map[string]int{"revocation": 0, "new-key": 1, "stale-read": 2, "final-state": 3, "listing": 4, "recovery": 5}
	slices.SortStableFunc(out, func(a, b Violation) int {
		if c := cmp.Compare(order[a.Check], order[b.Check]); c != 0 {
			return c
		}
		return cmp.Compare(a.At, b.At)
	})
	return out
}

// checkRevocations is check (1).
func checkRevocations(h *History) []Violation {
	var out []Violation
	byRound := map[int][]ProbeReq{}
	for _, p := range h.Probes {
		byRound[p.Round] = append(byRound[p.Round], p)
	}
	keyChecks := map[int][]KeyCheck{}
	for _, k := range h.KeyChecks {
		keyChecks[k.Round] = append(keyChecks[k.Round], k)
	}
	for _, rev := range h.Revocations {
		if rev.Outcome != OK {
			continue // not acknowledged: promises nothing
		}
		for _, p := range byRound[rev.Round] {
			if p.AccessKey != rev.AccessKey || p.Sent <= rev.Answered || !rev.Kind.denies(p.Op) {
				continue
			}
			if p.Status >= 200 && p.Status < 300 {
				final := ""
				if p.Final {
					final = " (final check after healing)"
				}
				out = append(out, Violation{Check: "revocation", Node: p.Node, At: p.Sent, Msg: fmt.Sprintf(
					"%s with the old key of round %d accepted: sent %.1f ms after the %s was acknowledged (A=%s through %s, confirmed by [%s], lease expired [%s]), answered %d at %s%s",
					p.Op, rev.Round, float64(p.Sent-rev.Answered)/float64(time.Millisecond), rev.Kind, at(rev.Answered), nodeName(rev.Node),
					rev.ConfirmedBy, rev.LeaseExpired, p.Status, at(p.Answered), final)})
			}
		}
		if rev.Kind == Regenerate {
			for _, k := range keyChecks[rev.Round] {
				if k.Status < 200 || k.Status >= 300 {
					why := fmt.Sprintf("status %d", k.Status)
					if k.Err != "" {
						why = k.Err
					}
					out = append(out, Violation{Check: "new-key", Node: k.Node, At: rev.Answered, Msg: fmt.Sprintf(
						"the key issued by round %d's regenerate (acknowledged at %s) does not work after healing: %s", rev.Round, at(rev.Answered), why)})
				}
			}
		}
	}
	return out
}

// model is what the writers did, per key: ops[key][seq-1].
type model struct {
	ops  map[string][]*WriteOp
	keys []string
	// seen[key]: the found reads with a sound body, by answer time, as
	// witnesses: a read sent after one of them was answered must not see
	// an older version either.
	seen map[string][]ReadOp
}

func newModel(h *History) *model {
	m := &model{ops: map[string][]*WriteOp{}, seen: map[string][]ReadOp{}}
	for i := range h.Writes {
		w := &h.Writes[i]
		m.ops[w.Key] = append(m.ops[w.Key], w)
	}
	for k, ops := range m.ops {
		slices.SortFunc(ops, func(a, b *WriteOp) int { return cmp.Compare(a.Seq, b.Seq) })
		m.ops[k] = ops
	}
	keys := map[string]bool{}
	for _, k := range h.Keys {
		keys[k] = true
	}
	for k := range m.ops {
		keys[k] = true
	}
	m.keys = slices.Sorted(maps.Keys(keys))
	for _, r := range h.Reads {
		// Only reads that are sound themselves (checkReads flags the others).
		if op := m.op(r.Key, r.Seq); r.Outcome == OK && r.Found && r.BodyOK && op != nil && op.Outcome != Failed && op.Sent < r.Answered {
			m.seen[r.Key] = append(m.seen[r.Key], r)
		}
	}
	return m
}

// op returns the PUT that stored version seq of key, nil if there is none.
func (m *model) op(key string, seq int) *WriteOp {
	ops := m.ops[key]
	if seq < 1 || seq > len(ops) || ops[seq-1].Seq != seq || ops[seq-1].Delete {
		return nil
	}
	return ops[seq-1]
}

// floor is the lowest state a read of key sent at t may return: the last
// operation acknowledged before t, or a version a read answered before t
// returned, whichever is later. why says which.
func (m *model) floor(key string, t time.Duration) (seq int, why string) {
	for _, w := range m.ops[key] {
		if w.Outcome == OK && w.Answered < t && w.Seq > seq {
			seq = w.Seq
			what := fmt.Sprintf("v%d", w.Seq)
			if w.Delete {
				what = fmt.Sprintf("the delete (op %d)", w.Seq)
			}
			why = fmt.Sprintf("%s was acknowledged at %s through %s", what, at(w.Answered), nodeName(w.Node))
		}
	}
	for _, r := range m.seen[key] {
		if r.Answered < t && r.Seq > seq {
			seq = r.Seq
			why = fmt.Sprintf("v%d was returned by %s to a read answered at %s", r.Seq, nodeName(r.Node), at(r.Answered))
		}
	}
	return seq, why
}

// absentAllowed reports whether a 404 answered at or before by is a state
// at or after floor: nothing written yet (floor 0), or a delete at or
// after floor that did not fail and was sent before by.
func (m *model) absentAllowed(key string, floor int, by time.Duration) bool {
	if floor == 0 {
		return true
	}
	for _, w := range m.ops[key] {
		if w.Delete && w.Seq >= floor && w.Outcome != Failed && w.Sent < by {
			return true
		}
	}
	return false
}

// checkReads is check (4), and that every body read is one a writer sent.
func (m *model) checkReads(reads []ReadOp) []Violation {
	var out []Violation
	for _, r := range reads {
		if r.Outcome != OK {
			continue // no answer about the key
		}
		floor, why := m.floor(r.Key, r.Sent)
		bad := func(format string, args ...any) {
			out = append(out, Violation{Check: "stale-read", Node: r.Node, At: r.Sent, Msg: fmt.Sprintf("GET %s sent at %s, answered at %s: ", r.Key, at(r.Sent), at(r.Answered)) + fmt.Sprintf(format, args...)})
		}
		if !r.Found {
			if !m.absentAllowed(r.Key, floor, r.Answered) {
				bad("404, but %s", why)
			}
			continue
		}
		op := m.op(r.Key, r.Seq)
		switch {
		case op == nil:
			bad("a body of version %d, which no writer sent", r.Seq)
		case !r.BodyOK:
			bad("version %d with a body that differs from what was written", r.Seq)
		case op.Outcome == Failed:
			bad("version %d, whose PUT failed with %d", r.Seq, op.Status)
		case op.Sent > r.Answered:
			bad("version %d, sent only at %s", r.Seq, at(op.Sent))
		case r.Seq < floor:
			bad("version %d went back in time: %s", r.Seq, why)
		}
	}
	return out
}

// finalState is what one node returned for a key after healing.
type finalState struct {
	found bool
	seq   int
}

func (s finalState) String() string {
	if !s.found {
		return "absent"
	}
	return fmt.Sprintf("v%d", s.seq)
}

// checkFinal is check (2).
func (m *model) checkFinal(finals []FinalRead) []Violation {
	var out []Violation
	byKey := map[string][]FinalRead{}
	for _, f := range finals {
		byKey[f.Key] = append(byKey[f.Key], f)
	}
	for _, key := range m.keys {
		fs := byKey[key]
		floor, why := m.floor(key, 1<<62)
		if why == "" {
			why = "nothing was acknowledged"
		}
		states := map[finalState][]int{}
		for _, f := range fs {
			bad := func(format string, args ...any) {
				out = append(out, Violation{Check: "final-state", Node: f.Node, Msg: fmt.Sprintf("%s after healing: ", key) + fmt.Sprintf(format, args...)})
			}
			if f.Err != "" {
				bad("no answer: %s", f.Err)
				continue
			}
			states[finalState{f.Found, f.Seq}] = append(states[finalState{f.Found, f.Seq}], f.Node)
			if !f.Found {
				if !m.absentAllowed(key, floor, 1<<62) {
					bad("absent, but %s", why)
				}
				continue
			}
			op := m.op(key, f.Seq)
			switch {
			case op == nil:
				bad("a body of version %d, which no writer sent", f.Seq)
			case !f.BodyOK:
				bad("version %d with a body that differs from what was written", f.Seq)
			case op.Outcome == Failed:
				bad("version %d, whose PUT failed with %d", f.Seq, op.Status)
			case f.Seq < floor:
				bad("version %d, but %s", f.Seq, why)
			}
		}
		if len(states) > 1 {
			var parts []string
			for s, nodes := range states {
				var names []string
				for _, n := range nodes {
					names = append(names, nodeName(n))
				}
				slices.Sort(names)
				parts = append(parts, fmt.Sprintf("%s on %s", s, strings.Join(names, ",")))
			}
			slices.Sort(parts)
			out = append(out, Violation{Check: "final-state", Msg: fmt.Sprintf("%s: the nodes disagree after healing: %s", key, strings.Join(parts, "; "))})
		}
	}
	return out
}

// checkListings is check (3): every node lists the same keys with the same
// sizes, exactly the model's keys its own final GETs found.
func (m *model) checkListings(lists []FinalList, finals []FinalRead) []Violation {
	var out []Violation
	ours := map[string]bool{}
	for _, k := range m.keys {
		ours[k] = true
	}
	got := map[int]map[string]FinalRead{}
	for _, f := range finals {
		if got[f.Node] == nil {
			got[f.Node] = map[string]FinalRead{}
		}
		got[f.Node][f.Key] = f
	}
	var ok []FinalList
	for _, l := range lists {
		if l.Err != "" {
			out = append(out, Violation{Check: "listing", Node: l.Node, Msg: "ListObjectsV2 after healing failed: " + l.Err})
			continue
		}
		ok = append(ok, l)
		for _, k := range slices.Sorted(maps.Keys(l.Keys)) {
			if !ours[k] {
				out = append(out, Violation{Check: "listing", Node: l.Node, Msg: fmt.Sprintf("lists %s, which no writer wrote", k)})
			}
		}
		for _, k := range m.keys {
			f, read := got[l.Node][k]
			if !read || f.Err != "" {
				continue // reported by the final-state check
			}
			size, listed := l.Keys[k]
			switch {
			case listed && !f.Found:
				out = append(out, Violation{Check: "listing", Node: l.Node, Msg: fmt.Sprintf("lists %s, which its GET does not find", k)})
			case !listed && f.Found:
				out = append(out, Violation{Check: "listing", Node: l.Node, Msg: fmt.Sprintf("does not list %s, which its GET returns (v%d)", k, f.Seq)})
			case listed && size != int64(f.Size):
				out = append(out, Violation{Check: "listing", Node: l.Node, Msg: fmt.Sprintf("lists %s with %d bytes, its GET returns %d", k, size, f.Size)})
			}
		}
	}
	for i := 1; i < len(ok); i++ {
		a, b := ok[0], ok[i]
		if !maps.Equal(a.Keys, b.Keys) {
			var only []string
			for k := range a.Keys {
				if _, in := b.Keys[k]; !in {
					only = append(only, fmt.Sprintf("%s only on %s", k, nodeName(a.Node)))
				} else if a.Keys[k] != b.Keys[k] {
					only = append(only, fmt.Sprintf("%s has %d bytes on %s, %d on %s", k, a.Keys[k], nodeName(a.Node), b.Keys[k], nodeName(b.Node)))
				}
			}
			for k := range b.Keys {
				if _, in := a.Keys[k]; !in {
					only = append(only, fmt.Sprintf("%s only on %s", k, nodeName(b.Node)))
				}
			}
			slices.Sort(only)
			out = append(out, Violation{Check: "listing", Msg: fmt.Sprintf("%s and %s list different objects: %s", nodeName(a.Node), nodeName(b.Node), strings.Join(only, "; "))})
		}
	}
	return out
}
