package fsm

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s4/s4/meta"
)

// TestSnapshotMillionInline (S4_SNAPSHOT_MILLION=1; a few minutes and about
// 15 GB of disk): a metadata store with a million inline objects of 4 KiB
// is snapshotted to a file and installed on a fresh FSM; it reports the
// peak heap of the install, which must stay under 512 MiB (issue 11: a
// lagging node installs such a snapshot with bounded memory).
func TestSnapshotMillionInline(t *testing.T) {
	if os.Getenv("S4_SNAPSHOT_MILLION") != "1" {
		t.Skip("set S4_SNAPSHOT_MILLION=1 (minutes, ~15 GB of disk)")
	}
	n := 1_000_000
	dir := t.TempDir()
	src, err := meta.Open(filepath.Join(dir, "src.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f := New(testSealer)
	f.AttachMeta(src)
	if err := src.CreateBucket("b", "u1", 1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < n; {
		src.Batch(func() {
			for j := 0; j < 10_000 && i < n; j, i = j+1, i+1 {
				// A body of its own each: bbolt keeps the slice until the commit.
				body := make([]byte, 4096)
				body[0], body[1], body[2] = byte(i), byte(i>>8), byte(i>>16)
				obj := meta.ObjectMeta{Size: 4096, ETag: `"e"`, Owner: "u1", Inline: meta.NewInline(body)}
				if err := src.PutObject("b", fmt.Sprintf("key/%08d", i), &obj, nil); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	t.Logf("wrote %d inline objects in %v", n, time.Since(start).Round(time.Second))

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "snapshot")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	sn := snap.(*snapshot)
	bw := bufio.NewWriter(file)
	if err := writeSnapshot(bw, &sn.view.iam, sn.view.index, testSealer, sn.meta); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	file.Close()
	snap.Release()
	fi, _ := os.Stat(path)
	t.Logf("snapshot of %d MiB written in %v", fi.Size()>>20, time.Since(start).Round(time.Second))
	src.Close()
	os.Remove(filepath.Join(dir, "src.db"))

	dst, err := meta.Open(filepath.Join(dir, "dst.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	g := New(testSealer)
	g.AttachMeta(dst)
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := g.Restore(r); err != nil {
		t.Fatal(err)
	}
	close(done)
	t.Logf("installed in %v, peak heap in use %d MiB", time.Since(start).Round(time.Second), peak.Load()>>20)
	if peak.Load() >= 512<<20 {
		t.Errorf("peak heap %d MiB during the install, want < 512 MiB", peak.Load()>>20)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		d, ok := dst.ObjectData("b", fmt.Sprintf("key/%08d", i))
		if !ok || meta.CheckInline(d.Inline) != nil || d.Inline.Data[0] != byte(i) {
			t.Fatalf("object %d after the install: %v", i, ok)
		}
	}
}
