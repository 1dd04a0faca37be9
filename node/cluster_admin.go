package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/s4/s4/admin"
	"github.com/s4/s4/cluster"
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
			node.APIAddress = n.APIAddress()
			node.Role = strings.ToLower(n.raft.State().String())
			node.AppliedIndex = n.fsm.AppliedIndex()
			node.Ready = n.LocalStatus(string(n.id)).Serving
			if node.Role != "leader" {
				if lc := n.raft.LastContact(); !lc.IsZero() {
					node.LastContact = time.Since(lc).Round(time.Millisecond).String()
				}
			}
		} else if rs, err := n.rpcCli.Status(ctx, string(srv.Address)); err == nil {
			node.Role, node.AppliedIndex, node.Ready, node.APIAddress = "follower", rs.Applied, rs.Serving, rs.API
			if rs.IsLeader {
				node.Role = "leader"
			}
		}
		st.Nodes = append(st.Nodes, node)
	}
	return st
}

// AddVoter implements admin.ClusterAdmin, from any node: a follower
// forwards the change to the leader (join.go).
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	return n.adminMembership(ctx, cluster.MembershipChange{Op: cluster.MembershipAdd, ID: id, Addr: addr})
}

// RemoveServer implements admin.ClusterAdmin, from any node.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	return n.adminMembership(ctx, cluster.MembershipChange{Op: cluster.MembershipRemove, ID: id})
}

func (n *Node) adminMembership(ctx context.Context, c cluster.MembershipChange) error {
	_, err := n.ChangeMembership(ctx, c)
	if errors.Is(err, cluster.ErrInvalidCommand) {
		return fmt.Errorf("%w: %w", admin.ErrMembershipRefused, err)
	}
	return err
}
