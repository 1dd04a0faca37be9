package admin

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
	"github.com/s4/s4/keyring"
)

// Scrape tokens: the bearer tokens of GET /metrics (package node checks
// them). A SuperUser creates one (the token is in that answer only; the
// log gets its SHA-256, as an IAM event) and revokes it; the revoke is
// acknowledged after the revocation barrier, so no node accepts the token
// on the next scrape.

// ScrapeTokenPrefix starts every scrape token.
const ScrapeTokenPrefix = "s4mt_"

// MaxScrapeTokens bounds the scrape tokens of a cluster.
const MaxScrapeTokens = 64

const maxTokenNameLen = 64

// NewScrapeToken returns a new scrape token: the prefix and 32 random
// bytes, base64url without padding (43 characters, 256 bits).
func NewScrapeToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return ScrapeTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// ScrapeTokenHash is what the state keeps of a token, and what a scrape's
// bearer token is looked up by.
func ScrapeTokenHash(token []byte) [32]byte { return sha256.Sum256(token) }

// scrapeTokenJSON is a scrape token in the API: never the token, but on
// creation.
type scrapeTokenJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedBy string `json:"created_by"`
	CreatedAt string `json:"created_at"`
	Token     string `json:"token,omitempty"`
}

func toScrapeTokenJSON(t *iam.ScrapeToken) scrapeTokenJSON {
	return scrapeTokenJSON{ID: t.ID, Name: t.Name, CreatedBy: t.CreatedBy, CreatedAt: formatNanos(t.CreatedAt)}
}

// GET /api/admin/metrics/tokens
func (h *Handler) listScrapeTokens(ctx *fasthttp.RequestCtx) {
	toks := h.store.ScrapeTokens()
	out := make([]scrapeTokenJSON, 0, len(toks))
	for _, t := range toks {
		out = append(out, toScrapeTokenJSON(t))
	}
	h.writeJSON(ctx, fasthttp.StatusOK, out)
}

// POST /api/admin/metrics/tokens {name?} -> 201 {id, name, created_by,
// created_at, token}
func (h *Handler) createScrapeToken(ctx *fasthttp.RequestCtx, actor *iam.User) {
	body, ok := h.readBody(ctx)
	if !ok {
		return
	}
	name, err := decodeTokenName(body)
	if err != nil {
		h.writeBadRequest(ctx, err)
		return
	}
	if len(h.store.ScrapeTokens()) >= MaxScrapeTokens {
		h.writeError(ctx, fasthttp.StatusConflict, "too many scrape tokens: revoke one first")
		return
	}
	token := NewScrapeToken()
	sum := ScrapeTokenHash([]byte(token))
	ev := fsm.ScrapeTokenCreate{ID: keyring.NewID(), Name: name, Hash: sum[:], CreatedBy: actor.ID, At: h.now().UnixNano(), Origin: h.origin(ctx, actor)}
	if err := h.propose(ctx, fsm.MsgScrapeTokenCreate, ev); err != nil {
		h.writeProposeError(ctx, "create scrape token", err)
		return
	}
	h.log.Info("admin: scrape token created", "actor", actor.ID, "token_id", ev.ID, "name", name)
	out := scrapeTokenJSON{ID: ev.ID, Name: name, CreatedBy: actor.ID, CreatedAt: formatNanos(ev.At), Token: token}
	h.writeJSON(ctx, fasthttp.StatusCreated, out)
}

// DELETE /api/admin/metrics/tokens/{id}: answered after the revocation
// barrier.
func (h *Handler) revokeScrapeToken(ctx *fasthttp.RequestCtx, actor *iam.User, id string) {
	if _, ok := h.store.ScrapeTokenByID(id); !ok {
		h.writeError(ctx, fasthttp.StatusNotFound, "scrape token not found")
		return
	}
	if err := h.propose(ctx, fsm.MsgScrapeTokenRevoke, fsm.ScrapeTokenRevoke{ID: id, At: h.now().UnixNano(), Origin: h.origin(ctx, actor)}); err != nil {
		h.writeProposeError(ctx, "revoke scrape token", err)
		return
	}
	h.log.Info("admin: scrape token revoked", "actor", actor.ID, "token_id", id)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// decodeTokenName parses an empty body or {"name": ...}: up to 64
// characters of [A-Za-z0-9 _.-].
func decodeTokenName(body []byte) (string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	fields, err := decodeObject(body, "name")
	if err != nil {
		return "", err
	}
	raw, ok := fields["name"]
	if !ok {
		return "", nil
	}
	name, err := stringValue(raw, "name")
	if err != nil {
		return "", err
	}
	if len(name) > maxTokenNameLen {
		return "", badf("name must be at most %d characters", maxTokenNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '_' || c == '.' || c == '-') {
			return "", badf("name may hold only A-Z, a-z, 0-9, space, _, . and -")
		}
	}
	return name, nil
}
