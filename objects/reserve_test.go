package objects

import (
	"testing"
	"time"

	"github.com/s4/s4/disk"
)

// TestReserveKicks: at the reserve the monitor's tick and an applied
// delete (Released) start a GC pass, at most every gcKickMinGap; off the
// reserve they do not. Leaving the reserve wakes catch-up.
func TestReserveKicks(t *testing.T) {
	e := newEnv(t, 0, 0)
	kicked := func() bool {
		select {
		case <-e.svc.kicks.gc:
			return true
		default:
			return false
		}
	}
	e.svc.OnDiskTick(disk.Status{})
	e.svc.Released()
	if kicked() {
		t.Fatal("kicked off the reserve")
	}
	e.disk.full.Store(true)
	e.svc.OnDiskTick(disk.Status{AtReserve: true})
	if !kicked() {
		t.Fatal("the tick at the reserve did not kick the collector")
	}
	e.svc.Released()
	if kicked() {
		t.Fatalf("kicked twice within %v", gcKickMinGap)
	}
	time.Sleep(gcKickMinGap)
	e.svc.Released()
	if !kicked() {
		t.Fatal("a delete at the reserve did not kick the collector")
	}

	e.svc.OnDiskChange(disk.Status{AtReserve: true})
	select {
	case <-e.svc.kicks.left:
		t.Fatal("entering the reserve woke catch-up")
	default:
	}
	e.svc.OnDiskChange(disk.Status{})
	select {
	case <-e.svc.kicks.left:
	default:
		t.Fatal("leaving the reserve did not wake catch-up")
	}
}
