package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s4/s4/internal/s3test"
	"github.com/s4/s4/keyring"
)

var testKey = keyring.ClusterKey{9, 9, 9}

const rootPassword = "password12345"

func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.ClusterListen = "127.0.0.1:0"
	cfg.ClusterKey = &testKey
	cfg.RootPassword = rootPassword
	cfg.HeartbeatTimeout = 100 * time.Millisecond
	cfg.ElectionTimeout = 100 * time.Millisecond
	cfg.LeaderLeaseTimeout = 50 * time.Millisecond
	return cfg
}

func mustOpen(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

// client is an admin API client over real HTTPS that trusts the node's
// generated certificate.
type client struct {
	t     *testing.T
	base  string
	http  *http.Client
	token string
	last  http.Header // the headers of the last response
}

func newClient(t *testing.T, n *Node) *client {
	t.Helper()
	_, port, _ := strings.Cut(n.Addr().String(), ":")
	return &client{t: t, base: "https://localhost:" + port, http: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: nodeCertPool(t, n)}},
	}}
}

// nodeCertPool trusts the self-signed certificate the node generated.
func nodeCertPool(t *testing.T, n *Node) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(n.cfg.DataDir, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in cert.pem")
	}
	return pool
}

func (c *client) do(method, path string, body any, out any) int {
	c.t.Helper()
	code, b := c.doRaw(method, path, body)
	if out != nil && code < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return code
}

// doRaw is do that returns the body as it came.
func (c *client) doRaw(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	c.last = resp.Header
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *client) login(user, password string) {
	c.t.Helper()
	var out struct{ Token string }
	if code := c.do("POST", "/api/admin/login", map[string]string{"username": user, "password": password}, &out); code != 200 {
		c.t.Fatalf("login %s: %d", user, code)
	}
	c.token = out.Token
}

type userJSON struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Role      string `json:"role"`
	AccessKey string `json:"access_key"`
	IsActive  bool   `json:"is_active"`
}

type credJSON struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// TestSeedDocumentFlow runs the flow of S4's credentials page against a real
// node: login as root, create a Writer, issue, use, revoke.
func TestSeedDocumentFlow(t *testing.T) {
	n := mustOpen(t, testConfig(t.TempDir()))
	c := newClient(t, n)
	c.login("root", rootPassword)
	alice := addUser(t, c, "alice", "alice123", "Writer")
	cred := addKey(t, c, alice.ID)
	p, ok := n.FSM().Lookup(cred.AccessKey)
	if !ok || p.ID != alice.ID || p.Secret() != cred.SecretKey {
		t.Fatal("the issued credential is not in the node's auth index")
	}
	if code := c.do("DELETE", "/api/admin/users/"+alice.ID+"/credentials", nil, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if _, ok := n.FSM().Lookup(cred.AccessKey); ok {
		t.Fatal("revoked key still in the auth index after the 204")
	}
	if code := c.do("GET", "/health/ready", nil, nil); code != 200 {
		t.Fatalf("ready: %d", code)
	}
}

// TestRestartKeepsEverything stops a node and starts it again on the same
// data dir, with and without a snapshot in between.
func TestRestartKeepsEverything(t *testing.T) {
	for _, snap := range []bool{false, true} {
		t.Run(fmt.Sprintf("snapshot=%v", snap), func(t *testing.T) {
			dir := t.TempDir()
			n := mustOpen(t, testConfig(dir))
			c := newClient(t, n)
			c.login("root", rootPassword)
			creds := map[string]credJSON{}
			for i := 0; i < 5; i++ {
				var u userJSON
				if code := c.do("POST", "/api/admin/users", map[string]string{"username": fmt.Sprintf("user%d", i), "password": "password-" + fmt.Sprint(i), "role": "Reader"}, &u); code != 201 {
					t.Fatalf("create: %d", code)
				}
				cr := addKey(t, c, u.ID)
				creds[u.ID] = cr
			}
			root, _ := n.FSM().UserByName("root")
			before := n.FSM().AppliedIndex()
			if snap {
				if err := n.Snapshot(); err != nil {
					t.Fatal(err)
				}
			}
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}

			cfg := testConfig(dir)
			cfg.RootPassword = "a-different-password" // must not create or change root again
			m := mustOpen(t, cfg)
			if got := m.FSM().AppliedIndex(); got < before {
				t.Fatalf("applied index %d after restart, was %d", got, before)
			}
			if m.ID() != n.ID() {
				t.Fatalf("node id changed: %s -> %s", n.ID(), m.ID())
			}
			r2, ok := m.FSM().UserByName("root")
			if !ok || r2.ID != root.ID {
				t.Fatal("root user was created again")
			}
			if users := m.FSM().Users(); len(users) != 6 {
				t.Fatalf("%d users after restart, want 6", len(users))
			}
			for id, cr := range creds {
				p, ok := m.FSM().Lookup(cr.AccessKey)
				if !ok || p.ID != id || p.Secret() != cr.SecretKey {
					t.Fatalf("credential of %s lost or changed across restart", id)
				}
			}
			c2 := newClient(t, m)
			c2.login("root", rootPassword) // the original password still works
			if code := c2.do("GET", "/api/admin/users", nil, nil); code != 200 {
				t.Fatalf("list after restart: %d", code)
			}
		})
	}
}

