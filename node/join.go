package node

// Joining a running cluster (--join).
//
// A node started with Config.Join and an empty data dir does not
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

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/s4/s4/cluster"
)

// Backoff between two join attempts.
const (
	joinBackoffMin = 250 * time.Millisecond
	joinBackoffMax = 10 * time.Second
)

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
