package node

import (
	"sync/atomic"

	"github.com/s4/s4/disk"
	"github.com/s4/s4/objects"
)

// Disk headroom (package disk): the node keeps a free-space reserve on the
// file system of its data dir for the Raft log and the metadata store, so
// that IAM events, revocations and deletes never fail for lack of space.
//
// At the reserve (Config.DiskReserve) the node stores no object data: what
// that means for PUTs, blob copies from peers, GETs, catch-up and the
// garbage collector is package objects' (objects/reserve.go), which gets
// the monitor's ticks and changes. /health/ready reports it (a "disk"
// object in its body), its status code stays what the lease and catch-up
// decide: the node still serves reads, IAM and deletes.
//
// A disk that fills completely anyway (another process, a reserve of 0)
// leaves Raft unable to append: the node then fences (its lease cannot
// follow the leader's index), and catches up once space is back.

// openDisk starts the free-space monitor of the data dir. Its ticks and
// changes go to the object-data service in objs once Open has built it
// (on the monitor).
func (n *Node) openDisk(objs *atomic.Pointer[objects.Service]) error {
	m, err := disk.New(n.cfg.DataDir, disk.Options{
		Reserve: n.cfg.DiskReserve,
		Logger:  n.log.With("component", "disk"),
		OnTick: func(st disk.Status) {
			if o := objs.Load(); o != nil {
				o.OnDiskTick(st)
			}
		},
		OnChange: func(st disk.Status) {
			if o := objs.Load(); o != nil {
				o.OnDiskChange(st)
			}
		},
	})
	if err != nil {
		return err
	}
	n.disk = m
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		m.Run(n.closing)
	}()
	return nil
}

// DiskStatus returns the free-space monitor's latest reading.
func (n *Node) DiskStatus() disk.Status {
	if n.disk == nil {
		return disk.Status{}
	}
	return n.disk.Status()
}

// RefreshDisk reads the free space now and returns the new state.
func (n *Node) RefreshDisk() disk.Status {
	if n.disk == nil {
		return disk.Status{}
	}
	return n.disk.Refresh()
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
