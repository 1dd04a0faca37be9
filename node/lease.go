package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/lease"
)

// ErrFenced: this node's auth lease does not hold; it must not answer S3
// or admin requests from its local state (503, clients retry elsewhere).
var ErrFenced = lease.ErrExpired

// Who may answer from local state (docs/DESIGN.md, "Leases"; package
// lease holds the bookkeeping, this file and lease_follower.go,
// lease_leader.go, fresh.go and barrier.go the wiring to Raft and the
// status line):
//
//   - A leader serves while its leader lease holds: holdLeaderLease asks
//     every other server for its status every AuthLease/4, and an answer
//     from a server in this node's term acknowledges the question, timed
//     from when it was sent; a majority of voters, this node included,
//     acknowledging within AuthLease keeps the lease. In a new term it
//     serves (and acknowledges writes: Apply) only after the hand-over:
//     every other server acknowledged the new term, or AuthLease plus a
//     margin passed since it saw itself elected, so that no earlier
//     leader, and no follower under an earlier leader's grant, still
//     serves. And it first applies a Barrier of its own term
//     (leaderterm.go).
//   - A follower (or a candidate) serves while it holds a grant whose
//     index it applied: renewLease asks the leader every AuthLease/4, and
//     a serving leader's answer grants a lease timed from when the
//     question was sent, lasting at most AuthLease and no longer than the
//     leader's own lease still held.
//   - A revocation-class event is acknowledged once every other voter
//     confirmed it applied it, or AuthLease plus the margin passed since it
//     was applied on the leader (barrier): a grant asked for before then
//     has run out, one asked for after carries the event's index. A voter
//     this leader gave no grant that still holds (it is stopped, dead or
//     cut off since before the event) is waited out only until the last
//     grant it got ends (lease.Given) plus the margin.
//
// Every wait before an answer ends with the check itself (ServeS3,
// FreshRead), so a process stopped in the middle of one re-checks when it
// wakes up.

// catchUpWait bounds how long a request waits for this node to be allowed
// to serve (a grant, its FSM reaching a grant's index, a new leader's
// catch-up and hand-over) before it is refused with 503.
const catchUpWait = 250 * time.Millisecond

// leases is the node's lease state (timed on clock): follower holds the
// grants of a follower (lease_follower.go), lead the lease of a leader
// (lease_leader.go).
type leases struct {
	clock    lease.Clock
	follower *lease.Follower
	lead     *lease.Leader
	answers  *lease.Answers // when this node answered status questions, by term
	given    lease.Given    // until when this node's grants to each node hold
	// leaderTerm: the term in which this node, leading, caught up
	// (leaderterm.go).
	leaderTerm *leaderTerm
	leaseKick  chan struct{} // asks renewLease for a grant now
	leaderKick chan struct{} // asks holdLeaderLease to ask every server now
}

// serving reports, without waiting, whether this node may answer from its
// state now.
func (n *Node) serving() bool {
	switch n.raft.State() {
	case raft.Leader:
		return n.leaderServing()
	case raft.Shutdown:
		return false
	}
	return n.follower.Serving(n.fsm.AppliedIndex())
}

// ServeS3 implements s3.Gate: the node is ready and may serve now, waiting
// up to catchUpWait for that.
func (n *Node) ServeS3() error {
	if !n.ready.Load() {
		return ErrNotReady
	}
	if n.serving() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), catchUpWait)
	defer cancel()
	return n.awaitServing(ctx)
}

// awaitServing waits until this node may serve, as a leader or as a
// follower, whichever it is when it checks; it returns nil only right
// after a check that passed.
func (n *Node) awaitServing(ctx context.Context) error {
	for {
		led := n.leaderTerm.next()
		switch n.raft.State() {
		case raft.Leader:
			err := n.awaitLeader(ctx)
			if errors.Is(err, errNotLeading) {
				continue // stepped down meanwhile: serve as a follower
			}
			return err
		case raft.Shutdown:
			return ErrFenced
		}
		// A follower, or a candidate during an election: a valid grant
		// is what makes serving safe, whoever leads now.
		err := n.follower.Await(ctx, n.fsm, n.kickLease, led)
		if errors.Is(err, lease.ErrInterrupted) {
			continue // elected meanwhile
		}
		if errors.Is(err, lease.ErrExpired) && ctx.Err() != nil {
			leader, _ := n.Leader()
			return fmt.Errorf("%w (leader %q)", err, leader)
		}
		return err
	}
}
