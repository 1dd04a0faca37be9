package s3

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"
)

// payload is a request body as the client signed it: decoded from
// aws-chunked framing when needed, with the checks that can only happen
// once the whole body was read.
type payload struct {
	r       io.Reader
	size    int64 // decoded length, -1 if unknown
	chunked *ChunkedReader
	// signed is the SHA-256 the client signed (PayloadSHA256), checked
	// against the body by the caller through verify.
	signed    *[32]byte
	sha       hash.Hash // non-nil when the caller does not hash the body itself
	md5Header string
	// checksum is the x-amz-checksum-* algorithm the body is checked with
	// and the value sent in a header ("" when it comes in a trailer).
	ckAlg  ChecksumAlgorithm
	ckSent string
	ckHash hash.Hash
}

// openPayload prepares r's body. hashesSHA256 tells whether the consumer
// computes the body's SHA-256 itself (the blob store does), so the signed
// payload hash is checked without hashing twice.
func (h *Handler) openPayload(r *request, maxSize int64, hashesSHA256 bool) (*payload, error) {
	ctx := r.ctx
	p := &payload{size: -1, md5Header: r.header("Content-MD5")}
	// Request.Body() would read a streamed body whole into memory: take the
	// stream when there is one, and the (small, already read) body otherwise.
	var body io.Reader
	if s := ctx.RequestBodyStream(); s != nil { // the server streams bodies
		body = s
	} else {
		body = bytes.NewReader(ctx.Request.Body())
	}
	if cl := ctx.Request.Header.ContentLength(); cl >= 0 {
		p.size = int64(cl)
	}
	switch r.v4.Payload {
	case PayloadChunked:
		dl := int64(-1)
		if v := r.header("X-Amz-Decoded-Content-Length"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, Errorf(CodeInvalidArgument, "x-amz-decoded-content-length is not a number.")
			}
			dl = n
		}
		p.size = dl
		cfg := ChunkedConfig{Mode: r.v4.Chunked, DecodedLength: dl, Trailer: r.header("X-Amz-Trailer")}
		if r.v4.Chunked != ChunkedUnsignedTrailer {
			res := r.v4
			cfg.SeedSignature = res.Signature.String()
			cfg.SignChunk = res.SignChunk
			cfg.SignTrailer = res.SignTrailer
		}
		p.chunked = NewChunkedReader(body, cfg)
		body = p.chunked
	case PayloadSHA256:
		sum := r.v4.PayloadSHA256
		p.signed = &sum
		if !hashesSHA256 {
			p.sha = sha256.New()
		}
	}
	if p.size > maxSize {
		return nil, NewError(CodeEntityTooLarge)
	}
	// A checksum header, or the algorithm named for a trailer.
	for _, alg := range []ChecksumAlgorithm{ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256} {
		if v := ctx.Request.Header.Peek(alg.HeaderName()); len(v) > 0 {
			if p.ckAlg != 0 {
				return nil, Errorf(CodeInvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
			}
			p.ckAlg, p.ckSent = alg, string(v)
		}
	}
	if p.ckAlg == 0 {
		if t := r.header("X-Amz-Trailer"); t != "" {
			if alg, ok := ChecksumAlgorithmFromHeader(strings.ToLower(strings.TrimSpace(t))); ok {
				p.ckAlg = alg
			}
		} else if v := r.header("X-Amz-Sdk-Checksum-Algorithm"); v != "" {
			alg, ok := ParseChecksumAlgorithm(v)
			if !ok {
				return nil, Errorf(CodeInvalidRequest, "Value for x-amz-sdk-checksum-algorithm header is invalid.")
			}
			p.ckAlg = alg
		}
	}
	// A trailer checksum is computed and checked by the chunked reader
	// already; hash the body here only for the other cases.
	if p.ckAlg != 0 && (p.ckSent != "" || p.chunked == nil || p.chunked.TrailerAlgorithm() != p.ckAlg) {
		p.ckHash = NewChecksumHash(p.ckAlg)
	}
	var hashes []io.Writer
	if p.sha != nil {
		hashes = append(hashes, p.sha)
	}
	if p.ckHash != nil {
		hashes = append(hashes, p.ckHash)
	}
	if len(hashes) > 0 {
		body = io.TeeReader(body, io.MultiWriter(hashes...))
	}
	p.r = io.LimitReader(body, maxSize+1)
	return p, nil
}

