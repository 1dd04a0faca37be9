package node

// Membership changes from any node. ChangeMembership implements
// cluster.Membership for the internal RPC and backs the admin routes
// (cluster_admin.go), so an add or a remove works from any node: the
// leader changes the Raft configuration (applyMembership), any other node
// forwards the change to the leader. Every change is idempotent: adding a
// voter already in the configuration with the same address, or removing a
// server that is not in it, succeeds after a Barrier (which makes sure the
// configuration seen is committed) without a new configuration entry. A
// join (join.go) is refused when its ID is a server of the configuration
// at another address (a new node never takes a running node's place), and
// unless the leader reaches the node at the address it gave and that node
// reports the same ID (checkJoiner, over /v1/status); any add is refused
// when another server has the address. An admin add is not checked for
// reachability: it may name a node that is not started yet.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/cluster"
)

var _ cluster.Membership = (*Node)(nil)

// ChangeMembership implements cluster.Membership: it applies c on the
// leader, or forwards it there from any other node.
func (n *Node) ChangeMembership(ctx context.Context, c cluster.MembershipChange) (uint64, error) {
	return cluster.ForwardMembership(ctx, n, n.rpcCli, c, n.cfg.ApplyTimeout, n.applyMembership)
}

// applyMembership changes the Raft configuration on the leader.
func (n *Node) applyMembership(ctx context.Context, c cluster.MembershipChange) (uint64, error) {
	if !n.IsLeader() {
		return 0, ErrNotLeader
	}
	timeout := n.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return 0, membershipRaftError(err)
	}
	var cur *raft.Server
	for _, srv := range cf.Configuration().Servers {
		switch {
		case string(srv.ID) == c.ID:
			cur = &srv
		case c.Op != cluster.MembershipRemove && string(srv.Address) == c.Addr:
			return 0, fmt.Errorf("%w: address %s belongs to server %s", cluster.ErrInvalidCommand, c.Addr, srv.ID)
		}
	}
	var f raft.IndexFuture
	switch c.Op {
	case cluster.MembershipAdd, cluster.MembershipJoin:
		if cur != nil && cur.Suffrage == raft.Voter && string(cur.Address) == c.Addr {
			return n.confirmConfiguration(ctx, cf.Index(), timeout)
		}
		if c.Op == cluster.MembershipJoin {
			if cur != nil && string(cur.Address) != c.Addr {
				return 0, fmt.Errorf("%w: id %s is the server at %s; a joining node needs an unused id (or remove %s first)",
					cluster.ErrInvalidCommand, c.ID, cur.Address, c.ID)
			}
			if err := n.checkJoiner(ctx, c); err != nil {
				return 0, err
			}
		}
		f = n.raft.AddVoter(raft.ServerID(c.ID), raft.ServerAddress(c.Addr), 0, timeout)
	case cluster.MembershipRemove:
		if cur == nil {
			return n.confirmConfiguration(ctx, cf.Index(), timeout)
		}
		f = n.raft.RemoveServer(raft.ServerID(c.ID), 0, timeout)
	default:
		return 0, fmt.Errorf("%w: unknown membership op %q", cluster.ErrInvalidCommand, c.Op)
	}
	if err := waitFuture(ctx, f); err != nil {
		return 0, membershipRaftError(err)
	}
	n.log.Info("raft configuration changed", "op", c.Op, "server_id", c.ID, "address", c.Addr, "index", f.Index())
	return f.Index(), nil
}

// checkJoiner makes sure, before a join adds a voter, that the leader
// reaches the joining node at the address it gave, and that the node there
// is the one with that ID: a voter at an address nobody answers would only
// weaken the quorum.
func (n *Node) checkJoiner(ctx context.Context, c cluster.MembershipChange) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	st, err := n.rpcCli.Status(ctx, c.Addr)
	if err != nil {
		return fmt.Errorf("the leader cannot reach the joining node at %s (check its --advertise): %w", c.Addr, err)
	}
	if st.ID != c.ID {
		return fmt.Errorf("%w: the node at %s is %q, not %q", cluster.ErrInvalidCommand, c.Addr, st.ID, c.ID)
	}
	return nil
}

// confirmConfiguration answers a change the configuration at idx already
// has, once a Barrier made sure that configuration is committed.
func (n *Node) confirmConfiguration(ctx context.Context, idx uint64, timeout time.Duration) (uint64, error) {
	if err := waitFuture(ctx, n.raft.Barrier(timeout)); err != nil {
		return 0, membershipRaftError(err)
	}
	return idx, nil
}

// waitFuture waits for f or ctx. Raft cannot cancel a change in flight:
// past ctx the outcome is unknown (a retry is harmless, changes being
// idempotent).
func waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("membership change not confirmed: %w", ctx.Err())
	}
}

// membershipRaftError maps raft's errors to the cluster sentinels.
func membershipRaftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return fmt.Errorf("%w: %v", cluster.ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%w: %v", cluster.ErrLeadershipLost, err)
	case errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %v", cluster.ErrNoLeader, err)
	}
	return err
}
