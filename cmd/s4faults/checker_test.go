package main

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// cleanHistory is a history that keeps every promise: one key written
// v1, v2, deleted (op 3), v4 (in doubt), read at every stage; a revoked
// key refused after A, accepted before; a demoted user still reading; a
// regenerated key that works.
func cleanHistory() *History {
	h := &History{Keys: []string{"k", "never"}}
	w := func(seq int, del bool, sent, ans float64, o Outcome) {
		h.Writes = append(h.Writes, WriteOp{Key: "k", Seq: seq, Delete: del, Size: 100, Node: 1, Sent: sec(sent), Answered: sec(ans), Status: map[Outcome]int{OK: 200, InDoubt: 503, Failed: 403}[o], Outcome: o})
	}
	w(1, false, 1, 1.1, OK)
	w(2, false, 2, 2.1, OK)
	w(3, true, 3, 3.1, OK)
	w(4, false, 4, 14, InDoubt)
	r := func(node int, sent, ans float64, found bool, seq int) {
		h.Reads = append(h.Reads, ReadOp{Key: "k", Node: node, Sent: sec(sent), Answered: sec(ans), Status: map[bool]int{true: 200, false: 404}[found], Outcome: OK, Found: found, Seq: seq, BodyOK: found})
	}
	r(1, 0.5, 0.6, false, 0)  // nothing written yet
	r(2, 1.05, 1.2, false, 0) // v1 not acknowledged when sent
	r(3, 1.05, 1.2, true, 1)  // or already applied
	r(2, 1.5, 1.6, true, 1)   // v1
	r(3, 2.05, 2.2, true, 2)  // v2 while it was being acknowledged
	r(1, 2.2, 2.3, true, 2)   // v2
	r(2, 3.2, 3.3, false, 0)  // deleted
	r(3, 4.5, 4.6, false, 0)  // v4 in doubt: not yet
	r(1, 4.7, 4.8, true, 4)   // v4 applied
	r(2, 4.9, 5.0, true, 4)   // and stays (a read after one that saw it)
	h.Reads = append(h.Reads, ReadOp{Key: "k", Node: 1, Sent: sec(2.5), Answered: sec(3), Outcome: InDoubt, Status: 503})
	for node := 1; node <= 3; node++ {
		h.FinalReads = append(h.FinalReads, FinalRead{Key: "k", Node: node, Found: true, Seq: 4, Size: 100, BodyOK: true},
			FinalRead{Key: "never", Node: node})
		h.FinalLists = append(h.FinalLists, FinalList{Node: node, Keys: map[string]int64{"k": 100}})
	}

	h.Revocations = []Revocation{
		{Round: 1, Kind: Revoke, AccessKey: "AK1", Node: 2, Sent: sec(5), Answered: sec(6), Status: 204, Outcome: OK},
		{Round: 2, Kind: Demote, AccessKey: "AK2", Node: 1, Sent: sec(7), Answered: sec(8), Status: 200, Outcome: OK},
		{Round: 3, Kind: Regenerate, AccessKey: "AK3", NewKey: "AK3b", Node: 3, Sent: sec(9), Answered: sec(10), Status: 201, Outcome: OK},
		{Round: 4, Kind: DeleteUser, AccessKey: "AK4", Node: 3, Sent: sec(11), Answered: sec(21), Status: 0, Outcome: InDoubt},
	}
	p := func(round int, key, op string, node int, sent, ans float64, status int) {
		h.Probes = append(h.Probes, ProbeReq{Round: round, AccessKey: key, Op: op, Node: node, Sent: sec(sent), Answered: sec(ans), Status: status})
	}
	p(1, "AK1", "ListBuckets", 1, 5.9, 6.5, 200) // sent before A: may pass
	p(1, "AK1", "GetObject", 2, 6.1, 6.2, 403)
	p(1, "AK1", "ListBuckets", 3, 6.1, 7.0, 503)
	p(2, "AK2", "GetObject", 1, 8.5, 8.6, 200) // a Reader still reads
	p(2, "AK2", "PutObject", 2, 8.5, 8.6, 403)
	p(3, "AK3", "ListBuckets", 3, 10.5, 10.6, 403)
	p(4, "AK4", "ListBuckets", 3, 30, 30.1, 200) // not acknowledged: no promise
	for node := 1; node <= 3; node++ {
		h.KeyChecks = append(h.KeyChecks, KeyCheck{Round: 3, Node: node, Status: 200})
	}
	return h
}

func checkOnly(t *testing.T, h *History, check string, want int, contains string) {
	t.Helper()
	vs := Check(h)
	n := 0
	for _, v := range vs {
		if v.Check != check {
			t.Errorf("unexpected violation: %s", v)
			continue
		}
		n++
		if !strings.Contains(v.String(), contains) {
			t.Errorf("violation %q does not mention %q", v, contains)
		}
	}
	if n != want {
		t.Fatalf("%d %s violations, want %d: %v", n, check, want, vs)
	}
}

func TestCheckCleanHistory(t *testing.T) {
	if vs := Check(cleanHistory()); len(vs) != 0 {
		for _, v := range vs {
			t.Error(v)
		}
	}
}

func TestCheckLateAcceptance(t *testing.T) {
	h := cleanHistory()
	h.Probes = append(h.Probes, ProbeReq{Round: 1, AccessKey: "AK1", Op: "GetObject", Node: 3, Sent: sec(6.01), Answered: sec(7.5), Status: 200})
	checkOnly(t, h, "revocation", 1, "n3")

	h = cleanHistory() // a demoted user's write after A
	h.Probes = append(h.Probes, ProbeReq{Round: 2, AccessKey: "AK2", Op: "PutObject", Node: 1, Sent: sec(8.2), Answered: sec(8.3), Status: 200})
	checkOnly(t, h, "revocation", 1, "demote")

	h = cleanHistory() // accepted in the final check after healing
	h.Probes = append(h.Probes, ProbeReq{Round: 3, AccessKey: "AK3", Op: "ListBuckets", Node: 2, Sent: sec(40), Answered: sec(40.1), Status: 200, Final: true})
	checkOnly(t, h, "revocation", 1, "final check")
}

