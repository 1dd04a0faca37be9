package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/s4/s4/fsm"
)

// ForwardConfig tunes how a Proposer finds the leader. The zero value of a
// field means its default (DefaultForwardConfig).
type ForwardConfig struct {
	// HoldTimeout bounds how long a proposal keeps trying while no leader is
	// known, the node it reaches does not lead, or the leader cannot be
	// reached; then it fails with ErrNoLeader. It counts from the first
	// failed attempt, so it covers an election (Consul's RPCHoldTimeout).
	HoldTimeout time.Duration
	// RetryInterval is the mean pause between two attempts while holding.
	// Each pause is drawn uniformly from [RetryInterval/2, 3·RetryInterval/2)
	// so that the followers of a new leader do not retry in step.
	RetryInterval time.Duration
	// WaitTimeout bounds the wait, after a forwarded event was applied by
	// the leader, until the local FSM has applied it too (read your
	// writes); past it the proposal fails with ErrWaitTimeout.
	WaitTimeout time.Duration
}

// DefaultForwardConfig returns the defaults: a 5 s hold, 50 ms between
// attempts, 5 s for the local FSM to catch up.
func DefaultForwardConfig() ForwardConfig {
	return ForwardConfig{HoldTimeout: 5 * time.Second, RetryInterval: 50 * time.Millisecond, WaitTimeout: 5 * time.Second}
}

// Validate reports a negative duration, or a RetryInterval that exceeds the
// HoldTimeout.
func (c ForwardConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.HoldTimeout < 0 || c.RetryInterval < 0 || c.WaitTimeout < 0:
		return errors.New("cluster: forward durations must not be negative")
	case c.RetryInterval > c.HoldTimeout:
		return fmt.Errorf("cluster: RetryInterval %v exceeds HoldTimeout %v", c.RetryInterval, c.HoldTimeout)
	}
	return nil
}

func (c ForwardConfig) withDefaults() ForwardConfig {
	d := DefaultForwardConfig()
	if c.HoldTimeout == 0 {
		c.HoldTimeout = d.HoldTimeout
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = d.RetryInterval
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = d.WaitTimeout
	}
	return c
}

// Proposer proposes events from any node: through the local node when it
// leads, otherwise by forwarding them to the leader over the internal RPC.
// It is safe for concurrent use.
type Proposer struct {
	local  Local
	client *Client // nil: local only, no forwarding
	cfg    ForwardConfig

	nLocal     atomic.Uint64
	nForwarded atomic.Uint64
	nRetries   atomic.Uint64
	nNoLeader  atomic.Uint64
}

// ProposerStats counts what a Proposer did since it was created.
type ProposerStats struct {
	Local     uint64 // events handed to the local node (Local.Apply calls)
	Forwarded uint64 // events sent to the leader (Client.Forward calls)
	Retries   uint64 // pauses while holding for a leader
	NoLeader  uint64 // proposals that failed with ErrNoLeader
}

// NewProposer returns a Proposer that applies through local when it leads
// and forwards with client otherwise, with DefaultForwardConfig.
func NewProposer(local Local, client *Client) *Proposer {
	p, err := NewProposerWithConfig(local, client, ForwardConfig{})
	if err != nil {
		panic(err) // the defaults are valid
	}
	return p
}

// NewProposerWithConfig is NewProposer with cfg (zero fields: defaults).
func NewProposerWithConfig(local Local, client *Client, cfg ForwardConfig) (*Proposer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Proposer{local: local, client: client, cfg: cfg.withDefaults()}, nil
}

// NewLocalProposer returns a Proposer that only applies through a, which
// is always taken to lead (a single-node cluster). It never forwards.
func NewLocalProposer(a Applier) *Proposer {
	return &Proposer{local: applierLocal{a}, cfg: DefaultForwardConfig()}
}

