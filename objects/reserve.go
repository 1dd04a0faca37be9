package objects

import (
	"time"

	"github.com/s4/s4/disk"
)

// The free-space reserve (package disk; the node keeps it for the Raft log
// and the metadata store, node/disk.go). At it, for object data:
//
//   - the S3 API refuses object data: PutObject, UploadPart,
//     UploadPartCopy, CopyObject and CompleteMultipartUpload answer 507
//     XS4StorageFull before the body is read (package s3, through Check),
//     and so does a blob write that fails with ENOSPC;
//   - a blob copy from a peer is refused with 507 (cluster.SpaceGuard,
//     through Check): the sender counts it as a failed copy and reaches
//     its majority through the other nodes;
//   - Fetch keeps nothing: a GET of an object whose blob is missing here
//     streams it from a peer without keeping it (Stream), and blob catch-up
//     pauses; once the node has left the reserve it runs a pass at once,
//     for the copies it refused meanwhile (catchup.go);
//   - the garbage collector runs every second (kicked by the monitor's
//     tick, OnDiskTick) and right after this node applied a delete
//     (Released), at most every gcKickMinGap, so that deleting objects
//     frees space within about a second, without a restart; after a pass
//     that removed blobs the free space is read again at once, so the next
//     PUT sees it.

// gcKickMinGap bounds how often the reserve starts a GC pass.
const gcKickMinGap = 200 * time.Millisecond

// OnDiskTick is the disk monitor's tick (disk.Options.OnTick): at the
// reserve the garbage collector runs a pass now.
func (s *Service) OnDiskTick(st disk.Status) {
	if st.AtReserve {
		s.kickGC()
	}
}

// OnDiskChange is the disk monitor's change (disk.Options.OnChange): once
// the node has left its reserve, blob catch-up runs a pass. It is quick,
// as OnChange must be.
func (s *Service) OnDiskChange(st disk.Status) {
	if !st.AtReserve {
		select {
		case s.kicks.left <- struct{}{}:
		default:
		}
	}
}

// kickGC asks the garbage collector for a pass now, at most every
// gcKickMinGap.
func (s *Service) kickGC() {
	now := time.Now().UnixNano()
	last := s.kicks.kicked.Load()
	if now-last < int64(gcKickMinGap) || !s.kicks.kicked.CompareAndSwap(last, now) {
		return
	}
	select {
	case s.kicks.gc <- struct{}{}:
	default: // a kick is pending already
	}
}

// freed is called after the garbage collector removed blobs: the free
// space is read again at once.
func (s *Service) freed() {
	if s.disk != nil {
		s.disk.Refresh()
	}
}

// Check implements s3.Space and cluster.SpaceGuard: nil if size more bytes
// of object data may be stored now, or an error wrapping disk.ErrFull.
func (s *Service) Check(size int64) error {
	if s.disk == nil {
		return nil
	}
	return s.disk.Check(size)
}

// NoSpace implements s3.Space and cluster.SpaceGuard: a write failed with
// ENOSPC; read the free space now.
func (s *Service) NoSpace() {
	if s.disk != nil {
		s.disk.Refresh()
	}
}

// Released implements s3.Space: a delete was applied; at the reserve the
// garbage collector runs soon.
func (s *Service) Released() {
	if s.atReserve() {
		s.kickGC()
	}
}

// atReserve reports whether the node is at its free-space reserve.
func (s *Service) atReserve() bool { return s.disk != nil && s.disk.AtReserve() }
