package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/accesslog"
	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/metrics"
	"github.com/s4/s4/s3/s3err"
	"github.com/s4/s4/s3/sig"
)

// errNodeUnavailable answers requests this node must not serve now (not
// ready, fenced, or unable to confirm it has the latest writes); the cause,
// which may name internal addresses, goes to the log only.
var errNodeUnavailable = s3err.Errorf(s3err.ServiceUnavailable, "This node cannot serve requests now (it is starting, catching up, or out of contact with the cluster's leader). Please retry.")

// Config configures a Handler.
type Config struct {
	// Region is the region S4 reports (GetBucketLocation) and accepts in
	// SigV4 scopes ("" accepts any). Default us-east-1 is reported.
	Region string
	// MaxObjectSize bounds a single PUT and a part. Default 5 GiB.
	MaxObjectSize int64
	// InlineThreshold is the largest body (of a PUT, a part, a part copy)
	// kept inline: carried in its metadata event through the Raft log and
	// stored in the metadata store, with no blob file (inline.go). 0:
	// every body is a blob. At most meta.MaxInline.
	InlineThreshold int64
	// ProposeTimeout bounds a metadata write. Default 10s.
	ProposeTimeout time.Duration
	Logger         *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
	// Replicator copies blobs to and from peers; nil on a single node.
	Replicator Replicator
	// Space refuses object data at the free-space reserve; nil: no check
	// (a write that fails with ENOSPC still answers 507).
	Space Space
	// Metrics counts every request (observe.go); nil: none.
	Metrics *metrics.S3
	// AccessLog gets one line per request (observe.go); nil: off, and
	// nothing of it is computed.
	AccessLog *accesslog.Logger
}

// DefaultInlineThreshold is the node's default Config.InlineThreshold
// (BENCHMARKS.md, "Inline objects": where it was measured).
const DefaultInlineThreshold = 64 << 10

// Handler serves the S3 API (path-style) over fasthttp.
type Handler struct {
	cfg      Config
	auth     AuthIndex
	meta     Metadata
	prop     Proposer
	blobs    Blobs
	gate     Gate
	fresh    FreshReader // gate, if it is one
	verifier *sig.Verifier
	log      *slog.Logger
	reqPfx   string
	reqSeq   atomic.Uint64
	metrics  *metrics.S3
	access   *accesslog.Logger
	dropped  droppedKeys // keys revoked since the start (observe.go)
}

// New returns a Handler that authenticates against auth, reads store and
// blobs, writes through prop, and serves only while gate allows (nil:
// always). node.Open hands it the node's own parts (interfaces.go).
func New(cfg Config, auth AuthIndex, store Metadata, prop Proposer, blobs Blobs, gate Gate) *Handler {
	if cfg.MaxObjectSize <= 0 {
		cfg.MaxObjectSize = 5 << 30
	}
	cfg.InlineThreshold = min(max(cfg.InlineThreshold, 0), meta.MaxInline)
	if cfg.ProposeTimeout <= 0 {
		cfg.ProposeTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var p [4]byte
	rand.Read(p[:])
	h := &Handler{
		cfg: cfg, auth: auth, meta: store, prop: prop, blobs: blobs, gate: gate,
		verifier: sig.NewVerifier(sig.VerifierConfig{Region: cfg.Region}),
		log:      cfg.Logger, reqPfx: strings.ToUpper(hex.EncodeToString(p[:])),
		metrics: cfg.Metrics, access: cfg.AccessLog,
	}
	h.fresh, _ = gate.(FreshReader)
	return h
}

// Verifier returns the handler's signature verifier (to Forget revoked keys).
func (h *Handler) Verifier() *sig.Verifier { return h.verifier }

func (h *Handler) region() string {
	if h.cfg.Region == "" {
		return "us-east-1"
	}
	return h.cfg.Region
}

// request is one S3 request being served.
type request struct {
	ctx    *fasthttp.RequestCtx
	id     string
	bucket string
	key    string
	query  url.Values
	user   *iam.User
	auth   sig.RequestAuth
	v4     sig.V4Result

	// For metrics and the access log (observe.go).
	start     time.Time
	op        *operation // routed (nil before, or if none)
	accessKey string     // the access key presented, once parsed
	errCode   s3err.Code // the error answered ("" for none)
	expecting bool       // decided before the body (Expect)
}

func (r *request) resource() string {
	if r.key != "" {
		return "/" + r.bucket + "/" + r.key
	}
	if r.bucket != "" {
		return "/" + r.bucket
	}
	return "/"
}

func (r *request) header(name string) string { return string(r.ctx.Request.Header.Peek(name)) }

// ServeFastHTTP serves one S3 request: parse the path, authenticate against
// the auth index, check the role, run the operation.
func (h *Handler) ServeFastHTTP(ctx *fasthttp.RequestCtx) {
	r := h.newRequest(ctx)
	defer h.observe(r) // last: after a panic's answer too
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("panic serving S3 request", "panic", p, "request_id", r.id, "stack", string(debug.Stack()))
			h.writeError(r, s3err.New(s3err.InternalError))
		}
	}()
	if err := h.serve(r); err != nil {
		h.writeError(r, err)
	}
}

