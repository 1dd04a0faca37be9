package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/s3"
)

// FreshRead implements s3.FreshReader: it returns once this node's FSM has
// applied everything the cluster acknowledged before the call, so that a
// request sees every write acknowledged before it arrived, through any
// node (S3's read-after-write), and once this node may serve. A leader
// has, while it serves (leaderServing): it acknowledges a write after
// applying it, and after the hand-over no other node acknowledges any. A
// follower needs a serving leader's answer to a question it sent after the
// call began, and waits until its FSM reaches the applied index in that
// answer (the read index of etcd and Consul). Concurrent calls share
// questions: renewLease sends one at a time, and each call waits for the
// first one sent after it began. It fails after AuthLease without a fresh
// answer. Whatever it waited for, it checks that the node may serve after
// the wait.
func (n *Node) FreshRead() error {
	if n.leaderServing() {
		return nil
	}
	begin := n.clock.Now()
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.AuthLease)
	defer cancel()
	for {
		// The wake-ups first, then the checks: nothing that happens after
		// a check goes unnoticed.
		granted, led := n.follower.Changed(), n.leaderTerm.next()
		if n.raft.State() == raft.Leader {
			if err := n.awaitLeader(ctx); !errors.Is(err, errNotLeading) {
				return err
			}
			continue // it stepped down meanwhile: ask the new leader
		}
		if g, ok := n.follower.Newest(); ok && g.Asked >= begin {
			if n.fsm.AppliedIndex() < g.Read {
				if err := n.fsm.WaitApplied(ctx, g.Read); err != nil {
					return fmt.Errorf("%w: applied %d of %d", errNotFresh, n.fsm.AppliedIndex(), g.Read)
				}
			}
			if n.serving() {
				return nil
			}
			// The lease ran out while it waited (or the process was
			// stopped): wait for a valid one again.
			return n.awaitServing(ctx)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: no answer from a serving leader within %v", errNotFresh, n.cfg.AuthLease)
		}
		n.kickLease() // a question already queued goes after this call began
		select {
		case <-granted: // a grant, or a failed question: check, ask again
		case <-led: // this node now leads and caught up
		case <-ctx.Done(): // one more check above, then give up
		case <-n.closing:
			return ErrClosed
		}
	}
}

var _ s3.FreshReader = (*Node)(nil)

// errNotFresh: FreshRead could not confirm that this node is up to date.
var errNotFresh = errors.New("node: cannot confirm this node has the cluster's latest writes")
