package fsm

import (
	"fmt"
	"reflect"

	"github.com/s4/s4/iam"
	"github.com/s4/s4/meta"
)

// The event table: every event type the log can hold, once. The FSM's
// dispatch, the leader's check of a forwarded event (CheckEvent), the
// auth index's IAM test and the revocation barrier's test (Revokes) all
// read it. Adding an event is one row here plus its handler;
// TestEventTable fails when a Msg* constant has no row.
var eventTable = []eventSpec{
	// IAM. Every update, deletion and issue may take something away: a
	// deactivation, a demotion, a new password, a replaced key.
	iamEvent(MsgUserCreate, "UserCreate", false, (*FSM).applyUserCreate),
	iamEvent(MsgUserUpdate, "UserUpdate", true, (*FSM).applyUserUpdate),
	iamEvent(MsgUserDelete, "UserDelete", true, (*FSM).applyUserDelete),
	iamEvent(MsgCredentialIssue, "CredentialIssue", true, (*FSM).applyCredentialIssue),
	iamEvent(MsgCredentialRevoke, "CredentialRevoke", true, (*FSM).applyCredentialRevoke),
	// Scrape tokens of GET /metrics (scrapetoken.go): a revoke is one.
	iamEvent(MsgScrapeTokenCreate, "ScrapeTokenCreate", false, (*FSM).applyScrapeTokenCreate),
	iamEvent(MsgScrapeTokenRevoke, "ScrapeTokenRevoke", true, (*FSM).applyScrapeTokenRevoke),
	// The IAM history's retention cut-off (history.go).
	historyEvent(MsgHistoryPrune, "HistoryPrune", (*FSM).applyHistoryPrune),
	// Object metadata.
	metaEvent(MsgBucketCreate, "BucketCreate", applyBucketCreate),
	metaEvent(MsgBucketDelete, "BucketDelete", applyBucketDelete),
	// Version 2 of these carries a field older releases would skip (an
	// inline body, tags, conditions: meta_events.go, v2If); they read
	// version 1 as before.
	withVersion(2, metaEvent(MsgObjectPut, "ObjectPut", applyObjectPut)),
	withVersion(2, metaEventTimed(MsgObjectDelete, "ObjectDelete", applyObjectDelete)),
	withVersion(2, metaEvent(MsgUploadCreate, "UploadCreate", applyUploadCreate)),
	withVersion(2, metaEvent(MsgPartPut, "PartPut", applyPartPut)),
	withVersion(2, metaEvent(MsgUploadComplete, "UploadComplete", applyUploadComplete)),
	metaEvent(MsgUploadAbort, "UploadAbort", applyUploadAbort),
	withVersion(2, metaEvent(MsgObjectTagsSet, "ObjectTagsSet", applyObjectTagsSet)),
	metaEvent(MsgBucketTagsSet, "BucketTagsSet", applyBucketTagsSet),
	metaEvent(MsgBucketVersioningSet, "BucketVersioningSet", applyBucketVersioningSet),
	// Lifecycle: the configuration, and the evaluator's expirations
	// (answered with a *LifecycleResult).
	metaEvent(MsgBucketLifecycleSet, "BucketLifecycleSet", applyBucketLifecycleSet),
	withVersion(2, metaEventResp(MsgLifecycleExpire, "LifecycleExpire", applyLifecycleExpire)),
}

// eventSpec is one row of the event table.
type eventSpec struct {
	t       MessageType
	name    string
	version uint8      // the newest version this release writes and reads; it reads every version from 1
	iam     bool       // changes users or credentials (moves AuthIndex)
	revokes bool       // may take a credential or a permission away: acknowledged after the revocation barrier
	body    func() any // a new, empty body to decode into
	apply   func(f *FSM, s *iam.State, body any) applied
}

// applied is what a handler did: the next IAM state (nil: unchanged), the
// response the proposer gets (nil or a domain error), and the access key
// it dropped, whose derived caches (SigV4 signing keys) must go.
type applied struct {
	state   *iam.State
	resp    any
	dropped string
	history *meta.HistoryRecord // what the IAM history records of the event (nil: nothing)
}

// iamEvent is a row for an IAM event: its handler returns the next state.
func iamEvent[E any](t MessageType, name string, revokes bool, fn func(f *FSM, s *iam.State, ev *E) applied) eventSpec {
	return eventSpec{t: t, name: name, version: eventVersion, iam: true, revokes: revokes,
		body:  func() any { return new(E) },
		apply: func(f *FSM, s *iam.State, body any) applied { return f.withHistory(s, fn(f, s, body.(*E)), body) }}
}

// metaEvent is a row for an object-metadata event: its handler is one
// write operation of the store, which runs in the write transaction that
// the batch Raft committed together shares (ApplyBatch) and so validates
// before it writes: one that answers an error has changed nothing
// (TestBatchEqualsOneByOne). It leaves the IAM state as it is.
func metaEvent[E any](t MessageType, name string, fn func(m *meta.Store, ev *E) error) eventSpec {
	return metaRow(t, name, func(f *FSM, ev *E) (any, error) { return nil, fn(f.meta, ev) })
}

// metaEventTimed is metaEvent for a handler that also gets the time the
// leader appended the entry (FSM.entryTime).
func metaEventTimed[E any](t MessageType, name string, fn func(m *meta.Store, ev *E, appended int64) error) eventSpec {
	return metaRow(t, name, func(f *FSM, ev *E) (any, error) { return nil, fn(f.meta, ev, f.entryTime) })
}

