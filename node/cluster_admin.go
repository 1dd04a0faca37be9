package node

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/admin"
)

var _ admin.ClusterAdmin = (*Node)(nil)

// ClusterStatus implements admin.ClusterAdmin: every voter of the Raft
// configuration, this node from its own state, the others from their
// /v1/status over the internal RPC.
func (n *Node) ClusterStatus(ctx context.Context) admin.ClusterStatus {
	var st admin.ClusterStatus
	st.Leader, _ = n.Leader()
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return st
	}
	for _, srv := range f.Configuration().Servers {
		node := admin.ClusterNode{ID: string(srv.ID), Address: string(srv.Address), Role: "unreachable"}
		if srv.ID == n.id {
			node.Role = strings.ToLower(n.raft.State().String())
			node.AppliedIndex = n.fsm.AppliedIndex()
			node.Ready = n.ServeS3() == nil
			if node.Role != "leader" {
				if lc := n.raft.LastContact(); !lc.IsZero() {
					node.LastContact = time.Since(lc).Round(time.Millisecond).String()
				}
			}
		} else if rs, err := n.rpcCli.Status(ctx, string(srv.Address)); err == nil {
			node.Role, node.AppliedIndex, node.Ready = "follower", rs.Applied, true
			if rs.IsLeader {
				node.Role = "leader"
			}
		}
		st.Nodes = append(st.Nodes, node)
	}
	return st
}

// AddVoter implements admin.ClusterAdmin (leader only).
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	return n.membership(ctx, func(timeout time.Duration) raft.IndexFuture {
		return n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout)
	})
}

// RemoveServer implements admin.ClusterAdmin (leader only).
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	return n.membership(ctx, func(timeout time.Duration) raft.IndexFuture {
		return n.raft.RemoveServer(raft.ServerID(id), 0, timeout)
	})
}

func (n *Node) membership(ctx context.Context, change func(time.Duration) raft.IndexFuture) error {
	if !n.IsLeader() {
		leader, addr := n.Leader()
		return errors.Join(admin.ErrNotClusterLeader, errors.New("the leader is "+leader+" at "+addr))
	}
	timeout := n.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	return change(timeout).Error()
}
