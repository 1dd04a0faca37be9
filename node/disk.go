package node

import (
	"sync/atomic"
	"time"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/cluster"
	"github.com/s4/s4/disk"
	"github.com/s4/s4/s3"
)

// Disk headroom (package disk): the node keeps a free-space reserve on the
// file system of its data dir for the Raft log and the metadata store, so
// that IAM events, revocations and deletes never fail for lack of space.
//
// At the reserve (Config.DiskReserve):
//
//   - the S3 API refuses object data: PutObject, UploadPart,
//     UploadPartCopy, CopyObject and CompleteMultipartUpload answer 507
//     XS4StorageFull before the body is read (package s3), and so does a
//     blob write that fails with ENOSPC;
//   - a blob copy from a peer is refused with 507 (cluster.SpaceGuard): the
//     sender counts it as a failed copy and reaches its majority through the
//     other nodes;
//   - Fetch keeps nothing: a GET of an object whose blob is missing here
//     streams it from a peer without keeping it (Stream), and blob catch-up
//     pauses; once the node has left the reserve it runs a pass at once,
//     for the copies it refused meanwhile (catchup.go);
//   - the garbage collector runs every second (kicked by the monitor's
//     tick) and right after this node applied a delete (Released), at most
//     every gcKickMinGap, so that deleting objects frees space within about
//     a second, without a restart; after a pass that removed blobs the free
//     space is read again at once, so the next PUT sees it;
//   - /health/ready reports it (a "disk" object in its body), its status
//     code stays what the lease and catch-up decide: the node still serves
//     reads, IAM and deletes.
//
// A disk that fills completely anyway (another process, a reserve of 0)
// leaves Raft unable to append: the node then fences (its lease cannot
// follow the leader's index), and catches up once space is back.

// gcKickMinGap bounds how often the reserve starts a GC pass.
const gcKickMinGap = 200 * time.Millisecond

// diskGuard is the node's free-space monitor and the garbage collector's
// kick. It implements s3.Space; with the blob store it implements
// cluster.SpaceGuard.
type diskGuard struct {
	m      *disk.Monitor
	gcKick chan struct{} // collectGarbage runs a pass when it receives
	kicked atomic.Int64  // unix nanoseconds of the last kick
	leftCh chan struct{} // the node left its reserve (blob catch-up resumes)
}

// openDisk starts the free-space monitor of the data dir.
func (n *Node) openDisk() error {
	g := &diskGuard{gcKick: make(chan struct{}, 1), leftCh: make(chan struct{}, 1)}
	m, err := disk.New(n.cfg.DataDir, disk.Options{
		Reserve: n.cfg.DiskReserve,
		Logger:  n.log.With("component", "disk"),
		OnTick: func(st disk.Status) {
			if st.AtReserve {
				g.kickGC()
			}
		},
		OnChange: func(st disk.Status) {
			if !st.AtReserve {
				select {
				case g.leftCh <- struct{}{}:
				default:
				}
			}
		},
	})
	if err != nil {
		return err
	}
	g.m = m
	n.disk = g
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		m.Run(n.closing)
	}()
	return nil
}

// kickGC asks the garbage collector for a pass now, at most every
// gcKickMinGap.
func (g *diskGuard) kickGC() {
	now := time.Now().UnixNano()
	last := g.kicked.Load()
	if now-last < int64(gcKickMinGap) || !g.kicked.CompareAndSwap(last, now) {
		return
	}
	select {
	case g.gcKick <- struct{}{}:
	default: // a kick is pending already
	}
}

// kicks is what collectGarbage waits on besides its ticker (nil before
// openDisk: never).
func (g *diskGuard) kicks() <-chan struct{} {
	if g == nil {
		return nil
	}
	return g.gcKick
}

// left receives when the node has left its reserve (nil before openDisk:
// never).
func (g *diskGuard) left() <-chan struct{} {
	if g == nil {
		return nil
	}
	return g.leftCh
}

// freed is called after the garbage collector removed blobs: the free
// space is read again at once.
func (g *diskGuard) freed() {
	if g != nil {
		g.m.Refresh()
	}
}

// Check implements s3.Space and cluster.SpaceGuard.
func (g *diskGuard) Check(size int64) error {
	if g == nil {
		return nil
	}
	return g.m.Check(size)
}

// NoSpace implements s3.Space and cluster.SpaceGuard: a write failed with
// ENOSPC; read the free space now.
func (g *diskGuard) NoSpace() {
	if g != nil {
		g.m.Refresh()
	}
}

// Released implements s3.Space: a delete was applied; at the reserve the
// garbage collector runs soon.
func (g *diskGuard) Released() {
	if g != nil && g.m.AtReserve() {
		g.kickGC()
	}
}

// AtReserve reports whether the node is at its free-space reserve.
func (g *diskGuard) AtReserve() bool { return g != nil && g.m.AtReserve() }

// guardedBlobs is the blob store as the cluster server sees it: copies
// from peers are refused at the reserve.
type guardedBlobs struct {
	*blob.Store
	*diskGuard
}

var (
	_ s3.Space           = (*diskGuard)(nil)
	_ cluster.SpaceGuard = guardedBlobs{}
	_ cluster.BlobStore  = guardedBlobs{}
)

// DiskStatus returns the free-space monitor's latest reading.
func (n *Node) DiskStatus() disk.Status {
	if n.disk == nil {
		return disk.Status{}
	}
	return n.disk.m.Status()
}

// RefreshDisk reads the free space now and returns the new state.
func (n *Node) RefreshDisk() disk.Status {
	if n.disk == nil {
		return disk.Status{}
	}
	return n.disk.m.Refresh()
}

// diskReady is the "disk" object of /health/ready.
func (n *Node) diskReady() map[string]any {
	st := n.DiskStatus()
	out := map[string]any{
		"at_reserve": st.AtReserve, "free_bytes": st.Free, "reserve_bytes": st.Reserve, "total_bytes": st.Total,
	}
	if st.Err != nil {
		out["error"] = st.Err.Error()
	}
	return out
}
