package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Helpers the node tests share: the admin API's user and key setup, a
// follower to stop, and a log recorder.

// addUser creates a user through c and fails the test unless that answers
// 201, retrying a 503 as a client does (doRetry). A 409 after a 503 means
// an earlier try was committed (its answer lost), so it looks the user up.
func addUser(t *testing.T, c *client, name, password, role string) userJSON {
	t.Helper()
	code, b, retried := c.doRetry("POST", "/api/admin/users", map[string]string{"username": name, "password": password, "role": role})
	var u userJSON
	switch {
	case code == 201:
		if err := json.Unmarshal(b, &u); err != nil {
			t.Fatal(err)
		}
		return u
	case code == 409 && retried:
		var users []userJSON
		if code := c.do("GET", "/api/admin/users", nil, &users); code == 200 {
			for _, u := range users {
				if u.Username == name {
					return u
				}
			}
		}
		t.Fatalf("create user %s: 409 after a 503, and no such user", name)
	}
	t.Fatalf("create user %s: %d %s", name, code, b)
	return u
}

// addKey issues a key pair to the user id through c (replacing the one it
// had) and fails the test unless that answers 201, retrying a 503 (a new
// pair replaces the old, so a retry after a lost answer is harmless).
func addKey(t *testing.T, c *client, id string) credJSON {
	t.Helper()
	var cred credJSON
	code, b, _ := c.doRetry("POST", "/api/admin/users/"+id+"/credentials", nil)
	if code != 201 {
		t.Fatalf("issue a key to %s: %d %s", id, code, b)
	}
	if err := json.Unmarshal(b, &cred); err != nil {
		t.Fatal(err)
	}
	return cred
}

// doRetry is doRaw retried while it answers 503, for up to 15 s, as a
// client retries: the tests' Raft timeouts are 100 ms (testConfig), so on a
// loaded machine a leader change can come at any time, and a proposal it
// interrupts answers 503. retried: at least one try answered 503.
func (c *client) doRetry(method, path string, body any) (code int, b []byte, retried bool) {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, b = c.doRaw(method, path, body)
		if code != 503 || time.Now().After(deadline) {
			return code, b, retried
		}
		retried = true
		time.Sleep(50 * time.Millisecond)
	}
}

// followerIndex returns the index in nodes of the first node that is not
// leader.
func followerIndex(t *testing.T, nodes []*Node, leader *Node) int {
	t.Helper()
	for i, n := range nodes {
		if n != leader {
			return i
		}
	}
	t.Fatal("no follower")
	return -1
}

// logRecorder is a slog.Handler that keeps every record's message and
// attributes as one line of text.
type logRecorder struct {
	mu    *sync.Mutex
	lines *[]string
	attrs []slog.Attr
}

func newLogRecorder() *logRecorder { return &logRecorder{mu: new(sync.Mutex), lines: new([]string)} }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	*h.lines = append(*h.lines, b.String())
	h.mu.Unlock()
	return nil
}

func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

func (h *logRecorder) find(prefix string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, l := range *h.lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// reopen opens the node of cfg again (it was closed), closes it when the
// test ends and waits up to wait for it to be ready.
func reopen(t *testing.T, cfg Config, wait time.Duration) *Node {
	t.Helper()
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

// reopenAll opens the nodes of cfgs again at once (a full restart: each
// needs the others to elect a leader) and closes them when the test ends;
// it does not wait for them to be ready.
func reopenAll(t *testing.T, cfgs []Config) []*Node {
	t.Helper()
	nodes := make([]*Node, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i := range cfgs {
		wg.Add(1)
		go func() { defer wg.Done(); nodes[i], errs[i] = Open(cfgs[i]) }()
	}
	wg.Wait()
	for i, n := range nodes {
		if errs[i] != nil {
			t.Fatalf("reopen n%d: %v", i+1, errs[i])
		}
		t.Cleanup(func() { n.Close() })
	}
	return nodes
}

// writerClients makes a Writer user with a key pair (through any node) and
// returns an aws-sdk-go-v2 client with that key for each of nodes.
func writerClients(t *testing.T, nodes []*Node) []*s3.Client {
	t.Helper()
	admin := loginRetry(t, nodes[0])
	u := addUser(t, admin, "writer", "writer-password", "Writer")
	cred := addKey(t, admin, u.ID)
	clients := make([]*s3.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = nodeS3Env(t, n).sdk(cred.AccessKey, cred.SecretKey)
	}
	return clients
}
