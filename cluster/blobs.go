package cluster

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
)

// Blob transfer between nodes (docs/DESIGN.md, "Object data"):
//
//	PUT /v1/blobs/{hex}   body: the blob's bytes (Content-Length required),
//	                      header X-S4-Crc32c (required; 8 lower-case hex
//	                      digits: the CRC32C computed where the bytes
//	                      entered the cluster). The node streams them into
//	                      its store, checks their length and CRC32C and
//	                      commits them under the ID {hex} with fsync: 204.
//	                      A blob the node holds already: 204 without
//	                      reading the body (the client sends Expect:
//	                      100-continue for blobs over 64 KiB). A node at
//	                      its free-space reserve, or one the blob would take
//	                      there (package disk), answers 507 without reading
//	                      the body, and so does one whose write fails with
//	                      ENOSPC; PutBlob's error then wraps disk.ErrFull.
//	GET  /v1/blobs/{hex}  200 with the bytes and X-S4-Crc32c, the CRC32C of
//	                      the whole content from the blob's trailer, which
//	                      the receiver checks the bytes against; every block
//	                      is checked before it is sent (a bad one cuts the
//	                      body short); 404 if the node lacks it.
const pathBlobs = "/v1/blobs/"

// headerCRC32C carries the CRC32C of a blob's content, both ways.
const headerCRC32C = "X-S4-Crc32c"

// expectContinueMin is the smallest blob PutBlob sends with Expect:
// 100-continue: below it the extra round trip costs more than sending bytes
// the peer may already hold.
const expectContinueMin = 64 << 10

// BlobIdleTimeout bounds the pause between two reads or writes of a blob
// transfer on the Server; the whole transfer is not bounded (a blob may be
// gigabytes), only its progress.
const BlobIdleTimeout = 30 * time.Second

// BlobPinGrace is how long a node keeps a blob it received from a peer
// pinned (safe from its garbage collector), so that the metadata event
// that refers to it has time to arrive.
const BlobPinGrace = 2 * time.Minute

// BlobStore is the local blob store the Server serves transfers from and
// into (*blob.Store implements it).
type BlobStore interface {
	CreateCopyOf(want blob.Ref) (*blob.Writer, error) // a copy checked by size and CRC32C
	Open(sum [32]byte) (*blob.Reader, int64, error)   // verifies each block as it reads
	Has(sum [32]byte) bool
	Pin(sum [32]byte) (unpin func())
}

// SpaceGuard is the free-space reserve (package disk) of a node that keeps
// one (objects.Service implements it): the Server asks it before it
// receives a copy.
type SpaceGuard interface {
	// Check returns nil if size more bytes may be stored, or an error
	// wrapping disk.ErrFull.
	Check(size int64) error
	// NoSpace tells the node that a write failed with ENOSPC.
	NoSpace()
}

// ServerOption configures a Server.
type ServerOption func(*Server)

// WithBlobStore serves the blob transfer endpoints from bs, refusing copies
// that guard has no room for (nil: no reserve). Without it they answer 404.
func WithBlobStore(bs BlobStore, guard SpaceGuard) ServerOption {
	return func(s *Server) { s.blobs, s.space = bs, guard }
}

func parseBlobPath(p string) ([32]byte, bool) {
	var sum [32]byte
	h, ok := strings.CutPrefix(p, pathBlobs)
	return sum, ok && decodeLowerHex(sum[:], h)
}

// decodeLowerHex fills dst from exactly 2*len(dst) lower-case hex digits.
func decodeLowerHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}

func (s *Server) handleBlob(w http.ResponseWriter, r *http.Request) {
	if s.blobs == nil {
		writeError(w, http.StatusNotFound, wireError{Message: "cluster: no blob store on this node"})
		return
	}
	sum, ok := parseBlobPath(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, wireError{Message: "cluster: a blob is named by the 64 lower-case hex digits of its ID"})
		return
	}
	switch r.Method {
	case http.MethodPut:
		s.putBlob(w, r, sum)
	case http.MethodGet:
		s.getBlob(w, r, sum)
	default:
		w.Header().Set("Allow", "GET, PUT")
		writeError(w, http.StatusMethodNotAllowed, wireError{Message: "cluster: method not allowed"})
	}
}

