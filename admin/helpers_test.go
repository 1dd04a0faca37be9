package admin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/valyala/fasthttp"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
	"github.com/s4/s4/internal/testcert"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/meta"
)

const (
	rootName     = "root"
	rootPassword = "password12345"
)

// fakeClock is the handler's clock; tests move it instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testProposer applies events to a real FSM as Raft would, in order. It
// records every encoded entry (to check that no plaintext secret reaches the
// log) and can inject errors.
type testProposer struct {
	mu      sync.Mutex
	f       *fsm.FSM
	next    uint64
	entries [][]byte
	// inject, when set, is consulted before applying; a non-nil error is
	// returned instead of applying.
	inject func(t fsm.MessageType, msg any) error
	// confirmed and expired are what ProposeBarrier reports for an event
	// of the revocation class (nil: as a single node, no barrier).
	confirmed, expired []string
}

// ProposeBarrier implements Proposer: Propose, and for an event of the
// revocation class the nodes set in confirmed and expired.
func (p *testProposer) ProposeBarrier(ctx context.Context, t fsm.MessageType, msg any) (confirmed, leaseExpired []string, err error) {
	if err := p.Propose(ctx, t, msg); err != nil {
		return nil, nil, err
	}
	b, err := fsm.Encode(t, msg)
	if err != nil || !fsm.Revokes(b) {
		return nil, nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.confirmed, p.expired, nil
}

func (p *testProposer) Propose(ctx context.Context, t fsm.MessageType, msg any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.inject != nil {
		if err := p.inject(t, msg); err != nil {
			return err
		}
	}
	b, err := fsm.Encode(t, msg)
	if err != nil {
		return err
	}
	p.entries = append(p.entries, b)
	p.next++
	resp := p.f.Apply(&raft.Log{Index: p.next, Term: 1, Type: raft.LogCommand, Data: b})
	if err, ok := resp.(error); ok {
		return err
	}
	return nil
}

func (p *testProposer) setInject(fn func(t fsm.MessageType, msg any) error) {
	p.mu.Lock()
	p.inject = fn
	p.mu.Unlock()
}

func (p *testProposer) log() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.entries...)
}

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testNodeID is the node the test's handler says it is.
const testNodeID = "n1"

type env struct {
	t      *testing.T
	h      *Handler
	f      *fsm.FSM
	m      *meta.Store
	p      *testProposer
	clock  *fakeClock
	jwtKey []byte
	base   string
	client *http.Client
	logs   *lockedBuffer
	rootID string

	mu sync.Mutex
	// secrets must never appear in a response body (other than the one
	// credential response that returns a secret key) nor in the logs.
	secrets []string
}

type envOptions struct {
	streamBodies bool // fasthttp.Server.StreamRequestBody
}

func newEnv(t *testing.T) *env { return newEnvWith(t, envOptions{}) }

func newEnvWith(t *testing.T, opt envOptions) *env {
	t.Helper()
	var sealKey [32]byte
	rand.Read(sealKey[:])
	sealer := keyring.NewSealer(sealKey)
	f := fsm.New(sealer)
	m, err := meta.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	f.AttachMeta(m) // the IAM history lives there
	p := &testProposer{f: f}
	clock := &fakeClock{t: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)}
	jwtKey := make([]byte, 32)
	rand.Read(jwtKey)
	logs := &lockedBuffer{}
	e := &env{t: t, f: f, m: m, p: p, clock: clock, jwtKey: jwtKey, logs: logs}

	// The root user, as the node's bootstrap would create it.
	hash, err := keyring.HashPassword(rootPassword)
	if err != nil {
		t.Fatal(err)
	}
	e.rootID = keyring.NewID()
	if err := p.Propose(context.Background(), fsm.MsgUserCreate, fsm.UserCreate{
		ID: e.rootID, Username: rootName, PasswordHash: hash, Role: iam.RoleSuperUser, Root: true, At: clock.Now().UnixNano(),
		Origin: fsm.Origin{Node: testNodeID},
	}); err != nil {
		t.Fatal(err)
	}
	e.addSecret(rootPassword)

	e.h = New(Config{
		JWTKey:  jwtKey,
		Sealer:  sealer,
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     clock.Now,
		NodeID:  testNodeID,
		History: m,
	}, f, p)

	cert := testcert.New(t, "s4 admin test")
	srv := &fasthttp.Server{
		Handler:           e.h.ServeFastHTTP,
		ReadBufferSize:    16 << 10, // room for oversized Authorization headers
		StreamRequestBody: opt.streamBodies,
		ReadTimeout:       10 * time.Second,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLSEmbed(ln, cert.CertPEM, cert.KeyPEM) }()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool, MinVersion: tls.VersionTLS12}}
	e.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	e.base = "https://" + ln.Addr().String()
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.ShutdownWithContext(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		e.checkLogs()
	})
	return e
}