// Stats returns the Proposer's counters.
func (p *Proposer) Stats() ProposerStats {
	return ProposerStats{
		Local:     p.nLocal.Load(),
		Forwarded: p.nForwarded.Load(),
		Retries:   p.nRetries.Load(),
		NoLeader:  p.nNoLeader.Load(),
	}
}

// Propose encodes msg as an event of type t and commits it. It returns the
// FSM's domain error (match with errors.Is against fsm.Err*) or the error
// that kept the event from being committed (ErrNoLeader, ...).
func (p *Proposer) Propose(ctx context.Context, t fsm.MessageType, msg any) error {
	_, err := p.ProposeIndex(ctx, t, msg)
	return err
}

// ProposeIndex is Propose that also returns the log index of the event.
// When it returns, the FSM of this node has applied the event, whether it
// was applied here or forwarded to the leader (read your writes).
func (p *Proposer) ProposeIndex(ctx context.Context, t fsm.MessageType, msg any) (uint64, error) {
	idx, _, err := p.propose(ctx, t, msg)
	return idx, err
}

// ProposeBarrier is Propose that also returns, for an event of the
// revocation class, which nodes confirmed it and which had lost their auth
// lease when the leader acknowledged it (both nil for other events).
func (p *Proposer) ProposeBarrier(ctx context.Context, t fsm.MessageType, msg any) (confirmed, leaseExpired []string, err error) {
	_, b, err := p.propose(ctx, t, msg)
	if b == nil || err != nil {
		return nil, nil, err
	}
	return b.Confirmed, b.LeaseExpired, nil
}

func (p *Proposer) propose(ctx context.Context, t fsm.MessageType, msg any) (uint64, *Barrier, error) {
	cmd, err := fsm.Encode(t, msg)
	if err != nil {
		return 0, nil, err
	}
	idx, resp, err := p.commit(ctx, cmd)
	if err != nil {
		return idx, nil, err
	}
	switch r := resp.(type) {
	case nil:
		return idx, nil, nil
	case *Barrier:
		return idx, r, nil
	case error:
		return idx, nil, r
	}
	return idx, nil, errUnexpectedResponse
}

// maxHops bounds how many "not leader, ask X" answers are followed at once,
// without a pause, so that two confused nodes cannot bounce a request.
const maxHops = 2

// leaderRoute is the state one request keeps while it looks for the leader
// (Proposer.commit, ForwardMembership): which node to try next, the leader
// named by the last "not leader" answer, and the hold that bounds how long
// it waits while no leader is usable.
type leaderRoute struct {
	local            Local
	hold, retry      time.Duration
	holdEnd          time.Time // set by the first failed attempt
	lastErr          error
	hintID, hintAddr string // the leader named by a node that is not
	triedAddr        string // the address of the last failed attempt
	hops             int
}

// target returns the leader to try: the one this node knows of, or the one
// a node named if this node knows of none (or of the one that just failed).
// addr is empty when no leader is known (and that is recorded as the
// attempt's failure).
func (r *leaderRoute) target() (id, addr string) {
	id, addr = r.local.Leader()
	if id == r.local.ID() { // stepping up or down: not usable yet
		id, addr = "", ""
	}
	if r.hintAddr != "" && (addr == "" || addr == r.triedAddr) {
		id, addr = r.hintID, r.hintAddr
	}
	r.hintID, r.hintAddr = "", ""
	if addr == "" {
		r.lastErr = errors.New("no leader known")
	}
	return id, addr
}

// failed records a failed attempt at the leader id at addr; a "not leader"
// answer that names another leader is followed next.
func (r *leaderRoute) failed(id, addr string, err error) {
	var nl *notLeaderError
	if errors.As(err, &nl) && nl.leaderAddr != "" && nl.leaderAddr != addr && nl.leaderID != r.local.ID() {
		r.hintID, r.hintAddr = nl.leaderID, nl.leaderAddr
	}
	r.triedAddr, r.lastErr = addr, fmt.Errorf("leader %s at %s: %w", id, addr, err)
}