// copyBufSize is the piece in which copyTo hands a body to its writer: a
// TLS read returns at most one 16 KiB record, so gathering pieces first makes
// 4 file writes of a 1 MiB body instead of 64.
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// copyTo streams the decoded body into w and returns the byte count.
func (p *payload) copyTo(w io.Writer, maxSize int64) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var n int64
	for {
		m, err := 0, error(nil)
		for m < len(buf) && err == nil {
			var k int
			k, err = p.r.Read(buf[m:])
			m += k
		}
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, werr // the disk's failure, not the client's
			}
			n += int64(m)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, bodyError(err)
		}
	}
	if n > maxSize {
		return n, NewError(CodeEntityTooLarge)
	}
	if p.size >= 0 && n != p.size {
		return n, Errorf(CodeIncompleteBody, "You did not provide the number of bytes specified by the Content-Length HTTP header: %d of %d.", n, p.size)
	}
	return n, nil
}

// verify checks the body against everything the client declared: the
// signed SHA-256 (sha256sum is the body's, when the caller hashed it), the
// Content-MD5, and the checksum header or trailer. It returns the checksum
// to store.
func (p *payload) verify(sha256sum *[32]byte, md5sum [16]byte) (algo ChecksumAlgorithm, value string, err error) {
	if p.signed != nil {
		var got [32]byte
		if p.sha != nil {
			p.sha.Sum(got[:0])
		} else {
			got = *sha256sum
		}
		if got != *p.signed {
			return 0, "", NewError(CodeXAmzContentSHA256Mismatch)
		}
	}
	if p.md5Header != "" {
		if err := VerifyContentMD5(p.md5Header, md5sum); err != nil {
			return 0, "", bodyError(err)
		}
	}
	if p.ckAlg == 0 {
		return 0, "", nil
	}
	if p.ckHash == nil {
		// The chunked reader verified the trailer against the payload; its
		// value is canonical base64 (DecodeChecksum is strict).
		if alg, v, ok := p.chunked.Checksum(); ok && alg == p.ckAlg {
			return p.ckAlg, v, nil
		}
		return 0, "", Errorf(CodeInvalidRequest, "The %s trailer is missing.", p.ckAlg.HeaderName())
	}
	computed := p.ckHash.Sum(nil)
	sent := p.ckSent
	if sent != "" {
		if err := VerifyChecksum(p.ckAlg, sent, computed); err != nil {
			return 0, "", bodyError(err)
		}
	}
	return p.ckAlg, EncodeChecksum(computed), nil
}

// bodyError maps a failure while reading a body to its S3 error.
func bodyError(err error) error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, ErrChunkSignatureMismatch):
		return NewError(CodeSignatureDoesNotMatch)
	case errors.Is(err, ErrChecksumMismatch), errors.Is(err, ErrContentMD5Mismatch):
		return NewError(CodeBadDigest)
	case errors.Is(err, ErrContentMD5Invalid):
		return NewError(CodeInvalidDigest)
	case errors.Is(err, ErrChecksumInvalid):
		return Errorf(CodeInvalidRequest, "The checksum value is invalid.")
	case errors.Is(err, ErrChunkIncompleteBody), errors.Is(err, io.ErrUnexpectedEOF):
		return NewError(CodeIncompleteBody)
	case errors.Is(err, ErrChunkMalformed):
		return Errorf(CodeInvalidRequest, "The aws-chunked body is malformed.")
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return NewError(CodeEntityTooLarge)
	}
	return NewError(CodeIncompleteBody).WithCause(err)
}

// readSmallBody reads a whole (XML) body of at most limit bytes, verified.
func (h *Handler) readSmallBody(r *request, limit int64) ([]byte, error) {
	p, err := h.openPayload(r, limit, false)
	if err != nil {
		if IsCode(err, CodeEntityTooLarge) {
			return nil, NewError(CodeMaxMessageLengthExceeded)
		}
		return nil, err
	}
	var buf strings.Builder
	if _, err := p.copyTo(&buf, limit); err != nil {
		if IsCode(err, CodeEntityTooLarge) {
			return nil, NewError(CodeMaxMessageLengthExceeded)
		}
		return nil, err
	}
	b := []byte(buf.String())
	var md5sum [16]byte
	if p.md5Header != "" {
		md5sum = md5.Sum(b)
	}
	if _, _, err := p.verify(nil, md5sum); err != nil {
		return nil, err
	}
	return b, nil
}
