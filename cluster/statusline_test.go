package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// statusLocal is a fakeNode that also reports Serving and AuthIndex.
type statusLocal struct {
	*fakeNode
	serving atomic.Bool
	auth    atomic.Uint64
	asker   atomic.Pointer[string] // who asked last
}

func (l *statusLocal) LocalStatus(asker string) Status {
	l.asker.Store(&asker)
	return Status{ID: l.ID(), IsLeader: l.IsLeader(), Serving: l.serving.Load(), Applied: l.AppliedIndex(), AuthIndex: l.auth.Load(),
		Term: 9, LeaseLeft: 800 * time.Millisecond, OlderAnswerAge: 2 * time.Second}
}

// statusLineServer serves the status line of a fake leader "n1" on a
// loopback listener and returns the node and the listener's address.
func statusLineServer(t *testing.T) (*statusLocal, *Server, string) {
	t.Helper()
	c := &fakeCluster{names: map[string]bool{}, nodes: map[string]*fakeNode{}}
	rpcLn, statusLn := mustListen(t), mustListen(t)
	fn := &fakeNode{c: c, id: "n1", addr: rpcLn.Addr().String(), view: "n1", advance: make(chan struct{})}
	c.nodes[fn.id] = fn
	local := &statusLocal{fakeNode: fn}
	srv := NewServer(rpcLn, local, nil, WithStatusLine(statusLn), WithStatusReporter(local))
	t.Cleanup(func() { srv.Close() })
	return local, srv, statusLn.Addr().String()
}

func countingDial(dials *atomic.Int64) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

// TestStatusLine: the answers carry the node's current status, the same as
// GET /v1/status for the fields the line carries, over one connection.
func TestStatusLine(t *testing.T) {
	local, _, addr := statusLineServer(t)
	var dials atomic.Int64
	line := NewStatusLine(countingDial(&dials), "n2")
	defer line.Close()
	ctx := testCtx(t, 5*time.Second)

	for i := range 20 {
		local.setApplied(uint64(100 + i))
		local.auth.Store(uint64(50 + i))
		local.serving.Store(i%2 == 0)
		if i == 10 {
			local.setView("n2") // n1 no longer leads
		}
		st, err := line.Status(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		want := local.LocalStatus("n2")
		if st.ID != "n1" || st.IsLeader != want.IsLeader || st.Serving != want.Serving || st.Applied != want.Applied || st.AuthIndex != want.AuthIndex ||
			st.Term != want.Term || st.LeaseLeft != want.LeaseLeft || st.OlderAnswerAge != want.OlderAnswerAge {
			t.Fatalf("question %d: status line %+v, the node's status %+v", i, st, want)
		}
		if a := local.asker.Load(); a == nil || *a != "n2" {
			t.Fatalf("question %d: the node saw the asker %v, want n2", i, a)
		}
		if st.IsLeader != (i < 10) {
			t.Fatalf("question %d: is_leader %v", i, st.IsLeader)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d dials for 20 questions, want 1", n)
	}
}

// TestStatusLineV1: the question of earlier releases ('S', no asker) is
// still answered, in its layout (no term, lease or age), on the same
// connection as the new one.
func TestStatusLineV1(t *testing.T) {
	local, _, addr := statusLineServer(t)
	local.setApplied(77)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte{statusQuestionV1}); err != nil {
		t.Fatal(err)
	}
	old := make([]byte, 1+8+8+1+2)
	if _, err := io.ReadFull(c, old); err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint64(old[1:9]); got != 77 || old[17] != 2 || string(old[18:]) != "n1" {
		t.Fatalf("v1 answer %x", old)
	}
	if a := local.asker.Load(); a == nil || *a != "" {
		t.Fatalf("a v1 question names the asker %v", a)
	}
	if _, err := c.Write([]byte{statusQuestion, 2, 'n', '3'}); err != nil {
		t.Fatal(err)
	}
	st, err := readStatusAnswer(c)
	if err != nil || st.Applied != 77 || st.Term != 9 || *local.asker.Load() != "n3" {
		t.Fatalf("new question after a v1 one: %+v, %v", st, err)
	}
}

// TestStatusLineFailures: a client that sends anything but a question is
// disconnected; a question on a connection the server closed is asked again
// on a new one; a closed Server ends its connections and refuses new ones;
// a closed StatusLine refuses questions.
func TestStatusLineFailures(t *testing.T) {
	_, srv, addr := statusLineServer(t)

	// A client speaking garbage is disconnected; the server goes on.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	if n, err := c.Read(make([]byte, 64)); err == nil {
		t.Fatalf("read %d bytes after a bad question, want the connection closed", n)
	}
	c.Close()

	var dials atomic.Int64
	line := NewStatusLine(countingDial(&dials), "n2")
	ctx := testCtx(t, 5*time.Second)
	if _, err := line.Status(ctx, addr); err != nil {
		t.Fatal(err)
	}
	// The server drops the line's connection (it idled out, say): the
	// next question fails on it and is asked again on a new connection.
	srv.mu.Lock()
	for c := range srv.statusConns {
		c.Close()
	}
	srv.mu.Unlock()
	if _, err := line.Status(ctx, addr); err != nil {
		t.Fatalf("question after the server dropped the connection: %v", err)
	}
	if n := dials.Load(); n != 2 {
		t.Fatalf("%d dials, want 2", n)
	}

	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Server.Close did not return with a status-line connection open")
	}
	if _, err := line.Status(ctx, addr); err == nil {
		t.Fatal("a question to a closed server was answered")
	}
	fresh := NewStatusLine(countingDial(new(atomic.Int64)), "n2")
	if _, err := fresh.Status(ctx, addr); err == nil {
		t.Fatal("a closed server answered on a new connection")
	}
	fresh.Close()
	line.Close()
	if _, err := line.Status(ctx, addr); !errors.Is(err, errStatusLineClosed) {
		t.Fatalf("question on a closed StatusLine: %v", err)
	}
}

