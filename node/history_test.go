package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// The IAM history through real nodes: the seed's flow through different
// nodes of a cluster, answered the same by every node, also after a
// snapshot that truncated the log, a snapshot installed on a node that
// missed the flow, and a restart of every node.

type historyEvent struct {
	Index     uint64 `json:"index"`
	Type      string `json:"type"`
	Actor     string `json:"actor"`
	Node      string `json:"node"`
	Client    string `json:"client"`
	Username  string `json:"username"`
	AccessKey string `json:"access_key"`
}

type keyVerdict struct {
	Valid  bool   `json:"valid"`
	Reason string `json:"reason"`
	Since  string `json:"since"`
}

// seedFlow is the seed's flow, each step through a given node, with the
// times between the steps.
type seedFlow struct {
	before, valid, between, after, end time.Time
	issued, regenerated, revoked       time.Time
	k1, k2, k3                         string
	nodes                              []string // the node that took each event after root's creation
}

// runSeedFlow: create alice, issue, regenerate, revoke, issue, deactivate;
// step i goes through cs[i % len(cs)].
func runSeedFlow(t *testing.T, cs []*client, names []string) seedFlow {
	t.Helper()
	var f seedFlow
	i := 0
	next := func() *client { c := cs[i%len(cs)]; f.nodes = append(f.nodes, names[i%len(cs)]); i++; return c }
	pause := func() time.Time {
		time.Sleep(2 * time.Millisecond)
		tm := time.Now()
		time.Sleep(2 * time.Millisecond)
		return tm
	}
	alice := addUser(t, next(), "alice", "alice-password", "Writer")
	f.before = pause()
	f.issued = time.Now()
	f.k1 = addKey(t, next(), alice.ID).AccessKey
	f.valid = pause()
	f.regenerated = time.Now()
	f.k2 = addKey(t, next(), alice.ID).AccessKey
	f.between = pause()
	f.revoked = time.Now()
	if code := next().do("DELETE", "/api/admin/users/"+alice.ID+"/credentials", nil, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	f.after = pause()
	f.k3 = addKey(t, next(), alice.ID).AccessKey
	if code := next().do("PUT", "/api/admin/users/"+alice.ID, map[string]any{"is_active": false}, nil); code != 200 {
		t.Fatalf("deactivate: %d", code)
	}
	f.end = pause()
	return f
}

func at(tm time.Time) string { return url.QueryEscape(tm.UTC().Format(time.RFC3339Nano)) }

// historyAnswers asks c the flow's questions and returns the raw answers:
// the events, and the access list and each key's verdict at each time.
func historyAnswers(t *testing.T, c *client, f seedFlow) []string {
	t.Helper()
	get := func(path string) string {
		code, b := c.doRaw("GET", path, nil)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, b)
		}
		return string(b)
	}
	out := []string{get("/api/admin/events?limit=1000")}
	for _, tm := range []time.Time{f.before, f.valid, f.between, f.after, f.end} {
		out = append(out, get("/api/admin/access?at="+at(tm)))
		for _, k := range []string{f.k1, f.k2, f.k3} {
			out = append(out, get("/api/admin/access?at="+at(tm)+"&access_key="+k))
		}
	}
	return out
}

// checkSeedHistory checks the meaning of the answers.
func checkSeedHistory(t *testing.T, answers []string, f seedFlow, what string) {
	t.Helper()
	var evs struct{ Events []historyEvent }
	if err := json.Unmarshal([]byte(answers[0]), &evs); err != nil {
		t.Fatal(err)
	}
	var flow []historyEvent
	for _, e := range evs.Events {
		if e.Username == "alice" {
			flow = append(flow, e)
		}
	}
	want := []string{"user_created", "credential_issued", "credential_replaced", "credential_revoked", "credential_issued", "user_updated"}
	if len(flow) != len(want) || evs.Events[0].Type != "root_created" || evs.Events[0].Actor != "system" || evs.Events[0].Node == "" {
		t.Fatalf("%s: history %+v", what, evs.Events)
	}
	for i, e := range flow {
		if e.Type != want[i] || e.Actor != "root" || e.Node != f.nodes[i] || e.Client == "" {
			t.Errorf("%s: event %d: %+v, want %s by root through %s", what, i, e, want[i], f.nodes[i])
		}
	}
	verdicts := map[string]keyVerdict{}
	times := []string{"before", "valid", "between", "after", "end"}
	for ti, name := range times {
		for ki, k := range []string{"k1", "k2", "k3"} {
			var v keyVerdict
			if err := json.Unmarshal([]byte(answers[1+ti*4+1+ki]), &v); err != nil {
				t.Fatal(err)
			}
			verdicts[k+"@"+name] = v
		}
	}
	for key, w := range map[string]keyVerdict{
		"k1@before":  {false, "not_issued_yet", ""},
		"k1@valid":   {true, "", ""},
		"k2@valid":   {false, "not_issued_yet", ""},
		"k1@between": {false, "replaced", ""},
		"k2@between": {true, "", ""},
		"k2@after":   {false, "revoked", ""},
		"k3@after":   {false, "not_issued_yet", ""},
		"k3@end":     {false, "user_inactive", ""},
	} {
		if v := verdicts[key]; v.Valid != w.Valid || v.Reason != w.Reason {
			t.Errorf("%s: %s: %+v, want valid %v reason %q", what, key, v, w.Valid, w.Reason)
		}
	}
	since := func(key string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, verdicts[key].Since)
		if err != nil {
			t.Fatalf("%s: %s since %q", what, key, verdicts[key].Since)
		}
		return tm
	}
	for key, window := range map[string][2]time.Time{
		"k1@valid": {f.issued, f.valid}, "k1@between": {f.regenerated, f.between}, "k2@after": {f.revoked, f.after},
	} {
		if s := since(key); s.Before(window[0]) || s.After(window[1]) {
			t.Errorf("%s: %s since %v, not within [%v, %v]", what, key, s, window[0], window[1])
		}
	}
	var list struct {
		Keys []struct {
			AccessKey string `json:"access_key"`
			Username  string `json:"username"`
			IsActive  bool   `json:"is_active"`
		}
	}
	for ti, w := range []string{"", f.k1, f.k2, "", f.k3} {
		list.Keys = nil
		if err := json.Unmarshal([]byte(answers[1+ti*4]), &list); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range list.Keys {
			got = append(got, k.AccessKey)
		}
		if w == "" && len(got) != 0 || w != "" && !reflect.DeepEqual(got, []string{w}) {
			t.Errorf("%s: keys at %s: %v, want %q", what, times[ti], got, w)
		}
		if ti == 4 && len(list.Keys) == 1 && list.Keys[0].IsActive {
			t.Errorf("%s: alice active at the end", what)
		}
	}
}

