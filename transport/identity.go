// Package transport carries everything that travels between S4 nodes over the
// cluster port (:7000): Raft, the internal RPC and the status line. It is one
// TCP port with mutual TLS, and one header byte after the handshake selects
// the service (Mux; 1 = Raft, 2 = internal RPC, 3 = status line), as
// rqlite's tcp.Mux does.
//
// # Identity
//
// Every node derives the same ed25519 key from the cluster key
// (keyring.Keys.ClusterTLS) and from it the same self-signed certificate
// (Identity): fixed serial, fixed validity 2020-01-01..2100-01-01, CN
// "s4-cluster". Both ends present that certificate and accept a peer iff the
// certificate it presents carries the cluster public key. There is no CA, no
// per-node certificate and nothing to distribute but the cluster key.
//
// # Why it is sound
//
// Both configurations disable crypto/tls's default checks (InsecureSkipVerify
// on the client, RequireAnyClientCert on the server). That turns off only
// chain building to a root, host name and validity-period checks; it does not
// turn off proof of possession. In TLS 1.3 (the only version allowed here) each
// side signs the handshake transcript with the private key of the certificate
// it sent (CertificateVerify), and crypto/tls aborts the handshake when that
// signature does not verify. VerifyPeerCertificate then accepts only a single
// certificate whose public key is the cluster public key. So a completed
// handshake proves that the peer holds the private key derived from the
// cluster key, i.e. holds the cluster key, in both directions. Host names do
// not matter: the identity is "member of this cluster", the same on every
// node, and members trust each other equally (they share the cluster key
// anyway). The transcript signature binds the proof to this connection, and
// the ephemeral key exchange gives forward secrecy, so a process without the
// key can neither join, read, replay nor inject. Session tickets are disabled
// and clients keep no session cache, so every connection makes the full proof.
//
// The check compares public keys, not certificate bytes: the public key is
// what the handshake proves possession of, and a future Go release that
// encodes the same certificate template differently must not split a cluster
// during a rolling upgrade.
//
// # Robustness
//
// The handshake and the header byte must arrive within a deadline (10 s); a
// failed handshake, garbage, a silent client or an unknown header byte closes
// that connection, is logged at debug level and never stops the accept loop.
// Close stops every goroutine the Mux started before it returns.
package transport

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// errNotMember is returned by the peer check: the peer did not present the
// cluster certificate.
var errNotMember = errors.New("transport: peer does not hold the cluster key")

// Identity is the TLS identity every node derives from the cluster key: a
// deterministic self-signed ed25519 certificate, identical on every node.
type Identity struct {
	pub    ed25519.PublicKey
	cert   tls.Certificate
	server *tls.Config
	client *tls.Config
	dialer Dialer // nil: a plain TCP dial
	// source is the local address of outgoing connections (IP only, port
	// 0); nil: the OS chooses.
	source *net.TCPAddr
}

// Dialer opens the TCP connection under an outgoing cluster link; the TLS
// handshake runs on top of it. The default dials address directly; tests
// route the links through a fault-injecting proxy with WithDialer.
type Dialer func(ctx context.Context, address string) (net.Conn, error)

// WithDialer returns a copy of id whose outgoing connections use d.
func (id *Identity) WithDialer(d Dialer) *Identity {
	c := *id
	c.dialer = d
	return &c
}

// WithSource returns a copy of id whose outgoing connections are made from
// the local IP ip (a port the OS chooses), so that a peer, or a proxy in
// between, sees which node a cluster connection comes from. An empty ip
// means the OS chooses, as without WithSource. A dialer set with WithDialer
// makes its own connections and is not affected.
func (id *Identity) WithSource(ip string) (*Identity, error) {
	c := *id
	c.source = nil
	if ip == "" {
		return &c, nil
	}
	addr := net.ParseIP(ip)
	if addr == nil {
		return nil, fmt.Errorf("transport: cluster source %q is not an IP address", ip)
	}
	c.source = &net.TCPAddr{IP: addr}
	return &c, nil
}

// NewIdentity builds the cluster identity from key (keyring.Keys.ClusterTLS).
func NewIdentity(key ed25519.PrivateKey) (*Identity, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("transport: cluster TLS key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	pub := key.Public().(ed25519.PublicKey)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "s4-cluster"},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	// ed25519 signatures are deterministic, so is the certificate.
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("transport: cluster certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("transport: cluster certificate: %w", err)
	}
	id := &Identity{
		pub:  pub,
		cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
	}
	id.server = &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{id.cert},
		ClientAuth:             tls.RequireAnyClientCert,
		VerifyPeerCertificate:  id.verifyPeer,
		SessionTicketsDisabled: true,
	}
	id.client = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.cert},
		// Sound: see the package doc. The default checks (chain, host name,
		// validity) are replaced by verifyPeer; the handshake still proves
		// that the server holds the key of the certificate it presents.
		InsecureSkipVerify:    true,
		VerifyPeerCertificate: id.verifyPeer,
	}
	return id, nil
}

// ServerConfig returns a TLS 1.3 server configuration that presents the
// cluster certificate and accepts only clients presenting it.
func (id *Identity) ServerConfig() *tls.Config { return id.server.Clone() }

// ClientConfig returns a TLS 1.3 client configuration that presents the
// cluster certificate and accepts only servers presenting it, whatever their
// name or address.
func (id *Identity) ClientConfig() *tls.Config { return id.client.Clone() }

// verifyPeer accepts exactly one certificate carrying the cluster public key.
// crypto/tls calls it before checking the peer's CertificateVerify, and fails
// the handshake if that signature is wrong, so a completed handshake means
// both hold.
func (id *Identity) verifyPeer(rawCerts [][]byte, _ [][]*x509.Certificate) error {
	if len(rawCerts) != 1 {
		return errNotMember
	}
	c, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return errNotMember
	}
	if pub, ok := c.PublicKey.(ed25519.PublicKey); !ok || !pub.Equal(id.pub) {
		return errNotMember
	}
	return nil
}
