package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Membership changes over the internal RPC (cluster/DESIGN.md, "Membership"):
//
//	POST /v1/membership  body: MembershipChange (JSON). The leader changes
//	                     the Raft configuration: 200 {"index"}. Another node
//	                     forwards the change to the leader (one hop per
//	                     attempt, holding while there is no leader); a node
//	                     that receives a forwarded change and does not lead
//	                     answers 421 with ErrNotLeader and the leader it
//	                     knows. 400: ErrInvalidCommand (a malformed or
//	                     refused change). 404: the node serves no membership.
//
// A new node started with --join sends {"op":"join"} to any node it was
// given; an admin's add or remove sent to a follower arrives the same way.
// Only holders of the cluster key reach this endpoint: the cluster port's
// mutual TLS authenticates every connection before a byte of HTTP.
const pathMembership = "/v1/membership"

// maxMembershipBody bounds the body of POST /v1/membership.
const maxMembershipBody = 4 << 10

// Operations of a MembershipChange.
const (
	// MembershipAdd adds a voter, or re-addresses the voter with that ID.
	MembershipAdd = "add"
	// MembershipJoin adds a voter on behalf of the node itself (--join):
	// like MembershipAdd, but refused (ErrInvalidCommand) when the ID is a
	// server of the configuration with another address, so that a new node
	// that reuses an ID can never take over a running node's place.
	MembershipJoin = "join"
	// MembershipRemove removes a server.
	MembershipRemove = "remove"
)

// MembershipChange is one change of the Raft configuration. Every change is
// idempotent: adding a voter that is in the configuration with the same
// address, or removing a server that is not in it, succeeds without a new
// configuration entry. That is also why the forwarding retries failures
// whose outcome is unknown, unlike the forwarding of events.
type MembershipChange struct {
	Op   string `json:"op"`             // MembershipAdd, MembershipJoin or MembershipRemove
	ID   string `json:"id"`             // the server's Raft ID
	Addr string `json:"addr,omitempty"` // add and join: its cluster address (host:port)
	// Forwarded is set by the node that forwards a change to the leader:
	// the receiver applies it or answers ErrNotLeader, it never forwards
	// again.
	Forwarded bool `json:"forwarded,omitempty"`
}

// MaxServerID bounds the length of a server ID in a MembershipChange.
const MaxServerID = 64

// Validate checks the shape of c (not whether the change is possible).
func (c MembershipChange) Validate() error {
	if c.ID == "" || len(c.ID) > MaxServerID {
		return fmt.Errorf("%w: id must be 1 to %d bytes", ErrInvalidCommand, MaxServerID)
	}
	switch c.Op {
	case MembershipAdd, MembershipJoin:
		host, port, err := net.SplitHostPort(c.Addr)
		if err != nil || host == "" || port == "" || len(c.Addr) > 255 {
			return fmt.Errorf("%w: addr %q must be host:port", ErrInvalidCommand, c.Addr)
		}
	case MembershipRemove:
		if c.Addr != "" {
			return fmt.Errorf("%w: remove takes no addr", ErrInvalidCommand)
		}
	default:
		return fmt.Errorf("%w: unknown membership op %q", ErrInvalidCommand, c.Op)
	}
	return nil
}

// Membership changes the Raft configuration (node.Node implements it). The
// Server answers POST /v1/membership with the one WithMembership gives it,
// 404 without.
type Membership interface {
	// ChangeMembership applies c from this node: normally through
	// ForwardMembership. It returns the index of the configuration entry
	// (or of the configuration that already had the change).
	ChangeMembership(ctx context.Context, c MembershipChange) (uint64, error)
}

// WithMembership serves POST /v1/membership with m.
func WithMembership(m Membership) ServerOption {
	return func(s *Server) { s.membership = m }
}

// StatusReporter reports a node's Status itself (node.Node does): the API
// address, Serving and AuthIndex, and all of it as one consistent reading,
// since a leader's Applied means "everything acknowledged so far" only when
// read after it found itself caught up (Serving). A Server without one
// (WithStatusReporter) reports the Local fields and not serving.
type StatusReporter interface {
	// LocalStatus answers a status question from the node asker ("" if it
	// did not say).
	LocalStatus(asker string) Status
}

// WithStatusReporter answers GET /v1/status and the status line with r.
func WithStatusReporter(r StatusReporter) ServerOption {
	return func(s *Server) { s.reporter = r }
}

// membershipResponse answers a successful POST /v1/membership.
type membershipResponse struct {
	Index uint64 `json:"index"`
}

