package node

import (
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/internal/wake"
)

// A node elected leader knows that the entries of earlier terms in its log
// are committed only once an entry of its own term is committed (Raft §8),
// and its FSM may not have applied them yet: an object or a revoke that the
// previous leader acknowledged a moment before the election can be missing
// from the new leader's state. So a leader answers S3 and admin requests
// from its state, and tells followers it serves (Status.Serving), only once
// it applied a Barrier of its current term: then its FSM holds everything
// committed before it. watchLeadership issues that Barrier at once after
// every election this node wins.
// (TestClusterReadAfterLeaderChange failed 1–3 times in 8 transfers
// before.)
type leaderTerm struct {
	term    atomic.Uint64 // the term in which this node's Barrier was applied
	changed wake.Signal   // fired when term changes
}

func (l *leaderTerm) set(term uint64) {
	l.term.Store(term)
	l.changed.Fire()
}

func (l *leaderTerm) next() <-chan struct{} { return l.changed.Next() }

// watchLeadership applies a Barrier in every term in which this node
// leads (see leaderTerm).
func (n *Node) watchLeadership() {
	defer n.wg.Done()
	obs := make(chan raft.Observation, 8)
	o := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(o)
	defer n.raft.DeregisterObserver(o)
	// Observations are dropped when obs is full: a slow tick re-checks.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	retry := time.Duration(0)
	for {
		var again <-chan time.Time
		if term, ok := n.leadingTerm(); ok && n.leaderTerm.term.Load() != term {
			select {
			case n.leaderKick <- struct{}{}: // start the leader lease's questions now
			default:
			}
			if err := n.raft.Barrier(n.cfg.ApplyTimeout).Error(); err != nil {
				n.log.Debug("new leader: barrier failed", "term", term, "err", err)
				retry = min(max(2*retry, 10*time.Millisecond), time.Second)
				again = time.After(retry)
			} else {
				// Applied in term (or a later one, which the next pass
				// sees as a mismatch and covers with another Barrier).
				n.leaderTerm.set(term)
				retry = 0
				continue
			}
		}
		select {
		case <-n.closing:
			return
		case <-obs:
		case <-tick.C:
		case <-again:
		}
	}
}
