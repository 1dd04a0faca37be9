package transport

import (
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Layer is the raft.StreamLayer of the cluster port: a Mux over the TCP
// listener, whose ServiceRaft listener it accepts from, and a dialer that
// selects ServiceRaft.
type Layer struct {
	mux       *Mux
	raft      net.Listener
	advertise net.Addr
	id        *Identity
}

var _ raft.StreamLayer = (*Layer)(nil)

// NewLayer serves ln, a plain TCP listener, with a new Mux. advertise is the
// address peers reach this node at (ln.Addr() if nil); Raft publishes it, so
// it must not be an unspecified address such as 0.0.0.0.
func NewLayer(ln net.Listener, advertise net.Addr, id *Identity) *Layer {
	return newLayer(newMux(ln, id, HandshakeTimeout), advertise, id)
}

func newLayer(m *Mux, advertise net.Addr, id *Identity) *Layer {
	if advertise == nil {
		advertise = m.Addr()
	}
	return &Layer{mux: m, raft: m.Listener(ServiceRaft), advertise: advertise, id: id}
}

// Accept returns the next authenticated Raft connection (a *tls.Conn).
func (l *Layer) Accept() (net.Conn, error) { return l.raft.Accept() }

// Close closes the whole cluster port: the Mux and every service on it.
func (l *Layer) Close() error { return l.mux.Close() }

// Addr returns the advertised address.
func (l *Layer) Addr() net.Addr { return l.advertise }

// Dial opens an authenticated Raft connection to address.
func (l *Layer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := l.id.Dial(ServiceRaft, string(address), timeout)
	if err != nil {
		return nil, err // not a nil *tls.Conn in a non-nil net.Conn
	}
	return c, nil
}

// Mux returns the Mux of the cluster port, for registering other services
// (ServiceRPC).
func (l *Layer) Mux() *Mux { return l.mux }

// NewRaftTransport returns a Raft network transport over layer. The Mux logs
// refused connections to logger too.
func NewRaftTransport(layer *Layer, logger hclog.Logger) *raft.NetworkTransport {
	if logger != nil {
		layer.mux.setLogger(logger.Named("transport"))
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 3,
		// One AppendEntries in flight per follower: no pipelining. In
		// hashicorp/raft v1.7.3 a pipeline whose follower answers
		// Success=false can deadlock (upstream issue #612): the follower
		// gets heartbeats but no more entries until the leader restarts,
		// which here would fence it and make every revoke wait a lease.
		// Batching (up to MaxAppendEntries per RPC) keeps the throughput
		// under load (BENCHMARKS.md).
		MaxRPCsInFlight:         1,
		Timeout:                 10 * time.Second,
		Logger:                  logger,
		MsgpackUseNewTimeFormat: true,
	})
}
