package node

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/cluster"
	"github.com/s4/s4/fsm"
)

// ErrFenced: this node's auth lease does not hold; it must not answer S3
// requests from its local state (503, clients retry elsewhere).
var ErrFenced = errors.New("node: auth lease expired")

// The auth lease (DESIGN.md, "The revocation barrier").
//
// A follower (or a candidate) serves S3 only while it holds a lease
// granted within AuthLease whose index it has applied. The leader acknowledges a revocation-class event once every
// follower confirmed it applied the event, or once AuthLease plus a margin
// has passed since the event was applied on the leader (time tc).
//
// The follower times its lease from its own side of a round trip (as a
// read-index lease does): renewLease asks the leader for its status every
// AuthLease/4, and a leader's answer grants a lease that starts when the
// follower SENT the question and carries the index of the leader's last
// applied IAM event, which the follower must reach before it serves again.
// An answer given after tc carries an index at or past the event; an answer given before tc was
// asked for before tc, so its lease ends before tc + AuthLease. Either way
// no follower serves the revoked state after the acknowledgement, whatever
// the network delayed: a delay only makes a lease shorter. (Timing the
// lease from when an append arrived, as this code first did, let an append
// sent before the event and delivered late renew a stale follower:
// TestClusterLateAppendAfterRevoke.)
//
// leaseTransport also sees every non-heartbeat RPC (hashicorp/raft hands
// heartbeats to a fast path that bypasses Consumer, so wrapping Consumer, as
// rqlite's NodeTransport does, sees exactly the appends that carry the log
// and the leader's commit index): the commands they say are committed must
// be applied before the follower serves.
type leaseTransport struct {
	*raft.NetworkTransport
	out     chan raft.RPC
	done    chan struct{}
	start   time.Time                    // monotonic base of leaseGrant.at
	grantMu sync.Mutex                   // serialises grant (writers only)
	grants  atomic.Pointer[[]leaseGrant] // the last maxGrants, newest first; immutable
	granted chan struct{}                // closed and replaced by every grant (under grantMu)
	// mustApply is the highest index of a command entry this node received
	// and the leader says is committed: the FSM must reach it before the
	// node serves (no-op and configuration entries never reach the FSM, so
	// the commit index itself cannot be compared with the FSM's index).
	mustApply atomic.Uint64
	pending   []uint64 // command indexes received, not yet known committed (run goroutine only)
	closeOnce sync.Once
}

func newLeaseTransport(t *raft.NetworkTransport) *leaseTransport {
	lt := &leaseTransport{NetworkTransport: t, out: make(chan raft.RPC), done: make(chan struct{}), start: time.Now(), granted: make(chan struct{})}
	go lt.run(t.Consumer())
	return lt
}

func (lt *leaseTransport) run(in <-chan raft.RPC) {
	for {
		select {
		case rpc := <-in:
			if req, ok := rpc.Command.(*raft.AppendEntriesRequest); ok {
				lt.observe(req)
			}
			select {
			case lt.out <- rpc:
			case <-lt.done:
				return
			}
		case <-lt.done:
			return
		}
	}
}

func (lt *leaseTransport) observe(req *raft.AppendEntriesRequest) {
	for _, e := range req.Entries {
		if e.Type == raft.LogCommand && (len(lt.pending) == 0 || e.Index > lt.pending[len(lt.pending)-1]) {
			lt.pending = append(lt.pending, e.Index)
		}
	}
	i := 0
	for i < len(lt.pending) && lt.pending[i] <= req.LeaderCommitIndex {
		i++
	}
	if i > 0 {
		if idx := lt.pending[i-1]; idx > lt.mustApply.Load() {
			lt.mustApply.Store(idx)
		}
		lt.pending = append(lt.pending[:0], lt.pending[i:]...)
	}
}

// Consumer implements raft.Transport.
func (lt *leaseTransport) Consumer() <-chan raft.RPC { return lt.out }

// Close implements raft.WithClose.
func (lt *leaseTransport) Close() error {
	lt.closeOnce.Do(func() { close(lt.done) })
	return lt.NetworkTransport.Close()
}

// leaseGrant is one lease: the question was sent at (ns since start) and
// the leader had applied up to applied when it answered.
type leaseGrant struct {
	at      int64
	applied uint64
}

// catchUpWait bounds how long a request on a follower waits for the FSM to
// reach the index of its lease before it is refused with 503.
const catchUpWait = 250 * time.Millisecond

// maxGrants is how many recent grants a follower keeps: each one is a lease
// on its own, so while the FSM catches up with the newest grant's index
// (under load it lags the leader by some ms) an older, still valid grant
// with a lower index lets the node go on serving.
const maxGrants = 8

// grant records a lease: the leader answered a question sent at asked,
// having applied up to applied.
func (lt *leaseTransport) grant(asked time.Time, applied uint64) {
	g := leaseGrant{at: int64(asked.Sub(lt.start)), applied: applied}
	lt.grantMu.Lock()
	defer lt.grantMu.Unlock()
	next := []leaseGrant{g}
	if old := lt.grants.Load(); old != nil {
		for _, o := range *old {
			if len(next) < maxGrants && o.at != g.at {
				next = append(next, o)
			}
		}
	}
	slices.SortFunc(next, func(a, b leaseGrant) int { return cmp.Compare(b.at, a.at) })
	lt.grants.Store(&next)
	close(lt.granted)
	lt.granted = make(chan struct{})
}

// nextGrant returns a channel closed by the next grant.
func (lt *leaseTransport) nextGrant() <-chan struct{} {
	lt.grantMu.Lock()
	defer lt.grantMu.Unlock()
	return lt.granted
}

