package main

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer accepts connections and echoes what it reads.
func echoServer(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// testNet is a proxyNet for three "nodes" 127.0.0.1..3 whose targets are
// echo servers.
func testNet(t *testing.T) *proxyNet {
	t.Helper()
	var listen, target, sources []string
	for _, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Skipf("%s is not a local address here: %v", ip, err)
		}
		l.Close()
		listen = append(listen, net.JoinHostPort(ip, "0"))
		target = append(target, echoServer(t, ip))
		sources = append(sources, ip)
	}
	pn, err := newProxyNet(listen, target, sources)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pn.close)
	return pn
}

// dialFrom connects from node from (its IP) to node to's proxy.
func dialFrom(t *testing.T, pn *proxyNet, from, to int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: pn.proxies[from-1].ln.Addr().(*net.TCPAddr).IP}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", pn.proxies[to-1].ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echoes reports whether a round trip through c works within d.
func echoes(c net.Conn, d time.Duration) error {
	c.SetDeadline(time.Now().Add(d))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "ping" {
		return errors.New("garbled: " + string(buf))
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestProxyKnowsTheCaller(t *testing.T) {
	pn := testNet(t)
	c := dialFrom(t, pn, 2, 1)
	if err := echoes(c, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	c3 := dialFrom(t, pn, 3, 1)
	if err := echoes(c3, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if pn.accepted(2, 1) != 1 || pn.accepted(3, 1) != 1 || pn.accepted(1, 2) != 0 || pn.unknown() != 0 {
		t.Fatalf("accepted 2→1 %d, 3→1 %d, 1→2 %d, unknown %d", pn.accepted(2, 1), pn.accepted(3, 1), pn.accepted(1, 2), pn.unknown())
	}
}

func TestProxyCut(t *testing.T) {
	pn := testNet(t)
	live := dialFrom(t, pn, 2, 1)
	other := dialFrom(t, pn, 3, 1)
	back := dialFrom(t, pn, 1, 2)
	for _, c := range []net.Conn{live, other, back} {
		if err := echoes(c, 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	pn.set(2, 1, linkCut)
	if err := echoes(live, 2*time.Second); err == nil || isTimeout(err) {
		t.Fatalf("live connection on a cut link: %v, want a reset", err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", pn.proxies[0].ln.Addr().String())
	if err == nil { // else reset before connect returned
		defer c.Close()
		err = echoes(c, 2*time.Second)
	}
	if err == nil || isTimeout(err) {
		t.Fatalf("new connection on a cut link: %v, want a reset", err)
	}
	// Only that directed link.
	if err := echoes(other, 2*time.Second); err != nil {
		t.Fatalf("3→1: %v", err)
	}
	if err := echoes(back, 2*time.Second); err != nil {
		t.Fatalf("1→2: %v", err)
	}
	pn.set(2, 1, linkUp)
	if err := echoes(dialFrom(t, pn, 2, 1), 2*time.Second); err != nil {
		t.Fatalf("healed: %v", err)
	}
}

func TestProxyBlackHole(t *testing.T) {
	pn := testNet(t)
	live := dialFrom(t, pn, 1, 3)
	if err := echoes(live, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	pn.isolate(3, linkHole)
	if err := echoes(live, 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("live connection in a black hole: %v, want a timeout", err)
	}
	held := dialFrom(t, pn, 2, 3) // accepted, never forwarded
	if err := echoes(held, 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("new connection in a black hole: %v, want a timeout", err)
	}
	out := dialFrom(t, pn, 3, 1) // isolate: the other way too
	if err := echoes(out, 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("3→1 in a black hole: %v, want a timeout", err)
	}
	if err := echoes(dialFrom(t, pn, 1, 2), 2*time.Second); err != nil {
		t.Fatalf("1→2 is not isolated: %v", err)
	}
	pn.healAll()
	// Healing resets what lost bytes; new connections pass.
	for name, c := range map[string]net.Conn{"live": live, "held": held, "out": out} {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadAll(c); isTimeout(err) {
			t.Fatalf("%s: not closed after healing", name)
		}
	}
	if err := echoes(dialFrom(t, pn, 2, 3), 2*time.Second); err != nil {
		t.Fatalf("healed: %v", err)
	}
}

func TestProxyTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nobody listens there now
	pn, err := newProxyNet([]string{"127.0.0.1:0"}, []string{dead}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer pn.close()
	c, err := net.DialTimeout("tcp", pn.proxies[0].ln.Addr().String(), 2*time.Second)
	if err == nil {
		defer c.Close()
		err = echoes(c, 2*time.Second)
	}
	if err == nil || isTimeout(err) {
		t.Fatalf("to a dead node: %v, want a reset", err)
	}
}
