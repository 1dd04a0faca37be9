package main

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// linkMode is the state of one directed cluster link i→k (connections that
// node i dials to node k).
type linkMode int32

const (
	linkUp linkMode = iota
	// linkCut: live connections are reset, new ones reset as soon as they
	// are accepted (a firewall that rejects).
	linkCut
	// linkHole: bytes are dropped both ways on live connections; new
	// connections are accepted and held, never forwarded (a black hole).
	// Healing resets every connection that lost bytes.
	linkHole
)

func (m linkMode) String() string { return [...]string{"up", "cut", "black-hole"}[m] }

// proxyNet is one TCP proxy per node, on the node's advertised cluster
// address, forwarding to the node's real cluster port. A node dials its
// peers from its own IP (--cluster-source 127.0.0.i), so the proxy of node
// k knows from the source IP which node calls, and so which directed link
// a connection belongs to.
type proxyNet struct {
	proxies []*proxy       // proxies[k-1] is node k's
	nodeOf  map[string]int // source IP -> node (1..n)
}

// newProxyNet listens on listen[k-1] for node k and forwards to target[k-1].
// sources[i-1] is node i's source IP.
func newProxyNet(listen, target, sources []string) (*proxyNet, error) {
	pn := &proxyNet{nodeOf: map[string]int{}}
	for i, ip := range sources {
		pn.nodeOf[ip] = i + 1
	}
	for k := range listen {
		ln, err := net.Listen("tcp", listen[k])
		if err != nil {
			pn.close()
			return nil, err
		}
		p := &proxy{to: k + 1, ln: ln, target: target[k], pn: pn, conns: map[*proxyConn]struct{}{}}
		p.modes = make([]atomic.Int32, len(sources)+1)
		p.accepted = make([]atomic.Int64, len(sources)+1)
		pn.proxies = append(pn.proxies, p)
		p.wg.Add(1)
		go p.serve()
	}
	return pn, nil
}

// set puts the directed link from→to in mode m. When it returns, no byte
// passes a link that is not up.
func (pn *proxyNet) set(from, to int, m linkMode) {
	if from != to {
		pn.proxies[to-1].set(from, m)
	}
}

// isolate puts every link to and from node k in mode m.
func (pn *proxyNet) isolate(k int, m linkMode) {
	for j := 1; j <= len(pn.proxies); j++ {
		if j != k {
			pn.set(j, k, m)
			pn.set(k, j, m)
		}
	}
}

// healAll sets every link up.
func (pn *proxyNet) healAll() {
	for i := 1; i <= len(pn.proxies); i++ {
		for k := 1; k <= len(pn.proxies); k++ {
			pn.set(i, k, linkUp)
		}
	}
}

// accepted is how many connections node from opened to node to through
// the proxy.
func (pn *proxyNet) accepted(from, to int) int64 { return pn.proxies[to-1].accepted[from].Load() }

// unknown is how many connections came from an IP that is no node's.
func (pn *proxyNet) unknown() int64 {
	var n int64
	for _, p := range pn.proxies {
		n += p.accepted[0].Load()
	}
	return n
}

func (pn *proxyNet) close() {
	for _, p := range pn.proxies {
		p.close()
	}
}

// proxy is the proxy in front of one node.
type proxy struct {
	to     int
	ln     net.Listener
	target string
	pn     *proxyNet
	modes  []atomic.Int32 // by calling node; index 0 (an unknown source) stays up
	// gate: a pump holds it (read) while it checks the mode and writes, so
	// that once set returns no byte passes a link that is not up.
	gate     sync.RWMutex
	mu       sync.Mutex
	conns    map[*proxyConn]struct{}
	closed   bool
	accepted []atomic.Int64 // by calling node
	wg       sync.WaitGroup
}

// proxyConn is one accepted connection and, when forwarded, its upstream.
type proxyConn struct {
	from   int
	client net.Conn
	up     net.Conn // nil while held in a black hole
}

func (pc *proxyConn) reset() {
	resetConn(pc.client)
	if pc.up != nil {
		resetConn(pc.up)
	}
}

// resetConn closes c with an RST instead of a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func (p *proxy) mode(from int) linkMode { return linkMode(p.modes[from].Load()) }

func (p *proxy) set(from int, m linkMode) {
	p.mu.Lock()
	old := linkMode(p.modes[from].Swap(int32(m)))
	var toReset []*proxyConn
	if m == linkCut || (old == linkHole && m != linkHole) {
		for pc := range p.conns {
			if pc.from == from {
				toReset = append(toReset, pc)
			}
		}
	}
	p.mu.Unlock()
	for _, pc := range toReset {
		pc.reset()
	}
	p.gate.Lock() // waits out a write that saw the old mode
	p.gate.Unlock()
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

// caller is the node that opened c (0: unknown).
func (p *proxy) caller(c net.Conn) int {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return 0
	}
	return p.pn.nodeOf[host]
}

// track registers pc if the link is (still) in mode want.
func (p *proxy) track(pc *proxyConn, want linkMode) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.mode(pc.from) != want {
		return false
	}
	p.conns[pc] = struct{}{}
	return true
}

func (p *proxy) untrack(pc *proxyConn) {
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
}

func (p *proxy) handle(c net.Conn) {
	defer p.wg.Done()
	from := p.caller(c)
	if from == p.to { // a node dialling itself: never faulted
		from = 0
	}
	p.accepted[from].Add(1)
	pc := &proxyConn{from: from, client: c}
	switch p.mode(from) {
	case linkCut:
		resetConn(c)
		return
	case linkHole:
		if p.track(pc, linkHole) {
			io.Copy(io.Discard, c) // until healed (reset) or the caller gives up
			p.untrack(pc)
		}
		resetConn(c)
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil { // the node is down
		resetConn(c)
		return
	}
	pc.up = up
	if !p.track(pc, linkUp) { // faulted meanwhile: the caller dials again
		pc.reset()
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.pump(pc, c, up); done <- struct{}{} }()
	go func() { p.pump(pc, up, c); done <- struct{}{} }()
	<-done
	p.untrack(pc)
	c.Close()
	up.Close()
	<-done
}

// pump copies src to dst while the link is up and drops the bytes while
// it is not.
func (p *proxy) pump(pc *proxyConn, src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate.RLock()
			var werr error
			if p.mode(pc.from) == linkUp {
				_, werr = dst.Write(buf[:n])
			}
			p.gate.RUnlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	for pc := range p.conns {
		pc.reset()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

// String describes the links' modes that are not up.
func (pn *proxyNet) String() string {
	s := ""
	for _, p := range pn.proxies {
		for from := 1; from < len(p.modes); from++ {
			if m := p.mode(from); m != linkUp {
				s += fmt.Sprintf(" n%d→n%d:%s", from, p.to, m)
			}
		}
	}
	if s == "" {
		return "all links up"
	}
	return s[1:]
}
