package fsm

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/iam"
	"github.com/s4/s4/internal/testfs"
	"github.com/s4/s4/meta"
)

// TestBatchWaitsForSpace: a batch whose metadata commit finds the disk full
// neither panics (the node would crash at every restart until space is
// back) nor skips its events: it waits, and applies them exactly once when
// space is back. Before, ApplyBatch panicked ("meta: store: ... no space
// left on device"), seen by the fault suite on a filled data disk.
func TestBatchWaitsForSpace(t *testing.T) {
	dir := testfs.Mount(t, 4*testfs.MiB)
	h := newHarness(t)
	m, err := meta.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	h.f.AttachMeta(m)
	h.create("u1", "alice", iam.RoleWriter)
	h.mustApply(MsgBucketCreate, &BucketCreate{Name: "b", Owner: "u1", At: 1})
	filler := testfs.Fill(t, dir, 0)

	// Enough new pages that the commit must write them: 300 objects with
	// 1 KiB of metadata each, and one IAM event in the same batch.
	var logs []*raft.Log
	for i := range 300 {
		ev := &ObjectPut{Bucket: "b", Key: fmt.Sprintf("k%03d", i), Object: meta.ObjectMeta{UserMeta: map[string]string{"pad": strings.Repeat("x", 1024)}}}
		b, err := Encode(MsgObjectPut, ev)
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, &raft.Log{Index: h.idx + uint64(i) + 1, Type: raft.LogCommand, Data: b})
	}
	b, _ := Encode(MsgUserCreate, &UserCreate{ID: "u2", Username: "bob", Role: iam.RoleReader, At: 2})
	logs = append(logs, &raft.Log{Index: h.idx + 301, Type: raft.LogCommand, Data: b})

	done := make(chan []any, 1)
	go func() { done <- h.f.ApplyBatch(logs) }()
	select {
	case <-done:
		t.Fatal("the batch was applied although its commit could not be written")
	case <-time.After(500 * time.Millisecond):
	}
	if h.f.AppliedIndex() >= logs[0].Index {
		t.Fatalf("applied index %d moved while the batch waits", h.f.AppliedIndex())
	}
	filler.Remove()
	var resps []any
	select {
	case resps = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the batch did not complete once space was back")
	}
	for i, r := range resps {
		if r != nil {
			t.Fatalf("entry %d: %v", i, r)
		}
	}
	if got := h.f.AppliedIndex(); got != logs[len(logs)-1].Index {
		t.Fatalf("applied index %d, want %d", got, logs[len(logs)-1].Index)
	}
	if _, ok := h.f.UserByName("bob"); !ok {
		t.Fatal("the IAM event of the batch is missing")
	}
	if n := len(h.f.Users()); n != 2 {
		t.Fatalf("%d users, want 2 (the batch applied once)", n)
	}
	if res, ok := m.List("b", "", "", "", 1000); !ok || len(res.Objects) != 300 {
		t.Fatalf("listing after the batch: %d objects, bucket found %t", len(res.Objects), ok)
	}
}
