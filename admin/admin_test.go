package admin

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
)

var (
	accessKeyRE = regexp.MustCompile(`^S4AK[A-Za-z0-9]{20}$`)
	secretKeyRE = regexp.MustCompile(`^[A-Za-z0-9]{40}$`)
)

// TestSeedDocFlow follows seed/s3-credentials.txt step by step.
func TestSeedDocFlow(t *testing.T) {
	e := newEnv(t)

	// Get JWT token
	r := e.want(e.do("POST", "/api/admin/login", "", `{"username":"root","password":"password12345"}`), 200)
	var lr struct{ Token, Expires_at string }
	r.json(t, &lr)
	token := lr.Token
	e.addSecret(token)

	// Create a user
	e.addSecret("alice123")
	r = e.want(e.do("POST", "/api/admin/users", token, `{"username":"alice","password":"alice123","role":"Writer"}`), 201)
	var alice userOut
	r.json(t, &alice)
	if alice.ID == "" || alice.Username != "alice" || alice.Role != "Writer" || !alice.IsActive || alice.AccessKey != nil {
		t.Fatalf("created user %+v", alice)
	}

	// Generate S3 credentials: sent byte for byte as curl sends it (no body,
	// no Content-Length, no Content-Type).
	r = e.raw("POST /api/admin/users/" + alice.ID + "/credentials HTTP/1.1\r\nHost: localhost:9000\r\n" +
		"User-Agent: curl/8.5.0\r\nAccept: */*\r\nAuthorization: Bearer " + token + "\r\n\r\n")
	e.want(r, 201)
	var fields map[string]string
	r.json(t, &fields)
	if len(fields) != 2 || !accessKeyRE.MatchString(fields["access_key"]) || !secretKeyRE.MatchString(fields["secret_key"]) {
		t.Fatalf("credential response %s", r.body)
	}
	ak, sk := fields["access_key"], fields["secret_key"]
	e.addSecret(sk)

	// The FSM unsealed the same secret under that access key.
	u, ok := e.f.Lookup(ak)
	if !ok || u.ID != alice.ID || u.Secret() != sk {
		t.Fatalf("fsm lookup of the new access key: ok=%v", ok)
	}
	// The user now shows the access key, never the secret.
	var got userOut
	e.want(e.do("GET", "/api/admin/users/"+alice.ID, token, nil), 200).json(t, &got)
	if got.AccessKey == nil || *got.AccessKey != ak {
		t.Fatalf("GET user after issue: %+v", got)
	}

	// Revoke Credentials
	r = e.raw("DELETE /api/admin/users/" + alice.ID + "/credentials HTTP/1.1\r\nHost: localhost:9000\r\n" +
		"User-Agent: curl/8.5.0\r\nAccept: */*\r\nAuthorization: Bearer " + token + "\r\n\r\n")
	e.want(r, 204)
	if len(r.body) != 0 {
		t.Fatalf("204 with body %q", r.body)
	}
	if _, ok := e.f.Lookup(ak); ok {
		t.Fatal("revoked access key still resolves")
	}
	var after userOut
	e.want(e.do("GET", "/api/admin/users/"+alice.ID, token, nil), 200).json(t, &after)
	if after.AccessKey != nil || after.ID != alice.ID {
		t.Fatalf("after revoke: %s", after.Username)
	}

	// Neither the plaintext password nor the secret went into the log.
	for _, entry := range e.p.log() {
		if bytes.Contains(entry, []byte("alice123")) || bytes.Contains(entry, []byte(sk)) || bytes.Contains(entry, []byte(rootPassword)) {
			t.Fatal("a Raft entry contains a plaintext password or secret key")
		}
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()

	r := e.want(e.do("POST", "/api/admin/login", "", map[string]string{"username": rootName, "password": rootPassword}), 200)
	var out map[string]string
	r.json(t, &out)
	if len(out) != 2 || out["token"] == "" {
		t.Fatalf("login response %s", r.body)
	}
	e.addSecret(out["token"])
	exp, err := time.Parse(time.RFC3339, out["expires_at"])
	if err != nil || !exp.Equal(now.Add(24*time.Hour).Truncate(time.Second)) {
		t.Fatalf("expires_at %q (%v), want %v", out["expires_at"], err, now.Add(24*time.Hour))
	}
	claims, err := e.h.parseToken(out["token"])
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != e.rootID || *claims.Gen != 1 || claims.Issuer != "s4" || len(claims.Audience) != 1 || claims.Audience[0] != "s4-admin" {
		t.Fatalf("claims %+v", claims)
	}
	e.want(e.do("GET", "/api/admin/users", out["token"], nil), 200)

	tok := e.rootToken()
	e.createUser(tok, "rita", "rita-pass-1", "Reader")
	inactive := e.createUser(tok, "ivan", "ivan-pass-1", "SuperUser")
	e.want(e.do("PUT", "/api/admin/users/"+inactive.ID, tok, `{"is_active":false}`), 200)

	// Wrong password, unknown user, inactive user (even with the right
	// password) and impossible names all get the same answer.
	var first string
	for i, c := range []struct{ name, pw string }{
		{rootName, "wrong-password"},
		{"nobody", "whatever-pw"},
		{"ivan", "ivan-pass-1"},
		{"ivan", "not-ivans-pw"},
		{"no such name!", "whatever-pw"},
		{"ab", "whatever-pw"},
		{strings.Repeat("a", 200), "whatever-pw"},
	} {
		r := e.want(e.do("POST", "/api/admin/login", "", map[string]string{"username": c.name, "password": c.pw}), 401)
		if i == 0 {
			first = string(r.body)
		} else if string(r.body) != first {
			t.Errorf("login %d: body %s differs from %s", i, r.body, first)
		}
	}

	// A Reader may log in, but every other route is forbidden to it.
	rtok := e.login("rita", "rita-pass-1")
	e.want(e.do("GET", "/api/admin/users", rtok, nil), 403)

	// Malformed login bodies.
	for _, body := range []string{
		``,
		`{}`,
		`{"username":"root"}`,
		`{"password":"password12345"}`,
		`{"username":"root","password":"password12345","extra":1}`,
		`{"username":"root","password":"password12345"} x`,
		`{"username":"root","password":"password12345"}{}`,
		`{"username":1,"password":"password12345"}`,
		`{"username":"root","password":null}`,
		`{"Username":"root","password":"password12345"}`,
		`{"username":"root","username":"root","password":"password12345"}`,
		`["root","password12345"]`,
		`{"username":"root","password":"` + strings.Repeat("x", 1025) + `"}`,
		`{"username":"root","password":""}`,
		"{\"username\":\"root\",\"password\":\"pass\xffword\"}",
	} {
		e.want(e.do("POST", "/api/admin/login", "", body), 400)
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	bad := map[string]string{"username": rootName, "password": "not-the-password"}
	good := map[string]string{"username": rootName, "password": rootPassword}

	// Four failures, then a success: the success resets the count.
	for i := 0; i < 4; i++ {
		e.want(e.do("POST", "/api/admin/login", "", bad), 401)
		e.clock.Advance(time.Second)
	}
	e.want(e.do("POST", "/api/admin/login", "", good), 200)
	for i := 0; i < 4; i++ {
		e.want(e.do("POST", "/api/admin/login", "", bad), 401)
	}
	e.want(e.do("POST", "/api/admin/login", "", good), 200)

	// Five failures within a minute lock the name.
	start := e.clock.Now()
	for i := 0; i < 5; i++ {
		e.want(e.do("POST", "/api/admin/login", "", bad), 401)
		e.clock.Advance(10 * time.Second)
	}
	// Now start+50s; the oldest failure leaves the window at start+60s.
	r := e.want(e.do("POST", "/api/admin/login", "", bad), 429)
	if ra := r.header.Get("Retry-After"); ra != "10" {
		t.Fatalf("Retry-After %q, want 10", ra)
	}
	// The right password does not help while locked, and is not even checked.
	r = e.want(e.do("POST", "/api/admin/login", "", good), 429)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	// Other names are not affected.
	e.createUser(e.h.mustToken(t, e.rootID), "other", "other-pass-1", "Reader")
	e.want(e.do("POST", "/api/admin/login", "", map[string]string{"username": "other", "password": "other-pass-1"}), 200)

	e.clock.Advance(9*time.Second + 500*time.Millisecond) // start+59.5s
	r = e.want(e.do("POST", "/api/admin/login", "", good), 429)
	if ra := r.header.Get("Retry-After"); ra != "1" {
		t.Fatalf("Retry-After %q, want 1", ra)
	}
	e.clock.Advance(time.Second) // the first failure has left the window
	e.want(e.do("POST", "/api/admin/login", "", good), 200)
	if !e.clock.Now().After(start.Add(time.Minute)) {
		t.Fatal("clock")
	}

	// Unknown names are throttled the same way, so 429 does not reveal
	// whether a user exists.
	ghost := map[string]string{"username": "ghost", "password": "whatever-pw"}
	for i := 0; i < 5; i++ {
		e.want(e.do("POST", "/api/admin/login", "", ghost), 401)
	}
	e.want(e.do("POST", "/api/admin/login", "", ghost), 429)
}

// mustToken mints a valid session token for a user straight from the
// Handler (tests that must not disturb the login throttle).
func (h *Handler) mustToken(t *testing.T, id string) string {
	t.Helper()
	u, ok := h.store.UserByID(id)
	if !ok {
		t.Fatalf("no user %s", id)
	}
	tok, _, err := h.issueToken(u)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Concurrent guesses cannot get past the limit.
func TestLoginThrottleConcurrent(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do("POST", "/api/admin/login", "", map[string]string{"username": rootName, "password": "guess-guess"})
			mu.Lock()
			codes[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[401] > 5 || codes[401]+codes[429] != 12 {
		t.Fatalf("status counts %v: at most 5 passwords may be checked", codes)
	}
}

func TestUsersCRUD(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()

	var list []userOut
	e.want(e.do("GET", "/api/admin/users", tok, nil), 200).json(t, &list)
	if len(list) != 1 || list[0].Username != rootName || list[0].Role != "SuperUser" || list[0].ID != e.rootID {
		t.Fatalf("initial list %+v", list)
	}

	e.clock.Advance(time.Millisecond)
	created := e.clock.Now()
	w := e.createUser(tok, "walter", "walter-pass", "Writer")
	if w.Username != "walter" || w.Role != "Writer" || !w.IsActive || w.AccessKey != nil {
		t.Fatalf("created %+v", w)
	}
	if w.CreatedAt != created.UTC().Format(time.RFC3339Nano) || w.UpdatedAt != w.CreatedAt {
		t.Fatalf("timestamps %q %q, want %q", w.CreatedAt, w.UpdatedAt, created.Format(time.RFC3339Nano))
	}
	e.clock.Advance(time.Millisecond)
	rd := e.createUser(tok, "Reader_2", "reader-pass", "Reader")
	e.clock.Advance(time.Millisecond)
	su := e.createUser(tok, "su_1", "su-pass-123", "SuperUser")

	// A duplicate name is 409, also when it only differs in the password.
	e.want(e.do("POST", "/api/admin/users", tok, map[string]string{"username": "walter", "password": "another-pw", "role": "Reader"}), 409)

	e.want(e.do("GET", "/api/admin/users", tok, nil), 200).json(t, &list)
	var names []string
	for _, u := range list {
		names = append(names, u.Username)
	}
	if strings.Join(names, ",") != "root,walter,Reader_2,su_1" {
		t.Fatalf("list order %v", names)
	}

	var got userOut
	e.want(e.do("GET", "/api/admin/users/"+rd.ID, tok, nil), 200).json(t, &got)
	if got != rd {
		t.Fatalf("GET %+v, want %+v", got, rd)
	}

	// PUT each field, then all three.
	e.clock.Advance(time.Second)
	e.want(e.do("PUT", "/api/admin/users/"+w.ID, tok, `{"role":"Reader"}`), 200).json(t, &got)
	if got.Role != "Reader" || !got.IsActive || got.UpdatedAt != e.clock.Now().Format(time.RFC3339Nano) || got.CreatedAt != w.CreatedAt {
		t.Fatalf("after role change %+v", got)
	}
	e.want(e.do("PUT", "/api/admin/users/"+w.ID, tok, `{"is_active":false}`), 200).json(t, &got)
	if got.IsActive {
		t.Fatalf("after deactivate %+v", got)
	}
	e.addSecret("walter-new-pass")
	e.want(e.do("PUT", "/api/admin/users/"+w.ID, tok, `{"password":"walter-new-pass"}`), 200)
	e.want(e.do("PUT", "/api/admin/users/"+w.ID, tok, `{"password":"walter-newer-pass","role":"Writer","is_active":true}`), 200).json(t, &got)
	e.addSecret("walter-newer-pass")
	if got.Role != "Writer" || !got.IsActive {
		t.Fatalf("after full update %+v", got)
	}
	e.want(e.do("POST", "/api/admin/login", "", map[string]string{"username": "walter", "password": "walter-pass"}), 401)
	e.login("walter", "walter-newer-pass")

	// Unknown ids.
	e.want(e.do("GET", "/api/admin/users/nope", tok, nil), 404)
	e.want(e.do("PUT", "/api/admin/users/nope", tok, `{"role":"Reader"}`), 404)
	e.want(e.do("DELETE", "/api/admin/users/nope", tok, nil), 404)

	// Delete.
	e.want(e.do("DELETE", "/api/admin/users/"+su.ID, tok, nil), 204)
	e.want(e.do("GET", "/api/admin/users/"+su.ID, tok, nil), 404)
	e.want(e.do("DELETE", "/api/admin/users/"+su.ID, tok, nil), 404)
	e.want(e.do("GET", "/api/admin/users", tok, nil), 200).json(t, &list)
	if len(list) != 3 {
		t.Fatalf("%d users after delete", len(list))
	}
	// The name is free again.
	e.createUser(tok, "su_1", "su-pass-456", "Reader")
}

func TestValidation(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()
	u := e.createUser(tok, "valerie", "valerie-pw", "Writer")

	long := strings.Repeat("p", 1025)
	for _, body := range []string{
		// shape
		``, `null`, `[]`, `"x"`, `{`, `{"username":"abc","password":"12345678","role":"Reader"}garbage`,
		`{"username":"abc","password":"12345678","role":"Reader"} {}`,
		`{"username":"abc","password":"12345678","role":"Reader","admin":true}`,
		`{"username":"abc","password":"12345678","Role":"Reader"}`,
		`{"username":"abc","username":"abd","password":"12345678","role":"Reader"}`,
		"{\"username\":\"abc\",\"password\":\"1234567\xff\",\"role\":\"Reader\"}",
		// missing fields
		`{"password":"12345678","role":"Reader"}`,
		`{"username":"abc","role":"Reader"}`,
		`{"username":"abc","password":"12345678"}`,
		// types
		`{"username":123,"password":"12345678","role":"Reader"}`,
		`{"username":"abc","password":12345678,"role":"Reader"}`,
		`{"username":"abc","password":"12345678","role":null}`,
		// username
		`{"username":"ab","password":"12345678","role":"Reader"}`,
		`{"username":"` + strings.Repeat("a", 33) + `","password":"12345678","role":"Reader"}`,
		`{"username":"a-b","password":"12345678","role":"Reader"}`,
		`{"username":"a b","password":"12345678","role":"Reader"}`,
		`{"username":"ünï","password":"12345678","role":"Reader"}`,
		`{"username":"abc\u0000","password":"12345678","role":"Reader"}`,
		// password
		`{"username":"abc","password":"1234567","role":"Reader"}`,
		`{"username":"abc","password":"","role":"Reader"}`,
		`{"username":"abc","password":"` + long + `","role":"Reader"}`,
		// role
		`{"username":"abc","password":"12345678","role":"writer"}`,
		`{"username":"abc","password":"12345678","role":"Admin"}`,
		`{"username":"abc","password":"12345678","role":""}`,
		`{"username":"abc","password":"12345678","role":3}`,
	} {
		r := e.do("POST", "/api/admin/users", tok, body)
		if r.status != 400 {
			t.Errorf("create %q: %d %s", truncate(body, 80), r.status, r.body)
		}
	}
	// The boundaries that are allowed.
	e.createUser(tok, "abc", "12345678", "Reader")
	e.createUser(tok, strings.Repeat("Z", 32), strings.Repeat("p", 1024), "Reader")
	e.createUser(tok, "a_1", "pässwörd", "Reader") // 8 characters, 10 bytes

	for _, body := range []string{
		``, `{}`, `null`, `{"role":null}`, `{"password":null}`, `{"is_active":null}`,
		`{"is_active":"false"}`, `{"is_active":0}`, `{"role":"reader"}`, `{"password":"short"}`,
		`{"password":"` + long + `"}`, `{"username":"newname"}`, `{"role":"Reader","id":"x"}`,
		`{"role":"Reader"} x`, `{"role":"Reader","role":"SuperUser"}`, `{"IS_ACTIVE":true}`,
	} {
		r := e.do("PUT", "/api/admin/users/"+u.ID, tok, body)
		if r.status != 400 {
			t.Errorf("update %q: %d %s", truncate(body, 80), r.status, r.body)
		}
	}

	// The credentials route takes no body.
	for _, body := range []string{`{"access_key":"S4AKxxxxxxxxxxxxxxxxxxxx"}`, `x`, `[]`, `{} {}`} {
		e.want(e.do("POST", "/api/admin/users/"+u.ID+"/credentials", tok, body), 400)
	}
	for _, body := range []string{"", "  \n", "{}"} {
		r := e.doWith("POST", "/api/admin/users/"+u.ID+"/credentials", body, func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+tok)
		}, true)
		e.want(r, 201)
		var c credOut
		r.json(t, &c)
		e.addSecret(c.SecretKey)
	}
}

func TestBodyTooLarge(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			e := newEnvWith(t, envOptions{streamBodies: stream})
			tok := e.rootToken()
			u := e.createUser(tok, "big_body", "big-body-pw", "Reader")
			huge := `{"username":"abc","password":"12345678","role":"Reader","pad":"` + strings.Repeat("x", maxBodySize) + `"}`
			e.want(e.do("POST", "/api/admin/users", tok, huge), 413)
			e.want(e.do("PUT", "/api/admin/users/"+u.ID, tok, huge), 413)
			e.want(e.do("POST", "/api/admin/login", "", huge), 413)
			e.want(e.do("POST", "/api/admin/users/"+u.ID+"/credentials", tok, huge), 413)
			// Without Content-Length (chunked), too.
			r := e.doWith("POST", "/api/admin/users", struct{ *strings.Reader }{strings.NewReader(huge)}, func(r *http.Request) {
				r.Header.Set("Authorization", "Bearer "+tok)
				r.ContentLength = -1
			}, false)
			e.want(r, 413)
			// Exactly at the limit is read (and then rejected as bad JSON).
			exact := `{"role":"` + strings.Repeat("x", maxBodySize-11) + `"}`
			if len(exact) != maxBodySize {
				t.Fatal(len(exact))
			}
			e.want(e.do("PUT", "/api/admin/users/"+u.ID, tok, exact), 400)
		})
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()
	u := e.createUser(tok, "router", "router-pw-1", "Reader")

	for _, path := range []string{
		"/api/admin/", "/api/admin", "/api/admin/nope", "/api/admin/login/x", "/api/admin/users/",
		"/api/admin/users/" + u.ID + "/", "/api/admin/users/" + u.ID + "/keys", "/api/admin/users/" + u.ID + "/credentials/x",
		"/api/adminx/users", "/", "/api/admin/users//credentials",
	} {
		e.want(e.do("GET", path, tok, nil), 404)
	}
	for _, c := range []struct{ method, path, allow string }{
		{"GET", "/api/admin/login", "POST"},
		{"PUT", "/api/admin/login", "POST"},
		{"DELETE", "/api/admin/users", "GET, POST"},
		{"PATCH", "/api/admin/users", "GET, POST"},
		{"POST", "/api/admin/users/" + u.ID, "GET, PUT, DELETE"},
		{"PATCH", "/api/admin/users/" + u.ID, "GET, PUT, DELETE"},
		{"GET", "/api/admin/users/" + u.ID + "/credentials", "POST, DELETE"},
		{"PUT", "/api/admin/users/" + u.ID + "/credentials", "POST, DELETE"},
	} {
		// 405 comes before authentication: the route's methods are public.
		r := e.want(e.do(c.method, c.path, "", nil), 405)
		if r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, r.header.Get("Allow"), c.allow)
		}
	}
}