func sameAnswers(t *testing.T, got, want []string, what string) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: answer %d differs:\n%s\nwant\n%s", what, i, got[i], want[i])
		}
	}
}

// TestClusterHistory: the seed's flow through the leader and a follower
// while the third node is down; every running node answers the same;
// after enough events for a snapshot that truncates the log, the third
// node comes back through an installed snapshot and answers the same; so
// does every node after all three restart.
func TestClusterHistory(t *testing.T) {
	nodes, cfgs := startClusterConfigs(t)
	leader := waitLeader(t, nodes)
	lag := followerIndex(t, nodes, leader)
	var other *Node
	for i, n := range nodes {
		if n != leader && i != lag {
			other = n
		}
	}
	cl, co := loginRetry(t, leader), loginRetry(t, other)
	nodes[lag].Close()

	f := runSeedFlow(t, []*client{co, cl}, []string{other.ID(), leader.ID()})
	want := historyAnswers(t, cl, f)
	checkSeedHistory(t, want, f, "leader")
	sameAnswers(t, historyAnswers(t, co, f), want, "the follower")

	// Enough events (scrape tokens: IAM events without argon2) for a
	// snapshot that truncates the log past the flow.
	var ev struct{ Events []historyEvent }
	json.Unmarshal([]byte(want[0]), &ev)
	flowStart := ev.Events[1].Index
	for i := 0; i < 24; i++ {
		newScrapeToken(t, cl, fmt.Sprintf("t%d", i))
	}
	for _, n := range []*Node{leader, other} {
		if err := n.Snapshot(); err != nil {
			t.Fatal(err)
		}
	}
	if first, _ := leader.store.FirstIndex(); first <= flowStart {
		t.Fatalf("the leader kept its log from %d (the flow starts at %d): no truncation to test", first, flowStart)
	}
	want = historyAnswers(t, cl, f) // the same flow answers, and the new events
	checkSeedHistory(t, want, f, "after the snapshot")
	sameAnswers(t, historyAnswers(t, co, f), want, "the follower after its snapshot")
	var all struct{ Events []historyEvent }
	json.Unmarshal([]byte(want[0]), &all)
	if n := len(all.Events); n != 1+6+24 {
		t.Fatalf("%d events after the tokens", n)
	}

	back := reopen(t, cfgs[lag], 20*time.Second)
	var entry raft.Log
	if err := back.store.GetLog(flowStart, &entry); err == nil {
		t.Fatalf("the returning node has the flow's first entry (%d) in its log: it did not install a snapshot", flowStart)
	}
	sameAnswers(t, historyAnswers(t, loginRetry(t, back), f), want, "the node that installed a snapshot")

	for _, n := range []*Node{leader, other, back} {
		n.Close()
	}
	restarted := reopenAll(t, cfgs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, n := range restarted {
		if err := n.WaitReady(ctx); err != nil {
			t.Fatalf("n%d after the restart: %v", i+1, err)
		}
		sameAnswers(t, historyAnswers(t, loginRetry(t, n), f), want, fmt.Sprintf("n%d after the restart", i+1))
	}
}

// TestHistoryRetention: with a retention, the leader proposes the cut-off
// as an event; questions before it answer 410, after it as before.
func TestHistoryRetention(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.HistoryRetention, cfg.HistoryPruneEvery = 300*time.Millisecond, 50*time.Millisecond
	n := mustOpen(t, cfg)
	c := newClient(t, n)
	c.login("root", rootPassword)
	u := addUser(t, c, "alice", "alice-password", "Writer")
	k := addKey(t, c, u.ID)
	issued := time.Now()
	deadline := time.Now().Add(10 * time.Second)
	var evs struct{ Events []historyEvent }
	for {
		evs.Events = nil
		if code := c.do("GET", "/api/admin/events", nil, &evs); code != 200 {
			t.Fatalf("events: %d", code)
		}
		if len(evs.Events) > 0 && evs.Events[0].Type == "history_pruned" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing pruned: %+v", evs.Events)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if evs.Events[0].Actor != "system" || evs.Events[0].Node != n.ID() {
		t.Fatalf("the prune: %+v", evs.Events[0])
	}
	if code, b := c.doRaw("GET", "/api/admin/access?at="+at(issued.Add(-time.Hour)), nil); code != 410 {
		t.Fatalf("before the cut-off: %d %s", code, b)
	}
	var v keyVerdict
	if code := c.do("GET", "/api/admin/access?at="+at(time.Now())+"&access_key="+k.AccessKey, nil, &v); code != 200 || !v.Valid {
		t.Fatalf("now: %d %+v", code, v)
	}
}
