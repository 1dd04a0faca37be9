package fsm

import (
	"github.com/s4/s4/iam"
	"github.com/s4/s4/meta"
)

// The IAM history (meta/history.go keeps it): every IAM event applied
// without being refused is recorded, in the transaction of the entry's
// other effects, with what it changed, from the event and the IAM state
// before and after it (never a password, hash, secret or token), and who
// proposed it from where (Origin). The retention's cut-off is an event of
// its own, HistoryPrune, so that every node prunes at the same index.

// Origin says who proposed an IAM event and from where. The proposing
// node fills it in; an event of a release that did not (an older log)
// decodes with an empty Origin: proposed by the system, from an unknown
// node. It is an addition to version 1 of the events: msgpack bodies are
// maps by field name, so an older binary skips it and this one reads
// events without it.
type Origin struct {
	ActorID   string // the admin's user ID; "" for the system (the node itself)
	ActorName string // the admin's username
	Node      string // the ID of the node that took the request
	Client    string // the client's address (host:port); "" for the system
}

// MsgHistoryPrune is the retention's cut-off (node: --history-retention).
const MsgHistoryPrune MessageType = 8

// HistoryPrune removes the history's oldest events whose time is before
// Before, at most HistoryPruneMax of them (the leader proposes another
// while older ones remain), and is itself recorded.
type HistoryPrune struct {
	Before int64
	At     int64
	Origin Origin
}

// HistoryPruneMax bounds the events one HistoryPrune removes, so that the
// removal holds the FSM up for milliseconds, not seconds. (A prune first
// builds the indexes pending on that node, up to meta's bound of 65,536
// events, about a second: meta/history_queue.go.)
const HistoryPruneMax = 4096

var pruneMax = HistoryPruneMax // tests lower it

// historyEvent is a row for an event that only the history reads: it
// leaves the IAM state as it is and needs no metadata store (without one,
// it does nothing).
func historyEvent[E any](t MessageType, name string, fn func(f *FSM, ev *E) applied) eventSpec {
	return eventSpec{t: t, name: name, version: eventVersion,
		body:  func() any { return new(E) },
		apply: func(f *FSM, _ *iam.State, body any) applied { return fn(f, body.(*E)) }}
}

func (f *FSM) applyHistoryPrune(ev *HistoryPrune) applied {
	if f.meta == nil {
		return applied{}
	}
	n, through := f.meta.PruneHistory(ev.Before, pruneMax)
	he := meta.HistoryEvent{Type: meta.HistHistoryPruned, At: ev.At, Before: ev.Before, Pruned: n, Through: through}
	withOrigin(&he, ev.Origin)
	return applied{history: &meta.HistoryRecord{Event: he}}
}

// withHistory adds to a what the history records of the IAM event body,
// applied to prev: nothing when it was refused or there is no metadata
// store.
func (f *FSM) withHistory(prev *iam.State, a applied, body any) applied {
	if f.meta == nil || a.resp != nil {
		return a
	}
	next := a.state
	if next == nil {
		next = prev
	}
	if rec := historyRecord(prev, next, body); rec != nil {
		if prev.NumUsers() > 0 {
			rec.Baseline = func(add func(meta.HistoryUser)) {
				for _, u := range prev.Users() {
					add(historyUser(u))
				}
			}
		}
		a.history = rec
	}
	return a
}

func withOrigin(he *meta.HistoryEvent, o Origin) {
	he.ActorID, he.ActorName, he.Node, he.Client = o.ActorID, o.ActorName, o.Node, o.Client
}

func historyUser(u *iam.User) meta.HistoryUser {
	return meta.HistoryUser{ID: u.ID, Username: u.Username, Role: u.Role.String(), Active: u.Active, AccessKey: u.AccessKey}
}

// historyRecord describes the IAM event body that took prev to next.
func historyRecord(prev, next *iam.State, body any) *meta.HistoryRecord {
	var he meta.HistoryEvent
	var subject *meta.HistoryUser
	after := func(id string) {
		if u, ok := next.UserByID(id); ok {
			hu := historyUser(u)
			subject = &hu
			he.Username = u.Username
		}
	}
	switch ev := body.(type) {
	case *UserCreate:
		he = meta.HistoryEvent{Type: meta.HistUserCreated, At: ev.At, UserID: ev.ID, Role: ev.Role.String()}
		if ev.Root {
			he.Type = meta.HistRootCreated
		}
		withOrigin(&he, ev.Origin)
		after(ev.ID)
	case *UserUpdate:
		he = meta.HistoryEvent{Type: meta.HistUserUpdated, At: ev.At, UserID: ev.ID, Password: ev.PasswordHash != nil}
		withOrigin(&he, ev.Origin)
		if old, ok := prev.UserByID(ev.ID); ok {
			if ev.Role != nil && *ev.Role != old.Role {
				he.RoleFrom, he.RoleTo = old.Role.String(), ev.Role.String()
			}
			if ev.Active != nil && *ev.Active != old.Active {
				a := *ev.Active
				he.Active = &a
			}
		}
		after(ev.ID)
	case *UserDelete:
		he = meta.HistoryEvent{Type: meta.HistUserDeleted, At: ev.At, UserID: ev.ID}
		withOrigin(&he, ev.Origin)
		if old, ok := prev.UserByID(ev.ID); ok {
			hu := historyUser(old)
			hu.Deleted, hu.AccessKey = true, ""
			subject, he.Username, he.AccessKey = &hu, old.Username, old.AccessKey
		}
	case *CredentialIssue:
		he = meta.HistoryEvent{Type: meta.HistCredentialIssued, At: ev.At, UserID: ev.UserID, AccessKey: ev.AccessKey}
		withOrigin(&he, ev.Origin)
		if old, ok := prev.UserByID(ev.UserID); ok && old.AccessKey != "" {
			he.Type, he.Replaced = meta.HistCredentialReplaced, old.AccessKey
		}
		after(ev.UserID)
	case *CredentialRevoke:
		he = meta.HistoryEvent{Type: meta.HistCredentialRevoked, At: ev.At, UserID: ev.UserID}
		withOrigin(&he, ev.Origin)
		if old, ok := prev.UserByID(ev.UserID); ok {
			he.AccessKey = old.AccessKey // "" for a revoke of a user without a key: a no-op, recorded
		}
		after(ev.UserID)
	case *ScrapeTokenCreate:
		he = meta.HistoryEvent{Type: meta.HistScrapeTokenCreated, At: ev.At, TokenID: ev.ID, TokenName: ev.Name}
		withOrigin(&he, ev.Origin)
	case *ScrapeTokenRevoke:
		he = meta.HistoryEvent{Type: meta.HistScrapeTokenRevoked, At: ev.At, TokenID: ev.ID}
		withOrigin(&he, ev.Origin)
		if t, ok := prev.ScrapeTokenByID(ev.ID); ok {
			he.TokenName = t.Name
		}
	default:
		return nil
	}
	return &meta.HistoryRecord{Event: he, Subject: subject}
}
