package node

import (
	"testing"
	"time"

	"github.com/s4/s4/cluster"
)

// TestLeaseGrants: grants are kept newest first (a late answer to an older
// question does not displace a newer grant), at most maxGrants, and only
// those asked within the lease count.
func TestLeaseGrants(t *testing.T) {
	lt := &leases{start: time.Now().Add(-time.Hour)}
	if g := lt.validGrants(time.Second); len(g) != 0 {
		t.Fatalf("grants before any: %v", g)
	}
	now := time.Now()
	lt.grant(now.Add(-300*time.Millisecond), cluster.Status{AuthIndex: 5})
	lt.grant(now.Add(-100*time.Millisecond), cluster.Status{AuthIndex: 9})
	lt.grant(now.Add(-200*time.Millisecond), cluster.Status{AuthIndex: 7}) // answered late, asked earlier
	lt.grant(now.Add(-3*time.Second), cluster.Status{AuthIndex: 1})        // long expired
	g := lt.validGrants(time.Second)
	if len(g) != 3 || g[0].applied != 9 || g[1].applied != 7 || g[2].applied != 5 {
		t.Fatalf("valid grants = %+v, want applied 9, 7, 5 newest first", g)
	}
	if g := lt.validGrants(250 * time.Millisecond); len(g) != 2 {
		t.Fatalf("grants within 250ms = %+v", g)
	}
	for i := 0; i < 2*maxGrants; i++ {
		lt.grant(now.Add(time.Duration(i)*time.Millisecond), cluster.Status{AuthIndex: uint64(100 + i)})
	}
	if all := *lt.grants.Load(); len(all) != maxGrants || all[0].applied != uint64(100+2*maxGrants-1) {
		t.Fatalf("kept %d grants, newest %+v", len(all), all[0])
	}
}
