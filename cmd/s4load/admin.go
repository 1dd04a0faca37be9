package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// adminClient calls the admin API (/api/admin/) with a session token.
type adminClient struct {
	base  string // endpoint without a trailing slash
	hc    *http.Client
	token string
}

// do sends one request. A status other than want is a *statusError; out,
// if not nil, receives the decoded JSON response, otherwise the body is
// drained so the connection is reused.
func (c *adminClient) do(ctx context.Context, method, path string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &statusError{Code: resp.StatusCode, Body: string(bytes.TrimSpace(b))}
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func (c *adminClient) login(ctx context.Context, user, password string) error {
	var out struct {
		Token string `json:"token"`
	}
	in := map[string]string{"username": user, "password": password}
	if err := c.do(ctx, "POST", "/api/admin/login", in, http.StatusOK, &out); err != nil {
		return fmt.Errorf("login as %q: %w", user, err)
	}
	c.token = out.Token
	return nil
}

// userIDs returns every user's id by username.
func (c *adminClient) userIDs(ctx context.Context) (map[string]string, error) {
	var users []struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	}
	if err := c.do(ctx, "GET", "/api/admin/users", nil, http.StatusOK, &users); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	ids := make(map[string]string, len(users))
	for _, u := range users {
		ids[u.Username] = u.ID
	}
	return ids, nil
}

// createUser creates a Writer. Creation hashes a password with argon2 on the
// server, which answers 503 when its hashing slots stay busy: retried.
func (c *adminClient) createUser(ctx context.Context, name, password string) error {
	in := map[string]string{"username": name, "password": password, "role": "Writer"}
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
		}
		err = c.do(ctx, "POST", "/api/admin/users", in, http.StatusCreated, nil)
		if se, ok := err.(*statusError); !ok || se.Code != http.StatusServiceUnavailable {
			break
		}
	}
	if se, ok := err.(*statusError); ok && se.Code == http.StatusConflict {
		return nil // created meanwhile (another s4load?)
	}
	if err != nil {
		return fmt.Errorf("create user %s: %w", name, err)
	}
	return nil
}

// adminCredentials issues and revokes S3 credentials through the admin API:
// every request is one IAM event, committed to the Raft log before the
// answer. Worker w owns users w, w+c, w+2c, ... and alternates issue and
// revoke on each in turn, so no two workers touch the same user.
type adminCredentials struct {
	client   *adminClient
	user     string // the SuperUser that logs in
	password string
	users    int // load users, named load_0 .. load_<users-1>
	setupC   int // concurrent user creations during Setup
	log      *slog.Logger

	workers int
	paths   []string // credentials path of load user i
}

const loadUserPrefix = "load_"

func (s *adminCredentials) details() string {
	return fmt.Sprintf("issue/revoke alternating over %d users %s0..%s%d", s.users, loadUserPrefix, loadUserPrefix, s.users-1)
}

func (s *adminCredentials) Setup(ctx context.Context, concurrency int) error {
	if s.users < concurrency {
		return fmt.Errorf("-users (%d) must be at least -c (%d): every worker needs a user of its own", s.users, concurrency)
	}
	s.workers = concurrency
	if err := s.client.login(ctx, s.user, s.password); err != nil {
		return err
	}
	ids, err := s.client.userIDs(ctx)
	if err != nil {
		return err
	}
	var missing []string
	for i := range s.users {
		if name := fmt.Sprintf("%s%d", loadUserPrefix, i); ids[name] == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		s.log.Info("creating load users (argon2 on the server: this takes a while)", "missing", len(missing), "of", s.users)
		t0 := time.Now()
		if err := s.createUsers(ctx, missing); err != nil {
			return err
		}
		s.log.Info("created load users", "n", len(missing), "took", time.Since(t0).Round(time.Millisecond))
		if ids, err = s.client.userIDs(ctx); err != nil {
			return err
		}
	}
	s.paths = make([]string, s.users)
	for i := range s.users {
		id := ids[fmt.Sprintf("%s%d", loadUserPrefix, i)]
		if id == "" {
			return fmt.Errorf("user %s%d missing after setup", loadUserPrefix, i)
		}
		s.paths[i] = "/api/admin/users/" + url.PathEscape(id) + "/credentials"
	}
	return nil
}

func (s *adminCredentials) createUsers(ctx context.Context, names []string) error {
	return forEachParallel(ctx, s.setupC, len(names), func(i int) error {
		return s.client.createUser(ctx, names[i], "load-password-"+names[i])
	})
}

// userIndex is the load user of a worker's iter-th op: the worker's users
// w, w+c, w+2c, ... < users in turn, two ops (issue, revoke) on each.
func (s *adminCredentials) userIndex(worker, iter int) int {
	owned := (s.users - worker + s.workers - 1) / s.workers
	return worker + (iter/2%owned)*s.workers
}

func (s *adminCredentials) Op(ctx context.Context, worker, iter int) error {
	path := s.paths[s.userIndex(worker, iter)]
	if iter%2 == 0 {
		return s.client.do(ctx, "POST", path, nil, http.StatusCreated, nil)
	}
	return s.client.do(ctx, "DELETE", path, nil, http.StatusNoContent, nil)
}