func TestRootProtections(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()
	root := "/api/admin/users/" + e.rootID
	e.want(e.do("DELETE", root, tok, nil), 409)
	e.want(e.do("PUT", root, tok, `{"is_active":false}`), 409)
	for _, role := range []string{"Writer", "Reader"} {
		e.want(e.do("PUT", root, tok, `{"role":"`+role+`"}`), 409)
	}
	e.want(e.do("PUT", root, tok, `{"password":"new-root-pw","is_active":false}`), 409)
	// Nothing was proposed by those.
	if n := len(e.p.log()); n != 1 {
		t.Fatalf("%d entries in the log, want only the bootstrap", n)
	}
	// Another SuperUser cannot do it either.
	other := e.createUser(tok, "second", "second-pw-1", "SuperUser")
	tok2 := e.login("second", "second-pw-1")
	e.want(e.do("DELETE", root, tok2, nil), 409)

	// Harmless updates of root are fine: a no-op role, active=true, a new password.
	var got userOut
	e.want(e.do("PUT", root, tok, `{"role":"SuperUser","is_active":true}`), 200).json(t, &got)
	if got.Role != "SuperUser" || !got.IsActive {
		t.Fatalf("root %+v", got)
	}
	e.want(e.do("GET", "/api/admin/users", tok, nil), 200) // no-op kept the session
	e.addSecret("new-root-pw")
	e.want(e.do("PUT", root, tok, `{"password":"new-root-pw"}`), 200)
	e.login(rootName, "new-root-pw")
	_ = other

	// If the FSM refuses (a race the pre-check cannot see), 409 as well.
	e.p.setInject(func(fsm.MessageType, any) error { return fsm.ErrRootImmutable })
	e.want(e.do("DELETE", "/api/admin/users/"+other.ID, tok2, nil), 409)
}