// validGrants returns the grants whose question was sent within lease,
// newest first.
func (lt *leaseTransport) validGrants(lease time.Duration) []leaseGrant {
	p := lt.grants.Load()
	if p == nil {
		return nil
	}
	now := int64(time.Since(lt.start))
	gs := *p
	for i, g := range gs {
		if time.Duration(now-g.at) > lease {
			return gs[:i]
		}
	}
	return gs
}

// askLease asks the leader the node knows of for a lease; it reports
// whether one was granted.
func (n *Node) askLease(ctx context.Context) bool {
	id, addr := n.Leader()
	if addr == "" || id == string(n.id) {
		return false
	}
	asked := time.Now()
	st, err := n.rpcCli.Status(ctx, addr)
	if err != nil || !st.IsLeader || st.ID != id {
		n.log.Debug("auth lease not renewed", "leader", id, "took", time.Since(asked), "err", err, "is_leader", st.IsLeader)
		return false
	}
	n.lease.grant(asked, grantIndex(st))
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

// AuthIndex implements cluster.AuthIndexer.
func (n *Node) AuthIndex() uint64 { return n.fsm.AuthIndex() }

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
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.AuthLease/2)
		n.askLease(ctx)
		cancel()
	}
}

// ServeS3 implements s3.Gate: the node is ready and its auth lease holds.
func (n *Node) ServeS3() error {
	if !n.ready.Load() {
		return ErrNotReady
	}
	switch n.raft.State() {
	case raft.Leader:
		// hashicorp/raft steps a leader down when it loses contact with a
		// quorum for LeaderLeaseTimeout (≤ AuthLease, see Config.Validate).
		return nil
	case raft.Shutdown:
		return ErrFenced
	}
	// A follower, or a candidate during an election: a valid grant is what
	// makes serving safe, whoever leads now. None (a node that just stepped
	// down, or one cut off): ask for one at once and wait briefly.
	grants := n.lease.validGrants(n.cfg.AuthLease)
	if len(grants) == 0 {
		granted := n.lease.nextGrant()
		select {
		case n.leaseKick <- struct{}{}:
		default: // a question is on its way already
		}
		t := time.NewTimer(catchUpWait)
		select {
		case <-granted:
		case <-t.C:
		}
		t.Stop()
		if grants = n.lease.validGrants(n.cfg.AuthLease); len(grants) == 0 {
			return ErrFenced
		}
	}
	// Serve under a grant whose index this node has applied: the newest
	// one, or an older one still valid; otherwise wait up to catchUpWait
	// for the oldest valid grant's index (entries that may revoke the very
	// key of this request; a busy follower lags the leader), or refuse.
	// Also wait briefly for the commands the leader's appends said are
	// committed, so that reads are fresh; that wait is not needed for
	// safety.
	applied := n.fsm.AppliedIndex()
	if fresh := n.lease.mustApply.Load(); applied < fresh {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		n.fsm.WaitApplied(ctx, fresh)
		cancel()
		applied = n.fsm.AppliedIndex()
	}
	oldest := grants[len(grants)-1].applied
	for _, g := range grants {
		oldest = min(oldest, g.applied)
	}
	if applied >= oldest {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), catchUpWait)
	defer cancel()
	if n.fsm.WaitApplied(ctx, oldest) != nil {
		return ErrFenced
	}
	return nil
}

// revocationClass reports whether an event may take a credential or a
// permission away, and so needs the barrier before it is acknowledged.
func revocationClass(cmd []byte) bool {
	if len(cmd) == 0 {
		return false
	}
	switch fsm.MessageType(cmd[0]) &^ fsm.IgnoreUnknownTypeFlag {
	case fsm.MsgUserUpdate, fsm.MsgUserDelete, fsm.MsgCredentialIssue, fsm.MsgCredentialRevoke:
		return true
	}
	return false
}

// barrier waits until every other voter confirmed it applied idx, or until
// the lease of any that did not has certainly expired (the event committed
// at or before committedAt). It returns the nodes that confirmed (this
// leader first, then the others in ID order) and those it waited out.
func (n *Node) barrier(idx uint64, committedAt time.Time) *cluster.Barrier {
	b := &cluster.Barrier{Confirmed: []string{string(n.id)}}
	future := n.raft.GetConfiguration()
	if future.Error() != nil {
		return b
	}
	deadline := committedAt.Add(n.cfg.AuthLease + n.leaseMargin())
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
			// lease has run out.
			ok[i] = n.confirmer(srv).wait(idx, deadline, n.closing)
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

// wait reports whether the follower confirmed idx before the deadline.
func (c *confirmer) wait(idx uint64, deadline time.Time, closing <-chan struct{}) bool {
	for {
		c.mu.Lock()
		if c.applied >= idx {
			c.mu.Unlock()
			return true
		}
		if idx > c.target {
			c.target = idx
		}
		if !c.running {
			c.running = true
			go c.poll(deadline)
		}
		ch := c.progress
		c.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
			return false
		case <-closing:
			return false
		}
	}
}

// poll long-polls the follower until it reached the current target or the
// deadline passed.
func (c *confirmer) poll(deadline time.Time) {
	c.mu.Lock()
	target := c.target
	c.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	applied, err := c.n.rpcCli.WaitApplied(ctx, c.addr, target, time.Until(deadline))
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

// leaseMargin covers clock-rate differences between nodes and scheduling.
func (n *Node) leaseMargin() time.Duration { return n.cfg.AuthLease/20 + 20*time.Millisecond }
