package s3_test

// The harness of the handler's own tests: the handler over a temporary
// metadata store and blob store, its events applied to a real FSM as Raft
// would apply them, served over a loopback HTTPS listener, so that
// aws-sdk-go-v2 and minio-go talk to it as they talk to a node. There is
// no cluster, no gate and no disk reserve: what these tests see is the S3
// API alone (package node tests it through a real node).

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/valyala/fasthttp"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
	"github.com/s4/s4/internal/s3test"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/meta"
	s4s3 "github.com/s4/s4/s3"
)

var bg = context.Background()

// env is one handler with a Reader, a Writer and a SuperUser, each with a
// credential, and a client that trusts the listener's certificate.
type env struct {
	*s3test.Client
	dataDir string // the stores and the certificate, as in a node's data dir
	meta    *meta.Store
	blobs   *blob.Store
	prop    *proposer
	sealer  *keyring.Sealer
	reader  s3test.User
	writer  s3test.User
	super   s3test.User
}

// newEnv is newEnvWith the node's default settings (bodies up to the
// default inline threshold are inline).
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, s4s3.Config{InlineThreshold: s4s3.DefaultInlineThreshold})
}

func newEnvWith(t *testing.T, cfg s4s3.Config) *env {
	t.Helper()
	e := &env{dataDir: filepath.Join(t.TempDir(), "data")}
	if err := os.MkdirAll(e.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.meta, err = meta.Open(filepath.Join(e.dataDir, "meta.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.meta.Close() })
	if e.blobs, err = blob.Open(filepath.Join(e.dataDir, "blobs")); err != nil {
		t.Fatal(err)
	}
	var sealKey [32]byte
	rand.Read(sealKey[:])
	e.sealer = keyring.NewSealer(sealKey)
	f := fsm.New(e.sealer)
	f.AttachMeta(e.meta)
	e.prop = &proposer{f: f}
	e.reader = e.newUser(t, "reader", iam.RoleReader)
	e.writer = e.newUser(t, "writer", iam.RoleWriter)
	e.super = e.newUser(t, "super", iam.RoleSuperUser)
	h := s4s3.New(cfg, f, e.meta, e.prop, e.blobs, nil)
	e.Client = e.serve(t, h)
	return e
}

// serve serves h over HTTPS on a loopback port, with the settings the
// node's listener has that matter to S3 (streamed bodies, the header
// buffer), until t ends.
func (e *env) serve(t *testing.T, h *s4s3.Handler) *s3test.Client {
	t.Helper()
	certFile := filepath.Join(e.dataDir, "tls", "cert.pem")
	cert, _, err := keyring.LoadOrCreateServerCert(certFile, filepath.Join(e.dataDir, "tls", "key.pem"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{
		Handler:            h.ServeFastHTTP,
		ExpectHandler:      h.Expect, // as the node serves it
		ReadBufferSize:     16 << 10,
		WriteBufferSize:    64 << 10,
		ReadTimeout:        5 * time.Minute,
		WriteTimeout:       5 * time.Minute,
		MaxRequestBodySize: 64 << 10, // the prefetch threshold: bodies stream
		StreamRequestBody:  true,
		CloseOnShutdown:    true,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Shutdown closes the listener first: Serve returns at once.
		if err := errors.Join(srv.ShutdownWithContext(ctx), <-served); err != nil {
			t.Errorf("serving S3: %v", err)
		}
	})
	_, port, _ := strings.Cut(ln.Addr().String(), ":")
	return &s3test.Client{Endpoint: "https://localhost:" + port, HTTP: s3test.HTTPClient(t, roots), TLS: &tls.Config{RootCAs: roots}}
}

// newUser creates a user with role and issues it a key pair, as the admin
// API would: two IAM events.
func (e *env) newUser(t *testing.T, name string, role iam.Role) s3test.User {
	t.Helper()
	u := s3test.User{ID: keyring.NewID(), Name: name, AccessKey: keyring.NewAccessKey(), SecretKey: keyring.NewSecretKey()}
	now := time.Now().UnixNano()
	if err := e.prop.Propose(bg, fsm.MsgUserCreate, &fsm.UserCreate{ID: u.ID, Username: name, PasswordHash: []byte("unused"), Role: role, At: now}); err != nil {
		t.Fatal(err)
	}
	sealed, err := e.sealer.Seal(u.SecretKey, u.AccessKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.prop.Propose(bg, fsm.MsgCredentialIssue, &fsm.CredentialIssue{UserID: u.ID, AccessKey: u.AccessKey, SealedSecret: sealed, At: now}); err != nil {
		t.Fatal(err)
	}
	return u
}

// collectGarbage removes the blobs no object references any more, as the
// node's collector does: each through blob.Store.Remove, which re-checks
// the reference count under the store's lock.
func (e *env) collectGarbage() {
	for _, sum := range e.meta.Garbage(1000) {
		if _, err := e.blobs.Remove(sum, func() bool { return e.meta.BlobRefs(sum) == 0 }); err == nil {
			e.meta.ForgetGarbage(sum)
		}
	}
}

// proposer commits an event as a one-node cluster would: encoded, then
// applied to the FSM as the next log entry, one at a time. Apply's answer
// is the proposal's error.
type proposer struct {
	mu   sync.Mutex
	f    *fsm.FSM
	next uint64
	// before, when set, runs once, under the lock, before the next
	// proposal is applied: what it applies (p.applyLocked) is committed
	// just before that proposal, as another node's event that this
	// node's handler had not seen when it proposed.
	before func(p *proposer)
}

func (p *proposer) Propose(ctx context.Context, t fsm.MessageType, msg any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if before := p.before; before != nil {
		p.before = nil
		before(p)
	}
	return p.applyLocked(t, msg)
}

// applyLocked applies an event as the next log entry; p.mu is held.
func (p *proposer) applyLocked(t fsm.MessageType, msg any) error {
	b, err := fsm.Encode(t, msg)
	if err != nil {
		return err
	}
	p.next++
	if err, ok := p.f.Apply(&raft.Log{Index: p.next, Term: 1, Type: raft.LogCommand, Data: b}).(error); ok {
		return err
	}
	return nil
}

// racing makes the next proposal come right after an event of another
// node that changes bucket's versioning to status.
func (e *env) racing(t *testing.T, bucket, status string) {
	e.prop.mu.Lock()
	defer e.prop.mu.Unlock()
	e.prop.before = func(p *proposer) {
		if err := p.applyLocked(fsm.MsgBucketVersioningSet, &fsm.BucketVersioningSet{Bucket: bucket, Status: status}); err != nil {
			t.Errorf("versioning %s: %v", status, err)
		}
	}
}

var _ s4s3.Proposer = (*proposer)(nil)
