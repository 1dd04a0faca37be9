package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
	"github.com/s4/s4/meta"
)

// AuthIndex is the FSM's auth index and user table as the S3 API reads them:
// in memory, no lock, on every request.
type AuthIndex interface {
	Lookup(accessKey string) (*iam.User, bool)
	UserByID(id string) (*iam.User, bool)
}

// Proposer commits an event through the cluster and returns once the local
// FSM applied it (so the next read on this node sees it).
type Proposer interface {
	Propose(ctx context.Context, t fsm.MessageType, msg any) error
}

// Gate says whether this node may serve S3 requests now (ready, and, in a
// cluster, within its auth lease). A non-nil error answers 503.
type Gate interface {
	ServeS3() error
}

// errNodeUnavailable answers requests this node must not serve now (not
// ready, fenced, or unable to confirm it has the latest writes); the cause,
// which may name internal addresses, goes to the log only.
var errNodeUnavailable = Errorf(CodeServiceUnavailable, "This node cannot serve requests now (it is starting, catching up, or out of contact with the cluster's leader). Please retry.")

// FreshReader is implemented by a Gate whose node may not have applied
// every write the cluster acknowledged yet (a follower). FreshRead returns
// once it has applied every write acknowledged before the call; the handler
// calls it before every operation of an authenticated request, so that a
// request sees what any node acknowledged before it arrived.
type FreshReader interface {
	FreshRead() error
}

// Replicator copies blobs between the nodes of a cluster (node implements
// it; nil on a single node).
type Replicator interface {
	// Replicate returns once a majority of the voters (counting this node,
	// which holds the blob) hold the blob durably. ref is what this node's
	// blob.Writer computed (the peers check their copies by its CRC32C).
	Replicate(ctx context.Context, ref blob.Ref) error
	// Fetch copies a blob this node lacks from a peer into the local store.
	// It fails with an error wrapping disk.ErrFull when this node has no
	// room for it (at its free-space reserve).
	Fetch(ctx context.Context, sum [32]byte) error
	// Stream reads a blob from a peer without keeping it (a GET on a node
	// at its reserve): the caller reads size bytes from rc and closes it.
	// rc fails with an error, instead of the last bytes or EOF, if the
	// content does not hash to sum or ends early.
	Stream(ctx context.Context, sum [32]byte) (rc io.ReadCloser, size int64, err error)
}

// Space guards this node's disk (package disk; the node implements it).
// Object data stops at the free-space reserve: PutObject, UploadPart,
// UploadPartCopy, CopyObject and CompleteMultipartUpload answer 507
// XS4StorageFull. Deletes and everything else go on.
type Space interface {
	// Check returns nil if size more bytes of object data (size < 0:
	// unknown) may be stored now, or an error wrapping disk.ErrFull. It is
	// cheap (no system call).
	Check(size int64) error
	// NoSpace tells the node that a write failed for lack of space
	// (ENOSPC): it reads its free space again at once.
	NoSpace()
	// Released tells the node that a delete (objects, an upload) was
	// applied: at its reserve it collects the freed blobs soon.
	Released()
}

// Config configures a Handler.
type Config struct {
	// Region is the region S4 reports (GetBucketLocation) and accepts in
	// SigV4 scopes ("" accepts any). Default us-east-1 is reported.
	Region string
	// MaxObjectSize bounds a single PUT and a part. Default 5 GiB.
	MaxObjectSize int64
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
}

// Handler serves the S3 API (path-style) over fasthttp.
type Handler struct {
	cfg      Config
	auth     AuthIndex
	meta     *meta.Store
	prop     Proposer
	blobs    *blob.Store
	gate     Gate
	fresh    FreshReader // gate, if it is one
	verifier *Verifier
	log      *slog.Logger
	reqPfx   string
	reqSeq   atomic.Uint64
}

// New returns a Handler.
func New(cfg Config, auth AuthIndex, store *meta.Store, prop Proposer, blobs *blob.Store, gate Gate) *Handler {
	if cfg.MaxObjectSize <= 0 {
		cfg.MaxObjectSize = 5 << 30
	}
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
		verifier: NewVerifier(VerifierConfig{Region: cfg.Region}),
		log:      cfg.Logger, reqPfx: strings.ToUpper(hex.EncodeToString(p[:])),
	}
	h.fresh, _ = gate.(FreshReader)
	return h
}

