package node

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestClusterReadAfterWriteAnyNode: what one node acknowledged, every other
// node shows to the very next request, as S3 promises (strong
// read-after-write): a bucket created through one node takes a PUT through
// another at once; an object written through one node is read, listed and
// overwritten through the others; a delete through one node is a 404 on
// the others. Each write goes through a different node in turn, and the
// reads follow it without any wait.
func TestClusterReadAfterWriteAnyNode(t *testing.T) {
	nodes, _, c, alice := clusterWithAlice(t)
	cred := addKey(t, c, alice.ID)
	clients := make([]*s3.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = nodeS3Env(t, n).sdk(cred.AccessKey, cred.SecretKey)
	}
	const rounds = 60
	stale := 0
	for i := range rounds {
		w := i % len(nodes)
		bucket := fmt.Sprintf("raw-%d", i)
		key := "obj"
		// A bucket through one node, the object through the next.
		if _, err := clients[w].CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatalf("round %d: create bucket through n%d: %v", i, w+1, err)
		}
		p := (w + 1) % len(nodes)
		body := []byte(fmt.Sprintf("version 1 of round %d", i))
		if _, err := clients[p].PutObject(bg, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Errorf("round %d: PUT through n%d right after the bucket was created through n%d: %v", i, p+1, w+1, err)
			stale++
			continue
		}
		for r := range nodes {
			if r == p {
				continue
			}
			res, err := clients[r].GetObject(bg, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				t.Errorf("round %d: GET through n%d right after the PUT through n%d: %v", i, r+1, p+1, err)
				stale++
				continue
			}
			if got := readAll(t, res.Body); !bytes.Equal(got, body) {
				t.Errorf("round %d: n%d read %q, want %q", i, r+1, got, body)
				stale++
			}
		}
		// An overwrite through a third node, read back through the others.
		o := (w + 2) % len(nodes)
		body2 := []byte(fmt.Sprintf("version 2 of round %d", i))
		if _, err := clients[o].PutObject(bg, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body2)}); err != nil {
			t.Fatalf("round %d: overwrite through n%d: %v", i, o+1, err)
		}
		for r := range nodes {
			if r == o {
				continue
			}
			out, err := clients[r].ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
			if err != nil || len(out.Contents) != 1 || aws.ToInt64(out.Contents[0].Size) != int64(len(body2)) {
				t.Errorf("round %d: n%d lists the overwritten object wrong after the PUT through n%d: %v", i, r+1, o+1, err)
				stale++
			}
		}
		// A delete through one node, then a 404 everywhere.
		if _, err := clients[w].DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
			t.Fatalf("round %d: delete through n%d: %v", i, w+1, err)
		}
		for r := range nodes {
			_, err := clients[r].HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if _, status := apiCode(err); status != 404 {
				t.Errorf("round %d: HEAD through n%d after the delete through n%d: %v, want 404", i, r+1, w+1, err)
				stale++
			}
		}
		if stale > 10 {
			t.Fatalf("%d stale answers by round %d", stale, i)
		}
	}
}

// TestClusterAdminReadAfterWriteAnyNode: a user created through one node is
// shown by the next node asked and can log in through the third at once; a
// password changed through one node works through another at once.
func TestClusterAdminReadAfterWriteAnyNode(t *testing.T) {
	nodes := startCluster(t)
	roots := make([]*client, len(nodes))
	for i, n := range nodes {
		roots[i] = loginRetry(t, n)
	}
	for i := range 6 {
		w, r, l := i%3, (i+1)%3, (i+2)%3
		name, pw := fmt.Sprintf("user%d", i), fmt.Sprintf("password-%d", i)
		var u userJSON
		if code := roots[w].do("POST", "/api/admin/users", map[string]string{"username": name, "password": pw, "role": "SuperUser"}, &u); code != 201 {
			t.Fatalf("create %s through n%d: %d", name, w+1, code)
		}
		var got userJSON
		if code := roots[r].do("GET", "/api/admin/users/"+u.ID, nil, &got); code != 200 || got.Username != name {
			t.Errorf("GET %s through n%d right after its creation through n%d: %d %+v", name, r+1, w+1, code, got)
		}
		c := newClient(t, nodes[l])
		var tok struct{ Token string }
		if code := c.do("POST", "/api/admin/login", map[string]string{"username": name, "password": pw}, &tok); code != 200 {
			t.Errorf("login as %s through n%d right after its creation through n%d: %d", name, l+1, w+1, code)
		}
		pw2 := pw + "-changed"
		if code := roots[w].do("PUT", "/api/admin/users/"+u.ID, map[string]string{"password": pw2}, nil); code != 200 {
			t.Fatalf("change the password of %s through n%d: %d", name, w+1, code)
		}
		if code := c.do("POST", "/api/admin/login", map[string]string{"username": name, "password": pw}, nil); code != 401 {
			t.Errorf("the old password of %s through n%d right after the change through n%d: %d, want 401", name, l+1, w+1, code)
		}
		if code := c.do("POST", "/api/admin/login", map[string]string{"username": name, "password": pw2}, nil); code != 200 {
			t.Errorf("the new password of %s through n%d right after the change through n%d: %d, want 200", name, l+1, w+1, code)
		}
	}
}

// TestClusterReadAfterLeaderChange: a new leader answers from its own state
// only once it applied an entry of its own term (Raft §8): an object written
// right before a leadership transfer is read through the new leader at
// once.
func TestClusterReadAfterLeaderChange(t *testing.T) {
	nodes, _, c, alice := clusterWithAlice(t)
	cred := addKey(t, c, alice.ID)
	clients := make(map[*Node]*s3.Client, len(nodes))
	for _, n := range nodes {
		clients[n] = nodeS3Env(t, n).sdk(cred.AccessKey, cred.SecretKey)
	}
	leader := waitLeader(t, nodes)
	if _, err := clients[leader].CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("transfer")}); err != nil {
		t.Fatal(err)
	}
	stale := 0
	for i := range 8 {
		key := fmt.Sprintf("k%d", i)
		body := []byte("written right before a leadership transfer " + key)
		if _, err := clients[leader].PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("transfer"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		if err := leader.raft.LeadershipTransfer().Error(); err != nil {
			t.Fatalf("transfer %d: %v", i, err)
		}
		next := waitLeader(t, nodes)
		res, err := clients[next].GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("transfer"), Key: aws.String(key)})
		if err != nil {
			t.Errorf("transfer %d: GET %s through the new leader %s: %v", i, key, next.ID(), err)
			stale++
		} else if got := readAll(t, res.Body); !bytes.Equal(got, body) {
			t.Errorf("transfer %d: the new leader read %q", i, got)
			stale++
		}
		leader = next
	}
	if stale > 0 {
		t.Fatalf("%d of 8 reads through a new leader missed the write acknowledged before the transfer", stale)
	}
}
