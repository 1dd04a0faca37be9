package transport

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func mustIdentity(t testing.TB, seed byte) *Identity {
	t.Helper()
	id, err := NewIdentity(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustListen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startLayer serves a new Layer on loopback with the given handshake timeout.
func startLayer(t testing.TB, id *Identity, timeout time.Duration) *Layer {
	t.Helper()
	l := newLayer(newMux(mustListen(t), id, timeout), nil, id)
	t.Cleanup(func() { l.Close() })
	return l
}

// acceptAll accepts from ln until it fails and delivers the connections. It
// closes ln at cleanup.
func acceptAll(t testing.TB, ln net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 16)
	go func() {
		defer close(ch)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range ch {
			c.Close()
		}
	})
	return ch
}

func mustDial(t testing.TB, id *Identity, service byte, addr net.Addr) *tls.Conn {
	t.Helper()
	c, err := id.Dial(service, addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustRawDial(t testing.TB, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustAccepted(t testing.TB, ch <-chan net.Conn, want string) net.Conn {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("listener stopped accepting")
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, len(want))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != want {
			t.Fatalf("accepted conn: read %q, %v; want %q", buf, err, want)
		}
		c.SetReadDeadline(time.Time{})
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

func mustWrite(t testing.TB, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// waitClosedByPeer reads until the peer closes c, failing if that takes
// longer than limit.
func waitClosedByPeer(t testing.TB, c net.Conn, limit time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection from %s not closed by the server within %v", c.LocalAddr(), limit)
	}
}

// stillOpen reports whether the peer has not closed c (a short read times out).
func stillOpen(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestIdentityDeterministic(t *testing.T) {
	a, b, other := mustIdentity(t, 1), mustIdentity(t, 1), mustIdentity(t, 2)
	if !bytes.Equal(a.cert.Certificate[0], b.cert.Certificate[0]) {
		t.Fatal("same key, different certificates")
	}
	if bytes.Equal(a.cert.Certificate[0], other.cert.Certificate[0]) {
		t.Fatal("different keys, same certificate")
	}
	leaf := a.cert.Leaf
	if leaf.Subject.CommonName != "s4-cluster" || leaf.SerialNumber.Int64() != 1 ||
		!leaf.NotBefore.Equal(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) ||
		!leaf.NotAfter.Equal(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("certificate fields: %v %v %v %v", leaf.Subject, leaf.SerialNumber, leaf.NotBefore, leaf.NotAfter)
	}
	if _, err := NewIdentity(ed25519.PrivateKey{1, 2, 3}); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestVerifyPeer(t *testing.T) {
	id := mustIdentity(t, 1)
	own := id.cert.Certificate[0]
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour)}
	ecCert, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	for name, certs := range map[string][][]byte{
		"none":        nil,
		"other key":   {mustIdentity(t, 2).cert.Certificate[0]},
		"two certs":   {own, own},
		"garbage":     {[]byte("not a certificate")},
		"truncated":   {own[:len(own)-1]},
		"ecdsa":       {ecCert},
		"own + other": {own, ecCert},
	} {
		if err := id.verifyPeer(certs, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := id.verifyPeer([][]byte{own}, nil); err != nil {
		t.Fatalf("own certificate refused: %v", err)
	}
}

func TestLayerExchange(t *testing.T) {
	id := mustIdentity(t, 1)
	a, b := startLayer(t, id, HandshakeTimeout), startLayer(t, id, HandshakeTimeout)
	for _, p := range []struct{ from, to *Layer }{{a, b}, {b, a}} {
		accepted := acceptAll(t, p.to)
		c, err := p.from.Dial(raft.ServerAddress(p.to.Addr().String()), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		mustWrite(t, c, "ping")
		s := mustAccepted(t, accepted, "ping")
		defer s.Close()
		mustWrite(t, s, "pong")
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "pong" {
			t.Fatalf("read %q, %v", buf, err)
		}
		for _, conn := range []net.Conn{c, s} {
			st := conn.(*tls.Conn).ConnectionState()
			if st.Version != tls.VersionTLS13 || len(st.PeerCertificates) != 1 ||
				!bytes.Equal(st.PeerCertificates[0].Raw, id.cert.Certificate[0]) {
				t.Fatalf("connection state: version %x, %d peer certs", st.Version, len(st.PeerCertificates))
			}
		}
	}
}

func TestOtherClusterKeyRefused(t *testing.T) {
	good, rogue := mustIdentity(t, 1), mustIdentity(t, 2)

	// A client without the key: the server closes it before Accept sees it.
	server := startLayer(t, good, HandshakeTimeout)
	accepted := acceptAll(t, server)
	if c, err := rogue.Dial(ServiceRaft, server.Addr().String(), 5*time.Second); err == nil {
		// TLS 1.3: the client finishes first; the server's verdict follows.
		c.Write([]byte("inject"))
		waitClosedByPeer(t, c, 5*time.Second)
		c.Close()
	}
	// Without any client certificate at all.
	cfg := good.ClientConfig()
	cfg.Certificates = nil
	if c, err := tls.Dial("tcp", server.Addr().String(), cfg); err == nil {
		c.Write([]byte{ServiceRaft})
		c.Write([]byte("inject"))
		waitClosedByPeer(t, c, 5*time.Second)
		c.Close()
	}
	// With the cluster certificate (public: any client is shown it) but
	// without its key: the CertificateVerify signature fails.
	stolen := tls.Certificate{Certificate: good.cert.Certificate, PrivateKey: rogue.cert.PrivateKey}
	cfg = good.ClientConfig()
	cfg.Certificates = []tls.Certificate{stolen}
	if c, err := tls.Dial("tcp", server.Addr().String(), cfg); err == nil {
		c.Write([]byte{ServiceRaft})
		c.Write([]byte("inject"))
		waitClosedByPeer(t, c, 5*time.Second)
		c.Close()
	}
	// Accept still works, and the first connection it yields is the good one.
	c := mustDial(t, good, ServiceRaft, server.Addr())
	mustWrite(t, c, "good")
	mustAccepted(t, accepted, "good")

	// A server without the key: the client refuses it during the handshake.
	rogueServer := startLayer(t, rogue, HandshakeTimeout)
	rogueAccepted := acceptAll(t, rogueServer)
	if c, err := good.Dial(ServiceRaft, rogueServer.Addr().String(), 5*time.Second); err == nil {
		c.Close()
		t.Fatal("dialed a server without the cluster key")
	}
	impostorID := *good
	impostorID.server = good.ServerConfig()
	impostorID.server.Certificates = []tls.Certificate{stolen}
	impostor := newMux(mustListen(t), &impostorID, HandshakeTimeout)
	defer impostor.Close()
	if c, err := good.Dial(ServiceRaft, impostor.Addr().String(), 5*time.Second); err == nil {
		c.Close()
		t.Fatal("dialed a server that has the cluster certificate but not its key")
	}
	c = mustDial(t, rogue, ServiceRaft, rogueServer.Addr()) // its own cluster still works
	mustWrite(t, c, "rogue")
	mustAccepted(t, rogueAccepted, "rogue")
}

func TestBadClientsDoNotBlockAccept(t *testing.T) {
	const timeout = 2 * time.Second
	id := mustIdentity(t, 1)
	server := startLayer(t, id, timeout)
	accepted := acceptAll(t, server)
	start := time.Now()

	// Held open by the client, to be closed by the server's deadline.
	silent := mustRawDial(t, server.Addr())
	partialHello := mustRawDial(t, server.Addr())
	mustWrite(t, partialHello, "\x16\x03\x01\x02\x00\x01\x00")
	noHeader, err := tls.Dial("tcp", server.Addr().String(), id.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer noHeader.Close()
	slow := []net.Conn{silent, partialHello, noHeader}

	// Closed at once.
	for _, garbage := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\x16\x03\x03\x00\x00", string(bytes.Repeat([]byte{0xff}, 4096))} {
		c := mustRawDial(t, server.Addr())
		mustWrite(t, c, garbage)
		waitClosedByPeer(t, c, timeout/2)
	}
	for _, service := range []byte{0, ServiceRPC, 7, 255} {
		waitClosedByPeer(t, mustDial(t, id, service, server.Addr()), timeout/2)
	}

	c := mustDial(t, id, ServiceRaft, server.Addr())
	mustWrite(t, c, "good")
	mustAccepted(t, accepted, "good")
	for i, s := range slow {
		if !stillOpen(s) {
			t.Fatalf("slow client %d closed before the deadline, after %v", i, time.Since(start))
		}
	}
	for _, s := range slow {
		waitClosedByPeer(t, s, 5*time.Second)
	}
	if d := time.Since(start); d < timeout {
		t.Fatalf("slow clients closed after %v, before the %v deadline", d, timeout)
	}
	c = mustDial(t, id, ServiceRaft, server.Addr())
	mustWrite(t, c, "again")
	mustAccepted(t, accepted, "again")
}

func TestMuxServices(t *testing.T) {
	id := mustIdentity(t, 1)
	m := newMux(mustListen(t), id, HandshakeTimeout)
	defer m.Close()
	raftConns, rpcConns := acceptAll(t, m.Listener(ServiceRaft)), m.Listener(ServiceRPC)
	rpcAccepted := acceptAll(t, rpcConns)

	mustWrite(t, mustDial(t, id, ServiceRPC, m.Addr()), "rpc")
	mustWrite(t, mustDial(t, id, ServiceRaft, m.Addr()), "raft")
	mustAccepted(t, rpcAccepted, "rpc")
	mustAccepted(t, raftConns, "raft")

	func() {
		defer func() {
			if recover() == nil {
				t.Error("registering a service twice did not panic")
			}
		}()
		m.Listener(ServiceRaft)
	}()

	// Closing one service unregisters it and leaves the others running.
	rpcConns.Close()
	if _, err := rpcConns.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	waitClosedByPeer(t, mustDial(t, id, ServiceRPC, m.Addr()), 5*time.Second)
	mustWrite(t, mustDial(t, id, ServiceRaft, m.Addr()), "raft2")
	mustAccepted(t, raftConns, "raft2")
	rpcAgain := acceptAll(t, m.Listener(ServiceRPC))
	mustWrite(t, mustDial(t, id, ServiceRPC, m.Addr()), "rpc2")
	mustAccepted(t, rpcAgain, "rpc2")
}

// muxGoroutines counts the goroutines running code of a Mux. Counting only
// these keeps the check immune to goroutines of other tests winding down.
func muxGoroutines() (n int, dump string) {
	buf := make([]byte, 1<<20)
	dump = string(buf[:runtime.Stack(buf, true)])
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.Contains(g, "transport.(*Mux)") {
			n++
		}
	}
	return n, dump
}

func waitMuxGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, dump := muxGoroutines()
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d Mux goroutines, want %d\n%s", n, want, dump)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	id := mustIdentity(t, 1)
	waitMuxGoroutines(t, 0) // earlier tests' Muxes are closed
	m := newMux(mustListen(t), id, HandshakeTimeout)
	raftLn := m.Listener(ServiceRaft) // nobody accepts: delivery blocks
	silent := mustRawDial(t, m.Addr())
	waiting := mustDial(t, id, ServiceRaft, m.Addr())
	// serve, the silent client's handshake, the blocked delivery.
	waitMuxGoroutines(t, 3)

	start := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	waitMuxGoroutines(t, 0) // Close returned after their last step; let them exit
	m.Close()               // idempotent
	if _, err := raftLn.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	waitClosedByPeer(t, silent, time.Second)
	waitClosedByPeer(t, waiting, time.Second)
	if _, err := net.DialTimeout("tcp", m.Addr().String(), time.Second); err == nil {
		t.Fatal("port still open after Close")
	}
}

// A listener closed by someone else stops the Mux instead of blocking Accept.
func TestListenerClosedUnderMux(t *testing.T) {
	ln := mustListen(t)
	m := newMux(ln, mustIdentity(t, 1), HandshakeTimeout)
	sub := m.Listener(ServiceRaft)
	ln.Close()
	done := make(chan error, 1)
	go func() { _, err := sub.Accept(); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept blocks after the TCP listener was closed")
	}
	m.Close()
}

func TestRaftCluster(t *testing.T) {
	const n = 3
	id := mustIdentity(t, 1)
	logger := hclog.NewNullLogger()
	if testing.Verbose() {
		logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr})
	}

	var (
		transports [n]*raft.NetworkTransport
		fsms       [n]*raft.MockFSM
		rafts      [n]*raft.Raft
		servers    []raft.Server
	)
	for i := range n {
		transports[i] = NewRaftTransport(NewLayer(mustListen(t), nil, id), logger.Named(fmt.Sprint("node", i)))
		servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprint("node", i)), Address: transports[i].LocalAddr()})
	}
	for i := range n {
		cfg := raft.DefaultConfig()
		cfg.LocalID = servers[i].ID
		cfg.HeartbeatTimeout = 200 * time.Millisecond
		cfg.ElectionTimeout = 200 * time.Millisecond
		cfg.LeaderLeaseTimeout = 100 * time.Millisecond
		cfg.CommitTimeout = 5 * time.Millisecond
		cfg.Logger = logger.Named(string(cfg.LocalID))
		store, snaps := raft.NewInmemStore(), raft.NewInmemSnapshotStore()
		if err := raft.BootstrapCluster(cfg, store, store, snaps, transports[i], raft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
		fsms[i] = &raft.MockFSM{}
		r, err := raft.NewRaft(cfg, fsms[i], store, store, snaps, transports[i])
		if err != nil {
			t.Fatal(err)
		}
		rafts[i] = r
	}
	t.Cleanup(func() {
		for i := range n {
			rafts[i].Shutdown().Error()
			transports[i].Close()
		}
	})

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var leader *raft.Raft
	waitFor("a leader all nodes agree on", func() bool {
		leader = nil
		for _, r := range rafts {
			if r.State() == raft.Leader {
				leader = r
			}
		}
		if leader == nil {
			return false
		}
		want, _ := leader.LeaderWithID()
		for _, r := range rafts {
			if got, _ := r.LeaderWithID(); got != want {
				return false
			}
		}
		return true
	})
	if err := leader.Apply([]byte("hello"), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	waitFor("the entry on every node", func() bool {
		for _, f := range fsms {
			if logs := f.Logs(); len(logs) != 1 || string(logs[0]) != "hello" {
				return false
			}
		}
		return true
	})
}