// Verifier returns the handler's signature verifier (to Forget revoked keys).
func (h *Handler) Verifier() *Verifier { return h.verifier }

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
	auth   RequestAuth
	v4     V4Result
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
	r := &request{ctx: ctx, id: h.reqPfx + strconv.FormatUint(h.reqSeq.Add(1), 16)}
	ctx.Response.Header.Set("x-amz-request-id", r.id)
	ctx.Response.Header.Set("Server", "S4")
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("panic serving S3 request", "panic", p, "request_id", r.id, "stack", string(debug.Stack()))
			h.writeError(r, NewError(CodeInternalError))
		}
	}()
	if err := h.serve(r); err != nil {
		h.writeError(r, err)
	}
}

func (h *Handler) serve(r *request) error {
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
		return Errorf(CodeInvalidArgument, "The query string is malformed.")
	}
	r.query = q
	if err := h.authenticate(r); err != nil {
		return err
	}
	op := route(r)
	if op == nil {
		return NewError(CodeNotImplemented)
	}
	if r.user.Role < op.role {
		return NewError(CodeAccessDenied)
	}
	if h.fresh != nil {
		if err := h.fresh.FreshRead(); err != nil {
			return errNodeUnavailable.WithCause(err)
		}
	}
	return op.fn(h, r)
}

// parsePath splits the raw path into bucket and key; the key is decoded
// exactly once and is never normalised: "a//b/../c" stays that key.
func (r *request) parsePath() error {
	raw := r.ctx.URI().PathOriginal()
	if i := bytes.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if len(raw) == 0 || raw[0] != '/' {
		return NewError(CodeInvalidURI)
	}
	rest := string(raw[1:])
	bucket, key, _ := strings.Cut(rest, "/")
	b, err := url.PathUnescape(bucket)
	if err != nil {
		return NewError(CodeInvalidURI)
	}
	k, err := url.PathUnescape(key)
	if err != nil {
		return NewError(CodeInvalidURI)
	}
	r.bucket, r.key = b, k
	if r.bucket != "" && !ValidBucketName(r.bucket) {
		// A bucket that cannot exist: answer as S3 does.
		return NewError(CodeInvalidBucketName).WithResource("/" + r.bucket)
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
	sr := &SignedRequest{
		Method:   r.ctx.Method(),
		RawPath:  r.ctx.URI().PathOriginal(),
		RawQuery: r.ctx.URI().QueryString(),
		Header:   fasthttpHeaders{&r.ctx.Request.Header},
		Now:      h.cfg.Now(),
	}
	a, err := ParseRequestAuth(sr)
	if err != nil {
		return err
	}
	if a.Kind == AuthAnonymous {
		return Errorf(CodeAccessDenied, "Anonymous access is not allowed.")
	}
	u, ok := h.auth.Lookup(a.AccessKey)
	if !ok {
		return NewError(CodeInvalidAccessKeyID)
	}
	if !u.Active {
		return NewError(CodeAccessDenied)
	}
	if a.Kind.IsV4() {
		res, err := h.verifier.VerifyV4(sr, &a, u.Secret())
		if err != nil {
			return err
		}
		r.v4 = res
	} else {
		if err := h.verifier.VerifyV2(sr, &a, u.Secret()); err != nil {
			return err
		}
		r.v4 = V4Result{AccessKey: a.AccessKey, Payload: PayloadUnsigned}
	}
	r.auth, r.user = a, u
	return nil
}

// writeError renders err as S3's XML error document (no body for HEAD).
func (h *Handler) writeError(r *request, err error) {
	e := AsError(err)
	if e.Code == CodeInternalError {
		h.log.Error("S3 request failed", "request_id", r.id, "method", string(r.ctx.Method()), "err", err)
	} else {
		h.log.Debug("S3 request refused", "request_id", r.id, "method", string(r.ctx.Method()), "err", err)
	}
	ctx := r.ctx
	// The client may still be sending a body we refused without reading it
	// (AccessDenied on a PUT, an oversize XML body): read it first, or it
	// sees a connection reset instead of this answer.
	drain(r)
	ctx.Response.ResetBody()
	status := e.Status()
	ctx.SetStatusCode(status)
	if status == fasthttp.StatusNotModified {
		return // keeps the ETag and Last-Modified a 304 must carry
	}
	ctx.Response.Header.Del("ETag")
	ctx.Response.Header.Del("Last-Modified")
	if e.Code == CodeServiceUnavailable || e.Code == CodeSlowDown {
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
		return NewError(CodeNoSuchBucket)
	case errors.Is(err, fsm.ErrNoSuchKey):
		return NewError(CodeNoSuchKey)
	case errors.Is(err, fsm.ErrPreconditionFailed):
		return NewError(CodePreconditionFailed)
	case errors.Is(err, fsm.ErrBucketExists):
		return NewError(CodeBucketAlreadyExists)
	case errors.Is(err, fsm.ErrBucketOwnedByYou):
		return NewError(CodeBucketAlreadyOwnedByYou)
	case errors.Is(err, fsm.ErrBucketNotEmpty):
		return NewError(CodeBucketNotEmpty)
	case errors.Is(err, fsm.ErrNoSuchUpload):
		return NewError(CodeNoSuchUpload)
	case errors.Is(err, fsm.ErrInvalidPartOrder):
		return NewError(CodeInvalidPartOrder)
	case errors.Is(err, fsm.ErrInvalidPart):
		return NewError(CodeInvalidPart)
	case errors.Is(err, fsm.ErrEntityTooSmall):
		return NewError(CodeEntityTooSmall)
	}
	h.log.Warn("metadata write failed", "request_id", r.id, "err", err)
	return Errorf(CodeServiceUnavailable, "The metadata log is unavailable; please retry.").WithCause(err)
}

// transferTimeout bounds copying a blob of size bytes between nodes.
func (h *Handler) transferTimeout(size int64) time.Duration {
	return h.cfg.ProposeTimeout + time.Duration(max(size, 0)>>20)*time.Second
}

// replicate copies a committed blob to a majority of the nodes before its
// metadata is proposed.
func (h *Handler) replicate(r *request, ref blob.Ref) error {
	if h.cfg.Replicator == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.transferTimeout(ref.Size))
	defer cancel()
	if err := h.cfg.Replicator.Replicate(ctx, ref); err != nil {
		h.log.Warn("blob replication failed", "request_id", r.id, "err", err)
		if disk.IsNoSpace(err) { // every copy that failed failed for space
			return Errorf(CodeStorageFull, "Too few nodes of the cluster have room for the object data: the others are at their free-space reserve. Free space by deleting objects, or grow the disks; writes are accepted again once enough nodes have space.").WithCause(err)
		}
		return Errorf(CodeServiceUnavailable, "The object data could not be stored on enough nodes; please retry.").WithCause(err)
	}
	return nil
}

