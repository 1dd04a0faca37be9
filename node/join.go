package node

// Joining a running cluster (--join) and membership changes from any node.
//
// Join. A node started with Config.Join and an empty data dir does not
// bootstrap: openRaft starts Raft without any configuration, so the node
// never elects itself (hashicorp/raft: "no known peers, aborting
// election"), and startJoin runs joinCluster in the background. It sends
// {"op":"join","id":<node ID>,"addr":<Advertise>} to POST /v1/membership of
// the node at Join (any node of the cluster, on its cluster port). That
// node adds it as a voter if it leads; otherwise it forwards the change to
// the leader, one hop per attempt (cluster.ForwardMembership). The node
// retries with a jittered exponential backoff (a pause drawn from
// [b/2, 3b/2), b doubling from joinBackoffMin up to joinBackoffMax) until it
// succeeds, finds itself in a configuration (an operator added it with
// POST /api/admin/cluster/nodes), or closes.
//
// The RPC runs over the cluster port's mutual TLS, so only a holder of the
// cluster key can join: a node with another key fails the handshake on
// every attempt, logs that (with a hint to check the key) and keeps trying
// without ever getting in; the cluster is not affected.
//
// The joined node becomes ready the usual way (becomeReady and
// followerCaughtUp): once the leader has replicated to it, it knows the
// leader, asks it for its applied index and waits until its own FSM,
// filled from an installed snapshot and the log, has reached it. With
// existing Raft state, Join is ignored (logged): the node resumes its
// cluster. Join and Peers exclude each other (Config.Validate).
//
// Membership changes. ChangeMembership implements cluster.Membership for
// the internal RPC and backs the admin routes (cluster_admin.go), so an
// add or a remove works from any node: the leader changes the Raft
// configuration (applyMembership), any other node forwards the change to
// the leader. Every change is idempotent: adding a voter already in the
// configuration with the same address, or removing a server that is not in
// it, succeeds after a Barrier (which makes sure the configuration seen is
// committed) without a new configuration entry. A join is refused when its
// ID is a server of the configuration at another address (a new node never
// takes a running node's place), and unless the leader reaches the node at
// the address it gave and that node reports the same ID (checkJoiner, over
// /v1/status); any add is refused when another server has the address. An
// admin add is not checked for reachability: it may name a node that is
// not started yet.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/cluster"
)

// Backoff between two join attempts.
const (
	joinBackoffMin = 250 * time.Millisecond
	joinBackoffMax = 10 * time.Second
)

var (
	_ cluster.Membership     = (*Node)(nil)
	_ cluster.StatusReporter = (*Node)(nil)
)

// APIAddress is the address clients reach
// this node's S3 and admin API at (Config.APIAdvertise). A configured port 0
// becomes the bound port once the node is ready (empty before).
func (n *Node) APIAddress() string {
	host, port, err := net.SplitHostPort(n.cfg.APIAdvertise)
	if err != nil || port != "0" {
		return n.cfg.APIAdvertise
	}
	select {
	case <-n.readyCh: // closed after serveHTTP set httpLn
	default:
		return ""
	}
	_, port, err = net.SplitHostPort(n.httpLn.Addr().String())
	if err != nil {
		return ""
	}
	return net.JoinHostPort(host, port)
}

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

// inConfiguration reports whether this node is a server of the latest Raft
// configuration it knows.
func (n *Node) inConfiguration() bool {
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return false
	}
	for _, srv := range cf.Configuration().Servers {
		if srv.ID == n.id {
			return true
		}
	}
	return false
}

// startJoin starts joinCluster when Config.Join asks for it on a first
// start (openRaft calls it once Raft runs; existing: the data dir had Raft
// state).
func (n *Node) startJoin(existing bool, advertise string) {
	if n.cfg.Join == "" {
		return
	}
	if existing {
		n.log.Info("--join ignored: this node has Raft state already and resumes its cluster", "join", n.cfg.Join, "node_id", n.id)
		return
	}
	n.log.Info("new node: starting without a configuration, asking to join the cluster", "join", n.cfg.Join, "node_id", n.id, "advertise", advertise)
	n.wg.Add(1)
	go n.joinCluster(advertise)
}

// joinCluster asks the node at Config.Join to add this node as a voter,
// retrying until it succeeds, this node is in a configuration, or Close.
// It uses a client of its own: it starts before Open builds the node's.
func (n *Node) joinCluster(advertise string) {
	defer n.wg.Done()
	cli := cluster.NewClient(cluster.MuxDialer(n.ident))
	defer cli.Close()
	ctx, cancel := n.untilClose(context.Background())
	defer cancel(nil)
	change := cluster.MembershipChange{Op: cluster.MembershipJoin, ID: string(n.id), Addr: advertise}
	backoff := joinBackoffMin
	for attempt := 1; ; attempt++ {
		if n.inConfiguration() {
			n.log.Info("this node is in the cluster configuration; join done", "node_id", n.id)
			return
		}
		actx, acancel := context.WithTimeout(ctx, 3*n.cfg.ApplyTimeout)
		idx, err := cli.ChangeMembership(actx, n.cfg.Join, change)
		acancel()
		if err == nil {
			n.log.Info("joined the cluster as a voter", "node_id", n.id, "via", n.cfg.Join, "index", idx, "attempts", attempt)
			return
		}
		if ctx.Err() != nil {
			return
		}
		wait := backoff/2 + rand.N(backoff)
		if cluster.IsDialError(err) {
			n.log.Warn("cannot join the cluster: connecting to the --join node failed (check the address, and that this node has the cluster's key: a node with another key fails the TLS handshake); retrying",
				"join", n.cfg.Join, "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		} else {
			n.log.Warn("cannot join the cluster; retrying", "join", n.cfg.Join, "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, joinBackoffMax)
	}
}
