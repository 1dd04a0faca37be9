package node

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/valyala/fasthttp"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
	"github.com/s4/s4/keyring"
)

// Readiness. A node is ready once it has caught up with the log: a leader
// after a Barrier, a follower once its FSM has reached the applied index of
// a serving leader (followerCaughtUp). Ready is once and for all; whether
// it may answer a request now is up to its lease (lease.go), which
// /health/ready reports as well.

// becomeReady waits for leadership, catches the FSM up with a Barrier,
// creates the root user on a fresh cluster, and marks the node ready.
func (n *Node) becomeReady() {
	defer n.wg.Done()
	for {
		select {
		case <-n.closing:
			return
		default:
		}
		if n.raft.State() != raft.Leader {
			if n.followerCaughtUp() {
				break
			}
			select {
			case <-n.raft.LeaderCh():
			case <-time.After(100 * time.Millisecond):
			case <-n.closing:
				return
			}
			continue
		}
		if err := n.raft.Barrier(n.cfg.ApplyTimeout).Error(); err != nil {
			n.log.Warn("barrier failed; retrying", "err", err)
			continue
		}
		if err := n.ensureRoot(); err != nil {
			n.log.Error("creating the root user failed; retrying", "err", err)
			select {
			case <-time.After(time.Second):
			case <-n.closing:
				return
			}
			continue
		}
		break
	}
	n.ready.Store(true)
	close(n.readyCh)
	n.log.Info("node ready", "node_id", n.id, "applied_index", n.fsm.AppliedIndex())
}

// followerCaughtUp asks the leader for its applied index and waits until
// this node's FSM has reached it: after a restart a follower replays the log
// asynchronously and must not answer from an old state before that.
func (n *Node) followerCaughtUp() bool {
	id, addr := n.Leader()
	if addr == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	defer cancel()
	asked := n.clock.Now()
	st, err := n.rpcCli.Status(ctx, addr)
	// A leader elected a moment ago may not have replayed the log yet (after
	// a restart of every node): its applied index counts only once it
	// serves, which it does after its own Barrier (see becomeReady).
	if err != nil || !st.IsLeader || !st.Serving || st.ID != id {
		return false
	}
	n.follower.Grant(asked, st.Term, grantIndex(st), st.Applied, st.LeaseLeft) // serve from the first request on
	return n.fsm.WaitApplied(ctx, st.Applied) == nil
}

// ensureRoot proposes the root user when the cluster has no users at all:
// the first start. It is an event like any other, so it happens once.
func (n *Node) ensureRoot() error {
	if n.fsm.State().NumUsers() > 0 {
		return nil
	}
	password, generated := n.cfg.RootPassword, false
	if password == "" {
		password, generated = keyring.RandomPassword(), true
	}
	hash, err := keyring.HashPassword(password)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	defer cancel()
	err = n.prop.Propose(ctx, fsm.MsgUserCreate, &fsm.UserCreate{
		ID: keyring.NewID(), Username: n.cfg.RootUser, PasswordHash: hash,
		Role: iam.RoleSuperUser, Root: true, At: time.Now().UnixNano(), Origin: fsm.Origin{Node: string(n.id)},
	})
	if err != nil {
		return err
	}
	n.log.Info("created the root user", "username", n.cfg.RootUser)
	if generated && n.cfg.RootPasswordOut != nil {
		n.cfg.RootPasswordOut(n.cfg.RootUser, password)
	}
	return nil
}

// Ready reports whether the node has caught up and serves requests.
func (n *Node) Ready() bool { return n.ready.Load() }

// WaitReady blocks until the node is ready or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	select {
	case <-n.readyCh:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrNotReady, ctx.Err())
	}
}

// serveReady answers 200 when the node serves requests, 503 before; the
// body also says what an operator checks first (no secrets), and whether
// the node is at its free-space reserve ("disk"; it does not change the
// status: such a node still serves reads, IAM and deletes).
func (n *Node) serveReady(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	status := "ready"
	if err := n.ServeS3(); err != nil { // not caught up, or the auth lease does not hold
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		status = "not ready: " + err.Error()
	}
	leaderID, _ := n.Leader()
	b, _ := json.Marshal(map[string]any{
		"status": status, "node_id": n.ID(), "role": strings.ToLower(n.raft.State().String()),
		"leader": leaderID, "applied_index": n.fsm.AppliedIndex(), "disk": n.diskReady(),
	})
	ctx.SetBody(b)
}