func (h *Handler) newRequest(ctx *fasthttp.RequestCtx) *request {
	r := &request{ctx: ctx, id: h.reqPfx + strconv.FormatUint(h.reqSeq.Add(1), 16), start: time.Now()}
	ctx.Response.Header.Set("x-amz-request-id", r.id)
	ctx.Response.Header.Set("Server", "S4")
	return r
}

// Expect decides a request that sent "Expect: 100-continue" from its
// headers alone, before the client sends the body (fasthttp's
// Server.ExpectHandler): everything admit checks, the signature included
// (it covers the headers; the body's hash or checksum is checked as it is
// read). It returns 100 to go on; otherwise it has written the S3 error
// that the request would have got after sending its body, and returns its
// status (fasthttp then closes the connection: the client may already be
// sending). A large upload with a revoked key or a denied role is thus
// refused before its bytes travel.
func (h *Handler) Expect(ctx *fasthttp.RequestCtx) int {
	r := h.newRequest(ctx)
	r.expecting = true
	err := h.admit(r)
	if err == nil {
		return fasthttp.StatusContinue
	}
	h.writeError(r, err)
	// Say so: a client that sees "Connection: close" on the answer does not
	// send the body it held back (Go's net/http sends it otherwise, into a
	// connection fasthttp closes).
	ctx.Response.SetConnectionClose()
	drainUnasked(ctx)
	h.observe(r)
	return ctx.Response.StatusCode()
}

// drainUnasked reads and drops what a client sends of a body it was told
// to hold back, before the refusal goes out and fasthttp closes the
// connection: not every client waits for "100 Continue" (aws-sdk-go-v2's
// requests do not: Go's transport waits only for requests it made
// itself), and closing a connection with unread bytes resets it, so the
// client would see a reset instead of the error. A client that waits sends
// nothing, and the refusal leaves after expectIdle; one that sends is read
// up to maxDrain (as refused bodies are, see drain), then cut off.
func drainUnasked(ctx *fasthttp.RequestCtx) {
	c := ctx.Conn()
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 32<<10)
	for n := 0; n <= maxDrain; {
		c.SetReadDeadline(time.Now().Add(expectIdle))
		m, err := c.Read(buf)
		n += m
		if err != nil {
			return // idle (the client waits), or it went away
		}
	}
}

// expectIdle is how long a refused "Expect: 100-continue" request waits for
// body bytes a client sends without waiting, before the refusal leaves.
const expectIdle = 150 * time.Millisecond

func (h *Handler) serve(r *request) error {
	if err := h.admit(r); err != nil {
		return err
	}
	if h.fresh != nil {
		if err := h.fresh.FreshRead(); err != nil {
			return errNodeUnavailable.WithCause(err)
		}
	}
	return r.op.fn(h, r)
}

