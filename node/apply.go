package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/cluster"
	"github.com/s4/s4/fsm"
)

// The node as cluster.Local: the Raft apply, and what the Proposer and the
// internal RPC read about this node.

var _ cluster.Local = (*Node)(nil)

// Apply implements cluster.Applier: it appends cmd to the log and returns
// once this node's FSM applied it and the write may be acknowledged: in a
// new term only after the leader lease's hand-over (no earlier leader
// still serves reads that miss it), and for a revocation-class event
// after the revocation barrier. Without leadership it fails with
// ErrNotLeader.
func (n *Node) Apply(ctx context.Context, cmd []byte) (uint64, any, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	term, ok := n.leadingTerm()
	if !ok {
		return 0, nil, ErrNotLeader // the Proposer holds and forwards
	}
	timeout := n.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := n.raft.Apply(cmd, timeout)
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader):
			return 0, nil, fmt.Errorf("%w: %v", cluster.ErrNotLeader, err)
		case errors.Is(err, raft.ErrLeadershipLost):
			return 0, nil, fmt.Errorf("%w: %v", cluster.ErrLeadershipLost, err)
		}
		return 0, nil, err
	}
	applied := n.clock.Now()
	if err := n.lead.WaitHandover(ctx, term); err != nil {
		return 0, nil, fmt.Errorf("%w: committed at index %d, not acknowledged: %v", cluster.ErrWaitTimeout, f.Index(), err)
	}
	resp := f.Response()
	if resp == nil && fsm.Revokes(cmd) {
		// The revocation barrier: acknowledge only when no node can still
		// accept what this event took away.
		resp = n.timedBarrier(f.Index(), applied) // n.barrier, observed (metrics.go)
	}
	return f.Index(), resp, nil
}

// WaitApplied implements cluster.Local.
func (n *Node) WaitApplied(ctx context.Context, idx uint64) error { return n.fsm.WaitApplied(ctx, idx) }

// AppliedIndex implements cluster.Local.
func (n *Node) AppliedIndex() uint64 { return n.fsm.AppliedIndex() }

// IsLeader implements cluster.Local.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader implements cluster.Local: the leader's ID and cluster address.
func (n *Node) Leader() (id, clusterAddr string) {
	addr, sid := n.raft.LeaderWithID()
	return string(sid), string(addr)
}
