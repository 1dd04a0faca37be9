package admin

import (
	"bufio"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
	"github.com/s4/s4/meta"
)

// The IAM history's routes (meta/history.go keeps it; every node answers
// the same, from its own metadata store, after FreshRead):
//
//	GET /api/admin/events?since=&until=&user=&access_key=&actor=&type=&limit=&after=[&format=ndjson]
//	GET /api/admin/access?at=T[&access_key=K]
//
// Every event an admin proposes carries its Origin: the admin, this node
// and the client's address.

// HistoryStore is the IAM history's read side (meta.Store implements it).
type HistoryStore interface {
	HistoryEvents(q meta.HistoryQuery) meta.HistoryPage
	HistoryLast() uint64
	AccessAt(t int64) (meta.AccessList, error)
	KeyAccessAt(t int64, accessKey string) (meta.KeyVerdict, error)
}

const (
	defaultEventsLimit = 100
	maxEventsLimit     = 1000
	exportPage         = 1000
	maxFilterLen       = 256
)

// origin is who proposes an event from this request: the admin, this
// node, the client's address.
func (h *Handler) origin(ctx *fasthttp.RequestCtx, actor *iam.User) fsm.Origin {
	o := fsm.Origin{Node: h.nodeID, Client: ctx.RemoteAddr().String()}
	if actor != nil {
		o.ActorID, o.ActorName = actor.ID, actor.Username
	}
	return o
}

// historyEventJSON is one event of the history in the API.
type historyEventJSON struct {
	Index      uint64 `json:"index"`
	Time       string `json:"time"`
	ProposedAt string `json:"proposed_at,omitempty"` // the proposer's clock, when it was behind the previous event's time
	Type       string `json:"type"`
	Actor      string `json:"actor"` // the admin's username, or "system"
	ActorID    string `json:"actor_id,omitempty"`
	Node       string `json:"node,omitempty"`
	Client     string `json:"client,omitempty"`

	UserID      string       `json:"user_id,omitempty"`
	Username    string       `json:"username,omitempty"`
	Role        string       `json:"role,omitempty"`
	Changes     *changesJSON `json:"changes,omitempty"`
	AccessKey   string       `json:"access_key,omitempty"`
	ReplacedKey string       `json:"replaced_key,omitempty"`
	TokenID     string       `json:"token_id,omitempty"`
	TokenName   string       `json:"token_name,omitempty"`

	Before        string `json:"before,omitempty"`
	Pruned        *int   `json:"pruned,omitempty"`
	PrunedThrough uint64 `json:"pruned_through,omitempty"`
}

type changesJSON struct {
	Role            *fromTo[string] `json:"role,omitempty"`
	IsActive        *fromTo[bool]   `json:"is_active,omitempty"`
	PasswordChanged bool            `json:"password_changed,omitempty"`
}

type fromTo[T any] struct {
	From T `json:"from"`
	To   T `json:"to"`
}

func toHistoryEventJSON(e *meta.HistoryEvent) historyEventJSON {
	out := historyEventJSON{
		Index: e.Index, Time: formatNanos(e.Time), Type: e.Type.String(), Actor: "system",
		Node: e.Node, Client: e.Client, UserID: e.UserID, Username: e.Username, Role: e.Role,
		AccessKey: e.AccessKey, ReplacedKey: e.Replaced, TokenID: e.TokenID, TokenName: e.TokenName,
	}
	if e.At != 0 {
		out.ProposedAt = formatNanos(e.At)
	}
	if !e.System() {
		out.Actor, out.ActorID = e.ActorName, e.ActorID
		if out.Actor == "" {
			out.Actor = e.ActorID
		}
	}
	switch e.Type {
	case meta.HistUserUpdated:
		c := &changesJSON{PasswordChanged: e.Password}
		if e.RoleTo != "" {
			c.Role = &fromTo[string]{e.RoleFrom, e.RoleTo}
		}
		if e.Active != nil {
			c.IsActive = &fromTo[bool]{!*e.Active, *e.Active}
		}
		out.Changes = c
	case meta.HistHistoryPruned:
		n := e.Pruned
		out.Before, out.Pruned, out.PrunedThrough = formatNanos(e.Before), &n, e.Through
	}
	return out
}

