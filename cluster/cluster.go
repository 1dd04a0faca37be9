// Package cluster turns an event into a committed, applied change, from any
// node: it encodes the event, applies it through the local Raft node when
// that node leads, and otherwise forwards it to the leader over the internal
// RPC of the cluster port (Server, Client). Handlers (admin, s3) depend on
// it, never on Raft.
//
// The internal RPC also answers "has your FSM applied index N yet?"
// (Client.WaitApplied), which the revocation barrier asks every follower.
//
// See cluster/DESIGN.md for the forwarding flow, the endpoints and the error mapping.
package cluster

import (
	"context"
	"errors"
)

// Sentinel errors of the cluster layer. Match them with errors.Is: they come
// out of a Propose and out of every Client call the same way, whether the
// failure happened here or on the node at the other end of the RPC. The
// node's own errors alias these (node.ErrNotLeader = cluster.ErrNotLeader),
// since node imports cluster.
var (
	// ErrNoLeader: no leader was known (or reachable) for the Proposer's
	// HoldTimeout, or until the context ended. Nothing was appended.
	// Handlers answer 503.
	ErrNoLeader = errors.New("cluster: no leader")

	// ErrNotLeader: the node asked to append is not the leader, so nothing
	// was appended. A Local reports it only then (never when the outcome is
	// unknown); the Proposer re-resolves the leader and retries.
	ErrNotLeader = errors.New("cluster: not the leader")

	// ErrLeadershipLost: the leader lost its leadership while the event was
	// in flight. The event may or may not be committed; it is not retried.
	ErrLeadershipLost = errors.New("cluster: leadership lost; the outcome of the event is unknown")

	// ErrWaitTimeout: a wait for an applied index ended before the FSM
	// reached it. The event is committed; that node has not applied it yet.
	ErrWaitTimeout = errors.New("cluster: timed out waiting for the applied index")

	// ErrInvalidCommand: the leader refused an RPC body that is not a
	// well-formed event of a known type (or is too large). Nothing was
	// appended.
	ErrInvalidCommand = errors.New("cluster: invalid command")
)

// Barrier is what the leader answers, instead of nil, for an event of the
// revocation class (revoke, regenerate, deactivate, delete user, role
// downgrade) once the revocation barrier let it acknowledge the event:
// the nodes that confirmed they applied it (the leader first), and those
// that did not answer but whose auth lease has certainly run out, so that
// they refuse S3 until they catch up.
type Barrier struct {
	Confirmed    []string `json:"confirmed"`
	LeaseExpired []string `json:"lease_expired,omitempty"`
}

// Applier appends an encoded event to the log and waits until the local FSM
// has applied it. resp is what fsm.FSM.Apply returned (nil or a domain error
// value), or a *Barrier for a revocation-class event.
type Applier interface {
	Apply(ctx context.Context, cmd []byte) (index uint64, resp any, err error)
}

// Local is what the cluster layer needs from the Raft node it runs on
// (node.Node implements it). It serves the internal RPC and lets the
// Proposer choose between applying locally and forwarding.
type Local interface {
	// Apply appends cmd to the log and returns once this node's FSM
	// applied it, with the FSM's response. err wraps ErrNotLeader only when
	// nothing was appended because this node does not lead, and
	// ErrLeadershipLost when the outcome is unknown.
	Apply(ctx context.Context, cmd []byte) (index uint64, resp any, err error)
	// WaitApplied blocks until the local FSM has applied idx or ctx ends.
	WaitApplied(ctx context.Context, idx uint64) error
	// AppliedIndex is the index of the last entry the local FSM applied.
	AppliedIndex() uint64
	// IsLeader reports whether this node currently leads.
	IsLeader() bool
	// Leader returns the current leader's Raft ID and cluster address
	// ("host:port" of its cluster port), or empty strings if none is known.
	Leader() (id, clusterAddr string)
	// ID returns this node's Raft ID.
	ID() string
}