// checkSpace refuses a write of size bytes of object data (size < 0:
// unknown) with 507 XS4StorageFull when the node is at its free-space
// reserve or the write would take it there.
func (h *Handler) checkSpace(size int64) error {
	if h.cfg.Space == nil {
		return nil
	}
	if err := h.cfg.Space.Check(size); err != nil {
		return NewError(CodeStorageFull).WithCause(err)
	}
	return nil
}

// writeFailed maps a failed blob write: lack of space (ENOSPC, EDQUOT, the
// reserve) is 507 XS4StorageFull, and the node reads its free space again;
// anything else is InternalError with the message what.
func (h *Handler) writeFailed(r *request, err error, what string) error {
	if !disk.IsNoSpace(err) {
		return Errorf(CodeInternalError, "%s", what).WithCause(err)
	}
	if !errors.Is(err, disk.ErrFull) {
		h.log.Warn("object data not stored: the disk is full", "request_id", r.id, "err", err)
		if h.cfg.Space != nil {
			h.cfg.Space.NoSpace()
		}
	}
	return NewError(CodeStorageFull).WithCause(err)
}

// released tells the node that a delete was applied (see Space.Released).
func (h *Handler) released() {
	if h.cfg.Space != nil {
		h.cfg.Space.Released()
	}
}

// discardBlob removes a blob this request committed but whose object will
// never exist (its replication failed), unless a pin or a reference keeps
// it: the garbage collector's own protocol (package blob).
func (h *Handler) discardBlob(sum [32]byte) {
	if _, err := h.blobs.Remove(sum, func() bool { return h.meta.BlobRefs(sum) == 0 }); err != nil {
		h.log.Warn("removing the blob of a failed write", "err", err)
	}
}

// fetch copies a blob this node lacks from a peer.
func (h *Handler) fetch(sum [32]byte, size int64) error {
	if h.cfg.Replicator == nil {
		return blob.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.transferTimeout(size))
	defer cancel()
	return h.cfg.Replicator.Fetch(ctx, sum)
}

// stream reads a blob of size bytes from a peer without keeping it (its
// transfer is bounded by the cluster client's default: a timeout that grows
// with the size).
func (h *Handler) stream(sum [32]byte, size int64) (io.ReadCloser, error) {
	if h.cfg.Replicator == nil {
		return nil, blob.ErrNotFound
	}
	rc, n, err := h.cfg.Replicator.Stream(context.Background(), sum)
	if err != nil {
		return nil, err
	}
	if n != size {
		rc.Close()
		return nil, fmt.Errorf("s3: blob %x has %d bytes on the peer, not %d", sum[:8], n, size)
	}
	return rc, nil
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
