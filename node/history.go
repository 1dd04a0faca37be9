package node

import (
	"context"
	"time"

	"github.com/s4/s4/fsm"
)

// The IAM history's retention (Config.HistoryRetention): the history is
// kept forever unless it is set. The leader checks every
// HistoryPruneEvery whether the oldest event is older than the retention,
// and if so proposes the cut-off as an event (fsm.HistoryPrune), so that
// every node removes the same events at the same index; one event removes
// at most fsm.HistoryPruneMax, so it proposes again while older ones
// remain. The history itself is written by the FSM (fsm/history.go) into
// the metadata store (meta/history.go) and read by the admin API.

// startHistoryRetention starts the leader's retention loop, if there is a
// retention.
func (n *Node) startHistoryRetention() {
	if n.cfg.HistoryRetention <= 0 {
		return
	}
	n.goEvery(n.cfg.HistoryPruneEvery, func() {
		if n.IsLeader() {
			n.pruneHistory()
		}
	})
}

// pruneHistory proposes cut-offs while the oldest event is older than the
// retention (at most 64 in a row, then it waits for the next tick).
func (n *Node) pruneHistory() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	for range 64 {
		now := time.Now()
		cutoff := now.Add(-n.cfg.HistoryRetention).UnixNano()
		if _, oldest, ok := n.meta.HistoryFirst(); !ok || oldest >= cutoff {
			return
		}
		pctx, pcancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
		err := n.prop.Propose(pctx, fsm.MsgHistoryPrune, fsm.HistoryPrune{Before: cutoff, At: now.UnixNano(), Origin: fsm.Origin{Node: string(n.id)}})
		pcancel()
		if err != nil {
			n.log.Warn("history retention: proposing the cut-off failed; trying again later", "err", err)
			return
		}
	}
}