func TestProposerErrors(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()
	u := e.createUser(tok, "victim", "victim-pw-1", "Writer")

	for _, c := range []struct {
		err    error
		status int
	}{
		{fsm.ErrNoSuchUser, 404},
		{fmt.Errorf("forwarded: %w", fsm.ErrNoSuchUser), 404},
		{fsm.ErrUsernameTaken, 409},
		{fsm.ErrRootImmutable, 409},
		{errInjected, 503},
		{fsm.ErrInvalidEvent, 503},
	} {
		e.p.setInject(func(fsm.MessageType, any) error { return c.err })
		for _, req := range []struct{ method, path, body string }{
			{"POST", "/api/admin/users", `{"username":"newbie","password":"newbie-pw","role":"Reader"}`},
			{"PUT", "/api/admin/users/" + u.ID, `{"role":"Reader"}`},
			{"DELETE", "/api/admin/users/" + u.ID, ""},
			{"POST", "/api/admin/users/" + u.ID + "/credentials", ""},
			{"DELETE", "/api/admin/users/" + u.ID + "/credentials", ""},
		} {
			var body any
			if req.body != "" {
				body = req.body
			}
			r := e.do(req.method, req.path, tok, body)
			if r.status != c.status {
				t.Errorf("%s %s with %v: %d, want %d", req.method, req.path, c.err, r.status, c.status)
			}
			if c.status == 503 && strings.Contains(string(r.body), "leadership") {
				t.Errorf("503 leaks the cluster error: %s", r.body)
			}
		}
	}
	if !strings.Contains(e.logs.String(), "leadership lost") {
		t.Error("cluster errors are not logged")
	}
	e.p.setInject(nil)
	e.want(e.do("GET", "/api/admin/users/"+u.ID, tok, nil), 200)
}