type eventsJSON struct {
	Events    []historyEventJSON `json:"events"`
	NextAfter uint64             `json:"next_after,omitempty"` // more may follow: ask again with after=next_after
}

// queryArgs returns the request's query parameters, refusing names not in
// allowed and repeated ones.
func queryArgs(ctx *fasthttp.RequestCtx, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	var err error
	ctx.QueryArgs().VisitAll(func(k, v []byte) {
		if err != nil {
			return
		}
		name := string(k)
		known := false
		for _, a := range allowed {
			known = known || a == name
		}
		switch {
		case !known:
			err = badf("unknown query parameter %q", truncate(name, 64))
		case seen(out, name):
			err = badf("query parameter %s given twice", name)
		case len(v) > maxFilterLen:
			err = badf("%s is longer than %d bytes", name, maxFilterLen)
		default:
			out[name] = string(v)
		}
	})
	return out, err
}

func seen(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// parseTime accepts RFC 3339 with or without fractional seconds.
func parseTime(name, s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, badf("%s must be a time in RFC 3339 (2006-01-02T15:04:05Z)", name)
	}
	return t.UnixNano(), nil
}

func parseHistoryQuery(args map[string]string) (meta.HistoryQuery, error) {
	q := meta.HistoryQuery{User: args["user"], AccessKey: args["access_key"], Actor: args["actor"], Limit: defaultEventsLimit}
	for _, name := range []string{"since", "until"} {
		if s, ok := args[name]; ok {
			t, err := parseTime(name, s)
			if err != nil {
				return q, err
			}
			if name == "since" {
				q.Since = &t
			} else {
				q.Until = &t
			}
		}
	}
	if s, ok := args["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxEventsLimit {
			return q, badf("limit must be 1 to %d", maxEventsLimit)
		}
		q.Limit = n
	}
	if s, ok := args["after"]; ok {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return q, badf("after must be a log index (next_after of the previous page)")
		}
		q.After = n
	}
	if s, ok := args["type"]; ok {
		for _, name := range strings.Split(s, ",") {
			t, ok := meta.ParseHistoryType(name)
			if !ok {
				return q, badf("type must be one or more of %s", strings.Join(meta.HistoryTypeNames(), ", "))
			}
			q.Types = append(q.Types, t)
		}
	}
	return q, nil
}

// GET /api/admin/events: one page of the history in log order, or with
// format=ndjson all of it, one event per line, streamed (the filters
// apply; limit and after do not).
func (h *Handler) listEvents(ctx *fasthttp.RequestCtx) {
	args, err := queryArgs(ctx, "since", "until", "user", "access_key", "actor", "type", "limit", "after", "format")
	if err != nil {
		h.writeBadRequest(ctx, err)
		return
	}
	q, err := parseHistoryQuery(args)
	if err != nil {
		h.writeBadRequest(ctx, err)
		return
	}
	switch args["format"] {
	case "", "json":
	case "ndjson":
		h.exportEvents(ctx, q)
		return
	default:
		h.writeError(ctx, fasthttp.StatusBadRequest, "format must be json or ndjson")
		return
	}
	page := h.history.HistoryEvents(q)
	out := eventsJSON{Events: make([]historyEventJSON, 0, len(page.Events))}
	for i := range page.Events {
		out.Events = append(out.Events, toHistoryEventJSON(&page.Events[i]))
	}
	if page.More {
		out.NextAfter = page.Next
	}
	h.writeJSON(ctx, fasthttp.StatusOK, out)
}

// exportEvents streams every event q selects, up to the newest one when
// the request arrived, page by page (each page one short read of the
// store).
func (h *Handler) exportEvents(ctx *fasthttp.RequestCtx, q meta.HistoryQuery) {
	q.Through, q.After, q.Limit = h.history.HistoryLast(), 0, exportPage
	if q.Through == 0 {
		q.Through = 1 // nothing yet: an empty stream (0 means no bound)
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/x-ndjson")
	hist, log := h.history, h.log
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		enc := json.NewEncoder(w)
		for {
			page := hist.HistoryEvents(q)
			for i := range page.Events {
				if err := enc.Encode(toHistoryEventJSON(&page.Events[i])); err != nil {
					log.Debug("admin: history export ended by the client", "err", err)
					return
				}
			}
			if !page.More {
				return
			}
			if err := w.Flush(); err != nil {
				log.Debug("admin: history export ended by the client", "err", err)
				return
			}
			q.After = page.Next
		}
	})
}