// pause comes after a failed attempt: it returns at once to follow a named
// leader (at most maxHops times in a row), else after a jittered retry
// interval. It fails with ErrNoLeader once the hold, counted from the first
// failure, is over or ctx ends; slept reports whether it waited.
func (r *leaderRoute) pause(ctx context.Context) (slept bool, err error) {
	if r.holdEnd.IsZero() {
		r.holdEnd = time.Now().Add(r.hold)
	}
	if r.hintAddr != "" && r.hops < maxHops {
		r.hops++
		return false, nil
	}
	r.hops = 0
	left := time.Until(r.holdEnd)
	if left <= 0 {
		return false, fmt.Errorf("%w within %v; last attempt: %v", ErrNoLeader, r.hold, r.lastErr)
	}
	t := time.NewTimer(min(jitter(r.retry), left))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return true, fmt.Errorf("%w (%w); last attempt: %v", ErrNoLeader, ctx.Err(), r.lastErr)
	case <-t.C:
		return true, nil
	}
}

// commit commits cmd through the leader: applied locally (Local.Apply) if
// this node leads, else forwarded (Client.Forward). While there is no
// usable leader it holds, re-resolving the leader after each pause, for up
// to HoldTimeout. Only failures that guarantee nothing was appended (no
// leader, not the leader, cannot connect) are retried; any other failure
// is returned as it is.
func (p *Proposer) commit(ctx context.Context, cmd []byte) (uint64, any, error) {
	r := leaderRoute{local: p.local, hold: p.cfg.HoldTimeout, retry: p.cfg.RetryInterval}
	for {
		if p.local.IsLeader() {
			p.nLocal.Add(1)
			idx, resp, err := p.local.Apply(ctx, cmd)
			if !errors.Is(err, ErrNotLeader) || p.client == nil {
				return idx, resp, err
			}
			r.lastErr = err // lost leadership before appending: find the new leader
		} else if p.client == nil {
			return 0, nil, ErrNotLeader
		} else if id, addr := r.target(); addr != "" {
			p.nForwarded.Add(1)
			idx, resp, err := p.client.Forward(ctx, addr, cmd)
			if err == nil {
				return p.waitLocal(ctx, idx, resp)
			}
			var nl *notLeaderError
			var de *dialError
			if !errors.As(err, &nl) && !(errors.As(err, &de) && ctx.Err() == nil) {
				return 0, nil, err // refused, or the outcome is unknown
			}
			r.failed(id, addr, err)
		}
		slept, err := r.pause(ctx)
		if err != nil {
			p.nNoLeader.Add(1)
			return 0, nil, err
		}
		if slept {
			p.nRetries.Add(1)
		}
	}
}

// waitLocal waits until the local FSM has applied a forwarded event.
func (p *Proposer) waitLocal(ctx context.Context, idx uint64, resp any) (uint64, any, error) {
	if p.local.AppliedIndex() >= idx {
		return idx, resp, nil
	}
	wctx, cancel := context.WithTimeout(ctx, p.cfg.WaitTimeout)
	defer cancel()
	if err := p.local.WaitApplied(wctx, idx); err != nil {
		return idx, resp, fmt.Errorf("%w: event committed at index %d, this node applied %d: %w",
			ErrWaitTimeout, idx, p.local.AppliedIndex(), err)
	}
	return idx, resp, nil
}

// jitter returns a duration drawn uniformly from [d/2, 3d/2).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

// applierLocal adapts a single-node Applier to Local: it always leads.
type applierLocal struct{ Applier }

func (applierLocal) WaitApplied(context.Context, uint64) error { return nil }
func (applierLocal) AppliedIndex() uint64                      { return 0 }
func (applierLocal) IsLeader() bool                            { return true }
func (applierLocal) Leader() (string, string)                  { return "", "" }
func (applierLocal) ID() string                                { return "" }