func TestCredentials(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()
	u := e.createUser(tok, "carol", "carol-pw-1", "Reader")

	c1 := e.issue(tok, u.ID)
	c2 := e.issue(tok, u.ID)
	for _, c := range []credOut{c1, c2} {
		if !accessKeyRE.MatchString(c.AccessKey) || !secretKeyRE.MatchString(c.SecretKey) {
			t.Fatalf("credential format %q", c.AccessKey)
		}
	}
	if c1.AccessKey == c2.AccessKey || c1.SecretKey == c2.SecretKey {
		t.Fatal("second issue returned the same pair")
	}
	if _, ok := e.f.Lookup(c1.AccessKey); ok {
		t.Fatal("the replaced access key still resolves")
	}
	if got, ok := e.f.Lookup(c2.AccessKey); !ok || got.ID != u.ID || got.Secret() != c2.SecretKey {
		t.Fatal("the new access key does not resolve to its secret")
	}
	var got userOut
	e.want(e.do("GET", "/api/admin/users/"+u.ID, tok, nil), 200).json(t, &got)
	if got.AccessKey == nil || *got.AccessKey != c2.AccessKey {
		t.Fatalf("GET shows %v", got.AccessKey)
	}
	var list []userOut
	e.want(e.do("GET", "/api/admin/users", tok, nil), 200).json(t, &list)
	shown := false
	for _, l := range list {
		if l.ID == u.ID {
			shown = l.AccessKey != nil && *l.AccessKey == c2.AccessKey
		} else if l.AccessKey != nil {
			t.Fatalf("%s shows an access key", l.Username)
		}
	}
	if !shown {
		t.Fatal("list does not show the access key")
	}

	e.want(e.do("DELETE", "/api/admin/users/"+u.ID+"/credentials", tok, nil), 204)
	if _, ok := e.f.Lookup(c2.AccessKey); ok {
		t.Fatal("revoked key resolves")
	}
	e.want(e.do("DELETE", "/api/admin/users/"+u.ID+"/credentials", tok, nil), 204) // idempotent
	e.want(e.do("DELETE", "/api/admin/users/nope/credentials", tok, nil), 404)
	e.want(e.do("POST", "/api/admin/users/nope/credentials", tok, nil), 404)

	// A collision of access keys is retried with a fresh pair.
	var mu sync.Mutex
	var tried []string
	e.p.setInject(func(t fsm.MessageType, msg any) error {
		if t != fsm.MsgCredentialIssue {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		tried = append(tried, msg.(fsm.CredentialIssue).AccessKey)
		if len(tried) <= 2 {
			return fsm.ErrAccessKeyTaken
		}
		return nil
	})
	c3 := e.issue(tok, u.ID)
	if len(tried) != 3 || tried[2] != c3.AccessKey || tried[0] == tried[1] {
		t.Fatalf("attempts %v, got %s", tried, c3.AccessKey)
	}
	// ... a bounded number of times.
	e.p.setInject(func(fsm.MessageType, any) error { return fsm.ErrAccessKeyTaken })
	e.want(e.do("POST", "/api/admin/users/"+u.ID+"/credentials", tok, nil), 503)
	e.p.setInject(nil)

	// Credentials of an inactive user may be issued (S3 still refuses them).
	e.want(e.do("PUT", "/api/admin/users/"+u.ID, tok, `{"is_active":false}`), 200)
	e.issue(tok, u.ID)
	// Deleting a user removes its key.
	c5 := e.issue(tok, u.ID)
	e.want(e.do("DELETE", "/api/admin/users/"+u.ID, tok, nil), 204)
	if _, ok := e.f.Lookup(c5.AccessKey); ok {
		t.Fatal("a deleted user's key resolves")
	}
}

// TestRevocationHeaders: a revocation-class write names the nodes the
// Proposer reports (X-S4-Confirmed-By, X-S4-Lease-Expired); a write of
// another class, and a Proposer that reports none (a single node), name
// none.
func TestRevocationHeaders(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()
	u := e.createUser(tok, "dave", "dave-pw-1", "Reader")
	e.issue(tok, u.ID)
	r := e.want(e.do("DELETE", "/api/admin/users/"+u.ID+"/credentials", tok, nil), 204)
	if got := r.header.Values(HeaderConfirmedBy); len(got) != 0 {
		t.Fatalf("without a barrier: %s %q", HeaderConfirmedBy, got)
	}

	e.p.mu.Lock()
	e.p.confirmed, e.p.expired = []string{"n1", "n2"}, []string{"n3"}
	e.p.mu.Unlock()
	e.addSecret("erin-pw-1")
	r = e.want(e.do("POST", "/api/admin/users", tok, map[string]string{"username": "erin", "password": "erin-pw-1", "role": "Reader"}), 201)
	if got := r.header.Values(HeaderConfirmedBy); len(got) != 0 {
		t.Fatalf("a user creation: %s %q", HeaderConfirmedBy, got)
	}
	r = e.want(e.do("DELETE", "/api/admin/users/"+u.ID+"/credentials", tok, nil), 204)
	if got, exp := r.header.Get(HeaderConfirmedBy), r.header.Get(HeaderLeaseExpired); got != "n1,n2" || exp != "n3" {
		t.Fatalf("a revoke: %s %q, %s %q; want n1,n2 and n3", HeaderConfirmedBy, got, HeaderLeaseExpired, exp)
	}
}

func TestAuthHeader(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()
	for _, h := range []string{
		"", "Bearer", "Bearer ", "Basic cm9vdDpwYXNzd29yZDEyMzQ1", "Token " + tok, tok,
		"Bearer " + tok + "x", "Bearer " + tok + " extra", "Bearer " + strings.Repeat("a", 5000),
		"Bearer " + strings.Repeat("a.", 3000), "Bearer a.b.c", "Bearer ..", "Bearer " + tok[:len(tok)-2],
	} {
		r := e.doWith("GET", "/api/admin/users", nil, func(r *http.Request) {
			if h != "" {
				r.Header.Set("Authorization", h)
			}
		}, false)
		e.want(r, 401)
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: Bearer")
		}
	}
	// The scheme is case-insensitive.
	for _, h := range []string{"bearer " + tok, "BEARER " + tok, "Bearer   " + tok} {
		e.want(e.doWith("GET", "/api/admin/users", nil, func(r *http.Request) { r.Header.Set("Authorization", h) }, false), 200)
	}
}

