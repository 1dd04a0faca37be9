package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/lease"
)

// The leader's lease (docs/DESIGN.md, "The leader's lease", "The
// hand-over"; lease.go has the overview).

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

// leaseMargin covers clock-rate differences between nodes and scheduling:
// whoever waits out another node's lease waits this much longer.
func (n *Node) leaseMargin() time.Duration { return n.cfg.AuthLease/20 + 20*time.Millisecond }
