package fsm

import "github.com/hashicorp/raft"

// count adds the events of logs, applied, to the counts by type (once per
// entry: after the batch, which the metadata store may run more than once).
func (f *FSM) count(logs []*raft.Log) {
	var bytes uint64
	for _, l := range logs {
		if l.Type == raft.LogCommand && len(l.Data) > 0 {
			f.counts[l.Data[0]].Add(1)
			bytes += uint64(len(l.Data))
		}
	}
	f.appliedBytes.Add(bytes)
}

// AppliedBytes is the size of every event this FSM applied since it was
// created (a restore counts none), and how many there were: the average
// entry size the node tunes its snapshot threshold with.
func (f *FSM) AppliedBytes() (bytes, entries uint64) {
	for i := range f.counts {
		entries += f.counts[i].Load()
	}
	return f.appliedBytes.Load(), entries
}

// EventsApplied calls fn for every row of the event table with the number
// of such events this FSM applied since it was created (whatever their
// outcome; a restore counts none): the metrics of GET /metrics.
func (f *FSM) EventsApplied(fn func(name string, iam bool, n uint64)) {
	for i := range eventTable {
		e := &eventTable[i]
		fn(e.name, e.iam, f.counts[e.t].Load())
	}
}
