// Package fsm is S4's replicated state machine: it decodes the events of the
// Raft log and applies them, in log order, to the two stores: the IAM state
// (package iam: users, session generations and the auth index of access
// keys) and the object metadata (package meta, in bbolt).
//
// Files:
//   - fsm.go: the FSM (Apply, ApplyBatch, publishing the state per applied
//     index, WaitApplied, Snapshot and Restore);
//   - events.go, meta_events.go: the event types (Msg*), their bodies and
//     their encoding (Encode);
//   - table.go: the event table that dispatch, CheckEvent, Revokes and the
//     auth index's IAM test read;
//   - commands_iam.go, commands_meta.go: the handlers, each the decoded
//     event and one call of its store's transition or write operation
//     (CredentialIssue also unseals its secret, after the store's check);
//   - errors.go: every domain error, re-exported from the stores (fsm.ErrX);
//   - scrapetoken.go: the scrape tokens' events (GET /metrics) and handlers;
//   - counts.go: the events applied, by type (EventsApplied, for metrics);
//   - snapshot.go: the snapshot format, which composes the users' records
//     (iam.State) and the metadata store's (meta.Snapshot);
//   - history.go: what the IAM history (in the metadata store) records of
//     each IAM event, the events' Origin, and the retention's HistoryPrune.
//
// Rules that keep every node identical:
//   - Apply is deterministic. The stores never read the clock, a random
//     source or the network, and the FSM reads no disk outside its stores.
//     The proposing node stamps IDs, timestamps, generated keys and password
//     hashes into the event.
//   - Every entry is [type byte][version byte][msgpack body] (see Encode). An
//     unknown type panics, unless it carries IgnoreUnknownTypeFlag, so that a
//     node never silently diverges. A body that does not decode panics too: it
//     means a corrupt log or a bug.
//   - Domain failures (username taken, no such bucket, ...) are returned as
//     error values from Apply; every node reaches the same decision. A store
//     validates before it writes, so an event answered with an error changed
//     nothing, also in a batch's shared metadata transaction.
//   - The IAM state is an immutable value; the FSM publishes it, with the
//     applied index and the auth index, behind an atomic pointer once per
//     Apply or ApplyBatch. Readers (the S3 auth check on every request) never take a lock,
//     and Snapshot captures the pointer in O(1).
//
// S3 secrets travel in the log sealed with AES-256-GCM (access key as
// associated data) and are unsealed on apply; snapshots re-seal them. No
// plaintext secret reaches the disk.
package fsm

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/iam"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/meta"
)

// FSM implements raft.FSM for S4's events.
type FSM struct {
	sealer *keyring.Sealer
	meta   *meta.Store // object metadata; nil when only IAM is needed (tests)
	// entryTime is when the leader appended the entry being applied (Unix
	// nanoseconds, raft.Log.AppendedAt; 0 when the log did not record it):
	// in the log, so the same on every node. Set on the FSM goroutine.
	entryTime int64

	onDropped func(accessKey string)
	view      atomic.Pointer[view]

	mu      sync.Mutex    // guards applied notifications
	advance chan struct{} // closed and replaced whenever the state moves

	counts       [256]atomic.Uint64 // events applied, by type (EventsApplied)
	appliedBytes atomic.Uint64      // their encoded size (AppliedBytes)
}

// view is what the FSM publishes: the IAM state at one applied index.
// Readers get it with one atomic load; it never changes after that. The
// state is held by value (a State is a few words over shared immutable
// tries), so that the auth check follows no pointer more than it must.
type view struct {
	iam   iam.State
	index uint64 // the last log entry applied (or restored)
	// auth is the index of the last IAM event applied (after a restore:
	// the snapshot's index), so at most index: a node whose FSM reached a
	// leader's AuthIndex has every user and key change the leader had.
	auth uint64
}

var _ raft.FSM = (*FSM)(nil)

// New returns an FSM with an empty state. sealer opens the sealed S3 secrets
// carried by CredentialIssue events and seals them again in snapshots.
func New(sealer *keyring.Sealer) *FSM {
	f := &FSM{sealer: sealer, advance: make(chan struct{})}
	f.view.Store(&view{iam: *iam.New()})
	return f
}

// AttachMeta gives the FSM its object-metadata store. Call it before Raft
// starts applying.
func (f *FSM) AttachMeta(m *meta.Store) { f.meta = m }

// Meta returns the FSM's object-metadata store (nil if none is attached).
func (f *FSM) Meta() *meta.Store { return f.meta }

// State returns the current immutable IAM state.
func (f *FSM) State() *iam.State { return &f.view.Load().iam }

// Lookup is State().Lookup: the principal owning accessKey.
func (f *FSM) Lookup(accessKey string) (*iam.User, bool) { return f.view.Load().iam.Lookup(accessKey) }

// UserByID is State().UserByID.
func (f *FSM) UserByID(id string) (*iam.User, bool) { return f.view.Load().iam.UserByID(id) }

// UserByName is State().UserByName.
func (f *FSM) UserByName(name string) (*iam.User, bool) { return f.view.Load().iam.UserByName(name) }

// Users is State().Users.
func (f *FSM) Users() []*iam.User { return f.view.Load().iam.Users() }

// AppliedIndex returns the index of the last log entry applied (or restored).
func (f *FSM) AppliedIndex() uint64 { return f.view.Load().index }

