package node

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/cluster"
)

// The follower's lease (docs/DESIGN.md, "The follower's lease (a
// grant)"; lease.go has the overview).

// failedAskPause is the least time between a failed lease question and the
// next one.
const failedAskPause = 10 * time.Millisecond

// kickLease asks renewLease for a grant now.
func (n *Node) kickLease() {
	select {
	case n.leaseKick <- struct{}{}:
	default: // a question is on its way already
	}
}

// askLease asks the leader the node knows of for a grant; it reports
// whether one was granted.
func (n *Node) askLease(ctx context.Context) bool {
	id, addr := n.Leader()
	if addr == "" || id == string(n.id) {
		n.follower.Failed("no leader known")
		return false
	}
	asked := n.clock.Now() // before the question leaves
	st, err := n.statusLine.Status(ctx, addr)
	switch {
	case err != nil:
	case !st.IsLeader || st.ID != id:
		err = fmt.Errorf("%s answered as %s, leader %t", id, st.ID, st.IsLeader)
	case !st.Serving || st.LeaseLeft <= 0:
		// A leader elected a moment ago that has not applied what earlier
		// terms committed, or waits out its hand-over, or one whose own
		// lease does not hold: nothing it says may be served.
		err = fmt.Errorf("leader %s does not serve (catching up, handing over, or without its lease)", id)
	}
	if err != nil {
		took := n.clock.Now().Sub(asked)
		n.log.Debug("auth lease not renewed", "leader", id, "took", took, "err", err)
		n.follower.Failed(fmt.Sprintf("%v after %v", err, took.Round(time.Millisecond)))
		return false
	}
	n.follower.Grant(asked, st.Term, grantIndex(st), st.Applied, st.LeaseLeft)
	return true
}

// grantIndex is the index a lease granted by st requires: the leader's last
// IAM event (what a revocation changes), or its applied index from a node
// that does not report it. Not the applied index itself: a follower under
// write load lags the leader's metadata by the replication delay, which
// must not fence it.
func grantIndex(st cluster.Status) uint64 {
	if st.AuthIndex > 0 {
		return st.AuthIndex
	}
	return st.Applied
}

// renewLease keeps a follower's auth lease: it asks the leader every
// AuthLease/4, and at once when a request found no valid grant (a node
// that just stepped down, say), each question bounded by AuthLease/2.
func (n *Node) renewLease() {
	defer n.wg.Done()
	every := max(n.cfg.AuthLease/4, 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-n.closing:
			return
		case <-t.C:
		case <-n.leaseKick:
		}
		if n.raft.State() == raft.Leader {
			continue // a leader serves under its own lease
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.AuthLease/2)
		ok := n.askLease(ctx)
		cancel()
		if !ok {
			// Requests kick again at once when a question fails: not
			// faster than this.
			select {
			case <-n.closing:
				return
			case <-time.After(failedAskPause):
			}
		}
	}
}

// currentTerm is this node's current Raft term (0 before Raft runs): a
// follower's grants of earlier terms do not serve (lease.Grant).
func (n *Node) currentTerm() uint64 {
	if n.raft == nil {
		return 0
	}
	return n.raft.CurrentTerm()
}
