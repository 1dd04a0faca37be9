package node

import (
	"net"

	"github.com/s4/s4/cluster"
)

var _ cluster.StatusReporter = (*Node)(nil)

// LocalStatus implements cluster.StatusReporter, without waiting (it
// answers status questions). Term is the node's current term, read and
// recorded as answered in (lease.Answers) first: a leader counts the
// answer as an acknowledgement of its lease only if it is its own term,
// and OlderAnswerAge tells a new leader how long ago this node last
// answered in an earlier term. Serving: a leader that caught up in its
// term (leaderterm.go) and whose leader lease holds (LeaseLeft says for
// how long), a follower that holds a valid grant whose index it applied;
// both ready. A leader reads its applied index after finding itself
// serving and reports itself leading and serving only if it still leads
// in the same term afterwards, so that such an answer carries an index at
// or past every write acknowledged before the question (a read index). A
// serving leader records until when its answer may serve asker as a grant
// (lease.Given) before it reads the auth index the grant requires.
func (n *Node) LocalStatus(asker string) cluster.Status {
	st := cluster.Status{ID: string(n.id), API: n.APIAddress()}
	st.Term, st.OlderAnswerAge = n.answers.Answer(n.raft.CurrentTerm)
	st.LeaderID, st.LeaderAddr = n.Leader()
	ready := n.ready.Load()
	if term, ok := n.leadingTerm(); ok && term == st.Term {
		caughtUp := n.leaderTerm.term.Load() == term
		left, until := n.lead.Grant(term)
		st.Applied = n.fsm.AppliedIndex()
		again, ok := n.leadingTerm()
		st.IsLeader = ok && again == term
		st.Serving = ready && caughtUp && left > 0 && st.IsLeader
		if st.Serving {
			st.LeaseLeft = left
			n.given.Record(asker, until)
		}
	} else {
		st.Applied = n.fsm.AppliedIndex()
		st.Serving = ready && n.follower.Serving(st.Applied)
	}
	st.AuthIndex = n.fsm.AuthIndex()
	return st
}

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
