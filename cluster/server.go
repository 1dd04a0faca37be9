package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/s4/s4/fsm"
)

// Endpoints of the internal RPC.
const (
	pathForward = "/v1/apply" // a forwarded write: the path keeps its name, so the wire stays as it was
	pathApplied = "/v1/applied"
	pathStatus  = "/v1/status"
)

// MaxForwardBody bounds the body of a forwarded write (POST /v1/apply):
// one encoded event.
const MaxForwardBody = fsm.MaxEventSize

// MaxAppliedWait bounds the long poll of GET /v1/applied.
const MaxAppliedWait = 30 * time.Second

// maxResponse bounds a response document the Client reads.
const maxResponse = 64 << 10

// Server serves the internal RPC (HTTP/1.1) on a listener, normally the
// ServiceRPC listener of the cluster port's transport.Mux, whose connections
// are already mutually authenticated:
//
//	POST /v1/apply                  a forwarded write (Client.Forward),
//	                                body: one encoded event. The leader
//	                                applies it (Local.Apply): 200 {"index",
//	                                "resp"}. A follower answers 421 with
//	                                ErrNotLeader and the leader it knows of.
//	GET  /v1/applied?min=N&wait=D   long poll until the local FSM applied N
//	                                or D (≤ MaxAppliedWait) passed:
//	                                200 {"applied"}.
//	GET  /v1/status                 200 Status (WithStatusReporter).
//	POST /v1/membership             add or remove a voter (WithMembership;
//	                                membership.go).
//	PUT  /v1/blobs/{hex}            store a blob (WithBlobStore; blobs.go).
//	GET  /v1/blobs/{hex}            read a blob.
//	GET  /v1/inline?bucket&key&size&crc32c
//	                                read an inline body (WithInlineSource;
//	                                inline.go).
//
// WithStatusLine also serves the status line (statusline.go).
//
// Failures are {"error": {"code", "message"}} with a status >= 400.
type Server struct {
	local      Local
	reporter   StatusReporter // nil: the Local fields, not serving
	membership Membership     // nil: membership changes answer 404
	blobs      BlobStore      // nil: no blob transfer
	inline     InlineSource   // nil: no inline bodies served
	space      SpaceGuard     // nil: no free-space reserve
	log        *slog.Logger
	srv        *http.Server

	statusLn    net.Listener // WithStatusLine; nil: none
	statusConns map[net.Conn]struct{}
	statusWG    sync.WaitGroup

	base   context.Context // parent of every request context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	active sync.WaitGroup // handlers running; Add only under mu while !closed

	serveDone chan struct{}
	closeOnce sync.Once
}

// NewServer serves the internal RPC for local on ln until Close. A nil
// logger discards.
func NewServer(ln net.Listener, local Local, logger *slog.Logger, opts ...ServerOption) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{local: local, log: logger, serveDone: make(chan struct{}), statusConns: map[net.Conn]struct{}{}}
	for _, o := range opts {
		o(s)
	}
	if s.statusLn != nil {
		s.statusWG.Add(1)
		go s.serveStatusLine()
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.srv = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      MaxAppliedWait + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    8 << 10,
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.serveDone)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("internal RPC server stopped", "err", err)
		}
	}()
	return s
}

// Close stops serving: it closes the listener and every connection, cancels
// the requests in flight and returns once every handler has returned.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		err = s.srv.Close()
		s.closeStatusLine()
		s.active.Wait()
		<-s.serveDone
	})
	return err
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pathForward, s.handleForward)
	mux.HandleFunc(pathApplied, s.handleApplied)
	mux.HandleFunc(pathStatus, s.handleStatus)
	mux.HandleFunc(pathBlobs, s.handleBlob)
	mux.HandleFunc(pathInline, s.handleInline)
	mux.HandleFunc(pathMembership, s.handleMembership)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, wireError{Message: "cluster: no such endpoint"})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			writeError(w, http.StatusServiceUnavailable, wireError{Message: "cluster: server closed"})
			return
		}
		s.active.Add(1)
		s.mu.Unlock()
		defer s.active.Done()
		mux.ServeHTTP(w, r)
	})
}

