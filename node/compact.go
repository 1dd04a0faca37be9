package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CompactRaftLog rewrites the Raft log and stable store of a stopped node
// (dataDir/raft/raft.db) without its free pages, and returns the file's
// size before and after. raft-boltdb never shrinks raft.db: entries a
// snapshot compacted away leave free pages that later appends reuse, but
// the file keeps the size of its largest log (docs/DESIGN.md "Snapshots and
// the log's file"). Everything in the file is kept (the log's entries, the current
// term and vote), so the node restarts exactly where it stopped. It fails,
// changing nothing, while a node has the file open (bbolt's file lock).
func CompactRaftLog(dataDir string) (before, after int64, err error) {
	path := filepath.Join(dataDir, "raft", "raft.db")
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, fmt.Errorf("node: compact: %w", err)
	}
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return 0, 0, fmt.Errorf("node: compact: %s is in use: stop the node first", path)
		}
		return 0, 0, fmt.Errorf("node: compact: %w", err)
	}
	defer src.Close()
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, 0, fmt.Errorf("node: compact: %w", err)
	}
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("node: compact: %w", err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("node: compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("node: compact: %w", err)
	}
	src.Close()
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("node: compact: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	nfi, err := os.Stat(path)
	if err != nil {
		return 0, 0, fmt.Errorf("node: compact: %w", err)
	}
	return fi.Size(), nfi.Size(), nil
}
