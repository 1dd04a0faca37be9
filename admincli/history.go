package admincli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// s4 admin history and s4 admin access: the IAM history (README, "The IAM
// history").

func init() {
	register(newHistoryCmd)
	register(newAccessCmd)
}

type historyEventJSON struct {
	Index       uint64 `json:"index"`
	Time        string `json:"time"`
	Type        string `json:"type"`
	Actor       string `json:"actor"`
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
	TokenID       string `json:"token_id"`
	TokenName     string `json:"token_name"`
	Before        string `json:"before"`
	Pruned        *int   `json:"pruned"`
	PrunedThrough uint64 `json:"pruned_through"`
}

type eventsPageJSON struct {
	Events    []historyEventJSON `json:"events"`
	NextAfter uint64             `json:"next_after"`
}

// details is the DETAILS column of an event.
func (e *historyEventJSON) details() string {
	var d []string
	switch {
	case e.Role != "":
		d = append(d, "role "+e.Role)
	case e.Changes != nil:
		if c := e.Changes.Role; c != nil {
			d = append(d, "role "+c.From+" -> "+c.To)
		}
		if c := e.Changes.IsActive; c != nil {
			d = append(d, "active "+yesNo(c.From)+" -> "+yesNo(c.To))
		}
		if e.Changes.PasswordChanged {
			d = append(d, "new password")
		}
		if len(d) == 0 {
			d = append(d, "no change")
		}
	}
	if e.ReplacedKey != "" {
		d = append(d, e.AccessKey+" replaces "+e.ReplacedKey)
	} else if e.AccessKey != "" {
		d = append(d, e.AccessKey)
	}
	if e.TokenID != "" {
		d = append(d, "token "+e.TokenID)
		if e.TokenName != "" {
			d = append(d, "("+e.TokenName+")")
		}
	}
	if e.Pruned != nil {
		d = append(d, fmt.Sprintf("removed %d events before %s (through index %d)", *e.Pruned, shortTime(e.Before), e.PrunedThrough))
	}
	return strings.Join(d, " ")
}

// parseWhen reads a time flag: RFC 3339, a date (UTC), now, or how long
// ago (a duration such as 90m, or days: 7d).
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("--%s %q: give a time (2006-01-02T15:04:05Z, 2006-01-02), now, or how long ago (90m, 7d)", flag, s)
}

func apiTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func newHistoryCmd(a *app) *cobra.Command {
	var since, until, user, key, actor, types string
	var limit int
	var after uint64
	var all, ndjson bool
	cmd := &cobra.Command{
		Use:   "history [--since T] [--until T] [--user USER] [--access-key KEY] [--actor USER|system] [--type T,...] [--all | --ndjson]",
		Short: "Show the IAM history: every user, key and scrape-token change, who made it and through which node",
		Long: `Show the IAM history in log order: every user created, updated (what
changed, never the password), deleted; every S3 key issued, replaced,
revoked; scrape tokens; the retention's cut-offs. Each event names the
admin who made it (or the system), the node that took the request and the
client's address.

Times (--since, --until) are RFC 3339, a date (UTC), now, or how long ago
(90m, 7d). One page at a time (--limit, then --after the index it names),
or every page with --all; --ndjson streams the whole history as JSON lines
for an external audit store.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			now := time.Now()
			for flag, v := range map[string]string{"since": since, "until": until} {
				if v != "" {
					t, err := parseWhen(flag, v, now)
					if err != nil {
						return err
					}
					q.Set(flag, apiTime(t))
				}
			}
			for name, v := range map[string]string{"user": user, "access_key": key, "actor": actor, "type": types} {
				if v != "" {
					q.Set(name, v)
				}
			}
			if ndjson {
				if all || cmd.Flags().Changed("limit") || cmd.Flags().Changed("after") {
					return usagef("--ndjson streams the whole history: it takes no --all, --limit or --after")
				}
				q.Set("format", "ndjson")
				return a.stream("events?"+q.Encode(), a.stdout)
			}
			if limit < 1 || limit > 1000 {
				return usagef("--limit must be 1 to 1000")
			}
			q.Set("limit", strconv.Itoa(limit))
			var events []historyEventJSON
			var next uint64
			for {
				if after > 0 {
					q.Set("after", strconv.FormatUint(after, 10))
				}
				var page eventsPageJSON
				r, err := a.get("events?"+q.Encode(), &page)
				if err != nil {
					return err
				}
				if a.json && !all {
					return a.printRaw(r.body)
				}
				events, next = append(events, page.Events...), page.NextAfter
				if !all || next == 0 {
					break
				}
				after = next
			}
			if a.json {
				return a.printJSON(map[string]any{"events": events})
			}
			rows := make([][]string, 0, len(events))
			for i := range events {
				e := &events[i]
				subject := e.Username
				if subject == "" {
					subject = e.UserID
				}
				rows = append(rows, []string{strconv.FormatUint(e.Index, 10), shortTime(e.Time), e.Type, e.Actor,
					orDash(e.Node), orDash(e.Client), orDash(subject), e.details()})
			}
			if err := a.table([]string{"INDEX", "TIME", "EVENT", "ACTOR", "NODE", "CLIENT", "USER", "DETAILS"}, rows); err != nil {
				return err
			}
			if next != 0 {
				a.note("More events follow: --after %d (or --all).", next)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "events at or after this time")
	f.StringVar(&until, "until", "", "events at or before this time")
	f.StringVar(&user, "user", "", "events about this user (username or ID)")
	f.StringVar(&key, "access-key", "", "events that issued, replaced or revoked this S3 access key")
	f.StringVar(&actor, "actor", "", "events made by this admin (username or ID), or system")
	f.StringVar(&types, "type", "", "only these event types, comma-separated (user_created, user_updated, user_deleted, root_created, credential_issued, credential_replaced, credential_revoked, scrape_token_created, scrape_token_revoked, history_pruned)")
	f.IntVar(&limit, "limit", 100, "events per page (1 to 1000)")
	f.Uint64Var(&after, "after", 0, "events after this log index (the next page)")
	f.BoolVar(&all, "all", false, "every page")
	f.BoolVar(&ndjson, "ndjson", false, "stream the whole history (the filters apply) as JSON lines")
	cmd.RegisterFlagCompletionFunc("user", a.completeUsers)
	return cmd
}

// stream copies the answer to GET path to w as it arrives (no size limit,
// no overall timeout).
func (a *app) stream(path string, w io.Writer) error {
	c, err := a.connect()
	if err != nil {
		return err
	}
	if c.token == "" {
		return fmt.Errorf("not logged in to %s (or the session expired): run s4 admin login", c.endpoint)
	}
	req, err := http.NewRequest("GET", c.endpoint+"/api/admin/"+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("%s: %w", c.endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return &apiError{Status: resp.StatusCode, Message: e.Error}
	}
	bw := bufio.NewWriter(w)
	if _, err := io.Copy(bw, resp.Body); err != nil {
		return fmt.Errorf("%s: the stream broke off: %w", c.endpoint, err)
	}
	return bw.Flush()
}

type keyAccessJSON struct {
	AccessKey string `json:"access_key"`
	UserID    string `json:"user_id"`
	Username  string `json:"username"`
	Role      string `json:"role"`
	IsActive  bool   `json:"is_active"`
	IssuedAt  string `json:"issued_at"`
}

type keyVerdictJSON struct {
	At        string `json:"at"`
	Index     uint64 `json:"index"`
	AccessKey string `json:"access_key"`
	Valid     bool   `json:"valid"`
	Reason    string `json:"reason"`
	Since     string `json:"since"`
	UserID    string `json:"user_id"`
	Username  string `json:"username"`
	Role      string `json:"role"`
	IssuedAt  string `json:"issued_at"`
}

// why says in words why a key could not authenticate.
func (v *keyVerdictJSON) why() string {
	when := func(what string) string {
		if v.Since == "" {
			return what
		}
		return what + " " + shortTime(v.Since)
	}
	switch v.Reason {
	case "not_issued_yet":
		return when("not issued yet: issued")
	case "revoked":
		return when("revoked")
	case "replaced":
		return when("replaced by a new key")
	case "user_deleted":
		return when("its user was deleted")
	case "user_inactive":
		if v.Since == "" {
			return "its user was inactive (since before the history began)"
		}
		return when("its user was inactive since")
	case "unknown_key":
		return "the history has no such key then (never issued, or only before the history's retention cut-off)"
	}
	return v.Reason
}

func newAccessCmd(a *app) *cobra.Command {
	var when, key string
	cmd := &cobra.Command{
		Use:   "access --at T [--access-key KEY]",
		Short: "Which S3 keys could authenticate at a past time, or whether one could and why not",
		Long: `Show every S3 access key that existed at a time T with its user, role and
active flag then (a key of an inactive user could not authenticate), or,
with --access-key, whether that key could authenticate at T and, if not,
why: not issued yet, revoked, replaced, its user deleted or inactive.

T is RFC 3339, a date (UTC), now, or how long ago (90m, 7d).`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			if when == "" {
				return usagef("--at is required")
			}
			t, err := parseWhen("at", when, time.Now())
			if err != nil {
				return err
			}
			q := url.Values{"at": {apiTime(t)}}
			if key != "" {
				q.Set("access_key", key)
				var v keyVerdictJSON
				r, err := a.get("access?"+q.Encode(), &v)
				if err != nil {
					return err
				}
				if a.json {
					return a.printRaw(r.body)
				}
				owner := ""
				if v.Username != "" {
					owner = " (" + v.Username + ", " + v.Role + ")"
				}
				if v.Valid {
					a.say("%s%s could authenticate at %s: yes, issued %s.", v.AccessKey, owner, shortTime(v.At), shortTime(v.Since))
				} else {
					a.say("%s%s could authenticate at %s: no, %s.", v.AccessKey, owner, shortTime(v.At), v.why())
				}
				return nil
			}
			var l struct {
				At    string          `json:"at"`
				Index uint64          `json:"index"`
				Keys  []keyAccessJSON `json:"keys"`
			}
			r, err := a.get("access?"+q.Encode(), &l)
			if err != nil {
				return err
			}
			if a.json {
				return a.printRaw(r.body)
			}
			rows := make([][]string, 0, len(l.Keys))
			for _, k := range l.Keys {
				rows = append(rows, []string{k.AccessKey, k.Username, k.UserID, k.Role, yesNo(k.IsActive), orDash(shortTime(k.IssuedAt))})
			}
			a.note("%d S3 key(s) at %s (the state after log index %d); a key of an inactive user could not authenticate.", len(l.Keys), shortTime(l.At), l.Index)
			return a.table([]string{"ACCESS KEY", "USERNAME", "USER ID", "ROLE", "ACTIVE", "ISSUED"}, rows)
		},
	}
	cmd.Flags().StringVar(&when, "at", "", "the time: RFC 3339, a date (UTC), now, or how long ago (90m, 7d)")
	cmd.Flags().StringVar(&key, "access-key", "", "ask about this S3 access key only")
	return cmd
}
