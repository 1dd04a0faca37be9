package admin

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCache remembers the tokens parseToken verified (Handler.session), so that a client
// sending the same session token on every request pays for the HMAC and
// the claims' JSON once (it was 6 % of the leader's CPU under a load of
// IAM writes: BENCHMARKS.md "IAM history"). It caches only what the token
// itself proves — subject, session generation and expiry — never the
// user: authenticate still checks the user, its active flag, role and
// generation in the current state on every request, so a logout, a
// deactivation or a role change takes effect on the next request as
// before. An entry ends when the token does (its expiry plus the leeway
// the parser allows, read on the same clock as the parser). Entries are
// keyed by the token's SHA-256, so the cache holds no token.
type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedToken
}

type cachedToken struct {
	sub   string
	gen   uint64
	until time.Time // the token is refused from then on
}

// maxCachedTokens bounds the cache; when it is full it starts again empty
// (sessions are few; a flood of distinct valid tokens only costs parsing).
const maxCachedTokens = 4096

func (c *tokenCache) get(tok string, now time.Time) (cachedToken, bool) {
	k := sha256.Sum256([]byte(tok))
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || !now.Before(e.until) {
		return cachedToken{}, false
	}
	return e, true
}

func (c *tokenCache) put(tok string, claims *adminClaims) {
	if claims.ExpiresAt == nil || claims.Gen == nil {
		return
	}
	k := sha256.Sum256([]byte(tok))
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedTokens {
		c.m = make(map[[32]byte]cachedToken)
	}
	c.m[k] = cachedToken{sub: claims.Subject, gen: *claims.Gen, until: claims.ExpiresAt.Add(jwtLeeway)}
	c.mu.Unlock()
}