// ChangeMembership asks the node at addr (a cluster address) to apply c.
// err wraps ErrNotLeader (with the leader that node knows) when c was
// forwarded and addr does not lead, ErrInvalidCommand when it refused c,
// and satisfies IsDialError when no connection could be made.
func (c *Client) ChangeMembership(ctx context.Context, addr string, ch MembershipChange) (uint64, error) {
	if err := ch.Validate(); err != nil {
		return 0, err
	}
	body, err := json.Marshal(ch)
	if err != nil {
		return 0, err
	}
	ctx, cancel := withDefaultTimeout(ctx, DefaultRPCTimeout)
	defer cancel()
	var out membershipResponse
	if err := c.do(ctx, http.MethodPost, addr, pathMembership, nil, body, &out); err != nil {
		return 0, err
	}
	return out.Index, nil
}

// IsDialError reports whether err is a Client's failure to connect to (or
// complete the mutual TLS handshake with) a node: the request never left.
// A peer without the cluster key fails this way.
func IsDialError(err error) bool {
	var de *dialError
	return errors.As(err, &de)
}

// ForwardMembership applies c from any node. While local leads, apply
// changes the configuration (it must fail with ErrNotLeader, wrapped, when
// leadership went away before anything changed). Otherwise c goes to the
// leader over client with Forwarded set; if c itself was forwarded to this
// node, which does not lead, it fails with ErrNotLeader at once instead
// (one hop: the sender follows the leader named in the answer).
//
// Like Proposer, it holds while no leader is usable: no leader known, "not
// leader" answers, failures to connect, and also ErrLeadershipLost and
// ErrNoLeader (a change is idempotent, so a retry cannot apply it twice).
// After hold (counted from the first failure, bounded by ctx) it fails
// with ErrNoLeader. Other failures, such as a refused change, are returned
// as they are.
func ForwardMembership(ctx context.Context, local Local, client *Client, c MembershipChange, hold time.Duration,
	apply func(context.Context, MembershipChange) (uint64, error)) (uint64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	if hold <= 0 {
		hold = DefaultForwardConfig().HoldTimeout
	}
	r := leaderRoute{local: local, hold: hold, retry: DefaultForwardConfig().RetryInterval}
	for {
		if local.IsLeader() {
			idx, err := apply(ctx, c)
			if err == nil || !retryableMembership(err) || ctx.Err() != nil {
				return idx, err
			}
			r.lastErr = err
		} else if c.Forwarded || client == nil {
			return 0, fmt.Errorf("%w: %s does not lead", ErrNotLeader, local.ID())
		} else if id, addr := r.target(); addr != "" {
			fc := c
			fc.Forwarded = true
			idx, err := client.ChangeMembership(ctx, addr, fc)
			if err == nil {
				return idx, nil
			}
			var nl *notLeaderError
			if !errors.As(err, &nl) && (ctx.Err() != nil || !IsDialError(err) && !retryableMembership(err)) {
				return 0, err
			}
			r.failed(id, addr, err)
		}
		if _, err := r.pause(ctx); err != nil {
			return 0, err
		}
	}
}

// retryableMembership: failures after which a membership change may be
// tried again (it is idempotent).
func retryableMembership(err error) bool {
	return errors.Is(err, ErrNotLeader) || errors.Is(err, ErrLeadershipLost) || errors.Is(err, ErrNoLeader)
}

func (s *Server) handleMembership(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, wireError{Message: "cluster: method not allowed"})
		return
	}
	m := s.membership
	if m == nil {
		writeError(w, http.StatusNotFound, wireError{Message: "cluster: this node serves no membership changes"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMembershipBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, encodeError(fmt.Errorf("%w: reading the body: %v", ErrInvalidCommand, err)))
		return
	}
	var c MembershipChange
	if err := json.Unmarshal(body, &c); err != nil {
		writeError(w, http.StatusBadRequest, encodeError(fmt.Errorf("%w: %v", ErrInvalidCommand, err)))
		return
	}
	if err := c.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, encodeError(err))
		return
	}
	idx, err := m.ChangeMembership(r.Context(), c)
	switch {
	case err == nil:
		s.log.Info("membership change", "op", c.Op, "id", c.ID, "addr", c.Addr, "forwarded", c.Forwarded, "remote", r.RemoteAddr, "index", idx)
		writeJSON(w, http.StatusOK, membershipResponse{Index: idx})
	case errors.Is(err, ErrNotLeader):
		s.writeNotLeader(w, err)
	case errors.Is(err, ErrInvalidCommand):
		s.log.Warn("refused a membership change", "op", c.Op, "id", c.ID, "addr", c.Addr, "remote", r.RemoteAddr, "err", err)
		writeError(w, http.StatusBadRequest, encodeError(err))
	case errors.Is(err, ErrNoLeader), errors.Is(err, ErrLeadershipLost),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, encodeError(err))
	default:
		s.log.Warn("membership change failed", "op", c.Op, "id", c.ID, "addr", c.Addr, "err", err)
		writeError(w, http.StatusInternalServerError, encodeError(err))
	}
}
