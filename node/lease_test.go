package node

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/raft"

	"github.com/s4/s4/lease"
)

// jumpClock is the system lease clock plus an offset a test moves forward:
// a process that was stopped sees its clock jump when it runs again.
type jumpClock struct {
	base lease.Clock
	off  atomic.Int64
}

func (c *jumpClock) Now() lease.Time      { return c.base.Now() + lease.Time(c.off.Load()) }
func (c *jumpClock) jump(d time.Duration) { c.off.Add(int64(d)) }
func newJumpClock() *jumpClock            { return &jumpClock{base: lease.System()} }

// TestClusterLeaderFrozenPastLease: a leader that was stopped for longer
// than its lease (its clock moved 3 s, nobody answered it meanwhile)
// refuses S3, the admin API and readiness the moment it runs again, while
// Raft still has it leading; once a majority answers it again it serves.
// (Before the leader lease, a leader served as long as Raft said it led:
// the fault suite saw it answer a deactivated user's requests after
// SIGCONT.)
func TestClusterLeaderFrozenPastLease(t *testing.T) {
	clocks := []*jumpClock{newJumpClock(), newJumpClock(), newJumpClock()}
	nodes, _, lnet := startFaultClusterWith(t, func(i int, cfg *Config) {
		cfg.LeaseClock = clocks[i]
		// Raft's own leader lease must not step the leader down during the
		// check: only S4's lease is under test.
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 3*time.Second, 3*time.Second, 2*time.Second
		cfg.AuthLease = 2 * time.Second
	})
	leader := waitLeader(t, nodes)
	k := 0
	for i, n := range nodes {
		if n == leader {
			k = i
		}
	}
	root := loginRetry(t, leader)
	alice := createUser(t, root, leader, "alice", "Writer")
	cred := addKey(t, root, alice.ID)
	cl := quickS3(t, leader, cred.AccessKey, cred.SecretKey)
	headBuckets := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := cl.ListBuckets(ctx, &s3.ListBucketsInput{})
		return err
	}
	if err := headBuckets(); err != nil {
		t.Fatalf("before the pause: %v", err)
	}

	// Stopped: nothing reaches it or leaves it, and its clock moves on.
	lnet.isolate(k, linkHold)
	clocks[k].jump(3 * time.Second)
	start := time.Now()
	err := leader.ServeS3()
	if leader.raft.State() != raft.Leader {
		t.Fatalf("raft stepped the leader down within %v: the test checks nothing", time.Since(start))
	}
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("a leader frozen past its lease: ServeS3 = %v, want ErrFenced", err)
	}
	var apiErr interface{ HTTPStatusCode() int }
	if err := headBuckets(); !errors.As(err, &apiErr) || apiErr.HTTPStatusCode() != http.StatusServiceUnavailable {
		t.Fatalf("S3 on the frozen leader: %v, want 503", err)
	}
	if code, body := newClient(t, leader).doRaw("GET", "/health/ready", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("readiness of the frozen leader: %d %s", code, body)
	}
	if leader.raft.State() != raft.Leader {
		t.Fatalf("raft stepped the leader down within %v: the test checks nothing", time.Since(start))
	}
	t.Logf("refused within %v of the wake-up, still raft leader", time.Since(start))
	// The admin API waits up to a lease for contact before it refuses
	// (Raft may step the leader down meanwhile: refused either way).
	if code := root.do("GET", "/api/admin/users", nil, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("admin on the frozen leader: %d, want 503", code)
	}

	// Contact again: a majority answers, it serves (as leader, or another
	// node leads and it follows).
	lnet.isolate(k, linkUp)
	deadline := time.Now().Add(20 * time.Second)
	for headBuckets() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the leader does not serve again once healed: %v", leader.ServeS3())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
