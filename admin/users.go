package admin

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
	"github.com/s4/s4/keyring"
)

// userJSON is the user object of the API. It never carries a password hash
// or a secret key.
type userJSON struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Role      string `json:"role"`
	IsActive  bool   `json:"is_active"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	AccessKey string `json:"access_key,omitempty"`
}

type loginJSON struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

type credentialJSON struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

func toUserJSON(u *iam.User) userJSON {
	return userJSON{
		ID:        u.ID,
		Username:  u.Username,
		Role:      u.Role.String(),
		IsActive:  u.Active,
		CreatedAt: formatNanos(u.CreatedAt),
		UpdatedAt: formatNanos(u.UpdatedAt),
		AccessKey: u.AccessKey,
	}
}

func formatNanos(n int64) string {
	return time.Unix(0, n).UTC().Format(time.RFC3339Nano)
}

func (h *Handler) writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.log.Error("admin: encoding a response failed", "err", err)
		status = fasthttp.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

const loginFailed = "invalid username or password"

// login: POST /api/admin/login {username, password} -> {token, expires_at}.
// Wrong password, unknown user and inactive user get the same 401, after the
// same argon2 work.
func (h *Handler) login(ctx *fasthttp.RequestCtx) {
	body, ok := h.readBody(ctx)
	if !ok {
		return
	}
	req, err := decodeLogin(body)
	if err != nil {
		h.writeBadRequest(ctx, err)
		return
	}
	if !validUsername(req.Username) {
		// No user can have this name, and the naming rule is public, so
		// answering without argon2 work reveals nothing.
		h.writeError(ctx, fasthttp.StatusUnauthorized, loginFailed)
		return
	}
	name := req.Username
	if ok, wait := h.throttle.admit(name, h.now()); !ok {
		ctx.Response.Header.Set("Retry-After", retryAfterSeconds(wait))
		h.writeError(ctx, fasthttp.StatusTooManyRequests, "too many failed logins, try again later")
		return
	}
	if !h.acquireHashSlot() {
		h.throttle.cancel(name)
		ctx.Response.Header.Set("Retry-After", "1")
		h.writeError(ctx, fasthttp.StatusServiceUnavailable, "server busy, try again")
		return
	}
	u, found := h.store.UserByName(name)
	hash := h.dummyHash
	if found {
		hash = u.PasswordHash
	}
	match := keyring.VerifyPassword(hash, req.Password)
	h.releaseHashSlot()
	success := found && match && u.Active
	h.throttle.done(name, h.now(), success)
	if !success {
		if found {
			h.log.Info("admin: login failed", "user_id", u.ID)
		} else {
			// Not the name: a mistyped name is sometimes a password.
			h.log.Info("admin: login failed for an unknown username")
		}
		h.writeError(ctx, fasthttp.StatusUnauthorized, loginFailed)
		return
	}
	tok, exp, err := h.issueToken(u)
	if err != nil {
		h.log.Error("admin: signing a token failed", "err", err)
		h.writeError(ctx, fasthttp.StatusInternalServerError, "internal error")
		return
	}
	h.log.Info("admin: login", "user_id", u.ID, "username", u.Username)
	h.writeJSON(ctx, fasthttp.StatusOK, loginJSON{Token: tok, ExpiresAt: exp.UTC().Format(time.RFC3339)})
}

// GET /api/admin/users
func (h *Handler) listUsers(ctx *fasthttp.RequestCtx) {
	users := h.store.Users()
	out := make([]userJSON, 0, len(users))
	for _, u := range users {
		out = append(out, toUserJSON(u))
	}
	h.writeJSON(ctx, fasthttp.StatusOK, out)
}

// POST /api/admin/users {username, password, role}
func (h *Handler) createUser(ctx *fasthttp.RequestCtx, actor *iam.User) {
	body, ok := h.readBody(ctx)
	if !ok {
		return
	}
	req, err := decodeCreateUser(body)
	if err != nil {
		h.writeBadRequest(ctx, err)
		return
	}
	if _, taken := h.store.UserByName(req.Username); taken {
		h.writeError(ctx, fasthttp.StatusConflict, "username already exists")
		return
	}
	hash, ok := h.hashPassword(ctx, req.Password)
	if !ok {
		return
	}
	ev := fsm.UserCreate{Username: req.Username, PasswordHash: hash, Role: req.Role, Origin: h.origin(ctx, actor)}
	for attempt := 0; ; attempt++ {
		ev.ID = keyring.NewID()
		ev.At = h.now().UnixNano()
		err = h.propose(ctx, fsm.MsgUserCreate, ev)
		if !errors.Is(err, fsm.ErrUserExists) || attempt == 2 {
			break
		}
	}
	if err != nil {
		h.writeProposeError(ctx, "create user", err)
		return
	}
	h.log.Info("admin: user created", "actor", actor.ID, "user_id", ev.ID, "username", ev.Username, "role", ev.Role.String())
	if u, ok := h.store.UserByID(ev.ID); ok {
		h.writeJSON(ctx, fasthttp.StatusCreated, toUserJSON(u))
		return
	}
	// Deleted again before we could read it back: answer from the event.
	h.writeJSON(ctx, fasthttp.StatusCreated, userJSON{
		ID: ev.ID, Username: ev.Username, Role: ev.Role.String(), IsActive: true,
		CreatedAt: formatNanos(ev.At), UpdatedAt: formatNanos(ev.At),
	})
}

// GET /api/admin/users/{id}
func (h *Handler) getUser(ctx *fasthttp.RequestCtx, id string) {
	u, ok := h.store.UserByID(id)
	if !ok {
		h.writeError(ctx, fasthttp.StatusNotFound, "user not found")
		return
	}
	h.writeJSON(ctx, fasthttp.StatusOK, toUserJSON(u))
}

// PUT /api/admin/users/{id} {password?, role?, is_active?}
func (h *Handler) updateUser(ctx *fasthttp.RequestCtx, actor *iam.User, id string) {
	body, ok := h.readBody(ctx)
	if !ok {
		return
	}
	req, err := decodeUpdateUser(body)
	if err != nil {
		h.writeBadRequest(ctx, err)
		return
	}
	u, ok := h.store.UserByID(id)
	if !ok {
		h.writeError(ctx, fasthttp.StatusNotFound, "user not found")
		return
	}
	if u.Root && (req.Active != nil && !*req.Active || req.Role != nil && *req.Role != iam.RoleSuperUser) {
		h.writeError(ctx, fasthttp.StatusConflict, "the root user cannot be deleted, deactivated or demoted")
		return
	}
	ev := fsm.UserUpdate{ID: id, Role: req.Role, Active: req.Active, Origin: h.origin(ctx, actor)}
	if req.Password != nil {
		if ev.PasswordHash, ok = h.hashPassword(ctx, *req.Password); !ok {
			return
		}
	}
	ev.At = h.now().UnixNano()
	if err := h.propose(ctx, fsm.MsgUserUpdate, ev); err != nil {
		h.writeProposeError(ctx, "update user", err)
		return
	}
	h.log.Info("admin: user updated", "actor", actor.ID, "user_id", id,
		"password_changed", req.Password != nil, "role_changed", req.Role != nil, "active_changed", req.Active != nil)
	u, ok = h.store.UserByID(id)
	if !ok {
		h.writeError(ctx, fasthttp.StatusNotFound, "user not found")
		return
	}
	h.writeJSON(ctx, fasthttp.StatusOK, toUserJSON(u))
}

// DELETE /api/admin/users/{id}
func (h *Handler) deleteUser(ctx *fasthttp.RequestCtx, actor *iam.User, id string) {
	u, ok := h.store.UserByID(id)
	if !ok {
		h.writeError(ctx, fasthttp.StatusNotFound, "user not found")
		return
	}
	if u.Root {
		h.writeError(ctx, fasthttp.StatusConflict, "the root user cannot be deleted, deactivated or demoted")
		return
	}
	if err := h.propose(ctx, fsm.MsgUserDelete, fsm.UserDelete{ID: id, At: h.now().UnixNano(), Origin: h.origin(ctx, actor)}); err != nil {
		h.writeProposeError(ctx, "delete user", err)
		return
	}
	h.log.Info("admin: user deleted", "actor", actor.ID, "user_id", id)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// POST /api/admin/users/{id}/credentials -> {access_key, secret_key}. The
// new pair replaces the user's previous one. The secret is sealed with the
// access key as associated data before it goes into the log; the plaintext
// exists only in this response.
func (h *Handler) issueCredential(ctx *fasthttp.RequestCtx, actor *iam.User, id string) {
	body, ok := h.readBody(ctx)
	if !ok {
		return
	}
	if err := decodeEmpty(body); err != nil {
		h.writeBadRequest(ctx, err)
		return
	}
	if _, ok := h.store.UserByID(id); !ok {
		h.writeError(ctx, fasthttp.StatusNotFound, "user not found")
		return
	}
	var accessKey, secretKey string
	var err error
	for attempt := 0; attempt < issueAttempts; attempt++ {
		accessKey, secretKey = keyring.NewAccessKey(), keyring.NewSecretKey()
		var sealed []byte
		sealed, err = h.sealer.Seal(secretKey, accessKey)
		if err != nil {
			h.log.Error("admin: sealing a secret key failed", "err", err)
			h.writeError(ctx, fasthttp.StatusInternalServerError, "internal error")
			return
		}
		err = h.propose(ctx, fsm.MsgCredentialIssue, fsm.CredentialIssue{
			UserID: id, AccessKey: accessKey, SealedSecret: sealed, At: h.now().UnixNano(), Origin: h.origin(ctx, actor),
		})
		if !errors.Is(err, fsm.ErrAccessKeyTaken) {
			break
		}
	}
	if err != nil {
		h.writeProposeError(ctx, "issue credential", err)
		return
	}
	h.log.Info("admin: credential issued", "actor", actor.ID, "user_id", id, "access_key", accessKey)
	h.writeJSON(ctx, fasthttp.StatusCreated, credentialJSON{AccessKey: accessKey, SecretKey: secretKey})
}

// DELETE /api/admin/users/{id}/credentials
func (h *Handler) revokeCredential(ctx *fasthttp.RequestCtx, actor *iam.User, id string) {
	if _, ok := h.store.UserByID(id); !ok {
		h.writeError(ctx, fasthttp.StatusNotFound, "user not found")
		return
	}
	if err := h.propose(ctx, fsm.MsgCredentialRevoke, fsm.CredentialRevoke{UserID: id, At: h.now().UnixNano(), Origin: h.origin(ctx, actor)}); err != nil {
		h.writeProposeError(ctx, "revoke credential", err)
		return
	}
	h.log.Info("admin: credential revoked", "actor", actor.ID, "user_id", id)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}
