package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/cluster"
	"github.com/s4/s4/fsm"
	"github.com/s4/s4/s3"
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
// A follower also answers every request with what the cluster acknowledged
// before it arrived: FreshRead asks the leader the same status question
// (read index).

// leases holds a follower's lease grants.
type leases struct {
	start   time.Time                    // monotonic base of leaseGrant.at
	grantMu sync.Mutex                   // serialises grant (writers only)
	grants  atomic.Pointer[[]leaseGrant] // the last maxGrants, newest first; immutable
	granted signal                       // fired by every grant and failed question
	// lastFailure is why the last question failed (for the 503's message).
	lastFailure atomic.Pointer[string]
}

func newLeases() *leases {
	return &leases{start: time.Now()}
}

// leaseGrant is one lease: the question was sent at (ns since start); the
// leader's last IAM event was applied when it answered (the index the
// follower must reach to serve under this grant). read is the leader's
// applied index then, known (readOK) when the leader was serving, that is
// had replayed its log since its election: a fresh read (FreshRead) waits
// for it.
type leaseGrant struct {
	at      int64
	applied uint64
	read    uint64
	readOK  bool
}

// catchUpWait bounds how long a request on a follower waits for the FSM to
// reach the index of its lease before it is refused with 503.
const catchUpWait = 250 * time.Millisecond

// maxGrants is how many recent grants a follower keeps: each one is a lease
// on its own, so while the FSM catches up with the newest grant's index
// (under load it lags the leader by some ms) an older, still valid grant
// with a lower index lets the node go on serving.
const maxGrants = 8

// grant records a lease: the leader answered st to a question sent at
// asked.
func (l *leases) grant(asked time.Time, st cluster.Status) {
	g := leaseGrant{at: l.since(asked), applied: grantIndex(st), read: st.Applied, readOK: st.Serving}
	l.grantMu.Lock()
	defer l.grantMu.Unlock()
	next := []leaseGrant{g}
	if old := l.grants.Load(); old != nil {
		for _, o := range *old {
			if len(next) < maxGrants && o.at != g.at {
				next = append(next, o)
			}
		}
	}
	slices.SortFunc(next, func(a, b leaseGrant) int { return cmp.Compare(b.at, a.at) })
	l.grants.Store(&next)
	l.granted.fire()
}

// noAnswer wakes the callers waiting on nextGrant without a grant (a
// question failed), so that they ask again or give up.
func (l *leases) noAnswer() { l.granted.fire() }

// signal wakes every goroutine waiting on it: next returns a channel that
// the following fire closes. Take the channel before checking the state
// the signal announces, or a change between the two goes unnoticed.
type signal struct {
	mu sync.Mutex
	ch chan struct{} // nil while nobody waits
}

func (s *signal) next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// since is t on the grants' clock.
func (l *leases) since(t time.Time) int64 { return int64(t.Sub(l.start)) }

// newest returns the grant whose question was sent last.
func (l *leases) newest() (leaseGrant, bool) {
	p := l.grants.Load()
	if p == nil || len(*p) == 0 {
		return leaseGrant{}, false
	}
	return (*p)[0], true
}

// nextGrant returns a channel closed by the next grant or failed question.
func (l *leases) nextGrant() <-chan struct{} { return l.granted.next() }

// validGrants returns the grants whose question was sent within lease,
// newest first.
func (l *leases) validGrants(lease time.Duration) []leaseGrant {
	p := l.grants.Load()
	if p == nil {
		return nil
	}
	now := int64(time.Since(l.start))
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
		n.lease.noAnswer()
		return false
	}
	asked := time.Now()
	st, err := n.statusLine.Status(ctx, addr)
	switch {
	case err != nil:
	case !st.IsLeader || st.ID != id:
		err = fmt.Errorf("%s answered as %s, leader %t", id, st.ID, st.IsLeader)
	case !st.Serving:
		// A leader elected a moment ago that has not applied what earlier
		// terms committed: its indexes may miss a revoke (leaderterm.go).
		err = fmt.Errorf("leader %s has not caught up in its term yet", id)
	}
	if err != nil {
		n.log.Debug("auth lease not renewed", "leader", id, "took", time.Since(asked), "err", err)
		msg := fmt.Sprintf("%v after %v", err, time.Since(asked).Round(time.Millisecond))
		n.lease.lastFailure.Store(&msg)
		n.lease.noAnswer()
		return false
	}
	n.lease.grant(asked, st)
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
			continue // waiters wake on leaderTerm once it caught up
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

// failedAskPause is the least time between a failed lease question and the
// next one.
const failedAskPause = 10 * time.Millisecond