func hmacSum(alg string, key []byte, data string) []byte {
	h := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}[alg]
	m := hmac.New(h, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// b64 is the JWT segment encoding.
func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestJWTValidation(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()
	now := e.clock.Now()
	reader := e.createUser(tok, "reed", "reed-pw-12", "Reader")
	other := e.createUser(tok, "sam", "sam-pw-123", "SuperUser")

	claims := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{
			"iss": "s4", "aud": []string{"s4-admin"}, "sub": e.rootID, "gen": 1,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		if mod != nil {
			mod(m)
		}
		return m
	}
	signWith := func(alg string, key []byte, m map[string]any) string {
		head := b64(map[string]string{"alg": alg, "typ": "JWT"}) + "." + b64(m)
		return head + "." + base64.RawURLEncoding.EncodeToString(hmacSum(alg, key, head))
	}
	valid := signWith("HS256", e.jwtKey, claims(nil))
	e.want(e.do("GET", "/api/admin/users", valid, nil), 200) // the crafting is right

	parts := strings.Split(valid, ".")
	otherKey := bytes.Repeat([]byte{7}, 32)
	cases := map[string]string{
		"alg none":          b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + ".",
		"alg none sig":      b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "." + parts[2],
		"HS384 same key":    signWith("HS384", e.jwtKey, claims(nil)),
		"HS512 same key":    signWith("HS512", e.jwtKey, claims(nil)),
		"other key":         signWith("HS256", otherKey, claims(nil)),
		"tampered sub":      parts[0] + "." + b64(claims(func(m map[string]any) { m["sub"] = other.ID })) + "." + parts[2],
		"tampered gen":      parts[0] + "." + b64(claims(func(m map[string]any) { m["gen"] = 2 })) + "." + parts[2],
		"tampered exp":      parts[0] + "." + b64(claims(func(m map[string]any) { m["exp"] = now.Add(48 * time.Hour).Unix() })) + "." + parts[2],
		"tampered header":   b64(map[string]string{"alg": "HS256", "typ": "JWT", "kid": "x"}) + "." + parts[1] + "." + parts[2],
		"wrong issuer":      signWith("HS256", e.jwtKey, claims(func(m map[string]any) { m["iss"] = "minio" })),
		"no issuer":         signWith("HS256", e.jwtKey, claims(func(m map[string]any) { delete(m, "iss") })),
		"wrong audience":    signWith("HS256", e.jwtKey, claims(func(m map[string]any) { m["aud"] = []string{"s4-s3"} })),
		"no audience":       signWith("HS256", e.jwtKey, claims(func(m map[string]any) { delete(m, "aud") })),
		"no exp":            signWith("HS256", e.jwtKey, claims(func(m map[string]any) { delete(m, "exp") })),
		"expired":           signWith("HS256", e.jwtKey, claims(func(m map[string]any) { m["exp"] = now.Add(-time.Minute).Unix() })),
		"iat in the future": signWith("HS256", e.jwtKey, claims(func(m map[string]any) { m["iat"] = now.Add(time.Hour).Unix() })),
		"nbf in the future": signWith("HS256", e.jwtKey, claims(func(m map[string]any) { m["nbf"] = now.Add(time.Hour).Unix() })),
		"no iat":            signWith("HS256", e.jwtKey, claims(func(m map[string]any) { delete(m, "iat") })),
		"no gen":            signWith("HS256", e.jwtKey, claims(func(m map[string]any) { delete(m, "gen") })),
		"old gen":           signWith("HS256", e.jwtKey, claims(func(m map[string]any) { m["gen"] = 0 })),
		"gen as string":     signWith("HS256", e.jwtKey, claims(func(m map[string]any) { m["gen"] = "1" })),
		"no sub":            signWith("HS256", e.jwtKey, claims(func(m map[string]any) { delete(m, "sub") })),
		"unknown sub":       signWith("HS256", e.jwtKey, claims(func(m map[string]any) { m["sub"] = "no-such-id" })),
		"exp as string":     signWith("HS256", e.jwtKey, claims(func(m map[string]any) { m["exp"] = "never" })),
		"two parts":         parts[0] + "." + parts[1],
		"four parts":        valid + ".x",
	}
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		r := e.do("GET", "/api/admin/users", cases[name], nil)
		if r.status != 401 {
			t.Errorf("%s: %d, want 401", name, r.status)
		}
	}

	// A valid token of a Reader: authenticated but forbidden.
	rtok := signWith("HS256", e.jwtKey, claims(func(m map[string]any) { m["sub"] = reader.ID }))
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/admin/users"}, {"POST", "/api/admin/users"}, {"GET", "/api/admin/users/" + e.rootID},
		{"PUT", "/api/admin/users/" + reader.ID}, {"DELETE", "/api/admin/users/" + reader.ID},
		{"POST", "/api/admin/users/" + reader.ID + "/credentials"}, {"DELETE", "/api/admin/users/" + reader.ID + "/credentials"},
	} {
		e.want(e.do(req.method, req.path, rtok, `{"role":"SuperUser"}`), 403)
	}

	// Expiry by the clock, with the leeway.
	e.clock.Advance(24*time.Hour + 29*time.Second)
	e.want(e.do("GET", "/api/admin/users", tok, nil), 200)
	e.clock.Advance(2 * time.Second)
	e.want(e.do("GET", "/api/admin/users", tok, nil), 401)
}

