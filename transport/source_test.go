package transport

import (
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// canBind reports whether this machine can use ip as a local address (any
// 127/8 address on Linux's loopback; only 127.0.0.1 on some other systems).
func canBind(ip string) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// remoteIP is the IP of the peer of a connection the Mux accepted.
func remoteIP(t *testing.T, c net.Conn) string {
	t.Helper()
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	return host
}

// TestDialFromSource: the accepting side of every outgoing connection
// (Raft, and the services dialled with Identity.Dial) sees the source IP
// given with WithSource, and the OS's choice without one.
func TestDialFromSource(t *testing.T) {
	if !canBind("127.0.0.2") {
		t.Skip("127.0.0.2 is not a local address here")
	}
	base := mustIdentity(t, 1)
	from2, err := base.WithSource("127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	srv := startLayer(t, base, HandshakeTimeout)
	rpc := acceptAll(t, srv.Mux().Listener(ServiceRPC))
	raftConns := acceptAll(t, srv)

	// Raft through a Layer built on the identity.
	client := newLayer(newMux(mustListen(t), from2, HandshakeTimeout), nil, from2)
	t.Cleanup(func() { client.Close() })
	c, err := client.Dial(raft.ServerAddress(srv.Addr().String()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustWrite(t, c, "raft")
	if got := remoteIP(t, mustAccepted(t, raftConns, "raft")); got != "127.0.0.2" {
		t.Fatalf("raft connection from %s, want 127.0.0.2", got)
	}

	// Another service with Identity.Dial, and the source port is the OS's.
	for _, tc := range []struct {
		id   *Identity
		want string
	}{{from2, "127.0.0.2"}, {base, "127.0.0.1"}} {
		c := mustDial(t, tc.id, ServiceRPC, srv.Addr())
		if _, port, _ := net.SplitHostPort(c.LocalAddr().String()); port == "0" {
			t.Fatalf("local address %s", c.LocalAddr())
		}
		mustWrite(t, c, "rpc")
		if got := remoteIP(t, mustAccepted(t, rpc, "rpc")); got != tc.want {
			t.Fatalf("rpc connection from %s, want %s", got, tc.want)
		}
	}

	// An empty source is the OS's choice again; WithSource copies.
	back, err := from2.WithSource("")
	if err != nil || back.source != nil || from2.source == nil || base.source != nil {
		t.Fatalf("WithSource(\"\"): %v, sources %v %v %v", err, back.source, from2.source, base.source)
	}
}

func TestWithSourceRefusesNonIP(t *testing.T) {
	id := mustIdentity(t, 1)
	for _, bad := range []string{"localhost", "127.0.0.1:7000", "300.1.1.1", " "} {
		if _, err := id.WithSource(bad); err == nil {
			t.Errorf("WithSource(%q) accepted", bad)
		}
	}
}

// TestDialFromUnusableSource: a source IP that is not local fails the dial
// at once (the connection is never made from another address).
func TestDialFromUnusableSource(t *testing.T) {
	id, err := mustIdentity(t, 1).WithSource("192.0.2.1") // TEST-NET-1, never local
	if err != nil {
		t.Fatal(err)
	}
	srv := startLayer(t, mustIdentity(t, 1), HandshakeTimeout)
	if c, err := id.Dial(ServiceRPC, srv.Addr().String(), 2*time.Second); err == nil {
		c.Close()
		t.Fatal("dial from a non-local source succeeded")
	}
}
