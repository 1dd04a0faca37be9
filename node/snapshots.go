package node

import "time"

// Snapshot threshold (unless Config.SnapshotThreshold is set). A Raft
// snapshot rewrites the whole metadata store, inline bodies included (a
// million 4 KiB objects: about 4.5 GB), while raft's default threshold
// takes one every 8,192 entries (checked every SnapshotInterval, 2 to 4
// minutes): with small objects in the log, a busy node would rewrite
// gigabytes every few minutes. So the threshold follows the store: every
// snapshotTuneEvery the node sets it to the number of entries that make
// half the store's size at the average entry size seen so far,
//
//	threshold = clamp(store bytes / (2 × average entry bytes), 8192, 4,194,304)
//
// so that a snapshot is taken once the log since the last one holds about
// half as many bytes as the snapshot will write: whatever the store's
// size, snapshots write at most about twice what the log took in, and the
// log on disk holds about half the store's size (plus TrailingLogs
// entries) before it is compacted. A store of IAM events and small
// metadata stays at raft's 8,192. For a million 4 KiB objects the
// threshold is about 540,000 entries: at 1,000 PUTs/s sustained, one
// snapshot every 9 minutes; at 50 PUTs/s, every 3 hours. (raft-boltdb
// never shrinks raft.db: docs/DESIGN.md "Snapshots and the log's file" says how to
// reclaim it.)
const (
	snapshotTuneEvery   = time.Minute
	minSnapshotEntries  = 8192
	maxSnapshotEntries  = 1 << 22
	snapshotBytesFactor = 2
)

// snapshotThreshold is the threshold for a store of size bytes after
// entries events of bytes in total were applied.
func snapshotThreshold(size int64, applied, entries uint64) uint64 {
	if entries == 0 || applied == 0 || size <= 0 {
		return minSnapshotEntries
	}
	avg := max(applied/entries, 1)
	return min(max(uint64(size)/(snapshotBytesFactor*avg), minSnapshotEntries), maxSnapshotEntries)
}

// startSnapshotTuning starts the loop that follows the store with the
// snapshot threshold, unless the configuration fixes it.
func (n *Node) startSnapshotTuning() {
	if n.cfg.SnapshotThreshold > 0 {
		return
	}
	n.goEvery(snapshotTuneEvery, n.tuneSnapshots)
}

// tuneSnapshots sets the threshold for the store as it is now, when it
// moved by more than an eighth.
func (n *Node) tuneSnapshots() {
	b, e := n.fsm.AppliedBytes()
	want := snapshotThreshold(n.meta.Size(), b, e)
	rc := n.raft.ReloadableConfig()
	if cur := rc.SnapshotThreshold; want > cur+cur/8 || want < cur-cur/8 {
		rc.SnapshotThreshold = want
		if err := n.raft.ReloadConfig(rc); err != nil {
			n.log.Warn("setting the snapshot threshold", "threshold", want, "err", err)
			return
		}
		n.log.Info("snapshot threshold follows the metadata store", "threshold", want, "store_bytes", n.meta.Size())
	}
}
