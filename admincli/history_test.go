package admincli

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestHistoryCommands runs the seed's flow through the CLI against a real
// node, then asks s4 admin history and s4 admin access about it: the
// events with actor and node, paging, filters, the export, and whether
// each key could authenticate before it was issued, while valid, between
// regenerate and revoke, and after.
func TestHistoryCommands(t *testing.T) {
	endpoint, cert := testNode(t)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("S4_ENDPOINT", "")
	t.Setenv("S4_CA_CERT", "")
	c := cli{t}
	c.ok(rootPassword+"\n", "admin", "login", "--endpoint", endpoint, "--ca-cert", cert)
	pause := func() string {
		time.Sleep(2 * time.Millisecond)
		s := time.Now().UTC().Format(time.RFC3339Nano)
		time.Sleep(2 * time.Millisecond)
		return s
	}
	type cred struct {
		AccessKey string `json:"access_key"`
	}
	c.ok("alice-password\n", "admin", "user", "create", "alice", "--role", "Writer")
	before := pause()
	var k1, k2 cred
	c.json(&k1, "", "admin", "credentials", "issue", "alice")
	valid := pause()
	c.json(&k2, "", "admin", "credentials", "issue", "alice")
	between := pause()
	c.ok("", "admin", "credentials", "revoke", "alice")
	after := pause()
	c.ok("", "admin", "user", "update", "alice", "--active=false")

	var page eventsPageJSON
	c.json(&page, "", "admin", "history")
	var types []string
	for _, e := range page.Events {
		types = append(types, e.Type)
		if e.Type != "root_created" && (e.Actor != "root" || e.Node == "" || e.Client == "") {
			t.Errorf("event %+v", e)
		}
	}
	if strings.Join(types, " ") != "root_created user_created credential_issued credential_replaced credential_revoked user_updated" {
		t.Fatalf("history %v", types)
	}
	r := c.ok("", "admin", "history", "--user", "alice")
	for _, want := range []string{"EVENT", "credential_replaced", k2.AccessKey + " replaces " + k1.AccessKey, "active yes -> no", "root"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("history table lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "root_created") {
		t.Errorf("--user alice shows root's creation:\n%s", r.stdout)
	}
	r = c.ok("", "admin", "history", "--limit", "2")
	if !strings.Contains(r.stderr, "More events follow: --after ") || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("a page of 2: %q / %q", r.stdout, r.stderr)
	}
	var allPages struct{ Events []historyEventJSON }
	c.json(&allPages, "", "admin", "history", "--limit", "2", "--all")
	if len(allPages.Events) != 6 {
		t.Errorf("--all: %d events", len(allPages.Events))
	}
	c.json(&page, "", "admin", "history", "--access-key", k1.AccessKey)
	if len(page.Events) != 2 {
		t.Errorf("--access-key: %+v", page.Events)
	}
	c.json(&page, "", "admin", "history", "--type", "credential_revoked", "--since", before)
	if len(page.Events) != 1 || page.Events[0].AccessKey != k2.AccessKey {
		t.Errorf("--type --since: %+v", page.Events)
	}
	r = c.ok("", "admin", "history", "--ndjson")
	lines := 0
	for sc := bufio.NewScanner(strings.NewReader(r.stdout)); sc.Scan(); lines++ {
		var e historyEventJSON
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Type != types[lines] {
			t.Fatalf("--ndjson line %d: %v %s", lines, err, sc.Bytes())
		}
	}
	if lines != 6 {
		t.Fatalf("--ndjson: %d lines", lines)
	}

	for _, c2 := range []struct {
		at, key, want string
	}{
		{before, k1.AccessKey, "no, not issued yet"},
		{valid, k1.AccessKey, "yes, issued"},
		{between, k1.AccessKey, "no, replaced by a new key"},
		{between, k2.AccessKey, "yes"},
		{after, k2.AccessKey, "no, revoked"},
	} {
		r := c.ok("", "admin", "access", "--at", c2.at, "--access-key", c2.key)
		if !strings.Contains(r.stdout, "(alice, Writer) could authenticate at") || !strings.Contains(r.stdout, c2.want) {
			t.Errorf("access at %s of %s: %q, want %q", c2.at, c2.key, r.stdout, c2.want)
		}
	}
	var v keyVerdictJSON
	c.json(&v, "", "admin", "access", "--at", between, "--access-key", k1.AccessKey)
	if v.Valid || v.Reason != "replaced" {
		t.Errorf("--json verdict %+v", v)
	}
	r = c.ok("", "admin", "access", "--at", between)
	if !strings.Contains(r.stdout, k2.AccessKey) || strings.Contains(r.stdout, k1.AccessKey) || !strings.Contains(r.stderr, "1 S3 key(s)") {
		t.Errorf("access list at %s: %s / %s", between, r.stdout, r.stderr)
	}
	r = c.ok("", "admin", "access", "--at", "now")
	if !strings.Contains(r.stderr, "0 S3 key(s)") {
		t.Errorf("access now: %s / %s", r.stdout, r.stderr)
	}

	c.fails(2, "--at is required", "", "admin", "access")
	c.fails(2, "give a time", "", "admin", "access", "--at", "yesterday")
	c.fails(2, "--limit must be", "", "admin", "history", "--limit", "0")
	c.fails(2, "--ndjson streams the whole history", "", "admin", "history", "--ndjson", "--all")
	c.fails(1, "type must be one or more of", "", "admin", "history", "--type", "bogus")
}
