package node

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/cluster"
	"github.com/s4/s4/lease"
)

// barrierState is the revocation barrier's: one confirmer per follower,
// and nudgeCommit's state.
type barrierState struct {
	confirmMu  sync.Mutex
	confirmers map[raft.ServerID]*confirmer // revocation barrier, per follower
	nudgeMu    sync.Mutex                   // nudgeCommit's state
	nudging    bool
	nudgeAgain bool
}

// barrier waits until every other voter confirmed it applied idx, or until
// the lease of any that did not has certainly expired (the event was
// applied on this node at or before appliedAt, on the lease clock). It
// returns the nodes that confirmed (this leader first, then the others in
// ID order) and those it waited out.
func (n *Node) barrier(idx uint64, appliedAt lease.Time) *cluster.Barrier {
	b := &cluster.Barrier{Confirmed: []string{string(n.id)}}
	future := n.raft.GetConfiguration()
	if future.Error() != nil {
		return b
	}
	margin := n.leaseMargin()
	deadline := appliedAt.Add(n.cfg.AuthLease + margin)
	var others []raft.Server
	for _, srv := range future.Configuration().Servers {
		if srv.ID != n.id && srv.Suffrage == raft.Voter {
			others = append(others, srv)
		}
	}
	slices.SortFunc(others, func(a, b raft.Server) int { return strings.Compare(string(a.ID), string(b.ID)) })
	if len(others) > 0 {
		n.nudgeCommit()
	}
	ok := make([]bool, len(others))
	var wg sync.WaitGroup
	for i, srv := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Not confirmed: wait returned at the deadline, when its
			// lease has run out. Grants this leader gave it before the
			// event end by n.given's record (asked for before the event:
			// recorded before the barrier read it); earlier leaders'
			// grants are void by the hand-over (a node that acknowledged
			// this term ignores grants of earlier ones; lease.Grant).
			end := min(deadline, n.given.Until(string(srv.ID)).Add(margin))
			ok[i] = n.confirmer(srv).wait(idx, end, n.closing)
		}()
	}
	wg.Wait()
	for i, srv := range others {
		if ok[i] {
			b.Confirmed = append(b.Confirmed, string(srv.ID))
		} else {
			b.LeaseExpired = append(b.LeaseExpired, string(srv.ID))
		}
	}
	return b
}

// nudgeCommit makes the leader send the followers its new commit index now
// rather than with its next AppendEntries, which an idle leader sends only
// after CommitTimeout (5-10 ms): it appends a Barrier entry, whose
// AppendEntries carries the commit index, so the followers apply the event
// (and the barrier's long polls return) about one round trip after the
// commit. Nudges do not pile up: while one is in flight, later callers ask
// for one more after it.
func (n *Node) nudgeCommit() {
	n.nudgeMu.Lock()
	defer n.nudgeMu.Unlock()
	if n.nudging {
		n.nudgeAgain = true
		return
	}
	n.nudging = true
	go func() {
		for {
			// Ends with an error once Raft shuts down or leadership moves.
			n.raft.Barrier(time.Second).Error()
			n.nudgeMu.Lock()
			if !n.nudgeAgain {
				n.nudging = false
				n.nudgeMu.Unlock()
				return
			}
			n.nudgeAgain = false
			n.nudgeMu.Unlock()
		}
	}()
}

// confirmer asks one follower how far it has applied, with at most one
// request in flight: concurrent barriers share it (under load a single
// long poll confirms a whole batch of events).
type confirmer struct {
	n    *Node
	addr string

	mu       sync.Mutex
	applied  uint64        // highest index the follower confirmed
	target   uint64        // highest index a barrier waits for
	running  bool          // a poll is in flight
	progress chan struct{} // closed and replaced when applied moves or a poll ends
}

func (n *Node) confirmer(srv raft.Server) *confirmer {
	n.confirmMu.Lock()
	defer n.confirmMu.Unlock()
	if n.confirmers == nil {
		n.confirmers = map[raft.ServerID]*confirmer{}
	}
	c := n.confirmers[srv.ID]
	if c == nil || c.addr != string(srv.Address) {
		c = &confirmer{n: n, addr: string(srv.Address), progress: make(chan struct{})}
		n.confirmers[srv.ID] = c
	}
	return c
}

// wait reports whether the follower confirmed idx before the deadline (on
// the lease clock).
func (c *confirmer) wait(idx uint64, deadline lease.Time, closing <-chan struct{}) bool {
	for {
		c.mu.Lock()
		if c.applied >= idx {
			c.mu.Unlock()
			return true
		}
		left := deadline.Sub(c.n.clock.Now())
		if left <= 0 {
			c.mu.Unlock()
			return false
		}
		if idx > c.target {
			c.target = idx
		}
		if !c.running {
			c.running = true
			go c.poll(left)
		}
		ch := c.progress
		c.mu.Unlock()
		t := time.NewTimer(left)
		select {
		case <-ch:
		case <-t.C: // checked on the lease clock above
		case <-closing:
			t.Stop()
			return false
		}
		t.Stop()
	}
}

// poll long-polls the follower until it reached the current target or
// left passed.
func (c *confirmer) poll(left time.Duration) {
	c.mu.Lock()
	target := c.target
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), left)
	applied, err := c.n.rpcCli.WaitApplied(ctx, c.addr, target, left)
	cancel()
	c.mu.Lock()
	if err == nil && applied > c.applied {
		c.applied = applied
	}
	c.running = false
	close(c.progress)
	c.progress = make(chan struct{})
	c.mu.Unlock()
}
