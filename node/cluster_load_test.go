package node

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestClusterRevocationUnderLoad is the promise itself: clients hammer all
// three nodes with one key while it is revoked through a follower; no
// request that starts after the admin API acknowledged the revoke succeeds
// on any node. Repeated for a deactivation and a regeneration.
func TestClusterRevocationUnderLoad(t *testing.T) {
	nodes, _, c, u := clusterWithAlice(t)
	issue := func() credJSON {
		cred := addKey(t, c, u.ID)
		return cred
	}
	cases := []struct {
		name   string
		revoke func() // the admin call; returns once acknowledged
		after  func(credJSON)
	}{
		{"revoke", func() {
			if code := c.do("DELETE", "/api/admin/users/"+u.ID+"/credentials", nil, nil); code != 204 {
				t.Fatalf("revoke: %d", code)
			}
		}, nil},
		{"deactivate", func() {
			if code := c.do("PUT", "/api/admin/users/"+u.ID, map[string]any{"is_active": false}, nil); code != 200 {
				t.Fatalf("deactivate: %d", code)
			}
		}, func(credJSON) {
			if code := c.do("PUT", "/api/admin/users/"+u.ID, map[string]any{"is_active": true}, nil); code != 200 {
				t.Fatalf("reactivate: %d", code)
			}
		}},
		{"regenerate", func() { issue() }, nil},
	}
	first := true
	for _, tc := range cases {
		cred := issue()
		clients := make([]*s3.Client, len(nodes))
		for i, n := range nodes {
			e := nodeS3Env(t, n)
			clients[i] = e.sdk(cred.AccessKey, cred.SecretKey, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		}
		if first {
			mkBucket(t, clients[0], "hot")
			first = false
		}
		var ackNanos atomic.Int64 // when the admin call returned; 0 before
		var before, lateSuccess, after atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 6; w++ {
			cl := clients[w%len(clients)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					started := time.Now().UnixNano()
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := cl.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("hot")})
					cancel()
					ack := ackNanos.Load()
					switch {
					case err == nil && ack != 0 && started > ack:
						lateSuccess.Add(1)
					case err == nil:
						before.Add(1)
					case ack != 0 && started > ack:
						after.Add(1)
					}
				}
			}()
		}
		// Let the load run, revoke, keep it running for a while after.
		deadline := time.Now().Add(10 * time.Second)
		for before.Load() < 30 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		tc.revoke()
		ackNanos.Store(time.Now().UnixNano())
		for after.Load() < 60 && time.Now().Before(deadline.Add(5*time.Second)) {
			time.Sleep(5 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		t.Logf("%s: %d successes before the acknowledgement, %d refusals after it", tc.name, before.Load(), after.Load())
		if before.Load() == 0 || after.Load() == 0 {
			t.Fatalf("%s: the load did not run on both sides of the acknowledgement", tc.name)
		}
		if n := lateSuccess.Load(); n != 0 {
			t.Fatalf("%s: %d requests that started after the acknowledgement succeeded", tc.name, n)
		}
		if tc.after != nil {
			tc.after(cred)
		}
	}
}
