package admin

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/s4/s4/fsm"
)

type eventOut struct {
	Index       uint64 `json:"index"`
	Time        string `json:"time"`
	Type        string `json:"type"`
	Actor       string `json:"actor"`
	ActorID     string `json:"actor_id"`
	Node        string `json:"node"`
	Client      string `json:"client"`
	UserID      string `json:"user_id"`
	Username    string `json:"username"`
	Role        string `json:"role"`
	AccessKey   string `json:"access_key"`
	ReplacedKey string `json:"replaced_key"`
	Changes     *struct {
		Role *struct {
			From string `json:"from"`
			To   string `json:"to"`
		} `json:"role"`
		IsActive *struct {
			From bool `json:"from"`
			To   bool `json:"to"`
		} `json:"is_active"`
		PasswordChanged bool `json:"password_changed"`
	} `json:"changes"`
	TokenID string `json:"token_id"`
}

type eventsOut struct {
	Events    []eventOut `json:"events"`
	NextAfter uint64     `json:"next_after"`
}

type accessOut struct {
	At    string `json:"at"`
	Index uint64 `json:"index"`
	Keys  []struct {
		AccessKey string `json:"access_key"`
		UserID    string `json:"user_id"`
		Username  string `json:"username"`
		Role      string `json:"role"`
		IsActive  bool   `json:"is_active"`
		IssuedAt  string `json:"issued_at"`
	} `json:"keys"`
}

