package sig

import (
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/s3/s3err"
)

// PayloadHeader gives OpenPayload the request headers it reads
// (Content-MD5, x-amz-checksum-*, x-amz-trailer,
// x-amz-decoded-content-length, x-amz-sdk-checksum-algorithm): Peek returns
// a header's first value, or nil. *fasthttp.RequestHeader implements it.
type PayloadHeader interface {
	Peek(key string) []byte
	PeekAll(key string) [][]byte
}

// Payload is a request body as the client signed it: decoded from
// aws-chunked framing when needed, with the checks that can only happen
// once the whole body was read (Verify).
type Payload struct {
	r       io.Reader
	size    int64 // decoded length, -1 if unknown
	max     int64 // the largest body accepted
	chunked *ChunkedReader
	// signed is the SHA-256 the client signed (PayloadSHA256), checked
	// against the body by Verify.
	signed    *[32]byte
	sha       hash.Hash // the body's SHA-256, when signed is set
	md5Header string
	md5Sent   bool // a Content-MD5 header came, even an empty one
	// checksum is the x-amz-checksum-* algorithm the body is checked with
	// and the value sent in a header ("" when it comes in a trailer).
	ckAlg  ChecksumAlgorithm
	ckSent string
	ckHash hash.Hash
}

// OpenPayload prepares a request body of at most maxSize bytes as auth
// (the verified signature: how the body is protected) and hdr describe
// it. body is the body as received, contentLength its Content-Length (-1
// or less: unknown). The body's SHA-256 is computed only when auth says the
// client signed it.
//
// It fails, before any of the body is read, with EntityTooLarge when the
// declared size is over maxSize, and with InvalidRequest or
// InvalidArgument for malformed checksum or length headers.
func OpenPayload(body io.Reader, contentLength int64, hdr PayloadHeader, auth *V4Result, maxSize int64) (*Payload, error) {
	p := &Payload{size: -1, max: maxSize}
	if vals := hdr.PeekAll("Content-MD5"); len(vals) > 0 {
		// Malformed (an empty value too): InvalidDigest before the body.
		p.md5Header, p.md5Sent = string(vals[0]), true
		if _, err := ParseContentMD5(p.md5Header); err != nil {
			return nil, bodyError(err)
		}
	}
	if contentLength >= 0 {
		p.size = contentLength
	}
	switch auth.Payload {
	case PayloadChunked:
		var err error
		if body, err = p.decodeChunked(body, hdr, auth); err != nil {
			return nil, err
		}
	case PayloadSHA256:
		sum := auth.PayloadSHA256
		p.signed = &sum
		p.sha = sha256.New()
	}
	if p.size > maxSize {
		return nil, s3err.New(s3err.EntityTooLarge)
	}
	if err := p.pickChecksum(hdr); err != nil {
		return nil, err
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

// decodeChunked wraps an aws-chunked body in the ChunkedReader that checks
// its chunk signatures (signed modes) and its trailer.
func (p *Payload) decodeChunked(body io.Reader, hdr PayloadHeader, auth *V4Result) (io.Reader, error) {
	dl := int64(-1)
	if v := string(hdr.Peek("X-Amz-Decoded-Content-Length")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, s3err.Errorf(s3err.InvalidArgument, "x-amz-decoded-content-length is not a number.")
		}
		dl = n
	}
	p.size = dl
	cfg := ChunkedConfig{Mode: auth.Chunked, DecodedLength: dl, Trailer: string(hdr.Peek("X-Amz-Trailer"))}
	if auth.Chunked != ChunkedUnsignedTrailer {
		res := *auth
		cfg.SeedSignature = res.Signature.String()
		cfg.SignChunk = res.SignChunk
		cfg.SignTrailer = res.SignTrailer
	}
	p.chunked = NewChunkedReader(body, cfg)
	return p.chunked, nil
}

// pickChecksum finds the checksum the body is checked with: a checksum
// header, or the algorithm named for a trailer.
func (p *Payload) pickChecksum(hdr PayloadHeader) error {
	for _, alg := range []ChecksumAlgorithm{ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256} {
		if v := hdr.Peek(alg.HeaderName()); len(v) > 0 {
			if p.ckAlg != 0 {
				return s3err.Errorf(s3err.InvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
			}
			p.ckAlg, p.ckSent = alg, string(v)
		}
	}
	if p.ckAlg == 0 {
		if t := string(hdr.Peek("X-Amz-Trailer")); t != "" {
			if alg, ok := ChecksumAlgorithmFromHeader(strings.ToLower(strings.TrimSpace(t))); ok {
				p.ckAlg = alg
			}
		} else if v := string(hdr.Peek("X-Amz-Sdk-Checksum-Algorithm")); v != "" {
			alg, ok := ParseChecksumAlgorithm(v)
			if !ok {
				return s3err.Errorf(s3err.InvalidRequest, "Value for x-amz-sdk-checksum-algorithm header is invalid.")
			}
			p.ckAlg = alg
		}
	}
	// A trailer checksum is computed and checked by the chunked reader
	// already; hash the body here only for the other cases.
	if p.ckAlg != 0 && (p.ckSent != "" || p.chunked == nil || p.chunked.TrailerAlgorithm() != p.ckAlg) {
		p.ckHash = NewChecksumHash(p.ckAlg)
	}
	return nil
}

// Size is the body's declared length once decoded, -1 if unknown.
func (p *Payload) Size() int64 { return p.size }

// HasContentMD5 reports whether the client sent a Content-MD5 header,
// which Verify checks against the MD5 it is given.
func (p *Payload) HasContentMD5() bool { return p.md5Sent }

// copyBufSize is the piece in which CopyTo hands a body to its writer: a
// TLS read returns at most one 16 KiB record, so gathering pieces first makes
// 4 file writes of a 1 MiB body instead of 64.
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// CopyTo streams the decoded body into w and returns the byte count. An
// error of w is returned as it is (the disk's failure, not the client's);
// a failure reading the body is its S3 error. Nothing read is trusted
// before Verify passed.
func (p *Payload) CopyTo(w io.Writer) (int64, error) {
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
	if n > p.max {
		return n, s3err.New(s3err.EntityTooLarge)
	}
	if p.size >= 0 && n != p.size {
		return n, s3err.Errorf(s3err.IncompleteBody, "You did not provide the number of bytes specified by the Content-Length HTTP header: %d of %d.", n, p.size)
	}
	return n, nil
}

// Verify checks the body, once CopyTo returned, against everything the
// client declared: the signed SHA-256, the Content-MD5 (md5sum is the
// body's, which the caller computed), and the checksum header or trailer.
// It returns the checksum to store.
func (p *Payload) Verify(md5sum [16]byte) (algo ChecksumAlgorithm, value string, err error) {
	if p.signed != nil {
		var got [32]byte
		if p.sha.Sum(got[:0]); got != *p.signed {
			return 0, "", s3err.New(s3err.XAmzContentSHA256Mismatch)
		}
	}
	if p.md5Sent {
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
		return 0, "", s3err.Errorf(s3err.InvalidRequest, "The %s trailer is missing.", p.ckAlg.HeaderName())
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
	var e *s3err.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, ErrChunkSignatureMismatch):
		return s3err.New(s3err.SignatureDoesNotMatch)
	case errors.Is(err, ErrChecksumMismatch), errors.Is(err, ErrContentMD5Mismatch):
		return s3err.New(s3err.BadDigest)
	case errors.Is(err, ErrContentMD5Invalid):
		return s3err.New(s3err.InvalidDigest)
	case errors.Is(err, ErrChecksumInvalid):
		return s3err.Errorf(s3err.InvalidRequest, "The checksum value is invalid.")
	case errors.Is(err, ErrChunkIncompleteBody), errors.Is(err, io.ErrUnexpectedEOF):
		return s3err.New(s3err.IncompleteBody)
	case errors.Is(err, ErrChunkMalformed):
		return s3err.Errorf(s3err.InvalidRequest, "The aws-chunked body is malformed.")
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return s3err.New(s3err.EntityTooLarge)
	}
	return s3err.New(s3err.IncompleteBody).WithCause(err)
}