type keyAccessJSON struct {
	AccessKey   string `json:"access_key"`
	UserID      string `json:"user_id"`
	Username    string `json:"username"`
	Role        string `json:"role"`
	IsActive    bool   `json:"is_active"`
	IssuedAt    string `json:"issued_at,omitempty"`    // absent when issued before the history began
	IssuedIndex uint64 `json:"issued_index,omitempty"` // the log index of the issue
}

type accessJSON struct {
	At    string          `json:"at"`
	Index uint64          `json:"index"` // the state is the one after this log index (0: before the first event)
	Keys  []keyAccessJSON `json:"keys"`
}

type keyVerdictJSON struct {
	At          string `json:"at"`
	Index       uint64 `json:"index"`
	AccessKey   string `json:"access_key"`
	Valid       bool   `json:"valid"`            // it could authenticate at that time
	Reason      string `json:"reason,omitempty"` // why not
	Since       string `json:"since,omitempty"`  // valid: since its issue; else the time of the reason
	UserID      string `json:"user_id,omitempty"`
	Username    string `json:"username,omitempty"`
	Role        string `json:"role,omitempty"`
	IsActive    *bool  `json:"is_active,omitempty"`
	IssuedAt    string `json:"issued_at,omitempty"`
	IssuedIndex uint64 `json:"issued_index,omitempty"`
}

func optNanos(n int64) string {
	if n == 0 {
		return ""
	}
	return formatNanos(n)
}

func toKeyAccessJSON(k *meta.KeyAccess) keyAccessJSON {
	return keyAccessJSON{AccessKey: k.AccessKey, UserID: k.UserID, Username: k.Username, Role: k.Role, IsActive: k.Active,
		IssuedAt: optNanos(k.IssuedAt), IssuedIndex: k.IssuedIndex}
}

// GET /api/admin/access?at=T[&access_key=K]
func (h *Handler) access(ctx *fasthttp.RequestCtx) {
	args, err := queryArgs(ctx, "at", "access_key")
	if err != nil {
		h.writeBadRequest(ctx, err)
		return
	}
	s, ok := args["at"]
	if !ok {
		h.writeError(ctx, fasthttp.StatusBadRequest, "at is required (a time in RFC 3339)")
		return
	}
	at, err := parseTime("at", s)
	if err != nil {
		h.writeBadRequest(ctx, err)
		return
	}
	if ak, ok := args["access_key"]; ok {
		v, err := h.history.KeyAccessAt(at, ak)
		if err != nil {
			h.writeHistoryError(ctx, err)
			return
		}
		out := keyVerdictJSON{At: formatNanos(at), Index: v.Index, AccessKey: ak, Valid: v.Valid, Reason: v.Reason,
			Since: optNanos(v.Since), UserID: v.UserID, Username: v.Username, Role: v.Role,
			IssuedAt: optNanos(v.IssuedAt), IssuedIndex: v.IssuedIndex}
		if v.Valid || v.Reason == meta.ReasonUserInactive {
			active := v.Active
			out.IsActive = &active
		}
		h.writeJSON(ctx, fasthttp.StatusOK, out)
		return
	}
	l, err := h.history.AccessAt(at)
	if err != nil {
		h.writeHistoryError(ctx, err)
		return
	}
	out := accessJSON{At: formatNanos(at), Index: l.Index, Keys: make([]keyAccessJSON, 0, len(l.Keys))}
	for i := range l.Keys {
		out.Keys = append(out.Keys, toKeyAccessJSON(&l.Keys[i]))
	}
	h.writeJSON(ctx, fasthttp.StatusOK, out)
}

func (h *Handler) writeHistoryError(ctx *fasthttp.RequestCtx, err error) {
	if be, ok := errors.AsType[*meta.HistoryBeforeError](err); ok {
		h.writeError(ctx, fasthttp.StatusGone, "the history begins at "+formatNanos(be.From)+" (retention, or an upgrade from a release without it)")
		return
	}
	h.log.Error("admin: reading the history failed", "err", err)
	h.writeError(ctx, fasthttp.StatusInternalServerError, "internal error")
}
