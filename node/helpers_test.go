package node

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Helpers the node tests share: the admin API's user and key setup, a
// follower to stop, and a log recorder.

// addUser creates a user through c and fails the test unless that answers
// 201.
func addUser(t *testing.T, c *client, name, password, role string) userJSON {
	t.Helper()
	var u userJSON
	if code := c.do("POST", "/api/admin/users", map[string]string{"username": name, "password": password, "role": role}, &u); code != 201 {
		t.Fatalf("create user %s: %d", name, code)
	}
	return u
}

// addKey issues a key pair to the user id through c (replacing the one it
// had) and fails the test unless that answers 201.
func addKey(t *testing.T, c *client, id string) credJSON {
	t.Helper()
	var cred credJSON
	if code := c.do("POST", "/api/admin/users/"+id+"/credentials", nil, &cred); code != 201 {
		t.Fatalf("issue a key to %s: %d", id, code)
	}
	return cred
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