// AuthIndex returns the index of the last IAM event applied (a snapshot's
// index after a restore): at most AppliedIndex.
func (f *FSM) AuthIndex() uint64 { return f.view.Load().auth }

// WaitApplied blocks until the FSM has applied index idx or ctx ends.
func (f *FSM) WaitApplied(ctx context.Context, idx uint64) error {
	for {
		f.mu.Lock()
		ch := f.advance
		f.mu.Unlock()
		if f.AppliedIndex() >= idx {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fsm: waiting for index %d (applied %d): %w", idx, f.AppliedIndex(), ctx.Err())
		}
	}
}

func (f *FSM) publish(v *view) {
	f.view.Store(v)
	f.mu.Lock()
	close(f.advance)
	f.advance = make(chan struct{})
	f.mu.Unlock()
}

// Apply applies one committed log entry. It returns nil or an error value
// (a deterministic domain failure), never a partial change.
func (f *FSM) Apply(l *raft.Log) any {
	return f.applyLogs([]*raft.Log{l}, false)[0]
}

var _ raft.BatchingFSM = (*FSM)(nil)

// ApplyBatch applies the entries Raft committed together (raft.BatchingFSM):
// the metadata events of the batch share one bbolt write transaction, and
// the new state (IAM and applied index) is published once, after that
// transaction committed, so that a reader woken by WaitApplied sees every
// change of the entries up to that index. Entries other than commands
// (configuration changes) get a nil response and change nothing.
//
// One transaction for several events is sound because every write
// operation of the metadata store validates before it writes: one that
// answers a domain error has changed nothing (TestBatchEqualsOneByOne
// checks it against one-entry batches).
func (f *FSM) ApplyBatch(logs []*raft.Log) []any { return f.applyLogs(logs, true) }

// applyLogs applies logs in order and publishes the result once. With
// shareTx the metadata events run in one transaction; without, each in its
// own, rolled back when it answers an error.
func (f *FSM) applyLogs(logs []*raft.Log, shareTx bool) []any {
	resps := make([]any, len(logs))
	prev := f.view.Load()
	var cur *iam.State
	var index, auth uint64
	var dropped []string
	// run may run more than once: the store retries a batch whose commit
	// failed for lack of space (meta.Store.Batch), so it starts over from
	// prev each time.
	run := func() {
		cur, index, auth, dropped = &prev.iam, prev.index, prev.auth, nil
		clear(resps)
		for i, l := range logs {
			if l.Type != raft.LogCommand {
				continue
			}
			f.entryTime = 0
			if !l.AppendedAt.IsZero() {
				f.entryTime = l.AppendedAt.UnixNano()
			}
			a := f.apply(cur, l.Data)
			if a.history != nil {
				f.meta.AppendHistory(l.Index, a.history)
			}
			if a.state != nil {
				cur = a.state
			}
			resps[i], index = a.resp, l.Index
			if isIAM(l.Data) {
				auth = l.Index
			}
			if a.dropped != "" {
				dropped = append(dropped, a.dropped)
			}
		}
	}
	if shareTx && f.meta != nil {
		f.meta.Batch(run)
	} else {
		run()
	}
	if index != prev.index || cur != &prev.iam {
		f.publish(&view{iam: *cur, index: index, auth: auth})
	}
	f.count(logs)
	for _, k := range dropped {
		if f.onDropped != nil {
			f.onDropped(k)
		}
	}
	return resps
}

// OnCredentialDropped registers fn to be called, on the FSM goroutine after
// the new state is visible, with every access key that a revoke, a
// replacement or a user deletion removed: caches derived from its secret
// (the SigV4 signing keys) drop it. Call it before Raft starts.
func (f *FSM) OnCredentialDropped(fn func(accessKey string)) { f.onDropped = fn }

// apply decodes one entry through the event table and runs its handler.
// An entry it cannot decode means a corrupt log or a bug, and continuing
// would let this node diverge: it panics (the leader refuses such entries
// before they reach the log: CheckEvent).
func (f *FSM) apply(s *iam.State, data []byte) applied {
	if len(data) < 2 {
		panic(fmt.Errorf("fsm: log entry of %d bytes has no envelope", len(data)))
	}
	spec, ignorable := specOf(data)
	if spec == nil {
		if ignorable {
			return applied{}
		}
		panic(fmt.Errorf("fsm: unknown event type %d", data[0]))
	}
	if v := data[1]; !spec.knows(v) {
		panic(fmt.Errorf("fsm: event %s has unknown version %d", spec.name, v))
	}
	body := spec.body()
	if err := decode(data[2:], body); err != nil {
		panic(fmt.Errorf("fsm: decode event %s: %w", spec.name, err))
	}
	return spec.apply(f, s, body)
}

// Snapshot captures the current state; Persist writes it while Apply goes on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	snap := &snapshot{view: f.view.Load(), sealer: f.sealer}
	if f.meta != nil {
		ms, err := f.meta.Snapshot()
		if err != nil {
			return nil, err
		}
		snap.meta = ms
	}
	return snap, nil
}

// Restore replaces the state with the one in r, atomically: on error the
// previous state stays.
func (f *FSM) Restore(r io.ReadCloser) error {
	defer r.Close()
	v, err := readSnapshot(r, f.sealer, f.meta)
	if err != nil {
		return err
	}
	f.publish(v)
	return nil
}
