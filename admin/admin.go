// Package admin serves S4's admin API under /api/admin/: login with a
// username and password for a JWT session, and user and S3-credential
// management for SuperUsers, and the scrape tokens of GET /metrics
// (scrapetokens.go), and the IAM history (history.go). Reads come from the
// local FSM (Store) and metadata store (HistoryStore); every
// change is an event proposed through the cluster (Proposer), stamped here
// with its IDs, time, password hash and sealed secret, because the FSM never
// reads clocks or randomness.
//
// Every authenticated request checks the token (HS256, issuer "s4", audience
// "s4-admin", exp required) and then the token's user in the Store: a user
// who was deleted or deactivated, or whose session generation moved on
// (password, role or active flag changed), gets 401; a user who is not a
// SuperUser gets 403.
//
// Login attempts are throttled per username in memory on each node (see
// loginThrottle). Every request is counted by route and status
// (Config.Metrics).
package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/metrics"
)

// Store is the read side the admin API needs (the local FSM implements it).
type Store interface {
	UserByID(id string) (*iam.User, bool)
	UserByName(name string) (*iam.User, bool)
	Users() []*iam.User
	ScrapeTokens() []*iam.ScrapeToken
	ScrapeTokenByID(id string) (*iam.ScrapeToken, bool)
}

// Proposer commits an event through the cluster and returns once the local
// FSM has applied it (cluster.Proposer implements it). It returns the FSM's
// domain error (errors.Is with fsm.Err*) or a cluster error, and, for an
// event of the revocation class, the nodes that confirmed they applied it
// and those whose auth lease had certainly run out when it was
// acknowledged (both nil for other events, and without a revocation
// barrier: a single node).
type Proposer interface {
	ProposeBarrier(ctx context.Context, t fsm.MessageType, msg any) (confirmed, leaseExpired []string, err error)
}

// Config configures a Handler.
type Config struct {
	// JWTKey signs and verifies session tokens (HS256). At least 32 bytes;
	// the same on every node (derived from the cluster key).
	JWTKey []byte
	// TokenTTL is the session lifetime; 24h if zero.
	TokenTTL time.Duration
	// Sealer seals S3 secret keys before they are proposed.
	Sealer *keyring.Sealer
	// Logger; nothing is logged if nil. Secrets are never logged.
	Logger *slog.Logger
	// Now is the clock; time.Now if nil (tests set it).
	Now func() time.Time
	// Cluster serves the /api/admin/cluster routes; nil disables them.
	Cluster ClusterAdmin
	// Fresh, if set, is asked before every request (login included; not
	// the cluster routes) to
	// bring the local state up to every write the cluster acknowledged
	// before the request arrived (a follower); nil: the local state is
	// current (one node).
	Fresh FreshReader
	// Metrics counts every request by route and status; nil: none.
	Metrics *metrics.Admin
	// NodeID names this node in the events it proposes (their Origin).
	NodeID string
	// History serves the IAM history's routes (history.go); nil: they
	// answer 404.
	History HistoryStore
}

// FreshReader brings a follower's state up to date (node.Node.FreshRead).
type FreshReader interface {
	FreshRead() error
}

const (
	apiPrefix       = "/api/admin/"
	defaultTokenTTL = 24 * time.Hour
	proposeTimeout  = 10 * time.Second
	hashWaitTimeout = 5 * time.Second
	issueAttempts   = 4 // new key pairs tried when an access key collides

	throttleWindow   = time.Minute
	throttleMaxFails = 5
	throttleMaxNames = 10000
)

// Handler serves the admin API. It is safe for concurrent use.
type Handler struct {
	metrics  *metrics.Admin
	nodeID   string
	history  HistoryStore
	cluster  ClusterAdmin
	fresh    FreshReader
	store    Store
	prop     Proposer
	sealer   *keyring.Sealer
	log      *slog.Logger
	now      func() time.Time
	ttl      time.Duration
	jwtKey   []byte
	parser   *jwt.Parser
	tokens   tokenCache
	throttle *loginThrottle

	// dummyHash is verified against for unknown users so that a login's
	// timing does not tell whether the user exists.
	dummyHash []byte
	// hashSlots bounds concurrent argon2 computations (CPU and memory);
	// a request waits at most hashWait for one.
	hashSlots chan struct{}
	hashWait  time.Duration
}

