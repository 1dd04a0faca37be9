package admin

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/s4/s4/iam"
	"github.com/s4/s4/keyring"
)

const (
	jwtIssuer    = "s4"
	jwtAudience  = "s4-admin"
	jwtLeeway    = 30 * time.Second
	maxAuthBytes = 4 << 10 // cap on the Authorization header
)

// adminClaims are the claims of an admin session token: sub is the user id,
// gen the user's session generation when the token was issued.
type adminClaims struct {
	jwt.RegisteredClaims
	Gen *uint64 `json:"gen,omitempty"`
}

var (
	errMissingSubject = errors.New("token has no subject")
	errMissingGen     = errors.New("token has no session generation")
	errMissingIat     = errors.New("token has no issue time")
)

// Validate is called by the jwt validator after the registered claims
// passed: it makes sub, gen and iat mandatory.
func (c *adminClaims) Validate() error {
	if c.Subject == "" {
		return errMissingSubject
	}
	if c.Gen == nil {
		return errMissingGen
	}
	if c.IssuedAt == nil {
		return errMissingIat
	}
	return nil
}

func newParser(now func() time.Time) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(jwtIssuer),
		jwt.WithAudience(jwtAudience),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(jwtLeeway),
		jwt.WithTimeFunc(now),
	)
}

// issueToken signs a session token for u. It returns the token and its
// expiry (whole seconds, as in the token).
func (h *Handler) issueToken(u *iam.User) (string, time.Time, error) {
	now := h.now()
	gen := u.Generation
	claims := &adminClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    jwtIssuer,
			Subject:   u.ID,
			ID:        keyring.NewID(), // makes every session token distinct
			Audience:  jwt.ClaimStrings{jwtAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(h.ttl)),
		},
		Gen: &gen,
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(h.jwtKey)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, claims.ExpiresAt.Time, nil
}

func (h *Handler) keyFunc(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, jwt.ErrTokenSignatureInvalid
	}
	return h.jwtKey, nil
}

// parseToken verifies a token's signature and claims. It does not look at
// the user table; authenticate does.
func (h *Handler) parseToken(tok string) (*adminClaims, error) {
	claims := &adminClaims{}
	if _, err := h.parser.ParseWithClaims(tok, claims, h.keyFunc); err != nil {
		return nil, err
	}
	return claims, nil
}

// session returns the subject and session generation of a valid token:
// parseToken's verdict, remembered until the token expires (tokenCache).
func (h *Handler) session(tok string) (sub string, gen uint64, err error) {
	if e, ok := h.tokens.get(tok, h.now()); ok {
		return e.sub, e.gen, nil
	}
	claims, err := h.parseToken(tok)
	if err != nil {
		return "", 0, err
	}
	h.tokens.put(tok, claims)
	return claims.Subject, *claims.Gen, nil
}

// bearerToken extracts the token from an Authorization header value.
func bearerToken(v []byte) (string, bool) {
	const scheme = "bearer "
	if len(v) <= len(scheme) || len(v) > maxAuthBytes {
		return "", false
	}
	for i := 0; i < len(scheme); i++ {
		c := v[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != scheme[i] {
			return "", false
		}
	}
	tok := v[len(scheme):]
	for len(tok) > 0 && tok[0] == ' ' {
		tok = tok[1:]
	}
	for len(tok) > 0 && tok[len(tok)-1] == ' ' {
		tok = tok[:len(tok)-1]
	}
	if len(tok) == 0 {
		return "", false
	}
	for _, c := range tok {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", false
		}
	}
	return string(tok), true
}

// authResult is why a request was or was not let in.
type authResult int

const (
	authOK        authResult = iota
	authMissing              // no or malformed Authorization header
	authInvalid              // bad token, or its user is gone, inactive or changed
	authForbidden            // a valid session of a user who is not a SuperUser
)

// authenticate checks the bearer token and then the current state of its
// user in the Store, so a deleted, deactivated, demoted or re-passworded
// user's token stops working at once.
func (h *Handler) authenticate(header []byte) (*iam.User, authResult) {
	tok, ok := bearerToken(header)
	if !ok {
		return nil, authMissing
	}
	sub, gen, err := h.session(tok)
	if err != nil {
		return nil, authInvalid
	}
	u, ok := h.store.UserByID(sub)
	if !ok || !u.Active || u.Generation != gen {
		return nil, authInvalid
	}
	if u.Role != iam.RoleSuperUser {
		return nil, authForbidden
	}
	return u, authOK
}
