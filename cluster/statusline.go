package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"time"
)

// The status line (transport.ServiceStatus) asks GET /v1/status without
// HTTP, for the questions a follower asks its leader many times a second:
// lease renewals and the read index of every request it serves
// (node/lease_follower.go, node/fresh.go). Through the internal RPC one question cost ~110 µs of
// CPU on the two nodes (HTTP framing, goroutine hand-offs, JSON); here it
// is one small TLS record each way.
//
// On a connection of its own, the asking node sends a question and reads
// the answer before it asks again:
//
//	question = 'T' idLen(1) id(idLen)     the asking node's ID
//	answer = flags(1) applied(8) authIndex(8) term(8) leaseLeft(8) olderAge(8) idLen(1) id(idLen)
//	flags:   1 the node leads, 2 it serves (Status.Serving)
//
// with big-endian integers (leaseLeft and olderAge, Status.OlderAnswerAge,
// in nanoseconds). A serving leader remembers until when its answer to
// each node may serve as a grant (node/status.go: the revocation barrier
// waits no longer for a silent node than that). The answering node
// keeps a connection until it idles for StatusIdleTimeout, it sends
// anything but a question, or the node closes. It also answers 'S', the
// question of earlier releases, without term and leaseLeft, so that a
// node not yet upgraded keeps its (weaker) lease during a rolling upgrade;
// an upgraded follower asking a leader that is not yet upgraded gets no
// grant: it fails closed.
const (
	statusQuestion    = 'T'
	statusQuestionV1  = 'S'
	statusFlagLeader  = 1
	statusFlagServing = 2
	statusHeaderLen   = 1 + 8 + 8 + 8 + 8 + 8 + 1
	maxStatusIDLen    = 255
)

// StatusIdleTimeout is how long the status line keeps a silent connection.
const StatusIdleTimeout = 2 * time.Minute

// WithStatusLine also answers status-line questions on ln until Close.
func WithStatusLine(ln net.Listener) ServerOption {
	return func(s *Server) { s.statusLn = ln }
}

// serveStatusLine accepts status-line connections until the listener fails
// (Close closes it).
func (s *Server) serveStatusLine() {
	defer s.statusWG.Done()
	for {
		c, err := s.statusLn.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.statusConns[c] = struct{}{}
		s.statusWG.Add(1)
		s.mu.Unlock()
		go s.answerStatus(c)
	}
}

func (s *Server) answerStatus(c net.Conn) {
	defer s.statusWG.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.statusConns, c)
		s.mu.Unlock()
	}()
	var q [2]byte
	asker := make([]byte, maxStatusIDLen)
	buf := make([]byte, 0, statusHeaderLen+maxStatusIDLen)
	for {
		c.SetDeadline(time.Now().Add(StatusIdleTimeout))
		if _, err := io.ReadFull(c, q[:1]); err != nil || q[0] != statusQuestion && q[0] != statusQuestionV1 {
			return
		}
		from := ""
		if q[0] == statusQuestion {
			if _, err := io.ReadFull(c, q[1:2]); err != nil {
				return
			}
			if _, err := io.ReadFull(c, asker[:q[1]]); err != nil {
				return
			}
			from = string(asker[:q[1]])
		}
		b, err := appendStatusAnswer(buf[:0], s.status(from), q[0] == statusQuestionV1)
		if err != nil {
			s.log.Warn("status line: cannot answer", "err", err)
			return
		}
		if _, err := c.Write(b); err != nil {
			return
		}
	}
}

// closeStatusLine closes the listener and every connection, and waits for
// their goroutines. Called by Close with s.closed set.
func (s *Server) closeStatusLine() {
	if s.statusLn == nil {
		return
	}
	s.statusLn.Close()
	s.mu.Lock()
	for c := range s.statusConns {
		c.Close()
	}
	s.mu.Unlock()
	s.statusWG.Wait()
}

func appendStatusAnswer(b []byte, st Status, v1 bool) ([]byte, error) {
	if len(st.ID) > maxStatusIDLen {
		return b, fmt.Errorf("cluster: node ID of %d bytes", len(st.ID))
	}
	var flags byte
	if st.IsLeader {
		flags |= statusFlagLeader
	}
	if st.Serving {
		flags |= statusFlagServing
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, st.Applied)
	b = binary.BigEndian.AppendUint64(b, st.AuthIndex)
	if !v1 {
		b = binary.BigEndian.AppendUint64(b, st.Term)
		b = binary.BigEndian.AppendUint64(b, uint64(max(st.LeaseLeft, 0)))
		b = binary.BigEndian.AppendUint64(b, uint64(max(st.OlderAnswerAge, 0)))
	}
	b = append(b, byte(len(st.ID)))
	return append(b, st.ID...), nil
}

