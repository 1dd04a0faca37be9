// Package fsm is S4's replicated state machine: it decodes the events of the
// Raft log and applies them, in log order, to the IAM state (users, the auth
// index of access keys, session generations).
//
// Rules that keep every node identical:
//   - Apply is deterministic. It never reads the clock, a random source, the
//     network or a disk outside its own store. The proposing node stamps IDs,
//     timestamps, generated keys and password hashes into the event.
//   - Every entry is [type byte][version byte][msgpack body] (see Encode). An
//     unknown type panics, unless it carries IgnoreUnknownTypeFlag, so that a
//     node never silently diverges. A body that does not decode panics too: it
//     means a corrupt log or a bug.
//   - Domain failures (username taken, no such user, ...) are returned as
//     error values from Apply; every node reaches the same decision.
//   - The state is an immutable value behind an atomic pointer. Apply builds
//     the next value and swaps it in; readers (the S3 auth check on every
//     request) never take a lock, and Snapshot captures the pointer in O(1).
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

	"github.com/s4/s4/keyring"
)

// FSM implements raft.FSM for S4's events.
type FSM struct {
	sealer *keyring.Sealer
	meta   *Meta // object metadata; nil when only IAM is needed (tests)

	onDropped func(accessKey string)
	state     atomic.Pointer[State]

	mu      sync.Mutex    // guards applied notifications
	advance chan struct{} // closed and replaced whenever the state moves
}

var _ raft.FSM = (*FSM)(nil)

// New returns an FSM with an empty state. sealer opens the sealed S3 secrets
// carried by CredentialIssue events and seals them again in snapshots.
func New(sealer *keyring.Sealer) *FSM {
	f := &FSM{sealer: sealer, advance: make(chan struct{})}
	f.state.Store(newState())
	return f
}

// State returns the current immutable state.
func (f *FSM) State() *State { return f.state.Load() }

// Lookup is State().Lookup: the principal owning accessKey.
func (f *FSM) Lookup(accessKey string) (*User, bool) { return f.state.Load().Lookup(accessKey) }

// UserByID is State().UserByID.
func (f *FSM) UserByID(id string) (*User, bool) { return f.state.Load().UserByID(id) }

// UserByName is State().UserByName.
func (f *FSM) UserByName(name string) (*User, bool) { return f.state.Load().UserByName(name) }

// Users is State().Users.
func (f *FSM) Users() []*User { return f.state.Load().Users() }

// AppliedIndex returns the index of the last log entry applied (or restored).
func (f *FSM) AppliedIndex() uint64 { return f.state.Load().index }

// AuthIndex is State().AuthIndex: the index of the last IAM event applied.
func (f *FSM) AuthIndex() uint64 { return f.state.Load().auth }

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

func (f *FSM) publish(s *State) {
	f.state.Store(s)
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
// One transaction for several events is sound because every metadata
// handler validates before it writes: a handler that answers a domain error
// has changed nothing (TestBatchEqualsOneByOne checks it against
// one-entry batches).
func (f *FSM) ApplyBatch(logs []*raft.Log) []any { return f.applyLogs(logs, true) }

// applyLogs applies logs in order and publishes the result once. With
// shareTx the metadata events run in one transaction; without, each in its
// own, rolled back when it answers an error.
func (f *FSM) applyLogs(logs []*raft.Log, shareTx bool) []any {
	resps := make([]any, len(logs))
	prev := f.state.Load()
	cur, index, auth := prev, prev.index, prev.auth
	var dropped []string
	run := func() {
		for i, l := range logs {
			if l.Type != raft.LogCommand {
				continue
			}
			a := f.apply(cur, l.Data)
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
		f.meta.batch(run)
	} else {
		run()
	}
	if index != prev.index || cur != prev {
		next := *cur // cur may be prev, which readers hold: never modify it
		next.index, next.auth = index, auth
		f.publish(&next)
	}
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
func (f *FSM) apply(s *State, data []byte) applied {
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
	if v := data[1]; v != spec.version {
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
	snap := &snapshot{state: f.state.Load(), sealer: f.sealer}
	if f.meta != nil {
		ms, err := f.meta.snapshot()
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
	s, err := readSnapshot(r, f.sealer, f.meta)
	if err != nil {
		return err
	}
	f.publish(s)
	return nil
}