// admit checks what a request's headers decide: the node may serve, the
// path and query parse, the signature holds for a known, active user, the
// operation exists and the user's role allows it.
func (h *Handler) admit(r *request) error {
	if h.gate != nil {
		if err := h.gate.ServeS3(); err != nil {
			return errNodeUnavailable.WithCause(err)
		}
	}
	if err := r.parsePath(); err != nil {
		return err
	}
	q, err := url.ParseQuery(string(r.ctx.URI().QueryString()))
	if err != nil {
		return s3err.Errorf(s3err.InvalidArgument, "The query string is malformed.")
	}
	r.query = q
	if err := h.authenticate(r); err != nil {
		return err
	}
	op := route(r)
	if op == nil {
		return s3err.New(s3err.NotImplemented)
	}
	r.op = op
	if r.user.Role < op.role {
		h.metrics.AuthFailure(metrics.AuthRole)
		return s3err.New(s3err.AccessDenied)
	}
	return nil
}

// parsePath splits the raw path into bucket and key; the key is decoded
// exactly once and is never normalised: "a//b/../c" stays that key.
func (r *request) parsePath() error {
	raw := r.ctx.URI().PathOriginal()
	if i := bytes.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if len(raw) == 0 || raw[0] != '/' {
		return s3err.New(s3err.InvalidURI)
	}
	rest := string(raw[1:])
	bucket, key, _ := strings.Cut(rest, "/")
	b, err := url.PathUnescape(bucket)
	if err != nil {
		return s3err.New(s3err.InvalidURI)
	}
	k, err := url.PathUnescape(key)
	if err != nil {
		return s3err.New(s3err.InvalidURI)
	}
	r.bucket, r.key = b, k
	if r.bucket != "" && !ValidBucketName(r.bucket) {
		// A bucket that cannot exist: answer as S3 does.
		return s3err.New(s3err.InvalidBucketName).WithResource("/" + r.bucket)
	}
	if r.key != "" {
		if err := ValidObjectKey(r.key); err != nil {
			return err
		}
	}
	return nil
}

// fasthttpHeaders adapts fasthttp's request header to HeaderSource
// (PeekAll("host") already answers with the Host header).
type fasthttpHeaders struct{ *fasthttp.RequestHeader }

func (f fasthttpHeaders) VisitAll(fn func(name, value []byte)) {
	for k, v := range f.All() {
		fn(k, v)
	}
}

// authenticate finds the credential, looks it up in the auth index and
// verifies the signature. Anonymous requests are denied.
func (h *Handler) authenticate(r *request) error {
	sr := &sig.SignedRequest{
		Method:   r.ctx.Method(),
		RawPath:  r.ctx.URI().PathOriginal(),
		RawQuery: r.ctx.URI().QueryString(),
		Header:   fasthttpHeaders{&r.ctx.Request.Header},
		Now:      h.cfg.Now(),
	}
	a, err := sig.ParseRequestAuth(sr)
	if err != nil {
		h.metrics.AuthFailure(sigFailure(err))
		return err
	}
	if a.Kind == sig.AuthAnonymous {
		h.metrics.AuthFailure(metrics.AuthAnonymous)
		return s3err.Errorf(s3err.AccessDenied, "Anonymous access is not allowed.")
	}
	r.accessKey = a.AccessKey
	u, ok := h.auth.Lookup(a.AccessKey)
	if !ok {
		h.metrics.AuthFailure(h.unknownKey(a.AccessKey))
		return s3err.New(s3err.InvalidAccessKeyID)
	}
	if !u.Active {
		h.metrics.AuthFailure(metrics.AuthInactiveUser)
		return s3err.New(s3err.AccessDenied)
	}
	if a.Kind.IsV4() {
		res, err := h.verifier.VerifyV4(sr, &a, u.Secret())
		if err != nil {
			h.metrics.AuthFailure(sigFailure(err))
			return err
		}
		r.v4 = res
	} else {
		if err := h.verifier.VerifyV2(sr, &a, u.Secret()); err != nil {
			h.metrics.AuthFailure(sigFailure(err))
			return err
		}
		r.v4 = sig.V4Result{AccessKey: a.AccessKey, Payload: sig.PayloadUnsigned}
	}
	r.auth, r.user = a, u
	return nil
}