// ServeS3 implements s3.Gate: the node is ready and its auth lease holds.
func (n *Node) ServeS3() error {
	if !n.ready.Load() {
		return ErrNotReady
	}
	switch n.raft.State() {
	case raft.Leader:
		return n.serveAsLeader()
	case raft.Shutdown:
		return ErrFenced
	}
	// A follower, or a candidate during an election: a valid grant is what
	// makes serving safe, whoever leads now. None (a node that just stepped
	// down, or one cut off): ask for one at once and wait briefly.
	grants := n.lease.validGrants(n.cfg.AuthLease)
	if len(grants) == 0 {
		// Until a grant arrives or catchUpWait passes: a failed question
		// (no leader known during an election) is asked again.
		deadline := time.NewTimer(catchUpWait)
		defer deadline.Stop()
		for len(grants) == 0 {
			granted, led := n.lease.nextGrant(), n.leaderTerm.next()
			if n.raft.State() == raft.Leader { // elected meanwhile
				return n.serveAsLeader()
			}
			select {
			case n.leaseKick <- struct{}{}:
			default: // a question is on its way already
			}
			select {
			case <-granted:
			case <-led:
			case <-deadline.C:
				return n.noGrantError()
			case <-n.closing:
				return ErrClosed
			}
			grants = n.lease.validGrants(n.cfg.AuthLease)
		}
	}
	// Serve under a grant whose index this node has applied: the newest
	// one, or an older one still valid; otherwise wait up to catchUpWait
	// for the oldest valid grant's index (entries that may revoke the very
	// key of this request; a busy follower lags the leader), or refuse.
	applied, oldest := n.fsm.AppliedIndex(), minGrantIndex(grants)
	if applied >= oldest {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), catchUpWait)
	defer cancel()
	if n.fsm.WaitApplied(ctx, oldest) != nil {
		return fmt.Errorf("%w: applied index %d, the lease needs %d", ErrFenced, n.fsm.AppliedIndex(), oldest)
	}
	return nil
}

// serveAsLeader is ServeS3 on a leader. hashicorp/raft steps a leader down
// when it loses contact with a quorum for LeaderLeaseTimeout (≤ AuthLease,
// see Config.Validate); a leader elected a moment ago first applies what
// earlier terms committed (leaderterm.go), waiting up to catchUpWait.
func (n *Node) serveAsLeader() error {
	if n.leaderCaughtUp() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), catchUpWait)
	defer cancel()
	return n.waitLeaderCaughtUp(ctx)
}

// minGrantIndex is the lowest index among grants: a node that applied it
// holds the lease of at least one of them.
func minGrantIndex(grants []leaseGrant) uint64 {
	idx := grants[0].applied
	for _, g := range grants[1:] {
		idx = min(idx, g.applied)
	}
	return idx
}

// followerServing is ServeS3 for a follower without its waits: it holds a
// valid grant whose index it applied.
func (n *Node) followerServing() bool {
	grants := n.lease.validGrants(n.cfg.AuthLease)
	return len(grants) > 0 && n.fsm.AppliedIndex() >= minGrantIndex(grants)
}

// noGrantError says why a follower has no valid lease: for the 503's
// message and for tests.
func (n *Node) noGrantError() error {
	leader, _ := n.Leader()
	g, ok := n.lease.newest()
	if !ok {
		return fmt.Errorf("%w: no grant from a leader yet (leader %q)", ErrFenced, leader)
	}
	age := time.Duration(n.lease.since(time.Now()) - g.at)
	why := ""
	if f := n.lease.lastFailure.Load(); f != nil {
		why = "; last question: " + *f
	}
	return fmt.Errorf("%w: the newest grant was asked for %v ago, the lease is %v (leader %q%s)", ErrFenced, age.Round(time.Millisecond), n.cfg.AuthLease, leader, why)
}

// FreshRead implements s3.FreshReader: it returns once this node's FSM has
// applied everything the cluster acknowledged before the call, so that a
// request sees every write acknowledged before it arrived, through any
// node (S3's read-after-write). A leader has once it applied a Barrier of
// its own term (leaderterm.go): it acknowledges a write after applying it,
// and a leader deposed without knowing it yet steps down within
// LeaderLeaseTimeout. A follower needs a leader's answer to a
// question it sent after the call began, and waits until its FSM reaches
// the applied index in that answer (the read index of etcd and Consul).
// Concurrent calls share questions: renewLease sends one at a time, and
// each call waits for the first one sent after it began. It fails after
// AuthLease without a fresh answer.
func (n *Node) FreshRead() error {
	if n.leaderCaughtUp() {
		return nil
	}
	begin := n.lease.since(time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.AuthLease)
	defer cancel()
	for {
		// The wake-ups first, then the checks: nothing that happens after
		// a check goes unnoticed.
		granted, led := n.lease.nextGrant(), n.leaderTerm.next()
		if n.raft.State() == raft.Leader {
			if err := n.waitLeaderCaughtUp(ctx); err == nil || n.raft.State() == raft.Leader {
				return err
			}
			continue // it stepped down meanwhile: ask the new leader
		}
		if g, ok := n.lease.newest(); ok && g.at >= begin && g.readOK {
			if n.fsm.AppliedIndex() >= g.read {
				return nil
			}
			if err := n.fsm.WaitApplied(ctx, g.read); err != nil {
				return fmt.Errorf("%w: applied %d of %d", errNotFresh, n.fsm.AppliedIndex(), g.read)
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: no answer from a serving leader within %v", errNotFresh, n.cfg.AuthLease)
		}
		select {
		case n.leaseKick <- struct{}{}:
		default: // a question is queued already; it goes after this call began
		}
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
