package node

import "testing"

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