// TestStatusLineTimeout: a node that never answers fails the question when
// the context ends.
func TestStatusLineTimeout(t *testing.T) {
	ln := mustListen(t)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent
		}
	}()
	line := NewStatusLine(countingDial(new(atomic.Int64)), "n2")
	defer line.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := line.Status(ctx, ln.Addr().String()); err == nil {
		t.Fatal("a silent node answered")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("the question took %v with a 200ms context", took)
	}
}

// FuzzStatusAnswer: any bytes decode to a status or an error, never a
// panic, and an encoded status decodes to itself.
func FuzzStatusAnswer(f *testing.F) {
	enc, _ := appendStatusAnswer(nil, Status{ID: "n1", IsLeader: true, Serving: true, Applied: 42, AuthIndex: 7, Term: 3, LeaseLeft: 750 * time.Millisecond, OlderAnswerAge: time.Hour}, false)
	f.Add(enc)
	f.Add([]byte{})
	f.Add([]byte{0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 'a'})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := readStatusAnswer(bytes.NewReader(b))
		if err != nil {
			return
		}
		again, err := appendStatusAnswer(nil, st, false)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", st, err)
		}
		if !bytes.HasPrefix(b, again) {
			t.Fatalf("%x decodes to %+v, which encodes to %x", b, st, again)
		}
	})
}

// BenchmarkStatusQuestion compares one status question through the
// internal RPC (GET /v1/status) and through the status line, both over
// loopback TCP (no TLS); the node asks one per lease renewal and per batch
// of follower requests.
func BenchmarkStatusQuestion(b *testing.B) {
	c := &fakeCluster{names: map[string]bool{}, nodes: map[string]*fakeNode{}}
	rpcLn, statusLn := mustListen(b), mustListen(b)
	fn := &fakeNode{c: c, id: "n1", addr: rpcLn.Addr().String(), view: "n1", advance: make(chan struct{})}
	srv := NewServer(rpcLn, fn, nil, WithStatusLine(statusLn))
	b.Cleanup(func() { srv.Close() })
	ctx := testCtx(b, time.Minute)
	b.Run("rpc", func(b *testing.B) {
		client, _ := tcpClient(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Status(ctx, fn.addr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("line", func(b *testing.B) {
		line := NewStatusLine(countingDial(new(atomic.Int64)), "n2")
		defer line.Close()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := line.Status(ctx, statusLn.Addr().String()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