type verdictOut struct {
	AccessKey string `json:"access_key"`
	Valid     bool   `json:"valid"`
	Reason    string `json:"reason"`
	Since     string `json:"since"`
	Username  string `json:"username"`
	IsActive  *bool  `json:"is_active"`
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (e *env) events(token, query string) eventsOut {
	e.t.Helper()
	var out eventsOut
	e.want(e.do("GET", "/api/admin/events"+query, token, nil), 200).json(e.t, &out)
	return out
}

func (e *env) verdict(token string, at time.Time, ak string) verdictOut {
	e.t.Helper()
	var v verdictOut
	e.want(e.do("GET", "/api/admin/access?at="+url.QueryEscape(rfc(at))+"&access_key="+ak, token, nil), 200).json(e.t, &v)
	return v
}

// TestHistorySeedFlowAPI: the seed's flow through the API, then its
// history (actor, node, client, what changed) and the access questions at
// a time before the key, while it was valid, between regenerate and
// revoke, and after; paging, filters, the export, and bad queries.
func TestHistorySeedFlowAPI(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()
	step := func() time.Time { e.clock.Advance(time.Second); return e.clock.Now() }
	tCreate := step()
	alice := e.createUser(tok, "alice", "alice-password", "Writer")
	tBefore := step()
	tIssue := step()
	k1 := e.issue(tok, alice.ID)
	tValid := step()
	tRegen := step()
	k2 := e.issue(tok, alice.ID)
	tBetween := step()
	tRevoke := step()
	e.want(e.do("DELETE", "/api/admin/users/"+alice.ID+"/credentials", tok, nil), 204)
	tAfter := step()
	k3 := e.issue(tok, alice.ID)
	tDeact := step()
	e.want(e.do("PUT", "/api/admin/users/"+alice.ID, tok, map[string]any{"is_active": false}), 200)
	tEnd := step()

	out := e.events(tok, "")
	var types []string
	for _, ev := range out.Events {
		types = append(types, ev.Type)
	}
	want := []string{"root_created", "user_created", "credential_issued", "credential_replaced", "credential_revoked", "credential_issued", "user_updated"}
	if !reflect.DeepEqual(types, want) || out.NextAfter != 0 {
		t.Fatalf("events %v (next %d), want %v", types, out.NextAfter, want)
	}
	if r := out.Events[0]; r.Actor != "system" || r.ActorID != "" || r.Node != testNodeID || r.Username != "root" {
		t.Errorf("root's creation: %+v", r)
	}
	for _, ev := range out.Events[1:] {
		if ev.Actor != "root" || ev.ActorID != e.rootID || ev.Node != testNodeID || !strings.HasPrefix(ev.Client, "127.0.0.1:") ||
			ev.UserID != alice.ID || ev.Username != "alice" {
			t.Errorf("event %+v", ev)
		}
	}
	if ev := out.Events[1]; ev.Role != "Writer" || ev.Time != rfc(tCreate) {
		t.Errorf("creation %+v", ev)
	}
	if ev := out.Events[3]; ev.AccessKey != k2.AccessKey || ev.ReplacedKey != k1.AccessKey || ev.Time != rfc(tRegen) {
		t.Errorf("regenerate %+v", ev)
	}
	if ev := out.Events[6]; ev.Changes == nil || ev.Changes.IsActive == nil || ev.Changes.IsActive.From != true || ev.Changes.IsActive.To != false || ev.Changes.Role != nil || ev.Changes.PasswordChanged {
		t.Errorf("deactivation %+v", ev)
	}

	for _, c := range []struct {
		at     time.Time
		key    credOut
		valid  bool
		reason string
		since  time.Time
	}{
		{tBefore, k1, false, "not_issued_yet", tIssue},
		{tValid, k1, true, "", tIssue},
		{tBetween, k1, false, "replaced", tRegen},
		{tBetween, k2, true, "", tRegen},
		{tAfter, k2, false, "revoked", tRevoke},
		{tEnd, k3, false, "user_inactive", tDeact},
	} {
		v := e.verdict(tok, c.at, c.key.AccessKey)
		if v.Valid != c.valid || v.Reason != c.reason || v.Since != rfc(c.since) || v.Username != "alice" {
			t.Errorf("%s at %s: %+v, want valid %v reason %q since %s", c.key.AccessKey, rfc(c.at), v, c.valid, c.reason, rfc(c.since))
		}
	}
	var l accessOut
	e.want(e.do("GET", "/api/admin/access?at="+url.QueryEscape(rfc(tBetween)), tok, nil), 200).json(t, &l)
	if len(l.Keys) != 1 || l.Keys[0].AccessKey != k2.AccessKey || l.Keys[0].Username != "alice" || l.Keys[0].Role != "Writer" || !l.Keys[0].IsActive || l.Keys[0].IssuedAt != rfc(tRegen) {
		t.Errorf("access at %s: %+v", rfc(tBetween), l)
	}
	e.want(e.do("GET", "/api/admin/access?at="+url.QueryEscape(rfc(tEnd)), tok, nil), 200).json(t, &l)
	if len(l.Keys) != 1 || l.Keys[0].AccessKey != k3.AccessKey || l.Keys[0].IsActive {
		t.Errorf("access at the end: %+v", l)
	}
	e.want(e.do("GET", "/api/admin/access?at="+url.QueryEscape(rfc(tBefore)), tok, nil), 200).json(t, &l)
	if len(l.Keys) != 0 {
		t.Errorf("access before the key: %+v", l)
	}

	// Paging and filters.
	p1 := e.events(tok, "?limit=4")
	p2 := e.events(tok, "?limit=4&after="+itoa(p1.NextAfter))
	if len(p1.Events) != 4 || p1.NextAfter != p1.Events[3].Index || len(p2.Events) != 3 || p2.NextAfter != 0 {
		t.Errorf("pages %+v / %+v", p1, p2)
	}
	if got := e.events(tok, "?access_key="+k2.AccessKey).Events; len(got) != 2 {
		t.Errorf("by access key: %+v", got)
	}
	if got := e.events(tok, "?user=alice&type=credential_issued,credential_replaced").Events; len(got) != 3 {
		t.Errorf("by user and type: %+v", got)
	}
	if got := e.events(tok, "?actor=system").Events; len(got) != 1 {
		t.Errorf("by actor: %+v", got)
	}
	if got := e.events(tok, "?since="+url.QueryEscape(rfc(tRegen))+"&until="+url.QueryEscape(rfc(tRevoke))).Events; len(got) != 2 {
		t.Errorf("since/until: %+v", got)
	}

	// The export: every event, one JSON object per line.
	req, _ := http.NewRequest("GET", e.base+"/api/admin/events?format=ndjson", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	n := 0
	for sc.Scan() {
		var ev eventOut
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Type != want[n] {
			t.Fatalf("export line %d: %v %s", n, err, sc.Bytes())
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("export: %d lines", n)
	}
	for _, s := range e.forbidden() {
		if s != "" && strings.Contains(string(body), s) {
			t.Fatal("the export holds a secret")
		}
	}

	for _, q := range []string{"/api/admin/events?bogus=1", "/api/admin/events?since=yesterday", "/api/admin/events?limit=0",
		"/api/admin/events?limit=1001", "/api/admin/events?type=user_renamed", "/api/admin/events?after=-1",
		"/api/admin/events?format=xml", "/api/admin/events?user=a&user=b", "/api/admin/access", "/api/admin/access?at=now",
		"/api/admin/access?at=2031-01-01T00:00:00Z&user=alice"} {
		e.want(e.do("GET", q, tok, nil), 400)
	}
	e.want(e.do("POST", "/api/admin/events", tok, nil), 405)
	e.want(e.do("GET", "/api/admin/events", "", nil), 401)
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// TestHistoryRetentionAPI: after a prune, a question before its cut-off
// answers 410, one after it the same as before, and the prune is an
// event.
func TestHistoryRetentionAPI(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()
	e.clock.Advance(time.Hour)
	alice := e.createUser(tok, "alice", "alice-password", "Writer")
	k := e.issue(tok, alice.ID)
	e.clock.Advance(time.Hour)
	tLater := e.clock.Now()
	cutoff := tLater.Add(-30 * time.Minute)
	if err := e.p.Propose(t.Context(), fsm.MsgHistoryPrune, fsm.HistoryPrune{Before: cutoff.UnixNano(), At: tLater.UnixNano(), Origin: fsm.Origin{Node: testNodeID}}); err != nil {
		t.Fatal(err)
	}
	evs := e.events(tok, "").Events
	if len(evs) != 1 || evs[0].Type != "history_pruned" || evs[0].Actor != "system" {
		t.Fatalf("after the prune: %+v", evs)
	}
	r := e.do("GET", "/api/admin/access?at="+url.QueryEscape(rfc(cutoff.Add(-2*time.Hour))), tok, nil)
	if r.status != 410 || !strings.Contains(r.errMsg(t), "the history begins at") {
		t.Fatalf("before the cut-off: %d %s", r.status, r.body)
	}
	if v := e.verdict(tok, tLater, k.AccessKey); !v.Valid || v.Username != "alice" {
		t.Fatalf("after the cut-off: %+v", v)
	}
}
