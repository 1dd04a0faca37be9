package node

import (
	"github.com/hashicorp/raft"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/cluster"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/objects"
	"github.com/s4/s4/s3"
)

// Object data across nodes is package objects: its Service replicates a
// PUT's blob, fetches and streams missing blobs, catches up in the
// background and collects garbage. The node builds it on its parts (Open),
// starts it, stops it first in Close and waits for it before the RPC
// client closes; it is the S3 handler's Replicator and Space and the
// cluster server's SpaceGuard.

var (
	_ s3.Replicator        = (*objects.Service)(nil)
	_ s3.Space             = (*objects.Service)(nil)
	_ cluster.SpaceGuard   = (*objects.Service)(nil)
	_ cluster.BlobStore    = (*blob.Store)(nil)
	_ objects.Transfer     = (*cluster.Client)(nil)
	_ objects.InlineBodies = (*meta.Store)(nil)
)

// newObjects builds the object-data service of the node.
func (n *Node) newObjects() *objects.Service {
	return objects.New(objects.Config{
		Peers:      raftPeers{n},
		Ready:      n,
		Fresh:      n,
		Refs:       n.meta,
		Blobs:      n.blobs,
		Transfer:   n.rpcCli,
		Disk:       n.disk,
		GCInterval: n.cfg.GCInterval,
		Logger:     n.log,

		ScrubRate:     n.cfg.ScrubRate,
		ScrubInterval: n.cfg.ScrubInterval,
		ScrubMetrics:  n.obs.metrics.Scrub,
		Inline:        n.meta,
	})
}

// raftPeers is the Raft configuration as the object-data service reads it.
type raftPeers struct{ n *Node }

// Peers implements objects.Peers: the cluster addresses of the other
// servers in the Raft configuration, the voters among them, and whether
// this node votes.
func (p raftPeers) Peers() (voters, others []string, selfVotes bool, err error) {
	f := p.n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, nil, false, err
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == p.n.id {
			selfVotes = s.Suffrage == raft.Voter
			continue
		}
		if s.Suffrage == raft.Voter {
			voters = append(voters, string(s.Address))
		} else {
			others = append(others, string(s.Address))
		}
	}
	return voters, others, selfVotes, nil
}

// Objects returns the node's object-data service.
func (n *Node) Objects() *objects.Service { return n.objects }

// CollectGarbage runs one garbage-collection pass and returns how many
// blobs it removed (Objects().CollectGarbage).
func (n *Node) CollectGarbage() int { return n.objects.CollectGarbage() }
