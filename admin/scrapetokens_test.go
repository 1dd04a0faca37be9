package admin

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/s4/s4/fsm"
)

// TestScrapeTokens: a SuperUser creates a token (shown once, its hash in
// the log), lists tokens (never the token), revokes one (after the
// barrier, named in the headers); names are checked, the count bounded,
// other roles refused.
func TestScrapeTokens(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()
	e.p.mu.Lock()
	e.p.confirmed = []string{"n1", "n2", "n3"}
	e.p.mu.Unlock()

	r := e.want(e.do("POST", "/api/admin/metrics/tokens", tok, map[string]string{"name": "prometheus-1"}), 201)
	var created scrapeTokenJSON
	r.json(t, &created)
	if !strings.HasPrefix(created.Token, ScrapeTokenPrefix) || len(created.Token) != len(ScrapeTokenPrefix)+43 ||
		created.Name != "prometheus-1" || created.ID == "" || created.CreatedBy != e.rootID || created.CreatedAt == "" {
		t.Fatalf("created %+v", created)
	}
	e.addSecret(created.Token)
	if got := r.header.Get(HeaderConfirmedBy); got != "" {
		t.Fatalf("a creation went through the barrier: %q", got)
	}
	if st, ok := e.f.State().ScrapeTokenByHash(ScrapeTokenHash([]byte(created.Token))); !ok || st.ID != created.ID {
		t.Fatal("the state has no token with the token's hash")
	}
	for _, ent := range e.p.log() {
		if bytes.Contains(ent, []byte(created.Token)) {
			t.Fatal("the token is in the log")
		}
	}
	e.clock.Advance(time.Second)
	e.want(e.do("POST", "/api/admin/metrics/tokens", tok, nil), 201) // no body: no name

	var list []scrapeTokenJSON
	e.want(e.do("GET", "/api/admin/metrics/tokens", tok, nil), 200).json(t, &list)
	if len(list) != 2 || list[0].ID != created.ID || list[0].Token != "" || list[1].Name != "" {
		t.Fatalf("list %+v", list)
	}

	for _, bad := range []any{map[string]string{"name": "a/b"}, map[string]string{"name": strings.Repeat("n", 65)},
		map[string]any{"name": 3}, map[string]string{"other": "x"}, "[]"} {
		e.want(e.do("POST", "/api/admin/metrics/tokens", tok, bad), 400)
	}
	e.createUser(tok, "writer1", "writer-pw-1", "Writer")
	wtok := e.login("writer1", "writer-pw-1")
	e.want(e.do("GET", "/api/admin/metrics/tokens", wtok, nil), 403)
	e.want(e.do("POST", "/api/admin/metrics/tokens", wtok, nil), 403)
	e.want(e.do("DELETE", "/api/admin/metrics/tokens/"+created.ID, wtok, nil), 403)
	e.want(e.do("DELETE", "/api/admin/metrics/tokens/"+created.ID, "", nil), 401)

	r = e.want(e.do("DELETE", "/api/admin/metrics/tokens/"+created.ID, tok, nil), 204)
	if got := r.header.Get(HeaderConfirmedBy); got != "n1,n2,n3" {
		t.Fatalf("a revoke: %s %q", HeaderConfirmedBy, got)
	}
	if _, ok := e.f.State().ScrapeTokenByHash(ScrapeTokenHash([]byte(created.Token))); ok {
		t.Fatal("revoked token still in the state")
	}
	if msg := e.want(e.do("DELETE", "/api/admin/metrics/tokens/"+created.ID, tok, nil), 404).errMsg(t); msg != "scrape token not found" {
		t.Fatalf("revoking again: %q", msg)
	}
	e.want(e.do("PUT", "/api/admin/metrics/tokens/x", tok, nil), 405)
	e.want(e.do("GET", "/api/admin/metrics/tokens/x/y", tok, nil), 404)

	for i := e.f.State().NumScrapeTokens(); i < MaxScrapeTokens; i++ {
		if err := e.p.Propose(context.Background(), fsm.MsgScrapeTokenCreate, fsm.ScrapeTokenCreate{ID: fmt.Sprintf("t%d", i),
			Hash: bytes.Repeat([]byte{byte(i + 1)}, 32), CreatedBy: e.rootID}); err != nil {
			t.Fatal(err)
		}
	}
	e.want(e.do("POST", "/api/admin/metrics/tokens", tok, nil), 409)
}
