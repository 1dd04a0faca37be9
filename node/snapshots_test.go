package node

import (
	"fmt"
	"strings"
	"testing"
)

// TestSnapshotThreshold: the threshold follows half the store at the
// average entry size, within its bounds.
func TestSnapshotThreshold(t *testing.T) {
	for _, c := range []struct {
		size             int64
		applied, entries uint64
		want             uint64
	}{
		{0, 0, 0, minSnapshotEntries},
		{1 << 20, 1 << 20, 10_000, minSnapshotEntries},           // a small store: raft's default
		{4_500_000_000, 4300 * 1000, 1000, 4_500_000_000 / 8600}, // a million 4 KiB objects
		{1 << 50, 100, 100, maxSnapshotEntries},
	} {
		if got := snapshotThreshold(c.size, c.applied, c.entries); got != c.want {
			t.Errorf("snapshotThreshold(%d, %d, %d) = %d, want %d", c.size, c.applied, c.entries, got, c.want)
		}
	}
}

// TestCompactRaftLog: after a snapshot compacted the log, raft.db keeps
// its size; CompactRaftLog on the stopped node shrinks it, refuses while
// the node runs, and the node restarts with every object.
func TestCompactRaftLog(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.TrailingLogs = 8 // the snapshot drops almost all of the log
	e := newS3EnvWith(t, cfg)
	c := e.sdkFor(e.writer)
	mkBucket(t, c, "log")
	body := strings.Repeat("x", 32<<10)
	for i := range 300 {
		putString(t, c, "log", fmt.Sprintf("k%03d", i), body)
	}
	if err := e.n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	dir := e.n.cfg.DataDir
	if _, _, err := CompactRaftLog(dir); err == nil {
		t.Fatal("compacted the log of a running node")
	}
	if err := e.n.Close(); err != nil {
		t.Fatal(err)
	}
	before, after, err := CompactRaftLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("raft.db: %d bytes before, %d after", before, after)
	if after >= before/2 {
		t.Fatalf("raft.db %d bytes after compaction, was %d", after, before)
	}
	m := mustOpen(t, cfg)
	c2 := nodeS3Env(t, m).sdkFor(e.writer)
	for _, k := range []string{"k000", "k150", "k299"} {
		if got := getString(t, c2, "log", k); got != body {
			t.Fatalf("%s after the compaction: %d bytes", k, len(got))
		}
	}
	putString(t, c2, "log", "after", "more")
}