// New returns a Handler. It panics if JWTKey is shorter than 32 bytes or
// Sealer, store or p is nil: those are programming errors at startup.
func New(cfg Config, store Store, p Proposer) *Handler {
	if len(cfg.JWTKey) < 32 {
		panic("admin: Config.JWTKey must be at least 32 bytes")
	}
	if cfg.Sealer == nil || store == nil || p == nil {
		panic("admin: New needs a Sealer, a Store and a Proposer")
	}
	h := &Handler{
		metrics:  cfg.Metrics,
		nodeID:   cfg.NodeID,
		history:  cfg.History,
		cluster:  cfg.Cluster,
		fresh:    cfg.Fresh,
		store:    store,
		prop:     p,
		sealer:   cfg.Sealer,
		log:      cfg.Logger,
		now:      cfg.Now,
		ttl:      cfg.TokenTTL,
		jwtKey:   append([]byte(nil), cfg.JWTKey...),
		throttle: newLoginThrottle(throttleWindow, throttleMaxFails, throttleMaxNames),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.ttl <= 0 {
		h.ttl = defaultTokenTTL
	}
	h.parser = newParser(h.now)
	h.hashSlots = make(chan struct{}, min(max(runtime.GOMAXPROCS(0), 2), 8))
	h.hashWait = hashWaitTimeout
	dummy, err := keyring.HashPassword("s4 admin: no such user")
	if err != nil {
		h.log.Error("admin: cannot compute the dummy password hash; unknown-user logins will be faster", "err", err)
	}
	h.dummyHash = dummy
	return h
}

// route is a matched path: which endpoint, its path parameter, and the
// methods it accepts.
type route struct {
	name    string
	id      string
	methods []string
	cluster bool // a /api/admin/cluster route (Config.Cluster serves it)
	history bool // an IAM history route (Config.History serves it)
}

const (
	routeLogin       = "login"
	routeUsers       = "users"
	routeUser        = "user"
	routeCredentials = "credentials"
	routeCluster     = "cluster"
	routeNodes       = "cluster-nodes"
	routeNode        = "cluster-node"
	routeTokens      = "metrics-tokens"
	routeToken       = "metrics-token"
	routeEvents      = "events"
	routeAccess      = "access"
	routeUnmatched   = "unmatched" // 404: no such route (the metrics' label)
)

func matchRoute(path string) (route, bool) {
	rest, ok := strings.CutPrefix(path, apiPrefix)
	if !ok {
		return route{}, false
	}
	switch rest {
	case "login":
		return route{name: routeLogin, methods: []string{"POST"}}, true
	case "users":
		return route{name: routeUsers, methods: []string{"GET", "POST"}}, true
	case "cluster":
		return route{name: routeCluster, methods: []string{"GET"}, cluster: true}, true
	case "cluster/nodes":
		return route{name: routeNodes, methods: []string{"POST"}, cluster: true}, true
	case "metrics/tokens":
		return route{name: routeTokens, methods: []string{"GET", "POST"}}, true
	case "events":
		return route{name: routeEvents, methods: []string{"GET"}, history: true}, true
	case "access":
		return route{name: routeAccess, methods: []string{"GET"}, history: true}, true
	}
	if id, ok := strings.CutPrefix(rest, "metrics/tokens/"); ok && id != "" && !strings.Contains(id, "/") {
		return route{name: routeToken, id: id, methods: []string{"DELETE"}}, true
	}
	if id, ok := strings.CutPrefix(rest, "cluster/nodes/"); ok && id != "" && !strings.Contains(id, "/") {
		return route{name: routeNode, id: id, methods: []string{"DELETE"}, cluster: true}, true
	}
	rest, ok = strings.CutPrefix(rest, "users/")
	if !ok {
		return route{}, false
	}
	id, sub, hasSub := strings.Cut(rest, "/")
	if id == "" {
		return route{}, false
	}
	if !hasSub {
		return route{name: routeUser, id: id, methods: []string{"GET", "PUT", "DELETE"}}, true
	}
	if sub == "credentials" {
		return route{name: routeCredentials, id: id, methods: []string{"POST", "DELETE"}}, true
	}
	return route{}, false
}

// ServeFastHTTP serves everything under /api/admin/.
func (h *Handler) ServeFastHTTP(ctx *fasthttp.RequestCtx) {
	start, routeName := time.Now(), routeUnmatched
	// Registered first, so it runs last: after a panic's answer too.
	defer func() { h.metrics.Request(routeName, ctx.Response.StatusCode(), time.Since(start)) }()
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("admin: panic serving request", "panic", fmt.Sprint(r), "path", string(ctx.Path()))
			ctx.Response.Reset()
			h.writeError(ctx, fasthttp.StatusInternalServerError, "internal error")
		}
	}()
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")

	rt, method, ok := h.route(ctx)
	if rt.name != "" {
		routeName = rt.name
	}
	if !ok {
		return
	}
	// The cluster routes show this node's own view (also, and above all,
	// when it is cut off) or are forwarded to the leader: not held up.
	if h.fresh != nil && !rt.cluster {
		if err := h.fresh.FreshRead(); err != nil {
			h.log.Debug("admin: request refused: this node is not up to date", "path", string(ctx.Path()), "err", err)
			h.writeError(ctx, fasthttp.StatusServiceUnavailable, "this node cannot confirm it has the cluster's latest state (out of contact with the leader); please retry")
			return
		}
	}
	if rt.name == routeLogin {
		h.login(ctx)
		return
	}

	actor, res := h.authenticate(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	switch res {
	case authOK:
	case authForbidden:
		h.writeError(ctx, fasthttp.StatusForbidden, "SuperUser role required")
		return
	default:
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="s4-admin"`)
		h.writeError(ctx, fasthttp.StatusUnauthorized, "missing, invalid or expired token")
		return
	}
	h.dispatch(ctx, rt, method, actor)
}

// route matches the request to a route and checks its method; otherwise
// it answers 404 or 405 and returns false.
func (h *Handler) route(ctx *fasthttp.RequestCtx) (rt route, method string, ok bool) {
	rt, ok = matchRoute(string(ctx.Path()))
	if ok && (h.cluster == nil && rt.cluster || h.history == nil && rt.history) {
		ok = false
	}
	if !ok {
		h.writeError(ctx, fasthttp.StatusNotFound, "not found")
		return rt, "", false
	}
	method = string(ctx.Method())
	allowed := false
	for _, m := range rt.methods {
		if m == method {
			allowed = true
			break
		}
	}
	if !allowed {
		ctx.Response.Header.Set("Allow", strings.Join(rt.methods, ", "))
		h.writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
		return rt, method, false
	}
	return rt, method, true
}

// dispatch runs the endpoint of an authenticated request.
func (h *Handler) dispatch(ctx *fasthttp.RequestCtx, rt route, method string, actor *iam.User) {
	switch rt.name {
	case routeUsers:
		if method == "GET" {
			h.listUsers(ctx)
		} else {
			h.createUser(ctx, actor)
		}
	case routeUser:
		switch method {
		case "GET":
			h.getUser(ctx, rt.id)
		case "PUT":
			h.updateUser(ctx, actor, rt.id)
		case "DELETE":
			h.deleteUser(ctx, actor, rt.id)
		}
	case routeCredentials:
		if method == "POST" {
			h.issueCredential(ctx, actor, rt.id)
		} else {
			h.revokeCredential(ctx, actor, rt.id)
		}
	case routeCluster:
		h.clusterStatus(ctx)
	case routeNodes:
		h.addClusterNode(ctx)
	case routeNode:
		h.removeClusterNode(ctx, rt.id)
	case routeTokens:
		if method == "GET" {
			h.listScrapeTokens(ctx)
		} else {
			h.createScrapeToken(ctx, actor)
		}
	case routeToken:
		h.revokeScrapeToken(ctx, actor, rt.id)
	case routeEvents:
		h.listEvents(ctx)
	case routeAccess:
		h.access(ctx)
	}
}

// readBody returns the request body, or writes 413/400 and returns false.
// It works whether or not the server streams request bodies, and never
// holds more than maxBodySize+1 bytes of it.
func (h *Handler) readBody(ctx *fasthttp.RequestCtx) ([]byte, bool) {
	if cl := ctx.Request.Header.ContentLength(); cl > maxBodySize {
		h.writeError(ctx, fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", maxBodySize))
		return nil, false
	}
	var body []byte
	if ctx.Request.IsBodyStream() {
		b, err := io.ReadAll(io.LimitReader(ctx.RequestBodyStream(), maxBodySize+1))
		if err != nil {
			h.writeError(ctx, fasthttp.StatusBadRequest, "cannot read request body")
			return nil, false
		}
		body = b
	} else {
		body = ctx.PostBody()
	}
	if len(body) > maxBodySize {
		h.writeError(ctx, fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", maxBodySize))
		return nil, false
	}
	return body, true
}

// writeBadRequest answers a decode error.
func (h *Handler) writeBadRequest(ctx *fasthttp.RequestCtx, err error) {
	var br *badRequest
	if errors.As(err, &br) {
		h.writeError(ctx, fasthttp.StatusBadRequest, br.msg)
		return
	}
	h.writeError(ctx, fasthttp.StatusBadRequest, "bad request")
}

// writeProposeError maps an error from the Proposer to a response.
func (h *Handler) writeProposeError(ctx *fasthttp.RequestCtx, op string, err error) {
	switch {
	case errors.Is(err, fsm.ErrNoSuchUser):
		h.writeError(ctx, fasthttp.StatusNotFound, "user not found")
	case errors.Is(err, fsm.ErrUsernameTaken):
		h.writeError(ctx, fasthttp.StatusConflict, "username already exists")
	case errors.Is(err, fsm.ErrRootImmutable):
		h.writeError(ctx, fasthttp.StatusConflict, "the root user cannot be deleted, deactivated or demoted")
	default:
		h.log.Error("admin: proposal failed", "op", op, "err", err)
		h.writeError(ctx, fasthttp.StatusServiceUnavailable, "cluster unavailable, try again")
	}
}

// Response headers of a revocation-class admin write (revoke, regenerate,
// deactivate, delete, role downgrade): comma-separated node IDs.
const (
	HeaderConfirmedBy  = "X-S4-Confirmed-By"  // nodes that applied the event before the answer
	HeaderLeaseExpired = "X-S4-Lease-Expired" // nodes that did not, and refuse S3 until they catch up
)

// propose sends one event with a bounded wait and, for a revocation-class
// event, names the confirming nodes in the response headers. The RequestCtx
// is not used as the context: its Done only fires at server shutdown, and
// the proposer may outlive the handler's use of it.
func (h *Handler) propose(rctx *fasthttp.RequestCtx, t fsm.MessageType, msg any) error {
	ctx, cancel := context.WithTimeout(context.Background(), proposeTimeout)
	defer cancel()
	confirmed, expired, err := h.prop.ProposeBarrier(ctx, t, msg)
	if err == nil && len(confirmed) > 0 {
		rctx.Response.Header.Set(HeaderConfirmedBy, strings.Join(confirmed, ","))
		if len(expired) > 0 {
			rctx.Response.Header.Set(HeaderLeaseExpired, strings.Join(expired, ","))
		}
	}
	return err
}

// acquireHashSlot waits for a free argon2 slot; false if it waited too long.
func (h *Handler) acquireHashSlot() bool {
	select {
	case h.hashSlots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(h.hashWait)
	defer t.Stop()
	select {
	case h.hashSlots <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

func (h *Handler) releaseHashSlot() { <-h.hashSlots }

// hashPassword hashes pw within a slot; on failure it has written the response.
func (h *Handler) hashPassword(ctx *fasthttp.RequestCtx, pw string) ([]byte, bool) {
	if !h.acquireHashSlot() {
		ctx.Response.Header.Set("Retry-After", "1")
		h.writeError(ctx, fasthttp.StatusServiceUnavailable, "server busy, try again")
		return nil, false
	}
	defer h.releaseHashSlot()
	hash, err := keyring.HashPassword(pw)
	if err != nil {
		h.log.Error("admin: hashing a password failed", "err", err)
		h.writeError(ctx, fasthttp.StatusInternalServerError, "internal error")
		return nil, false
	}
	return hash, true
}

func (h *Handler) writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	h.writeJSON(ctx, status, errorJSON{Error: msg})
}

type errorJSON struct {
	Error string `json:"error"`
}

func retryAfterSeconds(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
