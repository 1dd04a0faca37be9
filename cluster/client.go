package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/s4/s4/transport"
)

// DefaultRPCTimeout bounds a Client call whose context has no deadline
// (for WaitApplied: on top of the wait).
const DefaultRPCTimeout = 10 * time.Second

// Client calls the internal RPC of other nodes (see Server). It keeps
// connections alive and pools them per address; it is safe for concurrent
// use. Every call is bounded by its context (DefaultRPCTimeout if the
// context has no deadline).
type Client struct {
	tr   *http.Transport
	hc   *http.Client
	self string // the asking node's ID, sent with status questions
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// AskingAs makes the Client name the node self in its status questions (a
// serving leader remembers whom it gave a grant).
func AskingAs(self string) ClientOption { return func(c *Client) { c.self = self } }

// NewClient returns a Client that opens connections with dial, which
// returns an authenticated connection to the internal RPC at addr (a
// cluster address "host:port"), for example MuxDialer.
func NewClient(dial func(ctx context.Context, addr string) (net.Conn, error), opts ...ClientOption) *Client {
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			c, err := dial(ctx, addr)
			if err != nil {
				return nil, &dialError{addr: addr, err: err}
			}
			if c == nil {
				return nil, &dialError{addr: addr, err: errors.New("no connection")}
			}
			return c, nil
		},
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        time.Minute, // below the server's IdleTimeout
		DisableCompression:     true,
		MaxResponseHeaderBytes: 16 << 10,
		ExpectContinueTimeout:  time.Second, // PutBlob: a peer that has the blob answers at once
		ForceAttemptHTTP2:      false,
	}
	c := &Client{tr: tr, hc: &http.Client{Transport: tr}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// MuxDialer returns a dial function for NewClient that reaches the internal
// RPC (transport.ServiceRPC) of the cluster port at addr with the cluster
// identity. The context's deadline bounds the dial and the handshake
// (transport.HandshakeTimeout if it is later or absent).
func MuxDialer(id *transport.Identity) func(ctx context.Context, addr string) (net.Conn, error) {
	return MuxServiceDialer(id, transport.ServiceRPC)
}

// MuxServiceDialer is MuxDialer for another service of the cluster port
// (transport.ServiceStatus for a StatusLine).
func MuxServiceDialer(id *transport.Identity, service byte) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		timeout := transport.HandshakeTimeout
		if dl, ok := ctx.Deadline(); ok {
			timeout = min(timeout, time.Until(dl))
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
		c, err := id.Dial(service, addr, timeout)
		if err != nil {
			return nil, err // not a nil *tls.Conn in a non-nil net.Conn
		}
		return c, nil
	}
}

// Close closes the idle pooled connections.
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// Forward sends cmd (an encoded event) to the leader at addr, which
// appends it to the log (its Local.Apply). It returns the event's index and
// the FSM's response (nil or a domain error, the same fsm sentinel the
// leader's FSM returned, or the *Barrier of a revocation-class event). err
// wraps ErrNotLeader if addr does not lead (nothing was appended),
// ErrInvalidCommand if it refused cmd, or another failure: after a
// transport failure that is not a failure to connect, the outcome is
// unknown.
func (c *Client) Forward(ctx context.Context, addr string, cmd []byte) (uint64, any, error) {
	if len(cmd) > MaxForwardBody {
		return 0, nil, fmt.Errorf("%w: event of %d bytes exceeds %d", ErrInvalidCommand, len(cmd), MaxForwardBody)
	}
	ctx, cancel := withDefaultTimeout(ctx, DefaultRPCTimeout)
	defer cancel()
	var out forwardResponse
	if err := c.do(ctx, http.MethodPost, addr, pathForward, nil, cmd, &out); err != nil {
		return 0, nil, err
	}
	if out.Resp == nil {
		if out.Barrier != nil {
			return out.Index, out.Barrier, nil
		}
		return out.Index, nil, nil
	}
	return out.Index, decodeError(*out.Resp), nil
}

// WaitApplied asks the node at addr to wait up to wait until its FSM has
// applied idx, and returns the index it has applied. If that is below idx,
// err wraps ErrWaitTimeout. The wait is shortened to end before ctx does, so
// that the answer still arrives.
func (c *Client) WaitApplied(ctx context.Context, addr string, idx uint64, wait time.Duration) (uint64, error) {
	wait = max(wait, 0)
	ctx, cancel := withDefaultTimeout(ctx, wait+DefaultRPCTimeout)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		wait = min(wait, left-min(left/10, 100*time.Millisecond))
		wait = max(wait, 0)
	}
	q := url.Values{"min": {strconv.FormatUint(idx, 10)}, "wait": {wait.String()}}
	var out appliedResponse
	if err := c.do(ctx, http.MethodGet, addr, pathApplied, q, nil, &out); err != nil {
		return 0, err
	}
	if out.Applied < idx {
		return out.Applied, fmt.Errorf("%w: %s applied %d, not %d, within %v", ErrWaitTimeout, addr, out.Applied, idx, wait)
	}
	return out.Applied, nil
}

// Status returns the view of the node at addr.
func (c *Client) Status(ctx context.Context, addr string) (Status, error) {
	ctx, cancel := withDefaultTimeout(ctx, DefaultRPCTimeout)
	defer cancel()
	var out Status
	var q url.Values
	if c.self != "" {
		q = url.Values{"from": {c.self}}
	}
	err := c.do(ctx, http.MethodGet, addr, pathStatus, q, nil, &out)
	return out, err
}

// do runs one request and decodes a 200 answer into out, or returns the
// remote error.
func (c *Client) do(ctx context.Context, method, addr, path string, q url.Values, body []byte, out any) error {
	u := url.URL{Scheme: "http", Host: addr, Path: path, RawQuery: q.Encode()}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("cluster: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		// url.Error's message repeats the URL; keep the chain (dialError,
		// context errors) for errors.Is/As.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("cluster: %s %s%s: %w", method, addr, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("cluster: %s %s%s: reading the response: %w", method, addr, path, err)
	}
	if len(data) > maxResponse {
		return fmt.Errorf("cluster: %s %s%s: response exceeds %d bytes", method, addr, path, maxResponse)
	}
	if res.StatusCode != http.StatusOK {
		return decodeRemoteError(method, addr, path, res.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("cluster: %s %s%s: bad response: %w", method, addr, path, err)
	}
	return nil
}

// remoteError decodes the error document data of an answer with status.
func decodeRemoteError(method, addr, path string, status int, data []byte) error {
	var er errorResponse
	if json.Unmarshal(data, &er) != nil || er.Error.Message == "" && er.Error.Code == "" {
		return fmt.Errorf("cluster: %s %s%s: HTTP %d", method, addr, path, status)
	}
	rerr := fmt.Errorf("cluster: %s %s%s: %w", method, addr, path, decodeError(er.Error))
	if errors.Is(rerr, ErrNotLeader) {
		return &notLeaderError{err: rerr, leaderID: er.LeaderID, leaderAddr: er.LeaderAddr}
	}
	return rerr
}

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