// metaEventResp is metaEvent for a handler that answers the proposer
// with a value (nil error) instead of nil.
func metaEventResp[E any](t MessageType, name string, fn func(m *meta.Store, ev *E) (any, error)) eventSpec {
	return metaRow(t, name, func(f *FSM, ev *E) (any, error) { return fn(f.meta, ev) })
}

// metaRow is the row of an object-metadata event whose handler answers a
// value or an error.
func metaRow[E any](t MessageType, name string, fn func(f *FSM, ev *E) (any, error)) eventSpec {
	return eventSpec{t: t, name: name, version: eventVersion,
		body: func() any { return new(E) },
		apply: func(f *FSM, _ *iam.State, body any) applied {
			if f.meta == nil {
				panic(fmt.Errorf("fsm: event type %d needs the metadata store", t))
			}
			resp, err := fn(f, body.(*E))
			if err != nil {
				return applied{resp: eventError(err)}
			}
			return applied{resp: resp}
		}}
}

// withVersion sets the newest version of a row's event.
func withVersion(v uint8, e eventSpec) eventSpec {
	e.version = v
	return e
}

// knows reports whether this release decodes version v of the event.
func (e *eventSpec) knows(v uint8) bool { return v >= 1 && v <= e.version }

// specs indexes eventTable by type.
var specs = func() map[MessageType]*eventSpec {
	m := make(map[MessageType]*eventSpec, len(eventTable))
	for i := range eventTable {
		e := &eventTable[i]
		if e.t&IgnoreUnknownTypeFlag != 0 {
			panic(fmt.Sprintf("fsm: event %s uses the ignore flag as its type", e.name))
		}
		if _, dup := m[e.t]; dup {
			panic(fmt.Sprintf("fsm: event type %d in the table twice", e.t))
		}
		m[e.t] = e
	}
	return m
}()

// specOf returns the row of an encoded event, and whether its type is
// unknown but flagged IgnoreUnknownTypeFlag (written by a newer release).
func specOf(cmd []byte) (spec *eventSpec, ignorable bool) {
	if len(cmd) == 0 {
		return nil, false
	}
	t := MessageType(cmd[0])
	return specs[t&^IgnoreUnknownTypeFlag], t&IgnoreUnknownTypeFlag != 0
}

// CheckEvent returns nil if the FSM can apply cmd without panicking on its
// envelope or its body: the leader checks every forwarded event before it
// proposes it, since one entry the FSM cannot decode would stop every
// node at every restart. It mirrors apply: the envelope [type][version]
// [msgpack body], a known type (or one flagged IgnoreUnknownTypeFlag), the
// version, and a body that decodes into the event's struct with the FSM's
// codec. Errors wrap ErrInvalidEvent.
func CheckEvent(cmd []byte) error {
	if len(cmd) > MaxEventSize {
		return fmt.Errorf("%w: event of %d bytes exceeds %d", ErrInvalidEvent, len(cmd), MaxEventSize)
	}
	if len(cmd) < 2 {
		return fmt.Errorf("%w: event of %d bytes has no envelope", ErrInvalidEvent, len(cmd))
	}
	spec, ignorable := specOf(cmd)
	if spec == nil {
		if ignorable {
			return nil // the FSM skips it
		}
		return fmt.Errorf("%w: unknown event type %d", ErrInvalidEvent, cmd[0])
	}
	if v := cmd[1]; !spec.knows(v) {
		return fmt.Errorf("%w: event %s has unknown version %d", ErrInvalidEvent, spec.name, v)
	}
	body := spec.body()
	if err := decode(cmd[2:], body); err != nil {
		return fmt.Errorf("%w: event %s: %v", ErrInvalidEvent, spec.name, err)
	}
	if v, ok := body.(versioned); ok {
		if n := v.inlineSize(); n > meta.MaxInline {
			return fmt.Errorf("%w: event %s carries an inline body of %d bytes, more than %d", ErrInvalidEvent, spec.name, n, meta.MaxInline)
		}
		if want := v.eventVersion(); cmd[1] != want {
			return fmt.Errorf("%w: event %s of version %d is a version %d event", ErrInvalidEvent, spec.name, cmd[1], want)
		}
	}
	return nil
}

// Revokes reports whether an encoded event may take a credential or a
// permission away, and so is acknowledged only after the revocation
// barrier.
func Revokes(cmd []byte) bool {
	spec, _ := specOf(cmd)
	return spec != nil && spec.revokes
}

// isIAM reports whether an encoded event changes users or credentials,
// whatever its outcome.
func isIAM(cmd []byte) bool {
	spec, _ := specOf(cmd)
	return spec != nil && spec.iam
}

// checkBody reports whether msg is the body type of t (Encode).
func checkBody(t MessageType, msg any) error {
	spec := specs[t]
	if spec == nil {
		return fmt.Errorf("fsm: encode: unknown event type %d", t)
	}
	if want := reflect.TypeOf(spec.body()); reflect.TypeOf(msg) != want && reflect.TypeOf(msg) != want.Elem() {
		return fmt.Errorf("fsm: encode: event %s takes a %v, not a %T", spec.name, want, msg)
	}
	return nil
}