func TestCheckNewKeyMustWork(t *testing.T) {
	h := cleanHistory()
	h.KeyChecks[1].Status = 403
	checkOnly(t, h, "new-key", 1, "n2")
}

func TestCheckStaleReads(t *testing.T) {
	for name, r := range map[string]ReadOp{
		"older version":     {Key: "k", Node: 2, Sent: sec(2.5), Answered: sec(2.6), Status: 200, Outcome: OK, Found: true, Seq: 1, BodyOK: true},
		"404 of v2":         {Key: "k", Node: 2, Sent: sec(2.5), Answered: sec(2.6), Status: 404, Outcome: OK},
		"v2 after delete":   {Key: "k", Node: 3, Sent: sec(3.5), Answered: sec(3.6), Status: 200, Outcome: OK, Found: true, Seq: 2, BodyOK: true},
		"404 after seen v4": {Key: "k", Node: 3, Sent: sec(4.85), Answered: sec(4.9), Status: 404, Outcome: OK},
		"corrupt body":      {Key: "k", Node: 1, Sent: sec(2.5), Answered: sec(2.6), Status: 200, Outcome: OK, Found: true, Seq: 2},
		"unknown version":   {Key: "k", Node: 1, Sent: sec(2.5), Answered: sec(2.6), Status: 200, Outcome: OK, Found: true, Seq: 9, BodyOK: true},
		"from the future":   {Key: "k", Node: 1, Sent: sec(3.5), Answered: sec(3.6), Status: 200, Outcome: OK, Found: true, Seq: 4, BodyOK: true},
	} {
		t.Run(name, func(t *testing.T) {
			h := cleanHistory()
			h.Reads = append(h.Reads, r)
			checkOnly(t, h, "stale-read", 1, "GET k")
		})
	}
}

func TestCheckFinalState(t *testing.T) {
	h := cleanHistory()
	h.FinalReads[2] = FinalRead{Key: "k", Node: 2, Found: true, Seq: 2, Size: 100, BodyOK: true} // v2 resurrected on n2
	h.FinalLists[1].Keys["k"] = 100
	vs := Check(h)
	var got []string
	for _, v := range vs {
		got = append(got, v.Check)
		if v.Check != "final-state" {
			t.Errorf("unexpected: %s", v)
		}
	}
	// v2 on n2 is older than the acknowledged delete, and n2 disagrees.
	if len(got) != 2 || !strings.Contains(vs[0].String()+vs[1].String(), "disagree") {
		t.Fatalf("violations: %v", vs)
	}

	h = cleanHistory()
	h.FinalReads[0].Err = "status 503"
	checkOnly(t, h, "final-state", 1, "no answer")

	h = cleanHistory() // an acknowledged write lost everywhere (v4 in doubt, delete acknowledged: absent is fine)
	h.Writes[3].Outcome, h.Writes[3].Status = OK, 200
	checkOnly(t, h, "final-state", 0, "")
	for i := range h.FinalReads {
		if h.FinalReads[i].Key == "k" {
			h.FinalReads[i] = FinalRead{Key: "k", Node: h.FinalReads[i].Node}
		}
	}
	for i := range h.FinalLists {
		h.FinalLists[i].Keys = map[string]int64{}
	}
	checkOnly(t, h, "final-state", 3, "absent")
}

func TestCheckListings(t *testing.T) {
	h := cleanHistory()
	delete(h.FinalLists[2].Keys, "k")
	vs := Check(h)
	if len(vs) != 2 { // n3 misses k, and lists other objects than n1
		t.Fatalf("violations: %v", vs)
	}
	for _, v := range vs {
		if v.Check != "listing" {
			t.Errorf("unexpected: %s", v)
		}
	}

	h = cleanHistory()
	for i := range h.FinalLists {
		h.FinalLists[i].Keys["stranger"] = 1
	}
	checkOnly(t, h, "listing", 3, "no writer wrote")

	h = cleanHistory()
	h.FinalLists[0].Keys["k"] = 99
	vs = Check(h)
	if len(vs) != 3 || !strings.Contains(vs[0].String(), "99 bytes") {
		t.Fatalf("violations: %v", vs)
	}
}

func TestCheckRecoveryFailure(t *testing.T) {
	h := cleanHistory()
	h.addFailure(Violation{Check: "recovery", Msg: "not ready"})
	checkOnly(t, h, "recovery", 1, "not ready")
}

func TestParseBody(t *testing.T) {
	rng := newTestRand()
	b := body("w01/key-02", 17, rng)
	if seq := parseBody("w01/key-02", b); seq != 17 {
		t.Fatalf("seq %d", seq)
	}
	if seq := parseBody("w01/key-03", b); seq != -1 {
		t.Fatalf("another key's body: seq %d", seq)
	}
	if seq := parseBody("k", []byte("garbage")); seq != -1 {
		t.Fatalf("garbage: seq %d", seq)
	}
}

func TestParseFaults(t *testing.T) {
	if fs, err := parseFaults("all"); err != nil || len(fs) != len(faultKinds) {
		t.Fatal(fs, err)
	}
	if fs, err := parseFaults("stop-leader, partition,stop-leader"); err != nil || strings.Join(fs, ",") != "stop-leader,partition" {
		t.Fatal(fs, err)
	}
	for _, bad := range []string{"", "nap", "stop-leader,nap"} {
		if _, err := parseFaults(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
