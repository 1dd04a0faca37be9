package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/s4/s4/fsm"
)

// The internal RPC's documents. Every response is one small JSON object.

// forwardResponse answers a successful forwarded write (POST /v1/apply):
// the event's log index and the FSM's verdict (nil, or a domain error).
type forwardResponse struct {
	Index   uint64     `json:"index"`
	Resp    *wireError `json:"resp,omitempty"`
	Barrier *Barrier   `json:"barrier,omitempty"`
}

// errorResponse answers every request that failed (status != 200). A node
// that is not the leader names the leader it knows of, if any.
type errorResponse struct {
	Error      wireError `json:"error"`
	LeaderID   string    `json:"leader_id,omitempty"`
	LeaderAddr string    `json:"leader_addr,omitempty"`
}

// appliedResponse answers GET /v1/applied.
type appliedResponse struct {
	Applied uint64 `json:"applied"`
}

// Status is a node's view of the cluster (GET /v1/status).
type Status struct {
	ID         string `json:"id"`
	LeaderID   string `json:"leader_id"`
	LeaderAddr string `json:"leader_addr"`
	IsLeader   bool   `json:"is_leader"`
	Applied    uint64 `json:"applied"`
	// API is the address clients reach the node's S3 and admin API at
	// (--api-advertise); empty if the node does not say (an older node).
	API string `json:"api,omitempty"`
	// Serving: the node has caught up with the log (a leader: applied
	// everything committed before its term) and serves S3 (its auth lease
	// holds). A follower that starts trusts a leader's Applied only then.
	Serving bool `json:"serving"`
	// AuthIndex is the index of the last IAM event the node applied: a
	// follower's lease granted by this answer requires its FSM to reach it
	// (0 from a node that does not say: then Applied counts).
	AuthIndex uint64 `json:"auth_index,omitempty"`
	// Term is the node's current Raft term. A leader counts an answer as an
	// acknowledgement of its lease only when the answering node is in the
	// leader's own term (node/lease_leader.go).
	Term uint64 `json:"term,omitempty"`
	// LeaseLeft is, on a serving leader, how long its leader lease still
	// holds (at most the auth lease); a follower's grant from this answer
	// lasts no longer. Zero: no lease (a follower, or a leader that must not
	// serve).
	LeaseLeft time.Duration `json:"lease_left,omitempty"`
	// OlderAnswerAge is how long ago, on the answering node's clock, it
	// last answered a status question in a term before Term (or, if it
	// never did, since it started): a new leader's hand-over counts it.
	OlderAnswerAge time.Duration `json:"older_answer_age,omitempty"`
}

// wireError is an error on the wire: the name of the sentinel it wraps (see
// errorTable; empty if none) and its full message.
type wireError struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// maxErrorMessage bounds the message of an error put on the wire.
const maxErrorMessage = 1 << 10

