package s3

import (
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/accesslog"
	"github.com/s4/s4/metrics"
	"github.com/s4/s4/s3/s3err"
)

// What the handler tells about the requests it served: the metrics of
// every request (an index, atomic adds and one histogram observation, no
// allocation) and, when on, one access-log line each. Neither changes an
// answer.

// observe records r once its answer is written (ServeFastHTTP defers it).
func (h *Handler) observe(r *request) {
	if h.metrics == nil && h.access == nil {
		return
	}
	d := time.Since(r.start)
	op := r.op
	if op == nil && r.query != nil {
		// Refused before routing (authentication): label it by what it
		// asked for. Only failed requests get here.
		op = route(r)
	}
	idx, name := -1, "unknown"
	if op != nil {
		idx, name = op.idx, op.name
	}
	status := r.ctx.Response.StatusCode()
	in := int64(r.ctx.Request.Header.ContentLength())
	if in < 0 { // chunked transfer: what an aws-chunked body declares, if any
		in, _ = strconv.ParseInt(string(r.ctx.Request.Header.Peek("X-Amz-Decoded-Content-Length")), 10, 64)
		in = max(in, 0)
	}
	out := responseBytes(r.ctx)
	h.metrics.Request(idx, status, d, in, out)
	if h.access == nil {
		return
	}
	e := accesslog.Entry{
		Time: r.start, RequestID: r.id, AccessKey: r.accessKey, Operation: name,
		Bucket: r.bucket, Key: r.key, Status: status, ErrorCode: string(r.errCode),
		BytesIn: in, BytesOut: out, Duration: d, Remote: r.ctx.RemoteAddr().String(),
	}
	if r.user != nil {
		e.UserID = r.user.ID
	}
	h.access.Log(&e)
}

// responseBytes is the size of the answer's body (none for HEAD; a
// stream's declared length).
func responseBytes(ctx *fasthttp.RequestCtx) int64 {
	if ctx.IsHead() {
		return 0
	}
	if ctx.Response.IsBodyStream() {
		return max(int64(ctx.Response.Header.ContentLength()), 0)
	}
	return int64(len(ctx.Response.Body()))
}

// sigFailure is the reason of a credential that did not parse or verify.
func sigFailure(err error) metrics.AuthReason {
	switch s3err.As(err).Code {
	case s3err.SignatureDoesNotMatch:
		return metrics.AuthBadSignature
	case s3err.RequestTimeTooSkewed, s3err.RequestNotYetValid:
		return metrics.AuthSkew
	case s3err.RequestExpired:
		return metrics.AuthExpired
	}
	return metrics.AuthMalformed
}

// Dropped tells the handler that an IAM event removed accessKey (a revoke,
// a replacement, the deletion of its user): the signing keys derived from
// its secret go, and a later request with it counts as revoked rather than
// unknown. The FSM calls it after the state without the key is visible.
func (h *Handler) Dropped(accessKey string) {
	h.verifier.Forget(accessKey)
	h.dropped.add(accessKey)
}

func (h *Handler) unknownKey(accessKey string) metrics.AuthReason {
	if h.metrics != nil && h.dropped.has(accessKey) {
		return metrics.AuthRevoked
	}
	return metrics.AuthUnknownKey
}

// maxDropped bounds the keys remembered as revoked (the oldest go first):
// 4096 keys, about 200 KiB.
const maxDropped = 4096

// droppedKeys is the set of access keys that IAM events removed since
// the node started (replaying the log at a start counts), bounded. It is
// read only when a request names a key the auth index lacks.
type droppedKeys struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

func (d *droppedKeys) add(k string) {
	if k == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.set == nil {
		d.set = map[string]struct{}{}
	}
	if _, ok := d.set[k]; ok {
		return
	}
	if len(d.ring) < maxDropped {
		d.ring = append(d.ring, k)
	} else {
		delete(d.set, d.ring[d.next])
		d.ring[d.next] = k
		d.next = (d.next + 1) % maxDropped
	}
	d.set[k] = struct{}{}
}

func (d *droppedKeys) has(k string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.set[k]
	return ok
}
