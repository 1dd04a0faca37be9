package admin

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// ClusterAdmin is what the cluster routes need from the node. Without one
// (Config.Cluster nil) the routes answer 404.
type ClusterAdmin interface {
	ClusterStatus(ctx context.Context) ClusterStatus
	// AddVoter adds (or re-addresses) a voter; RemoveServer removes one.
	// Both work from any node (the node forwards them to the leader) and
	// are idempotent. They fail with ErrMembershipRefused for a change
	// that cannot be made (an address another server has).
	AddVoter(ctx context.Context, id, addr string) error
	RemoveServer(ctx context.Context, id string) error
}

var (
	// ErrNotClusterLeader: a membership change reached a node that does
	// not lead and cannot forward it (409). The node forwards to the
	// leader, so it does not return this; kept for other implementations.
	ErrNotClusterLeader = errors.New("admin: membership changes go to the leader")
	// ErrMembershipRefused: the leader refused the change (409).
	ErrMembershipRefused = errors.New("admin: membership change refused")
)

// ClusterStatus is the body of GET /api/admin/cluster.
type ClusterStatus struct {
	Leader string        `json:"leader"`
	Nodes  []ClusterNode `json:"nodes"`
}

// ClusterNode is one voter as the answering node sees it.
type ClusterNode struct {
	ID      string `json:"id"`
	Address string `json:"address"` // cluster address (Raft, internal RPC)
	// APIAddress is where clients reach the node's S3 and admin API
	// (--api-advertise), as the node reports it; empty when unreachable.
	APIAddress   string `json:"api_address"`
	Role         string `json:"role"` // leader, follower, candidate, or unreachable
	AppliedIndex uint64 `json:"applied_index"`
	// LastContact is how long ago this node last heard from the leader
	// (answering node only; empty on the leader and for other nodes).
	LastContact string `json:"last_contact,omitempty"`
	Ready       bool   `json:"ready"`
}

func (h *Handler) clusterStatus(ctx *fasthttp.RequestCtx) {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.writeJSON(ctx, fasthttp.StatusOK, h.cluster.ClusterStatus(c))
}

func (h *Handler) addClusterNode(ctx *fasthttp.RequestCtx) {
	body, ok := h.readBody(ctx)
	if !ok {
		return
	}
	fields, err := decodeObject(body, "id", "address")
	if err != nil {
		h.writeBadRequest(ctx, err)
		return
	}
	id, err := requiredString(fields, "id")
	if err == nil && (id == "" || len(id) > 64) {
		err = badf("id must be 1 to 64 bytes")
	}
	if err != nil {
		h.writeBadRequest(ctx, err)
		return
	}
	addr, err := requiredString(fields, "address")
	if err == nil {
		if host, port, serr := net.SplitHostPort(addr); serr != nil || host == "" || port == "" {
			err = badf("address must be host:port")
		}
	}
	if err != nil {
		h.writeBadRequest(ctx, err)
		return
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.cluster.AddVoter(c, id, addr); err != nil {
		h.membershipError(ctx, err)
		return
	}
	h.log.Info("admin: voter added", "node_id", id, "address", addr)
	h.writeJSON(ctx, fasthttp.StatusCreated, map[string]string{"id": id, "address": addr})
}

func (h *Handler) removeClusterNode(ctx *fasthttp.RequestCtx, id string) {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.cluster.RemoveServer(c, id); err != nil {
		h.membershipError(ctx, err)
		return
	}
	h.log.Info("admin: server removed", "node_id", id)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

func (h *Handler) membershipError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, ErrNotClusterLeader) || errors.Is(err, ErrMembershipRefused) {
		h.writeError(ctx, fasthttp.StatusConflict, err.Error())
		return
	}
	h.log.Warn("admin: membership change failed", "err", err)
	h.writeError(ctx, fasthttp.StatusServiceUnavailable, "membership change failed: "+err.Error())
}
