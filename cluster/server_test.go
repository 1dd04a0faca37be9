package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/transport"
)

func TestClientForwardToLeader(t *testing.T) {
	_, nodes := newFakeCluster(t, 2, "n1", 0)
	client, dials := tcpClient(t)
	ctx := testCtx(t, 5*time.Second)

	idx, resp, err := client.Forward(ctx, nodes[0].addr, mustEncode(t, fsm.MsgUserCreate, userCreate("alice")))
	if err != nil || resp != nil || idx != 1 {
		t.Fatalf("Forward = %d, %v, %v; want 1, nil, nil", idx, resp, err)
	}
	// The FSM's verdict comes back as the very same sentinel.
	idx, resp, err = client.Forward(ctx, nodes[0].addr, mustEncode(t, fsm.MsgUserCreate, userCreate("alice")))
	if err != nil || idx != 2 || resp != fsm.ErrUsernameTaken {
		t.Fatalf("Forward = %d, %#v, %v; want 2, fsm.ErrUsernameTaken, nil", idx, resp, err)
	}
	// A wrapped domain error keeps its message and its sentinel.
	_, resp, err = client.Forward(ctx, nodes[0].addr, mustEncode(t, fsm.MsgUserDelete, &fsm.UserDelete{ID: "u9"}))
	rerr, _ := resp.(error)
	if err != nil || !errors.Is(rerr, fsm.ErrNoSuchUser) || rerr.Error() != "no such user: id u9" {
		t.Fatalf("Forward = %v, %v; want a wrapped fsm.ErrNoSuchUser", resp, err)
	}
	// The connection is kept alive and reused.
	for range 10 {
		if _, _, err := client.Forward(ctx, nodes[0].addr, mustEncode(t, fsm.MsgUserCreate, userCreate("bob"))); err != nil {
			t.Fatal(err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials for 13 sequential calls, want 1", n)
	}
}

func TestClientForwardToFollower(t *testing.T) {
	_, nodes := newFakeCluster(t, 2, "n1", 0)
	client, _ := tcpClient(t)
	_, _, err := client.Forward(testCtx(t, 5*time.Second), nodes[1].addr, mustEncode(t, fsm.MsgUserCreate, userCreate("alice")))
	var nl *notLeaderError
	if !errors.Is(err, ErrNotLeader) || !errors.As(err, &nl) {
		t.Fatalf("err = %v, want ErrNotLeader", err)
	}
	if nl.leaderID != "n1" || nl.leaderAddr != nodes[0].addr {
		t.Errorf("leader hint = %q %q, want n1 %s", nl.leaderID, nl.leaderAddr, nodes[0].addr)
	}
	if n := nodes[1].applies.Load(); n != 0 {
		t.Errorf("the follower applied %d times", n)
	}
}

func TestClientStatus(t *testing.T) {
	_, nodes := newFakeCluster(t, 2, "n1", 0)
	client, _ := tcpClient(t)
	nodes[1].setApplied(7)
	st, err := client.Status(testCtx(t, 5*time.Second), nodes[1].addr)
	if err != nil {
		t.Fatal(err)
	}
	want := Status{ID: "n2", LeaderID: "n1", LeaderAddr: nodes[0].addr, IsLeader: false, Applied: 7}
	if st != want {
		t.Errorf("Status = %+v, want %+v", st, want)
	}
}

func TestClientDialFailure(t *testing.T) {
	ln := mustListen(t)
	addr := ln.Addr().String()
	ln.Close()
	client, _ := tcpClient(t)
	_, _, err := client.Forward(testCtx(t, 5*time.Second), addr, mustEncode(t, fsm.MsgUserCreate, userCreate("a")))
	var de *dialError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a dialError", err)
	}
}

func TestWaitAppliedLongPoll(t *testing.T) {
	_, nodes := newFakeCluster(t, 2, "n1", -1)
	client, _ := tcpClient(t)
	f := nodes[1]
	f.setApplied(3)

	// Already there: answers at once.
	start := time.Now()
	got, err := client.WaitApplied(testCtx(t, 5*time.Second), f.addr, 3, 5*time.Second)
	if err != nil || got != 3 || time.Since(start) > time.Second {
		t.Fatalf("WaitApplied(3) = %d, %v after %v", got, err, time.Since(start))
	}

	// Reached while waiting: answers as soon as it is reached.
	const lag = 100 * time.Millisecond
	start = time.Now()
	time.AfterFunc(lag, func() { f.setApplied(5) })
	got, err = client.WaitApplied(testCtx(t, 10*time.Second), f.addr, 5, 5*time.Second)
	el := time.Since(start)
	if err != nil || got != 5 {
		t.Fatalf("WaitApplied(5) = %d, %v", got, err)
	}
	if el < lag || el > 2*time.Second {
		t.Errorf("WaitApplied(5) returned after %v; the index was reached after %v", el, lag)
	}

	// Never reached: ErrWaitTimeout after the wait, with the applied index.
	const wait = 150 * time.Millisecond
	start = time.Now()
	got, err = client.WaitApplied(testCtx(t, 10*time.Second), f.addr, 9, wait)
	el = time.Since(start)
	if !errors.Is(err, ErrWaitTimeout) || got != 5 {
		t.Fatalf("WaitApplied(9) = %d, %v; want 5, ErrWaitTimeout", got, err)
	}
	if el < wait || el > 2*time.Second {
		t.Errorf("WaitApplied(9, %v) returned after %v", wait, el)
	}

	// A context shorter than the wait: the server is told to answer in time,
	// so the caller learns the applied index instead of a transport error.
	start = time.Now()
	got, err = client.WaitApplied(testCtx(t, 200*time.Millisecond), f.addr, 9, time.Minute)
	el = time.Since(start)
	if !errors.Is(err, ErrWaitTimeout) || got != 5 {
		t.Fatalf("WaitApplied with a short context = %d, %v; want 5, ErrWaitTimeout", got, err)
	}
	if el > 2*time.Second {
		t.Errorf("took %v", el)
	}
}

// postRaw sends a raw request to a server and returns the status and the
// decoded error document.
func postRaw(t *testing.T, method, url string, body io.Reader) (int, errorResponse) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t, 5*time.Second), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var er errorResponse
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		if err := json.Unmarshal(data, &er); err != nil {
			t.Errorf("%s %s: status %d with a body that is not JSON: %q", method, url, res.StatusCode, data)
		}
	}
	return res.StatusCode, er
}