// TestNoPlaintextSecretsOnDisk issues credentials and sets passwords, uses
// the keys and a scrape token, forces a snapshot, stops the node and
// searches every file under the data dir, the node's JSON log (at debug
// level) and its access log among them, for the secrets, passwords and
// tokens, raw, hex and base64. The log's lines are JSON and name the node;
// the access log has a line per S3 request. The IAM history (in meta.db,
// searched with every file) and the admin API's answers about it (its
// export and an access list) are searched too.
func TestNoPlaintextSecretsOnDisk(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	logFile, accessFile := openLogFile(t, filepath.Join(dir, "s4.log")), openLogFile(t, filepath.Join(dir, "access.log"))
	cfg.Logger = slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.AccessLog = accessFile
	n := mustOpen(t, cfg)
	c := newClient(t, n)
	c.login("root", rootPassword)
	secrets := []string{rootPassword, c.token}
	for i := 0; i < 3; i++ {
		pw := fmt.Sprintf("Pw-%d-%s", i, keyring.RandomPassword())
		var u userJSON
		if code := c.do("POST", "/api/admin/users", map[string]string{"username": fmt.Sprintf("user%d", i), "password": pw, "role": "Writer"}, &u); code != 201 {
			t.Fatalf("create: %d", code)
		}
		pw2 := pw + "-changed"
		if code := c.do("PUT", "/api/admin/users/"+u.ID, map[string]string{"password": pw2}, nil); code != 200 {
			t.Fatalf("update: %d", code)
		}
		var cr credJSON
		c.do("POST", "/api/admin/users/"+u.ID+"/credentials", nil, &cr)
		var cr2 credJSON
		c.do("POST", "/api/admin/users/"+u.ID+"/credentials", nil, &cr2)
		if cr.SecretKey == "" || cr2.SecretKey == "" {
			t.Fatal("no secret returned")
		}
		secrets = append(secrets, pw, pw2, cr.SecretKey, cr2.SecretKey)
		// The current key works, the replaced one is refused: both logged.
		s3c := &s3test.Client{Endpoint: c.base, HTTP: s3HTTPClient(t, n)}
		if resp, _ := s3c.Signed(t, s3User{AccessKey: cr2.AccessKey, SecretKey: cr2.SecretKey}, "PUT", fmt.Sprintf("/bucket%d", i), nil, nil); resp.StatusCode != 200 {
			t.Fatalf("create bucket: %d", resp.StatusCode)
		}
		if resp, _ := s3c.Signed(t, s3User{AccessKey: cr.AccessKey, SecretKey: cr.SecretKey}, "GET", "/", nil, nil); resp.StatusCode != 403 {
			t.Fatalf("a replaced key: %d", resp.StatusCode)
		}
	}
	tok := newScrapeToken(t, c, "prometheus")
	secrets = append(secrets, tok.Token)
	if code, _ := scrape(t, c, tok.Token); code != 200 {
		t.Fatalf("scrape: %d", code)
	}
	_, export := c.doRaw("GET", "/api/admin/events?format=ndjson", nil)
	if events := bytes.Count(export, []byte("\n")); events < 1+3*4+1 {
		t.Fatalf("the history export has %d events, want every change above", events)
	}
	_, accessNow := c.doRaw("GET", "/api/admin/access?at="+url.QueryEscape(time.Now().UTC().Format(time.RFC3339Nano)), nil)
	if !bytes.Contains(accessNow, []byte("S4AK")) {
		t.Fatalf("access now: %s", accessNow)
	}
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	checkJSONLines(t, filepath.Join(dir, "s4.log"), 5, func(m map[string]any) error {
		if m["node"] != n.ID() || m["msg"] == nil || m["level"] == nil {
			return fmt.Errorf("no node, msg or level")
		}
		return nil
	})
	checkJSONLines(t, filepath.Join(dir, "access.log"), 6, func(m map[string]any) error {
		if m["node"] != n.ID() || m["operation"] == nil || m["access_key"] == "" || m["status"] == nil {
			return fmt.Errorf("no node, operation, access key or status")
		}
		return nil
	})
	var needles [][]byte
	for _, s := range secrets {
		needles = append(needles, []byte(s), []byte(hex.EncodeToString([]byte(s))))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			// A base64 rendering depends on alignment; search every offset's stable core.
			for off := 0; off < 3; off++ {
				b := enc.EncodeToString([]byte(s)[off:])
				if len(b) > 8 {
					needles = append(needles, []byte(b[:len(b)-4]))
				}
			}
		}
	}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, nd := range needles {
			if bytes.Contains(b, nd) {
				t.Errorf("%s contains a secret or password (%q...)", path, nd[:6])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("only %d files under the data dir: the search proves nothing", files)
	}
	for name, b := range map[string][]byte{"the history export": export, "the access list": accessNow} {
		for _, nd := range needles {
			if bytes.Contains(b, nd) {
				t.Errorf("%s contains a secret or password (%q...)", name, nd[:6])
			}
		}
	}
}

func openLogFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// checkJSONLines checks that every line of the file at path is a JSON
// object that check accepts, and that there are at least min lines.
func checkJSONLines(t *testing.T, path string, min int, check func(map[string]any) error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < min {
		t.Fatalf("%s: %d lines, want at least %d", path, len(lines), min)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%s: a line is not JSON: %v: %s", path, err, l)
		}
		if err := check(m); err != nil {
			t.Fatalf("%s: %v: %s", path, err, l)
		}
	}
}

func TestOpenRefusesAnotherNodesDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.NodeID = "n1"
	n := mustOpen(t, cfg)
	n.Close()
	cfg.NodeID = "n2"
	if m, err := Open(cfg); err == nil {
		m.Close()
		t.Fatal("opened n1's data dir as n2")
	}
}
