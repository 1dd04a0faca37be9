package node

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/keyring"
)

// httpServer is the one public listener (serveHTTP).
type httpServer struct {
	http     *fasthttp.Server
	httpLn   net.Listener
	httpDone chan error // Serve's result
}

var (
	adminPrefix = []byte("/api/admin/")
	adminRoot   = []byte("/api/admin")
	healthLive  = []byte("/health/live")
	healthReady = []byte("/health/ready")
)

// serveHTTP starts the one public listener: admin API under /api/admin/,
// health checks under /health/, Prometheus metrics at /metrics (a GET
// that is not an S3 request: isScrape), and the S3 API on every other
// path.
func (n *Node) serveHTTP(adminHandler, s3Handler fasthttp.RequestHandler, s3Expect func(*fasthttp.RequestCtx) int) error {
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
			case bytes.Equal(path, metricsPath) && isScrape(ctx):
				n.serveMetrics(ctx) // metrics.go
			default:
				s3Handler(ctx)
			}
		},
		// A request with "Expect: 100-continue" is decided from its
		// headers before the client sends its body: an S3 request that
		// would be refused (a revoked key, a denied role, a fenced node)
		// gets its S3 error instead of "100 Continue" (s3.Handler.Expect).
		ExpectHandler: func(ctx *fasthttp.RequestCtx) int {
			path := ctx.URI().PathOriginal()
			if bytes.HasPrefix(path, adminPrefix) || bytes.Equal(path, adminRoot) || bytes.Equal(path, healthLive) || bytes.Equal(path, healthReady) {
				return fasthttp.StatusContinue
			}
			return s3Expect(ctx)
		},
		Name:            "S4",
		Logger:          fasthttpLogger{n.log.With("component", "http")}, // not stderr: every line JSON (--log-format) and naming the node
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

// fasthttpLogger sends fasthttp's connection-level messages (TLS handshake
// failures, client resets) to the node's logger at debug level.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}

// serverTLSConfig loads or creates the HTTPS certificate.
func (n *Node) serverTLSConfig() (*tls.Config, error) {
	certFile, keyFile := n.cfg.TLSCertFile, n.cfg.TLSKeyFile
	if certFile == "" {
		dir := filepath.Join(n.cfg.DataDir, "tls")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	}
	hosts := append([]string(nil), n.cfg.CertHosts...)
	if h, _, err := net.SplitHostPort(n.cfg.Advertise); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	cert, created, err := keyring.LoadOrCreateServerCert(certFile, keyFile, hosts)
	if err != nil {
		return nil, fmt.Errorf("node: TLS certificate: %w", err)
	}
	if created {
		n.log.Info("generated a self-signed certificate", "cert", certFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