func TestServerRefusesBadRequests(t *testing.T) {
	_, nodes := newFakeCluster(t, 1, "n1", 0)
	base := "http://" + nodes[0].addr
	good := mustEncode(t, fsm.MsgUserCreate, userCreate("alice"))
	for _, tc := range []struct {
		name, method, path string
		body               io.Reader
		status             int
	}{
		{"empty body", "POST", pathForward, nil, 400},
		{"one byte", "POST", pathForward, strings.NewReader("\x01"), 400},
		{"unknown type", "POST", pathForward, bytes.NewReader([]byte{99, 1, 0x80}), 400},
		{"garbage", "POST", pathForward, strings.NewReader("\x01\x01 this is not msgpack"), 400},
		{"json", "POST", pathForward, strings.NewReader(`{"Username":"x"}`), 400},
		{"oversized", "POST", pathForward, bytes.NewReader(make([]byte, MaxForwardBody+1)), 413},
		{"oversized chunked", "POST", pathForward, io.MultiReader(bytes.NewReader(good), io.LimitReader(zeros{}, MaxForwardBody)), 413},
		{"GET forward", "GET", pathForward, nil, 405},
		{"POST applied", "POST", pathApplied + "?min=1", nil, 405},
		{"no min", "GET", pathApplied, nil, 400},
		{"bad min", "GET", pathApplied + "?min=-1", nil, 400},
		{"bad wait", "GET", pathApplied + "?min=1&wait=soon", nil, 400},
		{"negative wait", "GET", pathApplied + "?min=1&wait=-1s", nil, 400},
		{"POST status", "POST", pathStatus, nil, 405},
		{"unknown path", "GET", "/v2/whatever", nil, 404},
	} {
		status, er := postRaw(t, tc.method, base+tc.path, tc.body)
		if status != tc.status {
			t.Errorf("%s: status %d, want %d (%+v)", tc.name, status, tc.status, er)
		}
		if tc.path == pathForward && tc.status != 405 && decodeError(er.Error) != nil && !errors.Is(decodeError(er.Error), ErrInvalidCommand) {
			t.Errorf("%s: error %+v, want ErrInvalidCommand", tc.name, er.Error)
		}
	}
	if n := nodes[0].applies.Load(); n != 0 {
		t.Errorf("%d bad requests reached Apply", n)
	}
	// Still serving.
	if status, _ := postRaw(t, "POST", base+pathForward, bytes.NewReader(good)); status != 200 {
		t.Errorf("good forwarded write after the bad ones: status %d", status)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// The client refuses an oversized command without sending it.
func TestClientRefusesOversized(t *testing.T) {
	client, dials := tcpClient(t)
	_, _, err := client.Forward(testCtx(t, time.Second), "127.0.0.1:1", make([]byte, MaxForwardBody+1))
	if !errors.Is(err, ErrInvalidCommand) || dials.Load() != 0 {
		t.Fatalf("err = %v after %d dials", err, dials.Load())
	}
}

// Close ends a long poll in flight and stops every goroutine of the server.
func TestServerCloseEndsLongPoll(t *testing.T) {
	before := runtime.NumGoroutine()
	node := &fakeNode{c: &fakeCluster{names: map[string]bool{}, nodes: map[string]*fakeNode{}}, id: "n1", view: "n1", advance: make(chan struct{})}
	ln := mustListen(t)
	srv := NewServer(ln, node, nil)
	client, _ := tcpClient(t)

	done := make(chan error, 1)
	go func() {
		_, err := client.WaitApplied(testCtx(t, 10*time.Second), ln.Addr().String(), 100, 20*time.Second)
		done <- err
	}()
	// Wait until the poll is parked in the server.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(goroutineDump(), "handleApplied") {
		if time.Now().After(deadline) {
			t.Fatal("the long poll never reached the server")
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Close took %v", el)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("the long poll succeeded after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the long poll did not end after Close")
	}
	client.Close()
	deadline = time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), goroutineDump())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Closing twice is harmless.
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// The RPC works over the real cluster port: a transport.Mux with mutual TLS
// derived from the cluster key, and a client without the key is refused.
func TestOverMuxTLS(t *testing.T) {
	ident, err := transport.NewIdentity(keyring.ClusterKey{1}.Derive().ClusterTLS)
	if err != nil {
		t.Fatal(err)
	}
	c := &fakeCluster{names: map[string]bool{}, nodes: map[string]*fakeNode{}, lag: 0}
	var nodes []*fakeNode
	for i := 1; i <= 2; i++ {
		mux := transport.NewMux(mustListen(t), ident)
		t.Cleanup(func() { mux.Close() })
		n := &fakeNode{c: c, id: fmt.Sprintf("n%d", i), addr: mux.Addr().String(), view: "n1", advance: make(chan struct{})}
		n.srv = NewServer(mux.Listener(transport.ServiceRPC), n, nil)
		t.Cleanup(func() { n.srv.Close() })
		c.nodes[n.id] = n
		nodes = append(nodes, n)
	}
	client := NewClient(MuxDialer(ident))
	t.Cleanup(client.Close)
	ctx := testCtx(t, 10*time.Second)

	st, err := client.Status(ctx, nodes[0].addr)
	if err != nil || st.ID != "n1" || !st.IsLeader {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	// A forwarded proposal from the follower, through the leader's Mux.
	p := mustProposer(t, nodes[1], client, ForwardConfig{})
	if err := p.Propose(ctx, fsm.MsgUserCreate, userCreate("alice")); err != nil {
		t.Fatal(err)
	}
	if err := p.Propose(ctx, fsm.MsgUserCreate, userCreate("alice")); err != fsm.ErrUsernameTaken {
		t.Fatalf("second create = %v, want fsm.ErrUsernameTaken", err)
	}
	if got, err := client.WaitApplied(ctx, nodes[1].addr, 2, time.Second); err != nil || got != 2 {
		t.Fatalf("WaitApplied = %d, %v", got, err)
	}

	// Another cluster's key cannot talk to it.
	other, err := transport.NewIdentity(keyring.ClusterKey{2}.Derive().ClusterTLS)
	if err != nil {
		t.Fatal(err)
	}
	stranger := NewClient(MuxDialer(other))
	t.Cleanup(stranger.Close)
	if _, err := stranger.Status(testCtx(t, 5*time.Second), nodes[0].addr); err == nil {
		t.Fatal("a client with another cluster key got an answer")
	}
	if n := nodes[0].applies.Load(); n != 2 {
		t.Errorf("leader applied %d times, want 2", n)
	}
}

// FuzzForwardHandler feeds arbitrary bodies to POST /v1/apply (a forwarded
// write): never a panic, and only well-formed events reach Apply.
func FuzzForwardHandler(f *testing.F) {
	for mt, body := range map[fsm.MessageType]any{fsm.MsgUserCreate: &fsm.UserCreate{}, fsm.MsgObjectPut: &fsm.ObjectPut{}, fsm.MsgUploadComplete: &fsm.UploadComplete{}} {
		b, err := fsm.Encode(mt, body)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	node := &fakeNode{c: &fakeCluster{names: map[string]bool{}, nodes: map[string]*fakeNode{}}, id: "n1", view: "n1", advance: make(chan struct{})}
	node.c.nodes["n1"] = node
	s := &Server{local: node, log: slog.New(slog.DiscardHandler)}
	s.base, s.cancel = context.WithCancel(context.Background())
	defer s.cancel()
	h := s.handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		before := node.applies.Load()
		req := httptest.NewRequestWithContext(context.Background(), "POST", pathForward, bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		applied := node.applies.Load() > before
		valid := fsm.CheckEvent(body) == nil
		if applied != valid {
			t.Fatalf("valid=%v but applied=%v (status %d)", valid, applied, rec.Code)
		}
		if valid && rec.Code != 200 {
			t.Fatalf("valid event: status %d %s", rec.Code, rec.Body)
		}
		if !valid && rec.Code/100 != 4 {
			t.Fatalf("invalid event: status %d", rec.Code)
		}
		var doc map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatalf("response is not JSON: %q", rec.Body)
		}
	})
}
