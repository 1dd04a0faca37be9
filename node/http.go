package node

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

var (
	adminPrefix = []byte("/api/admin/")
	adminRoot   = []byte("/api/admin")
	healthLive  = []byte("/health/live")
	healthReady = []byte("/health/ready")
)

// serveHTTP starts the one public listener: admin API under /api/admin/,
// health checks under /health/, and the S3 API on every other path.
func (n *Node) serveHTTP(adminHandler, s3Handler fasthttp.RequestHandler) error {
	ln, err := net.Listen("tcp", n.cfg.Listen)
	if err != nil {
		return fmt.Errorf("node: listen: %w", err)
	}
	if !n.cfg.PlainHTTP {
		tc, err := n.serverTLSConfig()
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tc)
	}
	n.httpLn = ln
	n.http = &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			path := ctx.URI().PathOriginal()
			switch {
			case bytes.HasPrefix(path, adminPrefix) || bytes.Equal(path, adminRoot):
				adminHandler(ctx)
			case bytes.Equal(path, healthLive):
				ctx.SetContentType("application/json")
				ctx.SetBodyString(`{"status":"ok"}`)
			case bytes.Equal(path, healthReady):
				n.serveReady(ctx)
			default:
				s3Handler(ctx)
			}
		},
		Name:            "S4",
		ReadBufferSize:  16 << 10,
		WriteBufferSize: 64 << 10,
		ReadTimeout:     5 * time.Minute,
		WriteTimeout:    5 * time.Minute,
		IdleTimeout:     2 * time.Minute,
		// Bodies stream: this is the prefetch threshold, not a limit (the
		// handlers enforce their own).
		MaxRequestBodySize:            64 << 10,
		StreamRequestBody:             true,
		DisableHeaderNamesNormalizing: false,
		NoDefaultServerHeader:         false,
		CloseOnShutdown:               true,
	}
	go func() { n.httpDone <- n.http.Serve(ln) }()
	return nil
}

// serveReady answers 200 when the node serves requests, 503 before; the
// body also says what an operator checks first (no secrets), and whether
// the node is at its free-space reserve ("disk"; it does not change the
// status: such a node still serves reads, IAM and deletes).
func (n *Node) serveReady(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	status := "ready"
	if err := n.ServeS3(); err != nil { // not caught up, or the auth lease does not hold
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		status = "not ready: " + err.Error()
	}
	leaderID, _ := n.Leader()
	b, _ := json.Marshal(map[string]any{
		"status": status, "node_id": n.ID(), "role": strings.ToLower(n.raft.State().String()),
		"leader": leaderID, "applied_index": n.fsm.AppliedIndex(), "disk": n.diskReady(),
	})
	ctx.SetBody(b)
}

// fasthttpLogger sends fasthttp's connection-level messages (TLS handshake
// failures, client resets) to the node's logger at debug level.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}
