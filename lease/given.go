package lease

import "sync"

// Given remembers, per node, until when the grants this node gave it as a
// serving leader can hold, so that the revocation barrier need not wait
// out the lease of a node that got no grant recently (stopped, dead or
// cut off since before the event): its grants asked for before the event
// end by then. Grants to a node that did not say who it is (an older
// release's question) count for every node.
type Given struct {
	mu    sync.Mutex
	until map[string]Time
}

// Record notes a grant to node that holds until until at the latest. Call
// it before reading what the grant carries (the auth index), so that a
// barrier that misses the record started before that reading.
func (g *Given) Record(node string, until Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.until == nil {
		g.until = map[string]Time{}
	}
	if until > g.until[node] {
		g.until[node] = until
	}
}

// Until is the latest end of a grant given to node (0: none).
func (g *Given) Until(node string) Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(g.until[node], g.until[""])
}