func (s *Server) putBlob(w http.ResponseWriter, r *http.Request, sum [32]byte) {
	// Pin before Has: the garbage collector must not take a blob that is
	// present now away before the metadata referring to it arrives.
	unpin := s.blobs.Pin(sum)
	time.AfterFunc(BlobPinGrace, unpin)
	if s.blobs.Has(sum) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.ContentLength < 0 {
		writeError(w, http.StatusLengthRequired, wireError{Message: "cluster: a blob needs a Content-Length"})
		return
	}
	guard := s.space
	if guard != nil {
		if err := guard.Check(r.ContentLength); err != nil {
			s.log.Debug("refused a blob copy: no room", "remote", r.RemoteAddr, "err", err)
			writeError(w, http.StatusInsufficientStorage, wireError{Message: "cluster: " + err.Error()})
			return
		}
	}
	// failed answers a failed write: 507 for lack of space, 500 otherwise.
	failed := func(err error) {
		if disk.IsNoSpace(err) {
			if guard != nil {
				guard.NoSpace()
			}
			s.log.Warn("refused a blob copy: the disk is full", "remote", r.RemoteAddr, "err", err)
			writeError(w, http.StatusInsufficientStorage, wireError{Message: err.Error()})
			return
		}
		writeError(w, http.StatusInternalServerError, wireError{Message: err.Error()})
	}
	crc, ok := parseCRC32C(r.Header[headerCRC32C])
	if !ok {
		writeError(w, http.StatusBadRequest, wireError{Message: "cluster: a blob copy needs " + headerCRC32C + ": 8 lower-case hex digits"})
		return
	}
	bw, err := s.blobs.CreateCopyOf(blob.Ref{ID: sum, Size: r.ContentLength, CRC32C: crc})
	if err != nil {
		failed(err)
		return
	}
	defer bw.Abort()
	rc := http.NewResponseController(w)
	body := &idleReader{r: r.Body, extend: func() { rc.SetReadDeadline(time.Now().Add(BlobIdleTimeout)) }}
	if _, err := io.Copy(bw, body); err != nil {
		if disk.IsNoSpace(err) { // the write, not the sender
			failed(err)
			return
		}
		writeError(w, http.StatusBadRequest, wireError{Message: fmt.Sprintf("cluster: receiving blob %x: %v", sum[:8], err)})
		return
	}
	if _, err := bw.Commit(); err != nil { // pinned above
		if errors.Is(err, blob.ErrCorrupt) {
			s.log.Warn("refused a blob copy whose content does not match its CRC32C", "remote", r.RemoteAddr, "blob", hex.EncodeToString(sum[:]))
			writeError(w, http.StatusBadRequest, wireError{Message: err.Error()})
			return
		}
		failed(err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseCRC32C parses the one value of the X-S4-Crc32c header.
func parseCRC32C(vals []string) (uint32, bool) {
	var b [4]byte
	if len(vals) != 1 || !decodeLowerHex(b[:], vals[0]) {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[:]), true
}

func (s *Server) getBlob(w http.ResponseWriter, r *http.Request, sum [32]byte) {
	f, size, err := s.blobs.Open(sum)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			writeError(w, http.StatusNotFound, wireError{Message: err.Error()})
			return
		}
		writeError(w, http.StatusInternalServerError, wireError{Message: err.Error()})
		return
	}
	defer f.Close()
	// A corrupt first block (or trailer, caught by Open) is an error
	// before the status line; a later one cuts the response short: a
	// block that fails its CRC32C is never sent.
	if err := f.Verify(0); err != nil {
		s.log.Warn("not sending a blob that fails its checksum", "remote", r.RemoteAddr, "err", err)
		writeError(w, http.StatusInternalServerError, wireError{Message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.Header().Set(headerCRC32C, fmt.Sprintf("%08x", f.CRC32C()))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	out := &idleWriter{w: w, extend: func() { rc.SetWriteDeadline(time.Now().Add(BlobIdleTimeout)) }}
	if _, err := f.WriteTo(out); err != nil {
		if errors.Is(err, blob.ErrCorrupt) {
			s.log.Warn("cut a blob transfer short: a block fails its checksum", "remote", r.RemoteAddr, "err", err)
			return
		}
		s.log.Debug("sending a blob failed", "remote", r.RemoteAddr, "err", err)
	}
}

// idleReader moves the connection's read deadline forward before every
// read, so that a transfer fails when it stalls, not when it is long.
type idleReader struct {
	r      io.Reader
	extend func()
}

func (r *idleReader) Read(p []byte) (int, error) {
	r.extend()
	return r.r.Read(p)
}

type idleWriter struct {
	w      io.Writer
	extend func()
}

func (w *idleWriter) Write(p []byte) (int, error) {
	w.extend()
	return w.w.Write(p)
}

// transferTimeout is the default bound of a blob transfer whose context has
// no deadline: DefaultRPCTimeout plus one second per MiB.
func transferTimeout(size int64) time.Duration {
	return DefaultRPCTimeout + time.Duration(max(size, 0)>>20)*time.Second
}

// PutBlob copies the blob ref, whose ref.Size bytes it reads from r, to the
// node at addr, which stores it durably under ref.ID once the bytes
// match ref.Size and ref.CRC32C (package blob, "Copies"). A node that holds
// the blob already answers without receiving it; one without room for it
// answers 507, and the error wraps disk.ErrFull. ctx bounds the transfer (if
// it has no deadline: DefaultRPCTimeout plus one second per MiB).
func (c *Client) PutBlob(ctx context.Context, addr string, ref blob.Ref, r io.Reader) error {
	size := ref.Size
	ctx, cancel := withDefaultTimeout(ctx, transferTimeout(size))
	defer cancel()
	path := pathBlobs + ref.Hex()
	u := url.URL{Scheme: "http", Host: addr, Path: path}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), io.NopCloser(r))
	if err != nil {
		return fmt.Errorf("cluster: PUT %s: %w", path, err)
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(headerCRC32C, fmt.Sprintf("%08x", ref.CRC32C))
	if size >= expectContinueMin {
		req.Header.Set("Expect", "100-continue")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return transportError(http.MethodPut, addr, path, err)
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusNoContent:
		return nil
	case http.StatusInsufficientStorage:
		return &noRoomError{err: readRemoteError(http.MethodPut, addr, path, res)}
	}
	return readRemoteError(http.MethodPut, addr, path, res)
}

// noRoomError is a copy refused with 507: the peer has no room for it.
type noRoomError struct{ err error }

func (e *noRoomError) Error() string   { return e.err.Error() + " (HTTP 507: no room on that node)" }
func (e *noRoomError) Unwrap() []error { return []error{e.err, disk.ErrFull} }

// GetBlob streams the blob id from the node at addr: the caller reads
// ref.Size bytes from rc, checks them against ref.CRC32C (the CRC32C that
// node's blob trailer gives; or, with ref.NoCRC, from a node of the
// previous release, against the SHA-256 that is the blob's name) and
// closes rc. err wraps blob.ErrNotFound if
// that node lacks the blob. ctx bounds the whole transfer, including the
// reads from rc (if it has no deadline: DefaultRPCTimeout plus one second
// per MiB of the blob).
func (c *Client) GetBlob(ctx context.Context, addr string, id [32]byte) (rc io.ReadCloser, ref blob.Ref, err error) {
	var timer *time.Timer
	ctx, cancel := context.WithCancel(ctx)
	if _, ok := ctx.Deadline(); !ok {
		// The size is not known yet: DefaultRPCTimeout until the headers,
		// then a bound that grows with the size.
		timer = time.AfterFunc(DefaultRPCTimeout, cancel)
	}
	fail := func(err error) (io.ReadCloser, blob.Ref, error) {
		stopTimer(timer)
		cancel()
		return nil, blob.Ref{}, err
	}
	path := pathBlobs + hex.EncodeToString(id[:])
	u := url.URL{Scheme: "http", Host: addr, Path: path}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(fmt.Errorf("cluster: GET %s: %w", path, err))
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return fail(transportError(http.MethodGet, addr, path, err))
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		if res.StatusCode == http.StatusNotFound {
			return fail(fmt.Errorf("cluster: GET %s%s: %w", addr, path, blob.ErrNotFound))
		}
		return fail(readRemoteError(http.MethodGet, addr, path, res))
	}
	if res.ContentLength < 0 {
		res.Body.Close()
		return fail(fmt.Errorf("cluster: GET %s%s: no Content-Length", addr, path))
	}
	ref = blob.Ref{ID: id, Size: res.ContentLength}
	if vals := res.Header.Values(headerCRC32C); len(vals) > 0 {
		crc, ok := parseCRC32C(vals)
		if !ok {
			res.Body.Close()
			return fail(fmt.Errorf("cluster: GET %s%s: %s is not 8 lower-case hex digits", addr, path, headerCRC32C))
		}
		ref.CRC32C = crc
	} else {
		// A node of the previous release (blob store format 2) sends no
		// CRC; its blobs are named by their SHA-256 (blob.Ref.NoCRC).
		ref.NoCRC = true
	}
	if timer != nil {
		timer.Reset(transferTimeout(res.ContentLength))
	}
	return &cancelBody{ReadCloser: res.Body, cancel: cancel, timer: timer}, ref, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
	timer  *time.Timer
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	stopTimer(b.timer)
	b.cancel()
	return err
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// transportError is a failed round trip, as Client.do reports it.
func transportError(method, addr, path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("cluster: %s %s%s: %w", method, addr, path, err)
}

// readRemoteError decodes the error document of a failed answer.
func readRemoteError(method, addr, path string, res *http.Response) error {
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("cluster: %s %s%s: HTTP %d", method, addr, path, res.StatusCode)
	}
	return decodeRemoteError(method, addr, path, res.StatusCode, data)
}
