package admin

import (
	"testing"
	"time"
)

// A session token's verdict is remembered, the user's is not: a token
// used once is still refused as soon as its user is deactivated, changed
// (a role or password change ends its sessions) or deleted, and once it
// expires.
func TestSessionTokenRecheckedEveryRequest(t *testing.T) {
	e := newEnv(t)
	root := e.rootToken()
	bob := e.createUser(root, "bob", "bob-pass-123", "SuperUser")
	carol := e.createUser(root, "carol", "carol-pass-123", "SuperUser")
	bobTok, carolTok := e.login("bob", "bob-pass-123"), e.login("carol", "carol-pass-123")
	for _, tok := range []string{root, bobTok, carolTok} {
		e.want(e.do("GET", "/api/admin/users", tok, nil), 200)
		e.want(e.do("GET", "/api/admin/users", tok, nil), 200) // now from the cache
	}

	e.want(e.do("PUT", "/api/admin/users/"+bob.ID, root, `{"is_active":false}`), 200)
	e.want(e.do("GET", "/api/admin/users", bobTok, nil), 401)
	e.want(e.do("PUT", "/api/admin/users/"+carol.ID, root, `{"role":"Reader"}`), 200)
	e.want(e.do("GET", "/api/admin/users", carolTok, nil), 401)
	erin := e.createUser(root, "erin", "erin-pass-123", "SuperUser")
	erinTok := e.login("erin", "erin-pass-123")
	e.want(e.do("GET", "/api/admin/users", erinTok, nil), 200)
	e.want(e.do("DELETE", "/api/admin/users/"+erin.ID, root, nil), 204)
	e.want(e.do("GET", "/api/admin/users", erinTok, nil), 401)

	e.createUser(root, "dave", "dave-pass-123", "SuperUser")
	daveTok := e.login("dave", "dave-pass-123")
	e.want(e.do("GET", "/api/admin/users", daveTok, nil), 200)
	e.clock.Advance(24*time.Hour + jwtLeeway - time.Second) // within the parser's leeway
	e.want(e.do("GET", "/api/admin/users", daveTok, nil), 200)
	e.clock.Advance(2 * time.Second)
	e.want(e.do("GET", "/api/admin/users", daveTok, nil), 401)
}