// TestSessionRevocation: a token stops working on the next request when its
// user is deactivated, demoted, re-passworded or deleted.
func TestSessionRevocation(t *testing.T) {
	e := newEnv(t)
	root := e.rootToken()
	bob := e.createUser(root, "bob", "bob-pw-123", "SuperUser")
	bobPath := "/api/admin/users/" + bob.ID

	steps := []struct {
		name   string
		change string
		undo   string
		status int // for the old token after the change
	}{
		{"deactivated", `{"is_active":false}`, `{"is_active":true}`, 401},
		{"demoted", `{"role":"Writer"}`, `{"role":"SuperUser"}`, 401},
		{"password changed", `{"password":"bob-pw-456"}`, `{"password":"bob-pw-123"}`, 401},
	}
	e.addSecret("bob-pw-456")
	for _, s := range steps {
		tok := e.login("bob", "bob-pw-123")
		e.want(e.do("GET", "/api/admin/users", tok, nil), 200)
		e.want(e.do("PUT", bobPath, root, s.change), 200)
		e.want(e.do("GET", "/api/admin/users", tok, nil), s.status)
		e.want(e.do("PUT", bobPath, root, s.undo), 200)
		// Undoing the change does not revive the old token.
		e.want(e.do("GET", "/api/admin/users", tok, nil), 401)
	}

	// Demoted and logged in again: the new session is valid but forbidden.
	e.want(e.do("PUT", bobPath, root, `{"role":"Writer"}`), 200)
	wtok := e.login("bob", "bob-pw-123")
	e.want(e.do("GET", "/api/admin/users", wtok, nil), 403)
	e.want(e.do("PUT", bobPath, root, `{"role":"SuperUser"}`), 200)
	e.want(e.do("GET", "/api/admin/users", wtok, nil), 401)

	// Deleted.
	tok := e.login("bob", "bob-pw-123")
	e.want(e.do("DELETE", bobPath, root, nil), 204)
	e.want(e.do("GET", "/api/admin/users", tok, nil), 401)
	// A new user with the same name does not inherit the old session.
	e.createUser(root, "bob", "bob-pw-789", "SuperUser")
	e.want(e.do("GET", "/api/admin/users", tok, nil), 401)

	// Changing one's own password ends one's own session too.
	e.addSecret("password67890")
	e.want(e.do("PUT", "/api/admin/users/"+e.rootID, root, `{"password":"password67890"}`), 200)
	e.want(e.do("GET", "/api/admin/users", root, nil), 401)
	e.login(rootName, "password67890")
}

