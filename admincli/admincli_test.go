package admincli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/s4/s4/internal/s3test"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/node"
)

const rootPassword = "password12345"

// testNode starts a real node on loopback ports and returns its endpoint
// and certificate file.
func testNode(t *testing.T) (endpoint, certFile string) {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Listen, cfg.ClusterListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.ClusterKey = &keyring.ClusterKey{7, 7, 7}
	cfg.RootPassword = rootPassword
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 50*time.Millisecond
	n, err := node.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(n.Addr().String(), ":")
	return "https://localhost:" + port, filepath.Join(cfg.DataDir, "tls", "cert.pem")
}

// cli runs `s4 args...` in this process.
type cli struct {
	t *testing.T
}

type result struct {
	code           int
	stdout, stderr string
}

func (c cli) run(stdin string, args ...string) result {
	c.t.Helper()
	var out, errOut bytes.Buffer
	code := Run(args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// ok runs and fails the test unless the exit status is 0.
func (c cli) ok(stdin string, args ...string) result {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.code != 0 {
		c.t.Fatalf("s4 %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// json runs with --json and decodes stdout into v.
func (c cli) json(v any, stdin string, args ...string) result {
	c.t.Helper()
	r := c.ok(stdin, append(args, "--json")...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		c.t.Fatalf("s4 %s --json: %v: %s", strings.Join(args, " "), err, r.stdout)
	}
	return r
}

// fails runs and checks the exit status and that stderr has msg.
func (c cli) fails(code int, msg, stdin string, args ...string) {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.code != code || !strings.Contains(r.stderr, msg) {
		c.t.Fatalf("s4 %s: exit %d, stderr %q; want exit %d with %q", strings.Join(args, " "), r.code, r.stderr, code, msg)
	}
}

// TestSeedFlow runs the seed's flow through the CLI against a real node:
// login, create a user, issue a key, use it, regenerate it, revoke it,
// deactivate the user; --json output parses; failures exit non-zero with
// the API's message; logout forgets the session.
func TestSeedFlow(t *testing.T) {
	endpoint, cert := testNode(t)
	cfgDir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfgDir)
	t.Setenv("S4_ENDPOINT", "")
	t.Setenv("S4_CA_CERT", "")
	c := cli{t}

	c.fails(1, "not logged in", "", "admin", "user", "list", "--endpoint", endpoint, "--ca-cert", cert)
	c.fails(1, "invalid username or password (HTTP 401)", "wrong-password\n", "admin", "login", "--endpoint", endpoint, "--ca-cert", cert)
	c.fails(1, "certificate", rootPassword+"\n", "admin", "login", "--endpoint", endpoint) // not trusted without --ca-cert
	r := c.ok(rootPassword+"\n", "admin", "login", "--endpoint", endpoint, "--ca-cert", cert)
	if !strings.Contains(r.stdout, "Logged in to "+endpoint+" as root") {
		t.Fatalf("login said %q", r.stdout)
	}
	sessions := filepath.Join(cfgDir, "s4", "sessions.json")
	if fi, err := os.Stat(sessions); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v %v", fi, err)
	}
	if fi, _ := os.Stat(filepath.Dir(sessions)); fi.Mode().Perm() != 0o700 {
		t.Fatalf("session dir mode %v", fi.Mode())
	}

	// From here on the session's endpoint and certificate are used.
	var alice userJSON
	c.json(&alice, "alice-password\n", "admin", "user", "create", "alice", "--role", "Writer")
	if alice.Username != "alice" || alice.Role != "Writer" || !alice.IsActive || alice.ID == "" {
		t.Fatalf("created %+v", alice)
	}
	var users []userJSON
	c.json(&users, "", "admin", "user", "list")
	if len(users) != 2 || users[1].ID != alice.ID {
		t.Fatalf("list %+v", users)
	}
	if r := c.ok("", "admin", "user", "list"); !strings.Contains(r.stdout, "USERNAME") || !strings.Contains(r.stdout, "alice") {
		t.Fatalf("table: %s", r.stdout)
	}
	if r := c.ok("", "__complete", "admin", "credentials", "issue", "al"); !strings.Contains(r.stdout, "alice\tWriter") {
		t.Fatalf("completion of a username: %q", r.stdout)
	}
	var byID userJSON
	c.json(&byID, "", "admin", "user", "get", alice.ID)
	if byID.Username != "alice" {
		t.Fatalf("get by ID: %+v", byID)
	}

	type cred struct {
		AccessKey string `json:"access_key"`
		SecretKey string `json:"secret_key"`
	}
	var k1 cred
	r = c.json(&k1, "", "admin", "credentials", "issue", "alice")
	if !strings.Contains(r.stderr, "shown only now") || !strings.HasPrefix(k1.AccessKey, "S4AK") || len(k1.SecretKey) != 40 {
		t.Fatalf("issue: %+v, stderr %q", k1, r.stderr)
	}
	s3c := s3Client(t, endpoint, cert)
	useKey(t, s3c, k1.AccessKey, k1.SecretKey, "")
	r = c.ok("", "admin", "credentials", "issue", "alice") // regenerate
	if !strings.Contains(r.stderr, "It replaces "+k1.AccessKey) || !strings.Contains(r.stdout, "SECRET KEY") {
		t.Fatalf("regenerate: %s / %s", r.stdout, r.stderr)
	}
	var a2 userJSON
	c.json(&a2, "", "admin", "user", "get", "alice")
	k2 := cred{AccessKey: a2.AccessKey, SecretKey: secretIn(t, r.stdout, a2.AccessKey)}
	useKey(t, s3c, k1.AccessKey, k1.SecretKey, "InvalidAccessKeyId")
	useKey(t, s3c, k2.AccessKey, k2.SecretKey, "")

	var revoked map[string]any
	c.json(&revoked, "", "admin", "credentials", "revoke", "alice")
	if revoked["revoked"] != k2.AccessKey || len(revoked["confirmed_by"].([]any)) != 1 {
		t.Fatalf("revoke --json: %v", revoked)
	}
	useKey(t, s3c, k2.AccessKey, k2.SecretKey, "InvalidAccessKeyId")

	var k3 cred
	c.json(&k3, "", "admin", "credentials", "issue", alice.ID)
	useKey(t, s3c, k3.AccessKey, k3.SecretKey, "")
	r = c.ok("", "admin", "user", "update", "alice", "--active=false")
	if !strings.Contains(r.stdout, " no ") || !strings.Contains(r.stderr, "revocation barrier") {
		t.Fatalf("deactivate: %s / %s", r.stdout, r.stderr)
	}
	useKey(t, s3c, k3.AccessKey, k3.SecretKey, "AccessDenied")

	// Errors: the API's message and a non-zero status.
	c.fails(1, "user not found (HTTP 404)", "", "admin", "user", "get", "nobody")
	c.fails(1, "user not found (HTTP 404)", "", "admin", "credentials", "issue", "nobody")
	c.fails(1, "username already exists (HTTP 409)", "alice-password\n", "admin", "user", "create", "alice", "--role", "Reader")
	c.fails(1, "role must be Reader, Writer or SuperUser (HTTP 400)", "bob-password\n", "admin", "user", "create", "bob", "--role", "King")
	c.fails(1, "the root user cannot be deleted", "", "admin", "user", "delete", "root")
	c.fails(2, "needs 1 argument", "", "admin", "user", "get")
	c.fails(2, "unknown flag", "", "admin", "user", "list", "--bogus")
	c.fails(2, "--role is required", "x\n", "admin", "user", "create", "carol")

	var st struct {
		Leader string `json:"leader"`
		Nodes  []struct {
			ID   string `json:"id"`
			Role string `json:"role"`
		} `json:"nodes"`
	}
	c.json(&st, "", "admin", "cluster", "status")
	if len(st.Nodes) != 1 || st.Nodes[0].Role != "leader" || st.Leader != st.Nodes[0].ID {
		t.Fatalf("cluster status %+v", st)
	}

	// A scrape token: created, used, listed, revoked.
	var tok scrapeTokenJSON
	r = c.json(&tok, "", "admin", "metrics", "token", "create", "--name", "prometheus")
	if !strings.HasPrefix(tok.Token, "s4mt_") || !strings.Contains(r.stderr, "shown only now") {
		t.Fatalf("token %+v", tok)
	}
	if code := scrape(t, endpoint, cert, tok.Token); code != 200 {
		t.Fatalf("scrape with the token: %d", code)
	}
	var toks []scrapeTokenJSON
	c.json(&toks, "", "admin", "metrics", "token", "list")
	if len(toks) != 1 || toks[0].ID != tok.ID || toks[0].Token != "" {
		t.Fatalf("token list %+v", toks)
	}
	c.ok("", "admin", "metrics", "token", "revoke", tok.ID)
	if code := scrape(t, endpoint, cert, tok.Token); code != 401 {
		t.Fatalf("scrape with the revoked token: %d", code)
	}
	c.fails(1, "scrape token not found (HTTP 404)", "", "admin", "metrics", "token", "revoke", tok.ID)

	c.ok("", "admin", "user", "delete", "alice")
	c.fails(1, "user not found", "", "admin", "user", "get", alice.ID)

	if b, _ := os.ReadFile(sessions); bytes.Contains(b, []byte(rootPassword)) {
		t.Fatal("the session file holds the password")
	}
	r = c.ok("", "admin", "logout")
	if !strings.Contains(r.stdout, "Logged out of "+endpoint) {
		t.Fatalf("logout: %s", r.stdout)
	}
	if _, err := os.Stat(sessions); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the session file is still there: %v", err)
	}
	c.fails(1, "not logged in", "", "admin", "user", "list", "--endpoint", endpoint, "--ca-cert", cert)
	if r := c.ok("", "completion", "bash"); !strings.Contains(r.stdout, "__s4_") {
		t.Fatal("no bash completion")
	}
}

// secretIn finds the secret key next to ak in a credentials table.
func secretIn(t *testing.T, table, ak string) string {
	t.Helper()
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[1] == ak {
			return f[2]
		}
	}
	t.Fatalf("no secret for %s in %q", ak, table)
	return ""
}

func certPool(t *testing.T, cert string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return pool
}

func s3Client(t *testing.T, endpoint, cert string) *s3test.Client {
	return &s3test.Client{Endpoint: endpoint, HTTP: s3test.HTTPClient(t, certPool(t, cert))}
}

// useKey lists the buckets with a key pair: it succeeds, or fails with
// code.
func useKey(t *testing.T, c *s3test.Client, ak, sk, code string) {
	t.Helper()
	_, err := c.SDK(ak, sk, func(o *s3.Options) { o.RetryMaxAttempts = 1 }).ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if code == "" {
		if err != nil {
			t.Fatalf("key %s: %v", ak, err)
		}
		return
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("key %s: %v, want %s", ak, err, code)
	}
}

func scrape(t *testing.T, endpoint, cert, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", endpoint+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s3test.HTTPClient(t, certPool(t, cert)).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
