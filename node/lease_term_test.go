package node

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestClusterRevokeRightAfterLeaderChange: a follower holds a grant from
// the old leader when leadership moves (a transfer: the old leader is
// alive and answered it a moment before). It acknowledges the new term at
// once, so the new leader's hand-over is done within a round trip, and the
// new leader has given it no grant yet. A revoke acknowledged then must
// not leave the follower serving the old state under the old leader's
// grant: a grant is a lease of the term that gave it, and ends for a node
// that has moved to a later term.
//
// Before the fix the follower answered the revoked key for the rest of
// the old grant (up to an auth lease after the transfer).
func TestClusterRevokeRightAfterLeaderChange(t *testing.T) {
	nodes, cfgs, lnet := startFaultClusterWith(t, func(i int, cfg *Config) {
		// A long lease leaves the old grant valid well past the revoke on a
		// slow machine (the renewal every AuthLease/4 still runs).
		cfg.AuthLease = 3 * time.Second
	})
	const l, y, x = 0, 1, 2 // old leader n1, new leader n2, the follower n3
	arrangeLeader(t, nodes, cfgs, l, true)
	c := loginRetry(t, nodes[l])
	alice := createUser(t, c, nodes[l], "alice", "Writer")
	var k1 credJSON
	if code := adminRetry(t, c, "POST", "/api/admin/users/"+alice.ID+"/credentials", nil, &k1); code != 201 {
		t.Fatalf("issue: %d", code)
	}
	setup := nodeS3Env(t, nodes[l]).sdk(k1.AccessKey, k1.SecretKey)
	mkBucket(t, setup, "turn")
	if err := s3Put(setup, "turn", "obj", []byte("x")); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, nodes[l], nodes...)
	onX := quickS3(t, nodes[x], k1.AccessKey, k1.SecretKey)
	wantGet(t, "n3 before", onX, "turn", "obj", []byte("x"))

	// n3 can no longer reach n2 by itself (its questions for a grant go
	// nowhere), but n2 reaches n3: raft's appends and n2's status
	// questions, which n3 answers in the new term.
	lnet.links[x][y].set(linkHold)
	if err := nodes[l].raft.LeadershipTransferToServer(raft.ServerID(nodes[y].ID()), raft.ServerAddress(cfgs[y].Advertise)).Error(); err != nil {
		t.Fatalf("leadership transfer: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); !(nodes[y].IsLeader() && nodes[y].serving()); {
		if time.Now().After(deadline) {
			t.Fatal("n2 does not lead and serve")
		}
		time.Sleep(2 * time.Millisecond)
	}
	// From now on n3 hears nothing from n2 either: not the revoke, not the
	// barrier's questions.
	lnet.links[y][x].set(linkHold)

	cy := newClient(t, nodes[y])
	cy.token = c.token
	if code := cy.do("DELETE", "/api/admin/users/"+alice.ID+"/credentials", nil, nil); code != 204 {
		t.Fatalf("revoke through n2: %d", code)
	}
	ackAt := time.Now()
	t.Logf("revoke acknowledged; confirmed by %q, lease expired %q", cy.last.Get("X-S4-Confirmed-By"), cy.last.Get("X-S4-Lease-Expired"))

	// A GET through n3 now: n3 may not decide on its state, which lacks the
	// revoke. (Before the fix it authenticated the key under the old grant,
	// then waited for a read index from n2, and once the network let that
	// through it served the object.)
	got := make(chan error, 1)
	go func() {
		_, _, _, err := s3Get(onX, "turn", "obj")
		got <- err
	}()
	time.Sleep(100 * time.Millisecond) // the GET is past its authentication, if it passes
	lnet.setAll(linkUp)
	if err := <-got; err == nil {
		t.Errorf("n3 served a GET with the key revoked before it arrived")
	} else {
		t.Logf("GET through n3 right after the ack: %v", err)
	}

	var accepted int
	for time.Since(ackAt) < 1500*time.Millisecond {
		if _, _, _, err := s3Get(onX, "turn", "obj"); err == nil {
			accepted++
		}
		time.Sleep(10 * time.Millisecond)
	}
	if accepted > 0 {
		t.Errorf("n3 accepted the revoked key %d times in the 1.5 s after the revoke was acknowledged", accepted)
	}
}