func (e *env) addSecret(s string) {
	e.mu.Lock()
	e.secrets = append(e.secrets, s)
	e.mu.Unlock()
}

// forbidden lists what no response body (but the credential one) and no log
// line may contain: registered secrets, and every user's password hash and
// S3 secret in the encodings JSON would give them.
func (e *env) forbidden() []string {
	e.mu.Lock()
	out := append([]string(nil), e.secrets...)
	e.mu.Unlock()
	for _, u := range e.f.Users() {
		out = append(out, base64.StdEncoding.EncodeToString(u.PasswordHash), string(u.PasswordHash))
		if s := u.Secret(); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (e *env) checkLogs() {
	logs := e.logs.String()
	for _, s := range e.forbidden() {
		if s != "" && strings.Contains(logs, s) {
			e.t.Errorf("the log contains a secret")
		}
	}
	for _, w := range []string{"password=", "secret_key", "token="} {
		if strings.Contains(logs, w) {
			e.t.Errorf("the log contains %q", w)
		}
	}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (r resp) errMsg(t *testing.T) string {
	t.Helper()
	var e map[string]string
	r.json(t, &e)
	return e["error"]
}

// do sends one request and checks what every response must satisfy.
func (e *env) do(method, path, token string, body any) resp {
	e.t.Helper()
	return e.doWith(method, path, body, func(r *http.Request) {
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
	}, false)
}

func (e *env) doWith(method, path string, body any, mod func(*http.Request), allowSecret bool) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if mod != nil {
		mod(req)
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := resp{status: res.StatusCode, header: res.Header, body: b}
	if r.status == http.StatusNoContent {
		if len(b) != 0 {
			e.t.Errorf("%s %s: 204 with body %q", method, path, b)
		}
	} else {
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
		if r.status >= 400 {
			var eb map[string]any
			if err := json.Unmarshal(b, &eb); err != nil || len(eb) != 1 || eb["error"] == nil {
				e.t.Errorf("%s %s: %d error body %q is not {\"error\": ...}", method, path, r.status, b)
			}
		}
	}
	if !allowSecret {
		for _, s := range e.forbidden() {
			if s != "" && bytes.Contains(b, []byte(s)) {
				e.t.Errorf("%s %s: response contains a secret: %s", method, path, b)
			}
		}
	}
	for _, w := range []string{"hash", "secret"} {
		if !allowSecret && bytes.Contains(bytes.ToLower(b), []byte(w)) {
			e.t.Errorf("%s %s: response mentions %q: %s", method, path, w, b)
		}
	}
	return r
}

// raw sends one literal HTTP/1.1 request over a fresh TLS connection, for
// requests net/http would not send as a given client (curl) does.
func (e *env) raw(request string) resp {
	e.t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(e.base, "https://"), e.client.Transport.(*http.Transport).TLSClientConfig)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		e.t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) want(r resp, status int) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

func (e *env) login(name, password string) string {
	e.t.Helper()
	r := e.want(e.do("POST", "/api/admin/login", "", map[string]string{"username": name, "password": password}), 200)
	var out struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	r.json(e.t, &out)
	if out.Token == "" {
		e.t.Fatalf("login: no token in %s", r.body)
	}
	e.addSecret(out.Token)
	return out.Token
}

func (e *env) rootToken() string { return e.login(rootName, rootPassword) }

type userOut struct {
	ID        string  `json:"id"`
	Username  string  `json:"username"`
	Role      string  `json:"role"`
	IsActive  bool    `json:"is_active"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
	AccessKey *string `json:"access_key"`
}

func (e *env) createUser(token, name, password, role string) userOut {
	e.t.Helper()
	e.addSecret(password)
	r := e.want(e.do("POST", "/api/admin/users", token, map[string]string{"username": name, "password": password, "role": role}), 201)
	var u userOut
	r.json(e.t, &u)
	return u
}

type credOut struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

func (e *env) issue(token, id string) credOut {
	e.t.Helper()
	r := e.doWith("POST", "/api/admin/users/"+id+"/credentials", nil, func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+token)
	}, true)
	e.want(r, 201)
	var c credOut
	r.json(e.t, &c)
	e.addSecret(c.SecretKey)
	return c
}

var errInjected = errors.New("raft: leadership lost while committing log")
