package admincli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// apiError is the admin API's answer to a request that failed: its status
// and its {"error": ...} message.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status) }

// conn is the connection to one endpoint, with the session's token.
type conn struct {
	endpoint string
	http     *http.Client
	token    string
}

// response is a successful answer: its headers and body.
type response struct {
	header http.Header
	body   []byte
}

// barrier describes how a revocation-class write was acknowledged, from
// its headers ("" when it did not go through the barrier).
func (r *response) barrier() string {
	confirmed := r.header.Get("X-S4-Confirmed-By")
	if confirmed == "" {
		return ""
	}
	s := "confirmed by " + confirmed
	if exp := r.header.Get("X-S4-Lease-Expired"); exp != "" {
		s += "; waited out the lease of " + exp
	}
	return s
}

// barrierJSON is barrier for --json.
func (r *response) barrierJSON() map[string][]string {
	out := map[string][]string{"confirmed_by": {}, "lease_expired": {}}
	for k, h := range map[string]string{"confirmed_by": "X-S4-Confirmed-By", "lease_expired": "X-S4-Lease-Expired"} {
		if v := r.header.Get(h); v != "" {
			out[k] = strings.Split(v, ",")
		}
	}
	return out
}

// normalizeEndpoint accepts host:port (https:// is added) and drops a
// trailing slash.
func normalizeEndpoint(e string) string {
	e = strings.TrimRight(strings.TrimSpace(e), "/")
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	return e
}

// connect returns the connection to the endpoint asked for (flag,
// variable, else the last login's, else DefaultEndpoint), with its
// session's token and TLS settings when there is one.
func (a *app) connect() (*conn, error) {
	if a.conn != nil {
		return a.conn, nil
	}
	store, err := a.sessions()
	if err != nil {
		return nil, err
	}
	endpoint := a.endpoint
	if endpoint == "" {
		endpoint = store.Current
	}
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	endpoint = normalizeEndpoint(endpoint)
	sess := store.Sessions[endpoint]
	caCert, insecure := a.caCert, a.insecure
	if caCert == "" && !insecure && sess != nil {
		caCert, insecure = sess.CACert, sess.Insecure
	}
	hc, err := httpClient(caCert, insecure)
	if err != nil {
		return nil, err
	}
	a.conn = &conn{endpoint: endpoint, http: hc}
	if sess != nil && time.Now().Before(sess.ExpiresAt) {
		a.conn.token = sess.Token
	}
	return a.conn, nil
}

func httpClient(caCert string, insecure bool) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case insecure:
		tc.InsecureSkipVerify = true
	case caCert != "":
		pem, err := os.ReadFile(caCert)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-cert: no PEM certificate in %s", caCert)
		}
		tc.RootCAs = pool
	}
	// A revocation waits for the barrier (up to a lease), a membership
	// change for Raft: a minute covers both.
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}, nil
}

// do sends one request to the API (path under /api/admin/) and returns the
// answer, or an *apiError for a status of 300 and above. Without a session
// it fails at once, unless the request needs none (login).
func (a *app) do(method, path string, body any, authenticated bool) (*response, error) {
	c, err := a.connect()
	if err != nil {
		return nil, err
	}
	if authenticated && c.token == "" {
		return nil, fmt.Errorf("not logged in to %s (or the session expired): run s4 admin login", c.endpoint)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.endpoint+"/api/admin/"+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if authenticated {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s: %w", c.endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
			if e.Error == "" {
				e.Error = http.StatusText(resp.StatusCode)
			}
		}
		if resp.StatusCode == http.StatusUnauthorized && authenticated {
			e.Error += "; run s4 admin login"
		}
		return nil, &apiError{Status: resp.StatusCode, Message: e.Error}
	}
	return &response{header: resp.Header, body: b}, nil
}

// get, post, put and delete are do for an authenticated request; out, when
// not nil, receives the decoded body.
func (a *app) get(path string, out any) (*response, error) { return a.call("GET", path, nil, out) }

func (a *app) post(path string, body, out any) (*response, error) {
	return a.call("POST", path, body, out)
}

func (a *app) put(path string, body, out any) (*response, error) {
	return a.call("PUT", path, body, out)
}

func (a *app) delete(path string) (*response, error) { return a.call("DELETE", path, nil, nil) }

func (a *app) call(method, path string, body, out any) (*response, error) {
	r, err := a.do(method, path, body, true)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			return nil, fmt.Errorf("decoding the answer to %s %s: %w", method, path, err)
		}
	}
	return r, nil
}
