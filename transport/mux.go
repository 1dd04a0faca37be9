package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Service header bytes, sent by the dialer right after the TLS handshake.
const (
	ServiceRaft   byte = 1
	ServiceRPC    byte = 2
	ServiceStatus byte = 3 // cluster's status line: lease and read-index questions
)

// HandshakeTimeout bounds the TLS handshake plus the header byte, on both
// sides, and the wait for a service to accept a connection.
const HandshakeTimeout = 10 * time.Second

// Mux serves the cluster port: it accepts TCP connections, completes the
// mutual TLS handshake, reads the header byte and hands the connection to the
// listener registered for that byte. Connections that fail any step are
// closed. A Mux is safe for concurrent use.
type Mux struct {
	ln      net.Listener
	cfg     *tls.Config
	timeout time.Duration
	logger  atomic.Pointer[hclog.Logger]

	mu      sync.Mutex
	subs    map[byte]*muxListener
	pending map[net.Conn]struct{} // connections in handshake
	closed  bool

	done      chan struct{} // closed when the Mux stops serving
	doneOnce  sync.Once
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

// NewMux starts serving ln, a plain TCP listener, with the cluster identity.
// Connections for a header byte without a listener are closed, so register
// listeners (Listener) before peers connect.
func NewMux(ln net.Listener, id *Identity) *Mux {
	return newMux(ln, id, HandshakeTimeout)
}

func newMux(ln net.Listener, id *Identity, timeout time.Duration) *Mux {
	m := &Mux{
		ln:      ln,
		cfg:     id.ServerConfig(),
		timeout: timeout,
		subs:    make(map[byte]*muxListener),
		pending: make(map[net.Conn]struct{}),
		done:    make(chan struct{}),
	}
	m.setLogger(hclog.Default().Named("transport"))
	m.wg.Add(1)
	go m.serve()
	return m
}

func (m *Mux) setLogger(l hclog.Logger) { m.logger.Store(&l) }
func (m *Mux) log() hclog.Logger        { return *m.logger.Load() }

// Listener returns the listener for service byte b. Its Accept yields
// *tls.Conn whose handshake is complete and whose header byte is consumed.
// Closing it unregisters b. It panics if b is already registered.
func (m *Mux) Listener(b byte) net.Listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.subs[b]; ok {
		panic(fmt.Sprintf("transport: service %d registered twice", b))
	}
	l := &muxListener{m: m, b: b, ch: make(chan net.Conn), done: make(chan struct{})}
	m.subs[b] = l
	return l
}

// Addr returns the address of the underlying TCP listener.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Close closes the TCP listener, every connection still in handshake and
// every service listener, and returns once all goroutines of the Mux have
// exited. Connections already handed to a service are the service's.
func (m *Mux) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		pending := m.pending
		m.pending = nil
		m.mu.Unlock()
		m.stop()
		m.closeErr = m.ln.Close()
		for c := range pending {
			c.Close()
		}
	})
	m.wg.Wait()
	return m.closeErr
}

func (m *Mux) stop() { m.doneOnce.Do(func() { close(m.done) }) }

func (m *Mux) serve() {
	defer m.wg.Done()
	const maxDelay = time.Second
	var delay time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				m.stop() // closed under us: service listeners must not block forever
				return
			}
			// Anything else (EMFILE, ...) may pass: back off as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), maxDelay)
			m.log().Error("accept failed", "error", err, "retry-in", delay)
			select {
			case <-m.done:
				return
			case <-time.After(delay):
				continue
			}
		}
		delay = 0
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			c.Close()
			return
		}
		m.pending[c] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go m.handle(c)
	}
}

func (m *Mux) handle(c net.Conn) {
	defer m.wg.Done()
	tc, b, err := m.handshake(c)
	m.mu.Lock()
	delete(m.pending, c)
	sub := m.subs[b]
	m.mu.Unlock()
	if err != nil {
		m.log().Debug("refused connection", "remote", c.RemoteAddr().String(), "error", err)
		c.Close()
		return
	}
	if sub == nil {
		m.log().Debug("refused connection: unknown service", "remote", c.RemoteAddr().String(), "service", b)
		tc.Close()
		return
	}
	timer := time.NewTimer(m.timeout)
	defer timer.Stop()
	select {
	case sub.ch <- tc:
	case <-sub.done:
		tc.Close()
	case <-m.done:
		tc.Close()
	case <-timer.C:
		m.log().Warn("service does not accept connections", "service", b, "remote", c.RemoteAddr().String())
		tc.Close()
	}
}

// handshake runs the server side of the TLS handshake and reads the header
// byte, both under one deadline.
func (m *Mux) handshake(c net.Conn) (*tls.Conn, byte, error) {
	if err := c.SetDeadline(time.Now().Add(m.timeout)); err != nil {
		return nil, 0, err
	}
	tc := tls.Server(c, m.cfg)
	if err := tc.Handshake(); err != nil {
		return nil, 0, err
	}
	var hdr [1]byte
	if _, err := io.ReadFull(tc, hdr[:]); err != nil {
		return nil, 0, fmt.Errorf("reading service header: %w", err)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return nil, 0, err
	}
	return tc, hdr[0], nil
}

// muxListener is the net.Listener of one service byte.
type muxListener struct {
	m    *Mux
	b    byte
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
	case <-l.m.done:
	}
	return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
}

func (l *muxListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.m.mu.Lock()
		if l.m.subs[l.b] == l {
			delete(l.m.subs, l.b)
		}
		l.m.mu.Unlock()
	})
	return nil
}

func (l *muxListener) Addr() net.Addr { return l.m.ln.Addr() }

// Dial connects to a Mux at address, completes the mutual TLS handshake and
// selects service. timeout bounds all of it (HandshakeTimeout if <= 0). A
// server without the cluster key fails the handshake. A server that refuses
// this client's certificate closes the connection after Dial returned, so the
// first read fails. The connection is made from the local IP given with
// WithSource, if any.
func (id *Identity) Dial(service byte, address string, timeout time.Duration) (*tls.Conn, error) {
	if timeout <= 0 {
		timeout = HandshakeTimeout
	}
	deadline := time.Now().Add(timeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var c net.Conn
	var err error
	if id.dialer != nil {
		c, err = id.dialer(ctx, address)
	} else {
		d := net.Dialer{}
		if id.source != nil { // not a nil *TCPAddr in a non-nil net.Addr
			d.LocalAddr = id.source
		}
		c, err = d.DialContext(ctx, "tcp", address)
	}
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, id.client)
	err = c.SetDeadline(deadline)
	if err == nil {
		err = tc.Handshake()
	}
	if err == nil {
		_, err = tc.Write([]byte{service})
	}
	if err == nil {
		err = c.SetDeadline(time.Time{})
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("transport: dial %s: %w", address, err)
	}
	return tc, nil
}
