package cluster

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/s4/s4/blob"
)

// Inline bodies between nodes (docs/DESIGN.md, "Object data"): a node
// whose copy of an object's inline body (package meta, inline.go) fails
// its CRC32C reads a good one from a peer:
//
//	GET /v1/inline?bucket=B&key=K&size=N&crc32c=C
//	     200 with the N bytes if this node holds an inline body of
//	     bucket B, key K, of N bytes with CRC32C C (8 lower-case hex
//	     digits), checked against them before a byte is sent; 404 if it
//	     holds no such body (no such object, or another version of it);
//	     500 if its copy fails its checksum too.
//
// The size and CRC32C name the version the asking node's record holds, so
// a peer that has moved on (or not yet caught up) never hands over the
// bytes of another version; the client checks them again as they arrive.
const pathInline = "/v1/inline"

// maxInlineBody bounds what GetInline reads (meta.MaxInline).
const maxInlineBody = 256 << 10

// InlineSource is the node's metadata store, which holds the inline bodies
// (*meta.Store implements it).
type InlineSource interface {
	// InlineBody returns the inline tail of bucket/key if it has size
	// bytes and CRC32C crc, checked; found is false if there is no such
	// tail, err non-nil if it fails its checksum.
	InlineBody(bucket, key string, size int64, crc uint32) (data []byte, found bool, err error)
}

// WithInlineSource serves GET /v1/inline from src. Without it the
// endpoint answers 404.
func WithInlineSource(src InlineSource) ServerOption {
	return func(s *Server) { s.inline = src }
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (s *Server) handleInline(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, wireError{Message: "cluster: method not allowed"})
		return
	}
	if s.inline == nil {
		writeError(w, http.StatusNotFound, wireError{Message: "cluster: no inline bodies on this node"})
		return
	}
	q := r.URL.Query()
	bucket, key := q.Get("bucket"), q.Get("key")
	size, err := strconv.ParseInt(q.Get("size"), 10, 64)
	crc, ok := parseCRC32C(q["crc32c"])
	if bucket == "" || key == "" || err != nil || size < 0 || size > maxInlineBody || !ok {
		writeError(w, http.StatusBadRequest, wireError{Message: "cluster: an inline body is asked for by bucket, key, size (0 to 256 KiB) and crc32c (8 lower-case hex digits)"})
		return
	}
	data, found, err := s.inline.InlineBody(bucket, key, size, crc)
	switch {
	case err != nil:
		s.log.Warn("not sending an inline body that fails its checksum", "remote", r.RemoteAddr, "err", err)
		writeError(w, http.StatusInternalServerError, wireError{Message: err.Error()})
		return
	case !found:
		writeError(w, http.StatusNotFound, wireError{Message: "cluster: no such inline body on this node"})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

// GetInline reads the inline body of bucket/key of size bytes with CRC32C
// crc from the node at addr, and checks it against both. err wraps
// blob.ErrNotFound if that node holds no such body. ctx without a deadline
// gets DefaultRPCTimeout.
func (c *Client) GetInline(ctx context.Context, addr, bucket, key string, size int64, crc uint32) ([]byte, error) {
	if size < 0 || size > maxInlineBody {
		return nil, fmt.Errorf("cluster: GetInline: size %d", size)
	}
	ctx, cancel := withDefaultTimeout(ctx, DefaultRPCTimeout)
	defer cancel()
	var cb [4]byte
	binary.BigEndian.PutUint32(cb[:], crc)
	q := url.Values{"bucket": {bucket}, "key": {key}, "size": {strconv.FormatInt(size, 10)}, "crc32c": {hex.EncodeToString(cb[:])}}
	u := url.URL{Scheme: "http", Host: addr, Path: pathInline, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("cluster: GET %s: %w", pathInline, err)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, transportError(http.MethodGet, addr, pathInline, err)
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, fmt.Errorf("cluster: GET %s%s: %w", addr, pathInline, blob.ErrNotFound)
	default:
		return nil, readRemoteError(http.MethodGet, addr, pathInline, res)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, size+1))
	if err != nil {
		return nil, transportError(http.MethodGet, addr, pathInline, err)
	}
	if int64(len(data)) != size || crc32.Checksum(data, castagnoli) != crc {
		return nil, fmt.Errorf("cluster: GET %s%s: %w: %d bytes that do not match the size %d and CRC32C %08x asked for", addr, pathInline, blob.ErrCorrupt, len(data), size, crc)
	}
	return data, nil
}