// readStatusAnswer reads one answer to a 'T' question from r: the fields
// the status line carries (ID, IsLeader, Serving, Applied, AuthIndex,
// Term, LeaseLeft, OlderAnswerAge).
func readStatusAnswer(r io.Reader) (Status, error) {
	var h [statusHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Status{}, err
	}
	if h[0]&^(statusFlagLeader|statusFlagServing) != 0 {
		return Status{}, fmt.Errorf("cluster: status line: unknown flags %#x", h[0])
	}
	left, older := binary.BigEndian.Uint64(h[25:33]), binary.BigEndian.Uint64(h[33:41])
	if left > math.MaxInt64 || older > math.MaxInt64 {
		return Status{}, fmt.Errorf("cluster: status line: durations of %d and %d ns", left, older)
	}
	id := make([]byte, h[41])
	if _, err := io.ReadFull(r, id); err != nil {
		return Status{}, err
	}
	return Status{
		ID:        string(id),
		IsLeader:  h[0]&statusFlagLeader != 0,
		Serving:   h[0]&statusFlagServing != 0,
		Applied:   binary.BigEndian.Uint64(h[1:9]),
		AuthIndex: binary.BigEndian.Uint64(h[9:17]),
		Term:      binary.BigEndian.Uint64(h[17:25]),
		LeaseLeft: time.Duration(left),
		// The age of the answering node's last answer in an earlier term.
		OlderAnswerAge: time.Duration(older),
	}, nil
}

// StatusLine asks other nodes their status over the status line, keeping
// one connection per address; questions to one address go one at a time.
// It is safe for concurrent use.
type StatusLine struct {
	dial     func(ctx context.Context, addr string) (net.Conn, error)
	question []byte // 'T' and the asking node's ID

	mu     sync.Mutex
	lines  map[string]*statusConn
	closed bool
}

type statusConn struct {
	mu sync.Mutex // one question at a time
	c  net.Conn   // nil until dialled, and after a failure
}

// NewStatusLine returns a StatusLine that connects with dial (for example
// MuxServiceDialer(id, transport.ServiceStatus)) and asks as the node self
// (at most 255 bytes; longer IDs are cut).
func NewStatusLine(dial func(ctx context.Context, addr string) (net.Conn, error), self string) *StatusLine {
	self = self[:min(len(self), maxStatusIDLen)]
	q := append([]byte{statusQuestion, byte(len(self))}, self...)
	return &StatusLine{dial: dial, question: q, lines: map[string]*statusConn{}}
}

var errStatusLineClosed = errors.New("cluster: status line closed")

// Status asks the node at addr for its status (the fields the status line
// carries). ctx bounds the question (DefaultRPCTimeout if it has no
// deadline), the dial included. After a failure the connection is
// dropped and the next question dials again.
func (l *StatusLine) Status(ctx context.Context, addr string) (Status, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return Status{}, errStatusLineClosed
	}
	sc := l.lines[addr]
	if sc == nil {
		sc = &statusConn{}
		l.lines[addr] = sc
	}
	l.mu.Unlock()

	ctx, cancel := withDefaultTimeout(ctx, DefaultRPCTimeout)
	defer cancel()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	// A kept connection may have been closed by the other side meanwhile
	// (StatusIdleTimeout, a restart): a question that fails on one is
	// asked once more on a new connection.
	for attempt := 0; ; attempt++ {
		reused := sc.c != nil
		if !reused {
			c, err := l.dial(ctx, addr)
			if err != nil {
				return Status{}, &dialError{addr: addr, err: err}
			}
			if c == nil {
				return Status{}, &dialError{addr: addr, err: errors.New("no connection")}
			}
			l.mu.Lock()
			closed := l.closed
			l.mu.Unlock()
			if closed {
				c.Close()
				return Status{}, errStatusLineClosed
			}
			sc.c = c
		}
		st, err := sc.ask(ctx, l.question)
		if err == nil {
			return st, nil
		}
		sc.c.Close()
		sc.c = nil
		if !reused || attempt > 0 || ctx.Err() != nil {
			return Status{}, fmt.Errorf("cluster: status line to %s: %w", addr, err)
		}
	}
}

func (sc *statusConn) ask(ctx context.Context, question []byte) (Status, error) {
	if dl, ok := ctx.Deadline(); ok { // it has one: see Status
		sc.c.SetDeadline(dl)
	}
	if _, err := sc.c.Write(question); err != nil {
		return Status{}, err
	}
	return readStatusAnswer(sc.c)
}

// Close closes every connection; later questions fail.
func (l *StatusLine) Close() {
	l.mu.Lock()
	l.closed = true
	lines := l.lines
	l.lines = map[string]*statusConn{}
	l.mu.Unlock()
	for _, sc := range lines {
		sc.mu.Lock()
		if sc.c != nil {
			sc.c.Close()
			sc.c = nil
		}
		sc.mu.Unlock()
	}
}