// handleForward serves a write forwarded by another node: the leader
// appends it through its Local.Apply.
func (s *Server) handleForward(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, wireError{Message: "cluster: method not allowed"})
		return
	}
	if r.ContentLength > MaxForwardBody {
		writeError(w, http.StatusRequestEntityTooLarge, encodeError(fmt.Errorf("%w: body of %d bytes exceeds %d", ErrInvalidCommand, r.ContentLength, MaxForwardBody)))
		return
	}
	cmd, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxForwardBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, encodeError(fmt.Errorf("%w: body exceeds %d bytes", ErrInvalidCommand, MaxForwardBody)))
			return
		}
		writeError(w, http.StatusBadRequest, encodeError(fmt.Errorf("%w: reading the body: %v", ErrInvalidCommand, err)))
		return
	}
	// The FSM panics on an entry it cannot decode (a node must never
	// silently diverge), so one malformed entry in the log would stop every
	// node at every restart: the leader checks every forwarded event first.
	if err := fsm.CheckEvent(cmd); err != nil {
		err = fmt.Errorf("%w: %v", ErrInvalidCommand, err)
		s.log.Warn("refused a forwarded event", "remote", r.RemoteAddr, "err", err)
		writeError(w, http.StatusBadRequest, encodeError(err))
		return
	}
	if !s.local.IsLeader() {
		s.writeNotLeader(w, ErrNotLeader)
		return
	}
	idx, resp, err := s.local.Apply(r.Context(), cmd)
	switch {
	case errors.Is(err, ErrNotLeader):
		s.writeNotLeader(w, err)
		return
	case errors.Is(err, ErrNoLeader):
		writeError(w, http.StatusServiceUnavailable, encodeError(err))
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, encodeError(err))
		return
	}
	out := forwardResponse{Index: idx, Resp: encodeResp(resp)}
	out.Barrier, _ = resp.(*Barrier)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) writeNotLeader(w http.ResponseWriter, err error) {
	id, addr := s.local.Leader()
	if id == s.local.ID() { // in transition: do not send the caller back here
		id, addr = "", ""
	}
	writeJSON(w, http.StatusMisdirectedRequest, errorResponse{Error: encodeError(err), LeaderID: id, LeaderAddr: addr})
}

func (s *Server) handleApplied(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, wireError{Message: "cluster: method not allowed"})
		return
	}
	q := r.URL.Query()
	minIdx, err := strconv.ParseUint(q.Get("min"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, wireError{Message: "cluster: min must be a log index"})
		return
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 {
			writeError(w, http.StatusBadRequest, wireError{Message: "cluster: wait must be a duration such as 2s"})
			return
		}
		wait = min(wait, MaxAppliedWait)
	}
	if s.local.AppliedIndex() < minIdx && wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		err := s.local.WaitApplied(ctx, minIdx)
		waitEnded := ctx.Err() != nil
		cancel()
		if err != nil && !waitEnded { // the node failed, not the wait
			writeError(w, http.StatusServiceUnavailable, encodeError(err))
			return
		}
	}
	writeJSON(w, http.StatusOK, appliedResponse{Applied: s.local.AppliedIndex()})
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, wireError{Message: "cluster: method not allowed"})
		return
	}
	writeJSON(w, http.StatusOK, s.status(r.URL.Query().Get("from")))
}

// status is this node's Status as it answers the node asker: the
// StatusReporter's (WithStatusReporter), or the Local fields.
func (s *Server) status(asker string) Status {
	if s.reporter != nil {
		return s.reporter.LocalStatus(asker)
	}
	id, addr := s.local.Leader()
	return Status{
		ID:         s.local.ID(),
		LeaderID:   id,
		LeaderAddr: addr,
		IsLeader:   s.local.IsLeader(),
		Applied:    s.local.AppliedIndex(),
	}
}

func writeError(w http.ResponseWriter, status int, e wireError) {
	writeJSON(w, status, errorResponse{Error: e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen with these documents
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"cluster: encoding the response failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
