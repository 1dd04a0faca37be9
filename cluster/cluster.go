// Package cluster turns an event into a committed, applied change: it encodes
// the event, hands it to the Raft log through the node, and returns the FSM's
// verdict. Handlers (admin, s3) depend on it, never on Raft.
//
// Today a node proposes locally: a single node is always its own leader.
// Forwarding writes from a follower to the leader over the internal RPC, and
// the revocation barrier, live here too once the three-node cluster lands.
package cluster

import (
	"context"
	"errors"

	"github.com/s4/s4/fsm"
)

// Applier appends an encoded event to the log and waits until the local FSM
// has applied it. node.Node implements it. resp is what fsm.FSM.Apply
// returned (nil or a domain error value).
type Applier interface {
	Apply(ctx context.Context, cmd []byte) (index uint64, resp any, err error)
}

// Proposer proposes events through an Applier.
type Proposer struct {
	local Applier
}

// NewProposer returns a Proposer that applies through local.
func NewProposer(local Applier) *Proposer { return &Proposer{local: local} }

// Propose encodes msg as an event of type t and commits it. It returns the
// FSM's domain error (match with errors.Is against fsm.Err*) or the error
// that kept the event from being committed.
func (p *Proposer) Propose(ctx context.Context, t fsm.MessageType, msg any) error {
	_, err := p.ProposeIndex(ctx, t, msg)
	return err
}

// ProposeIndex is Propose that also returns the log index of the event.
func (p *Proposer) ProposeIndex(ctx context.Context, t fsm.MessageType, msg any) (uint64, error) {
	cmd, err := fsm.Encode(t, msg)
	if err != nil {
		return 0, err
	}
	idx, resp, err := p.local.Apply(ctx, cmd)
	if err != nil {
		return idx, err
	}
	if rerr, ok := resp.(error); ok {
		return idx, rerr
	}
	if resp != nil {
		return idx, errors.New("cluster: unexpected FSM response")
	}
	return idx, nil
}