func TestNewPanicsOnBadConfig(t *testing.T) {
	for name, fn := range map[string]func(){
		"short key": func() { New(Config{JWTKey: []byte("short")}, nil, nil) },
		"no sealer": func() { New(Config{JWTKey: make([]byte, 32)}, nil, nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			fn()
		}()
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", time.Minute: "60", -time.Second: "1",
	} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("%v: %s, want %s", d, got, want)
		}
	}
}

// When every argon2 slot is taken for too long, logins and password changes
// get 503 with Retry-After instead of queueing without bound.
func TestHashSlotsBusy(t *testing.T) {
	e := newEnv(t)
	tok := e.rootToken()
	e.h.hashWait = 50 * time.Millisecond
	for i := 0; i < cap(e.h.hashSlots); i++ {
		e.h.hashSlots <- struct{}{}
	}
	r := e.want(e.do("POST", "/api/admin/login", "", map[string]string{"username": rootName, "password": rootPassword}), 503)
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	e.want(e.do("POST", "/api/admin/users", tok, `{"username":"busy","password":"busy-pw-1","role":"Reader"}`), 503)
	// Busy answers are not counted as failed logins.
	for i := 0; i < 6; i++ {
		e.want(e.do("POST", "/api/admin/login", "", map[string]string{"username": rootName, "password": "wrong-pw-1"}), 503)
	}
	for i := 0; i < cap(e.h.hashSlots); i++ {
		<-e.h.hashSlots
	}
	e.login(rootName, rootPassword)
}

type panicStore struct{ Store }

func (panicStore) UserByID(string) (*iam.User, bool) { panic("store exploded") }

func TestPanicIsA500(t *testing.T) {
	e := newEnv(t)
	h := New(Config{JWTKey: e.jwtKey, Sealer: e.h.sealer, Now: e.clock.Now}, panicStore{e.f}, e.p)
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/api/admin/users")
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.Header.Set("Authorization", "Bearer "+e.h.mustToken(t, e.rootID))
	h.ServeFastHTTP(&ctx)
	if ctx.Response.StatusCode() != 500 || string(ctx.Response.Header.ContentType()) != "application/json" ||
		string(ctx.Response.Body()) != `{"error":"internal error"}` {
		t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}
