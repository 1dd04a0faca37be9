package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/cluster"
	"github.com/s4/s4/lease"
	"github.com/s4/s4/s3"
)

// ErrFenced: this node's auth lease does not hold; it must not answer S3
// or admin requests from its local state (503, clients retry elsewhere).
var ErrFenced = lease.ErrExpired

// Who may answer from local state (docs/DESIGN.md, "Leases"; package
// lease holds the bookkeeping, this file the wiring to Raft and the status
// line):
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

// failedAskPause is the least time between a failed lease question and the
// next one.
const failedAskPause = 10 * time.Millisecond

// errNotLeading: a wait for the leader lease ended because this node no
// longer leads; the caller serves as a follower instead.
var errNotLeading = errors.New("node: not leading")

// leadingTerm returns the term this node leads in. It reads the term on
// both sides of the state, so that the node certainly led in that term at
// the moment it read the state (a term read alone might be one this node
// is only a candidate in).
func (n *Node) leadingTerm() (uint64, bool) {
	term := n.raft.CurrentTerm()
	if n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term {
		return 0, false
	}
	return term, true
}

// leaderServing reports whether this node leads and may serve from its
// state: it caught up in its term and its leader lease holds (the
// hand-over included).
func (n *Node) leaderServing() bool {
	term, ok := n.leadingTerm()
	return ok && n.leaderTerm.term.Load() == term && n.lead.Valid(term)
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

// awaitLeader waits until leaderServing. It fails with errNotLeading once
// this node does not lead.
func (n *Node) awaitLeader(ctx context.Context) error {
	for {
		caught, changed := n.leaderTerm.next(), n.lead.Changed()
		term, ok := n.leadingTerm()
		if !ok {
			return errNotLeading
		}
		if n.leaderTerm.term.Load() == term && n.lead.Valid(term) {
			return nil
		}
		select {
		case n.leaderKick <- struct{}{}:
		default: // questions are on their way already
		}
		select {
		case <-caught:
		case <-changed:
		case <-time.After(10 * time.Millisecond): // leadership lost, or the hand-over's time passed
		case <-ctx.Done():
			if n.leaderTerm.term.Load() != term {
				return fmt.Errorf("%w: a new leader still applying earlier terms' entries", ErrFenced)
			}
			return fmt.Errorf("%w: %s", ErrFenced, n.lead.Status(term))
		case <-n.closing:
			return ErrClosed
		}
	}
}

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

// holdLeaderLease keeps the leader lease while this node leads: every
// AuthLease/4, and at once when a request found it not holding, it asks
// every other server of the configuration for its status (one question in
// flight per server, each bounded by AuthLease/2); an answer that the
// server is in this node's term acknowledges the question, timed from
// before it was sent.
func (n *Node) holdLeaderLease() {
	defer n.wg.Done()
	t := time.NewTicker(max(n.cfg.AuthLease/4, 10*time.Millisecond))
	defer t.Stop()
	done := make(chan raft.ServerID)
	asking := map[raft.ServerID]bool{}
	for {
		select {
		case <-n.closing:
			return
		case id := <-done:
			delete(asking, id)
			continue
		case <-t.C:
		case <-n.leaderKick:
		}
		term, ok := n.leadingTerm()
		if !ok {
			continue
		}
		future := n.raft.GetConfiguration()
		if future.Error() != nil {
			continue
		}
		cfg := future.Configuration()
		servers := make([]lease.Server, 0, len(cfg.Servers))
		for _, srv := range cfg.Servers {
			servers = append(servers, lease.Server{ID: string(srv.ID), Voter: srv.Suffrage == raft.Voter})
		}
		n.lead.Begin(term, servers, n.answers.Older(term))
		for _, srv := range cfg.Servers {
			if srv.ID == n.id || asking[srv.ID] {
				continue
			}
			asking[srv.ID] = true
			n.wg.Add(1)
			go n.pingLease(term, srv, done)
		}
	}
}

// pingLease asks srv for its status on behalf of the leader lease of term.
func (n *Node) pingLease(term uint64, srv raft.Server, done chan<- raft.ServerID) {
	defer n.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.AuthLease/2)
	sent := n.clock.Now() // before the question leaves
	st, err := n.statusLine.Status(ctx, string(srv.Address))
	cancel()
	if err == nil && st.ID == string(srv.ID) && st.Term == term {
		// It answered after sent and before now: its last answer in an
		// earlier term was OlderAnswerAge before its answer, so before
		// now minus that (on its clock; see the hand-over's margin).
		n.lead.Ack(term, st.ID, sent, n.clock.Now().Add(-st.OlderAnswerAge))
	}
	select {
	case done <- srv.ID:
	case <-n.closing:
	}
}

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
			// grants ended before the hand-over.
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

// leaseMargin covers clock-rate differences between nodes and scheduling:
// whoever waits out another node's lease waits this much longer.
func (n *Node) leaseMargin() time.Duration { return n.cfg.AuthLease/20 + 20*time.Millisecond }