// writeError renders err as S3's XML error document (no body for HEAD).
func (h *Handler) writeError(r *request, err error) {
	e := s3err.As(err)
	r.errCode = e.Code
	if e.Code == s3err.InternalError {
		h.log.Error("S3 request failed", "request_id", r.id, "method", string(r.ctx.Method()), "err", err)
	} else {
		h.log.Debug("S3 request refused", "request_id", r.id, "method", string(r.ctx.Method()), "err", err)
	}
	ctx := r.ctx
	// The client may still be sending a body we refused without reading it
	// (AccessDenied on a PUT, an oversize XML body): read it first, or it
	// sees a connection reset instead of this answer. (Not when it waits
	// for 100 Continue: it has sent none.)
	if !r.expecting {
		drain(r)
	}
	ctx.Response.ResetBody()
	status := e.Status()
	ctx.SetStatusCode(status)
	if status == fasthttp.StatusNotModified {
		return // keeps the ETag and Last-Modified a 304 must carry
	}
	ctx.Response.Header.Del("ETag")
	ctx.Response.Header.Del("Last-Modified")
	if e.Code == s3err.ServiceUnavailable || e.Code == s3err.SlowDown {
		ctx.Response.Header.Set("Retry-After", "1")
	}
	if ctx.IsHead() {
		return
	}
	ctx.SetContentType("application/xml")
	ctx.SetBody(e.XML(r.resource(), r.id))
}

func writeXML(r *request, status int, v any) error {
	b, err := EncodeXMLResponse(v)
	if err != nil {
		return err
	}
	r.ctx.SetStatusCode(status)
	r.ctx.SetContentType("application/xml")
	r.ctx.SetBody(b)
	return nil
}

// propose commits an event, mapping the FSM's domain errors to S3 errors.
func (h *Handler) propose(r *request, t fsm.MessageType, msg any) error {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.ProposeTimeout)
	defer cancel()
	err := h.prop.Propose(ctx, t, msg)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fsm.ErrNoSuchBucket):
		return s3err.New(s3err.NoSuchBucket)
	case errors.Is(err, fsm.ErrNoSuchKey):
		return s3err.New(s3err.NoSuchKey)
	case errors.Is(err, fsm.ErrPreconditionFailed):
		return s3err.New(s3err.PreconditionFailed)
	case errors.Is(err, fsm.ErrBucketExists):
		return s3err.New(s3err.BucketAlreadyExists)
	case errors.Is(err, fsm.ErrBucketOwnedByYou):
		return s3err.New(s3err.BucketAlreadyOwnedByYou)
	case errors.Is(err, fsm.ErrBucketNotEmpty):
		return s3err.New(s3err.BucketNotEmpty)
	case errors.Is(err, fsm.ErrNoSuchUpload):
		return s3err.New(s3err.NoSuchUpload)
	case errors.Is(err, fsm.ErrInvalidPartOrder):
		return s3err.New(s3err.InvalidPartOrder)
	case errors.Is(err, fsm.ErrInvalidPart):
		return s3err.New(s3err.InvalidPart)
	case errors.Is(err, fsm.ErrEntityTooSmall):
		return s3err.New(s3err.EntityTooSmall)
	}
	h.log.Warn("metadata write failed", "request_id", r.id, "err", err)
	return s3err.Errorf(s3err.ServiceUnavailable, "The metadata log is unavailable; please retry.").WithCause(err)
}

// owner names a user as S3's Owner element does.
func (h *Handler) owner(id string) Owner {
	o := Owner{ID: id}
	if u, ok := h.auth.UserByID(id); ok {
		o.DisplayName = u.Username
	}
	return o
}

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// maxDrain bounds how much of an unread request body drain discards: a
// part or a small object (SDKs upload parts of 5 to 16 MiB). Past it the
// connection is closed after the answer.
const maxDrain = 16 << 20

// drain reads and discards what is left of a request body we do not use,
// so that the client, which sends the whole body before it reads the
// answer, gets the answer rather than a reset connection.
func drain(r *request) {
	s := r.ctx.RequestBodyStream()
	if s == nil {
		return
	}
	if cl := r.ctx.Request.Header.ContentLength(); cl > maxDrain {
		r.ctx.SetConnectionClose()
		return
	}
	if n, err := io.CopyN(io.Discard, s, maxDrain+1); n > maxDrain || (err != nil && err != io.EOF) {
		r.ctx.SetConnectionClose()
	}
}