// errorTable names every sentinel that crosses the wire. It lists each
// exported fsm.Err* (fsm/errors.go re-exports the stores' domain errors; a
// test parses packages fsm, iam and meta to keep the table complete), the
// cluster sentinels and the context errors. Codes are stable names, never
// reused: a peer running another release decodes them the same way.
var errorTable = []struct {
	code string
	err  error
}{
	// fsm: IAM events (declared in package iam, but ErrInvalidEvent and
	// ErrSecretUnsealing: package fsm)
	{"fsm.ErrNoSuchUser", fsm.ErrNoSuchUser},
	{"fsm.ErrUserExists", fsm.ErrUserExists},
	{"fsm.ErrUsernameTaken", fsm.ErrUsernameTaken},
	{"fsm.ErrAccessKeyTaken", fsm.ErrAccessKeyTaken},
	{"fsm.ErrRootImmutable", fsm.ErrRootImmutable},
	{"fsm.ErrInvalidEvent", fsm.ErrInvalidEvent},
	{"fsm.ErrSecretUnsealing", fsm.ErrSecretUnsealing},
	// fsm: metadata events (declared in package meta)
	{"fsm.ErrNoSuchBucket", fsm.ErrNoSuchBucket},
	{"fsm.ErrBucketExists", fsm.ErrBucketExists},
	{"fsm.ErrBucketOwnedByYou", fsm.ErrBucketOwnedByYou},
	{"fsm.ErrBucketNotEmpty", fsm.ErrBucketNotEmpty},
	{"fsm.ErrNoSuchUpload", fsm.ErrNoSuchUpload},
	{"fsm.ErrInvalidPart", fsm.ErrInvalidPart},
	{"fsm.ErrInvalidPartOrder", fsm.ErrInvalidPartOrder},
	{"fsm.ErrEntityTooSmall", fsm.ErrEntityTooSmall},
	{"fsm.ErrPreconditionFailed", fsm.ErrPreconditionFailed},
	{"fsm.ErrNoSuchKey", fsm.ErrNoSuchKey},
	{"fsm.ErrHistoryBefore", fsm.ErrHistoryBefore},
	// cluster
	{"cluster.ErrNoLeader", ErrNoLeader},
	{"cluster.ErrNotLeader", ErrNotLeader},
	{"cluster.ErrLeadershipLost", ErrLeadershipLost},
	{"cluster.ErrWaitTimeout", ErrWaitTimeout},
	{"cluster.ErrInvalidCommand", ErrInvalidCommand},
	// context
	{"context.DeadlineExceeded", context.DeadlineExceeded},
	{"context.Canceled", context.Canceled},
}

var errorByCode = func() map[string]error {
	m := make(map[string]error, len(errorTable))
	for _, e := range errorTable {
		if _, dup := m[e.code]; dup {
			panic("cluster: error code " + e.code + " listed twice")
		}
		m[e.code] = e.err
	}
	return m
}()

// encodeError puts err on the wire: the first sentinel of errorTable it
// wraps, and its message.
func encodeError(err error) wireError {
	msg := err.Error()
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage]
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return wireError{Code: e.code, Message: msg}
		}
	}
	return wireError{Message: msg}
}

// decodeError rebuilds an error from the wire. A bare sentinel comes back
// as the sentinel itself (so even == holds); a wrapped one as an error with
// the remote message that unwraps to the sentinel; an unknown code as a
// plain error with the remote message.
func decodeError(w wireError) error {
	sentinel, ok := errorByCode[w.Code]
	switch {
	case !ok:
		if w.Message == "" {
			return errors.New("cluster: remote error without a message")
		}
		return errors.New(w.Message)
	case w.Message == sentinel.Error() || w.Message == "":
		return sentinel
	}
	return &remoteError{msg: w.Message, sentinel: sentinel}
}

// remoteError is an error that happened on another node and wraps one of
// the sentinels of errorTable.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// encodeResp puts an FSM response on the wire. The FSM returns nil or an
// error value; anything else is reported as an error, which Propose would
// have turned into an error anyway.
func encodeResp(resp any) *wireError {
	switch r := resp.(type) {
	case nil, *Barrier:
		return nil
	case error:
		w := encodeError(r)
		return &w
	default:
		return &wireError{Message: errUnexpectedResponse.Error()}
	}
}

// errUnexpectedResponse: the FSM answered with something other than nil or
// an error.
var errUnexpectedResponse = errors.New("cluster: unexpected FSM response")

// notLeaderError is ErrNotLeader from a remote node, with the leader that
// node knows of (empty if none).
type notLeaderError struct {
	err        error // wraps ErrNotLeader
	leaderID   string
	leaderAddr string
}

func (e *notLeaderError) Error() string { return e.err.Error() }
func (e *notLeaderError) Unwrap() error { return e.err }

// dialError marks a failure to connect: the request never left, so it is
// safe to retry elsewhere.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string { return "cluster: dial " + e.addr + ": " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }
