package sig

// Decoding of "Content-Encoding: aws-chunked" request bodies.
//
// Grammar (AWS "Signature Calculations for the Authorization Header:
// Transferring Payload in Multiple Chunks"; captured botocore and minio-go
// bytes in shared/wire/aws-cli-requests.md §4):
//
//	body    = *chunk last trailer CRLF
//	chunk   = hex-size [ ";chunk-signature=" sig ] CRLF data CRLF    (size > 0)
//	last    = "0" [ ";chunk-signature=" sig ] CRLF
//	trailer = *( name ":" value CRLF ) [ "x-amz-trailer-signature:" sig CRLF ]
//
// The chunk signature is present in the two signed modes and absent in
// STREAMING-UNSIGNED-PAYLOAD-TRAILER; trailer lines only exist in the two
// trailer modes, and the trailer signature only in the signed one. So the
// unsigned-trailer body of "hello s4\n" is
//
//	9\r\nhello s4\n\r\n0\r\nx-amz-checksum-crc32:HIHzPw==\r\n\r\n
//
// and a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body ends "0;chunk-signature=…\r\n\r\n".
//
// Strictness. Line ends must be CRLF, sizes plain hex (upper or lower case),
// no chunk extensions other than chunk-signature, no bytes after the final
// CRLF, only the trailer announced in x-amz-trailer. The one tolerance is
// minio-go's trailer quirk: it terminates each trailer line with "\n\r\n"
// instead of "\r\n" (captured, §4b), and that is accepted for trailer lines
// only. The 8 KiB minimum chunk size that AWS enforces for signed chunks is not
// enforced.
//
// Trust. Read streams a chunk's bytes before its signature (which covers the
// whole chunk) or the trailer checksum (which covers the whole payload) can be
// checked: buffering a chunk would cost up to MaxChunkSize of memory per
// request. The payload is therefore verified only when Read returns io.EOF;
// any other error means the bytes already returned must be discarded (S4
// writes them to a temp blob and commits it only after io.EOF). Consumers
// must read until io.EOF even when they know the length: io.ReadFull or
// io.CopyN stop at the last byte and never see the final chunk's signature,
// the trailer or the checksum checked.

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// Errors returned by ChunkedReader.Read (wrapped, with detail; test with
// errors.Is). The S3 error each maps to:
var (
	// ErrChunkSignatureMismatch: a chunk signature, the final chunk's
	// signature or the trailer signature is wrong. → 403 SignatureDoesNotMatch.
	ErrChunkSignatureMismatch = errors.New("s3: aws-chunked: signature does not match")

	// ErrChunkMalformed: the body does not follow the aws-chunked grammar of
	// its mode (bad size line, chunk size over the limit, missing CRLF after
	// data, a missing, undeclared or repeated trailer, bytes after the end, more
	// decoded bytes than x-amz-decoded-content-length, an unsupported
	// x-amz-trailer). → 400 InvalidRequest. (IncompleteBody is kept for bodies
	// that end early, which is what that code means to clients.)
	ErrChunkMalformed = errors.New("s3: aws-chunked: malformed body")

	// ErrChunkIncompleteBody: the body ended before the aws-chunked framing
	// did, or decoded to fewer bytes than x-amz-decoded-content-length.
	// → 400 IncompleteBody.
	ErrChunkIncompleteBody = errors.New("s3: aws-chunked: incomplete body")
)

// A wrong trailer checksum is reported as ErrChecksumMismatch (→ BadDigest) and
// a trailer value that is not a valid digest as ErrChecksumInvalid
// (→ InvalidRequest); both are defined in checksum.go.

// ChunkedMode is the streaming payload mode announced in x-amz-content-sha256.
type ChunkedMode uint8

const (
	// ChunkedSigned is STREAMING-AWS4-HMAC-SHA256-PAYLOAD: signed chunks, no trailer.
	ChunkedSigned ChunkedMode = iota + 1
	// ChunkedSignedTrailer is STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER:
	// signed chunks, then trailers and x-amz-trailer-signature.
	ChunkedSignedTrailer
	// ChunkedUnsignedTrailer is STREAMING-UNSIGNED-PAYLOAD-TRAILER: plain
	// chunks, then unsigned trailers (aws-cli over https).
	ChunkedUnsignedTrailer
)

var chunkedModeNames = [...]string{
	ChunkedSigned:          "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
	ChunkedSignedTrailer:   "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
	ChunkedUnsignedTrailer: "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
}

// String returns the x-amz-content-sha256 value of the mode.
func (m ChunkedMode) String() string {
	if m == 0 || int(m) >= len(chunkedModeNames) {
		return fmt.Sprintf("ChunkedMode(%d)", uint8(m))
	}
	return chunkedModeNames[m]
}

// ParseChunkedMode maps an x-amz-content-sha256 value to its aws-chunked mode.
// It returns false for anything else (a hex digest, UNSIGNED-PAYLOAD, and the
// SigV4a STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD forms, which S4 does not
// support).
func ParseChunkedMode(contentSHA256 string) (ChunkedMode, bool) {
	for m := ChunkedSigned; int(m) < len(chunkedModeNames); m++ {
		if contentSHA256 == chunkedModeNames[m] {
			return m, true
		}
	}
	return 0, false
}

func (m ChunkedMode) signed() bool { return m == ChunkedSigned || m == ChunkedSignedTrailer }
func (m ChunkedMode) hasTrailer() bool {
	return m == ChunkedSignedTrailer || m == ChunkedUnsignedTrailer
}

// ChunkedStripContentEncoding removes the "aws-chunked" coding from a
// Content-Encoding value, which is what S3 stores: "gzip,aws-chunked" → "gzip",
// "aws-chunked" → "". found reports whether aws-chunked was listed.
func ChunkedStripContentEncoding(ce string) (rest string, found bool) {
	if !strings.Contains(strings.ToLower(ce), "aws-chunked") {
		return ce, false
	}
	var kept []string
	for c := range strings.SplitSeq(ce, ",") {
		c = strings.TrimSpace(c)
		if strings.EqualFold(c, "aws-chunked") {
			found = true
			continue
		}
		if c != "" {
			kept = append(kept, c)
		}
	}
	return strings.Join(kept, ","), found
}

// DefaultChunkedMaxChunkSize is the chunk size limit used when
// ChunkedConfig.MaxChunkSize is 0: 5 GiB, S3's largest single PUT or part.
// It cannot be smaller: aws-sdk-go-v2 (service/internal/checksum,
// newUnsignedChunkReader) sends a body of known length as one chunk of the
// whole payload, so a 5 GiB PutObject is a single 5 GiB chunk (with a body of
// unknown length it uses 64 KiB chunks; botocore 1 MiB, minio-go 64 KiB).
// MinIO's 16 MiB cap rejects such uploads. Memory does not depend on the
// chunk size, since chunks are streamed; what a smaller cap would bound is how
// many bytes of a signed chunk are handed on before its signature is checked,
// and those bytes are discarded on error anyway (see the trust note above).
const DefaultChunkedMaxChunkSize = 5 << 30

// ChunkedConfig describes one aws-chunked body, from the request headers.
type ChunkedConfig struct {
	// Mode comes from x-amz-content-sha256 (ParseChunkedMode).
	Mode ChunkedMode

	// DecodedLength is x-amz-decoded-content-length, or -1 (any negative
	// value) if absent: aws-sdk-go-v2 omits it for streams of unknown length.
	// When known, a chunk that would exceed it is rejected before any of its
	// bytes are returned, and a shorter payload fails with
	// ErrChunkIncompleteBody.
	DecodedLength int64

	// Trailer is the x-amz-trailer value, e.g. "x-amz-checksum-crc32", or ""
	// for none. Only one x-amz-checksum-* trailer is supported, and only in the
	// trailer modes.
	Trailer string

	// SeedSignature is the hex signature of the request's Authorization
	// header (signed modes): the "previous signature" of the first chunk.
	SeedSignature string

	// SignChunk returns the expected hex signature of a chunk whose SHA-256 is
	// chunkSHA256, given the previous chunk's (or the seed) signature: the
	// HMAC of the AWS4-HMAC-SHA256-PAYLOAD string to sign
	//	"AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + scope + "\n" +
	//	prevSig + "\n" + hex(sha256("")) + "\n" + hex(chunkSHA256)
	// with the request's signing key. Required in the signed modes. The slice
	// is only valid during the call.
	SignChunk func(prevSig string, chunkSHA256 []byte) string

	// SignTrailer returns the expected hex trailer signature:
	//	"AWS4-HMAC-SHA256-TRAILER\n" + amzDate + "\n" + scope + "\n" +
	//	prevSig + "\n" + hex(trailerSHA256)
	// where prevSig is the final (empty) chunk's signature and trailerSHA256
	// the SHA-256 of the trailer lines, each as "name:value\n". Required in
	// ChunkedSignedTrailer.
	SignTrailer func(prevSig string, trailerSHA256 []byte) string

	// MaxChunkSize caps a chunk's declared size; 0 means
	// DefaultChunkedMaxChunkSize.
	MaxChunkSize int64
}

const (
	chunkedBufSize = 16 << 10 // bufio buffer: the reader's only per-request buffer
	chunkMaxLine   = 256      // longest legal line is ~100 bytes (16 hex + signature)
	chunkSigPrefix = "chunk-signature="
	chunkSigLen    = 2 * sha256.Size
	chunkTrailSig  = "x-amz-trailer-signature"
	chunkSizeLimit = 5 << 40 // S3's largest object; also keeps chunkParseSize from overflowing
)

// ChunkedReader decodes an aws-chunked body into the payload, verifying chunk
// signatures, the trailer signature, the trailer checksum and the decoded
// length as it goes. Memory is constant: one 16 KiB buffer and the running
// hashes, whatever the object and chunk sizes.
//
// Read returns io.EOF only once every check has passed; see the comment at
// the top of this file on trusting bytes returned before that. Errors are
// sticky.
// The source must end where the body ends (fasthttp's RequestBodyStream, an
// http.Request.Body), because bytes after the final CRLF are an error.
type ChunkedReader struct {
	br  *bufio.Reader
	cfg ChunkedConfig
	err error // sticky; io.EOF once the body is verified

	trailerAlg ChecksumAlgorithm
	sum        hash.Hash // checksum of the payload, nil without a trailer
	sha        hash.Hash // SHA-256 of the current chunk, then of the trailer lines; signed modes only

	remaining int64 // payload bytes left in the current chunk
	inChunk   bool  // a data chunk is open: its CRLF and signature are still due
	decoded   int64 // payload bytes returned so far

	prevSig string            // signature the next chunk chains from
	sig     [chunkSigLen]byte // signature sent for the current chunk / the trailer
	digest  [sha256.Size]byte
	line    [chunkMaxLine]byte

	trailerValue string // checksum value from the trailer, once verified
}

// NewChunkedReader returns a reader of the payload carried by the aws-chunked
// body r. An invalid cfg is reported by the first Read: an unsupported Trailer
// as ErrChunkMalformed, a missing SignChunk/SignTrailer/SeedSignature or an
// unknown Mode as a plain error (a server bug, → InternalError).
func NewChunkedReader(r io.Reader, cfg ChunkedConfig) *ChunkedReader {
	c := &ChunkedReader{cfg: cfg, prevSig: cfg.SeedSignature}
	if c.cfg.MaxChunkSize <= 0 {
		c.cfg.MaxChunkSize = DefaultChunkedMaxChunkSize
	}
	c.cfg.MaxChunkSize = min(c.cfg.MaxChunkSize, chunkSizeLimit)
	if c.cfg.DecodedLength < 0 {
		c.cfg.DecodedLength = -1
	}
	if c.err = c.checkConfig(); c.err != nil {
		return c
	}
	c.br = bufio.NewReaderSize(r, chunkedBufSize)
	if cfg.Mode.signed() {
		c.sha = sha256.New()
	}
	if c.trailerAlg != ChecksumNone {
		c.sum = NewChecksumHash(c.trailerAlg)
	}
	return c
}

func (c *ChunkedReader) checkConfig() error {
	cfg := &c.cfg
	switch {
	case cfg.Mode == 0 || int(cfg.Mode) >= len(chunkedModeNames):
		return fmt.Errorf("s3: aws-chunked: invalid mode %d", cfg.Mode)
	case cfg.Mode.signed() && (cfg.SignChunk == nil || cfg.SeedSignature == ""):
		return fmt.Errorf("s3: aws-chunked: %v needs SignChunk and SeedSignature", cfg.Mode)
	case cfg.Mode == ChunkedSignedTrailer && cfg.SignTrailer == nil:
		return fmt.Errorf("s3: aws-chunked: %v needs SignTrailer", cfg.Mode)
	}
	if cfg.Trailer == "" {
		return nil
	}
	if !cfg.Mode.hasTrailer() {
		return fmt.Errorf("%w: x-amz-trailer is not allowed with %v", ErrChunkMalformed, cfg.Mode)
	}
	alg, ok := ChecksumAlgorithmFromHeader(strings.TrimSpace(cfg.Trailer))
	if !ok {
		return fmt.Errorf("%w: unsupported x-amz-trailer %q", ErrChunkMalformed, chunkQuote(cfg.Trailer))
	}
	c.trailerAlg = alg
	return nil
}

// Read reads decoded payload bytes. See ChunkedReader for when they can be
// trusted.
func (c *ChunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for c.remaining == 0 {
		if err := c.nextChunk(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.br.Read(p)
	if n > 0 {
		c.remaining -= int64(n)
		c.decoded += int64(n)
		if c.sha != nil {
			c.sha.Write(p[:n])
		}
		if c.sum != nil {
			c.sum.Write(p[:n])
		}
	}
	if err != nil {
		c.err = chunkReadErr(err)
		return n, c.err
	}
	return n, nil
}

// TrailerAlgorithm returns the checksum algorithm of the x-amz-trailer the
// reader was configured with (ChecksumNone without one). The reader hashes
// the payload with it and verifies the trailer's value.
func (c *ChunkedReader) TrailerAlgorithm() ChecksumAlgorithm { return c.trailerAlg }

// Checksum returns the checksum the client sent in the trailer, once Read has
// returned io.EOF (so it has been verified against the payload). ok is false
// before that and when the body had no checksum trailer.
func (c *ChunkedReader) Checksum() (alg ChecksumAlgorithm, value string, ok bool) {
	if c.err != io.EOF || c.trailerValue == "" {
		return ChecksumNone, "", false
	}
	return c.trailerAlg, c.trailerValue, true
}

// nextChunk finishes the current data chunk, if any, and reads the next
// chunk header. After the final chunk it reads and checks the trailer and
// returns io.EOF.
func (c *ChunkedReader) nextChunk() error {
	if c.inChunk {
		if err := c.expectCRLF(); err != nil {
			return err
		}
		if err := c.verifyChunk(); err != nil {
			return err
		}
		c.inChunk = false
	}
	size, err := c.readChunkHeader()
	if err != nil {
		return err
	}
	if size == 0 {
		return c.finish()
	}
	if c.cfg.DecodedLength >= 0 && size > c.cfg.DecodedLength-c.decoded {
		return fmt.Errorf("%w: chunk of %d bytes after %d exceeds x-amz-decoded-content-length %d",
			ErrChunkMalformed, size, c.decoded, c.cfg.DecodedLength)
	}
	c.remaining, c.inChunk = size, true
	if c.sha != nil {
		c.sha.Reset()
	}
	return nil
}

// readChunkHeader parses "hex-size[;chunk-signature=sig]\r\n", keeping the
// signature in c.sig.
func (c *ChunkedReader) readChunkHeader() (int64, error) {
	line, err := c.readLine(false)
	if err != nil {
		return 0, err
	}
	sizeField, ext, hasExt := bytes.Cut(line, []byte{';'})
	size, ok := chunkParseSize(sizeField, c.cfg.MaxChunkSize)
	if !ok {
		if len(sizeField) > 0 && chunkIsHex(sizeField) {
			return 0, fmt.Errorf("%w: chunk size 0x%s over the %d byte limit",
				ErrChunkMalformed, chunkQuote(string(sizeField)), c.cfg.MaxChunkSize)
		}
		return 0, fmt.Errorf("%w: bad chunk size line %q", ErrChunkMalformed, chunkQuote(string(line)))
	}
	if !c.cfg.Mode.signed() {
		if hasExt {
			return 0, fmt.Errorf("%w: chunk extension %q in an unsigned body",
				ErrChunkMalformed, chunkQuote(string(ext)))
		}
		return size, nil
	}
	sig, ok := bytes.CutPrefix(ext, []byte(chunkSigPrefix))
	if !hasExt || !ok || len(sig) != chunkSigLen || !chunkIsHex(sig) {
		return 0, fmt.Errorf("%w: chunk header %q has no valid chunk-signature",
			ErrChunkMalformed, chunkQuote(string(line)))
	}
	copy(c.sig[:], sig)
	return size, nil
}

// verifyChunk checks c.sig against the signature of the chunk just read (or of
// the empty final chunk when c.sha has been reset), then chains it.
func (c *ChunkedReader) verifyChunk() error {
	if !c.cfg.Mode.signed() {
		return nil
	}
	want := c.cfg.SignChunk(c.prevSig, c.sha.Sum(c.digest[:0]))
	if !hmac.Equal([]byte(want), c.sig[:]) {
		return fmt.Errorf("%w: chunk ending at payload byte %d", ErrChunkSignatureMismatch, c.decoded)
	}
	c.prevSig = want
	return nil
}

// finish runs after the final chunk header: it checks the final chunk's
// signature and the decoded length, reads the trailer up to the closing CRLF,
// checks that nothing follows, then the trailer signature and checksum.
func (c *ChunkedReader) finish() error {
	if c.sha != nil {
		c.sha.Reset() // the final chunk's data is empty
		if err := c.verifyChunk(); err != nil {
			return err
		}
	}
	if c.cfg.DecodedLength >= 0 && c.decoded != c.cfg.DecodedLength {
		return fmt.Errorf("%w: %d payload bytes, x-amz-decoded-content-length is %d",
			ErrChunkIncompleteBody, c.decoded, c.cfg.DecodedLength)
	}
	if c.sha != nil {
		c.sha.Reset() // now hashes the trailer lines
	}
	var value string
	var gotValue, gotSig bool
	for {
		line, err := c.readLine(true)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
		name, val, colon := bytes.Cut(line, []byte{':'})
		switch {
		case !c.cfg.Mode.hasTrailer():
			return fmt.Errorf("%w: trailer line in a %v body", ErrChunkMalformed, c.cfg.Mode)
		case gotSig:
			return fmt.Errorf("%w: trailer line after %s", ErrChunkMalformed, chunkTrailSig)
		case !colon:
			return fmt.Errorf("%w: trailer line %q has no colon", ErrChunkMalformed, chunkQuote(string(line)))
		case c.cfg.Mode == ChunkedSignedTrailer && strings.EqualFold(string(name), chunkTrailSig):
			if len(val) != chunkSigLen || !chunkIsHex(val) {
				return fmt.Errorf("%w: bad %s", ErrChunkMalformed, chunkTrailSig)
			}
			copy(c.sig[:], val)
			gotSig = true
		case c.trailerAlg != ChecksumNone && !gotValue && strings.EqualFold(string(name), c.trailerAlg.HeaderName()):
			value, gotValue = string(val), true
			if c.sha != nil {
				c.sha.Write(line)
				c.sha.Write([]byte{'\n'})
			}
		default:
			return fmt.Errorf("%w: unexpected trailer %q (x-amz-trailer is %q)",
				ErrChunkMalformed, chunkQuote(string(name)), chunkQuote(c.cfg.Trailer))
		}
	}
	if c.trailerAlg != ChecksumNone && !gotValue {
		return fmt.Errorf("%w: missing trailer %s", ErrChunkMalformed, c.trailerAlg.HeaderName())
	}
	if c.cfg.Mode == ChunkedSignedTrailer && !gotSig {
		return fmt.Errorf("%w: missing %s", ErrChunkMalformed, chunkTrailSig)
	}
	if _, err := c.br.ReadByte(); err != io.EOF {
		if err != nil {
			return chunkReadErr(err)
		}
		return fmt.Errorf("%w: data after the end of the body", ErrChunkMalformed)
	}
	if c.cfg.Mode == ChunkedSignedTrailer {
		want := c.cfg.SignTrailer(c.prevSig, c.sha.Sum(c.digest[:0]))
		if !hmac.Equal([]byte(want), c.sig[:]) {
			return fmt.Errorf("%w: %s", ErrChunkSignatureMismatch, chunkTrailSig)
		}
	}
	if gotValue {
		if err := VerifyChecksum(c.trailerAlg, value, c.sum.Sum(c.digest[:0])); err != nil {
			return fmt.Errorf("s3: aws-chunked trailer: %w", err)
		}
		c.trailerValue = value
	}
	return io.EOF
}

// readLine returns the next line without its CRLF; the slice is only valid
// until the next read. trailer allows minio-go's "\n\r\n" line end.
func (c *ChunkedReader) readLine(trailer bool) ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return nil, fmt.Errorf("%w: line longer than %d bytes", ErrChunkMalformed, chunkMaxLine)
		}
		return nil, chunkReadErr(err)
	}
	if len(line) > chunkMaxLine {
		return nil, fmt.Errorf("%w: line longer than %d bytes", ErrChunkMalformed, chunkMaxLine)
	}
	if n := len(line); n >= 2 && line[n-2] == '\r' {
		return line[:n-2], nil
	}
	if trailer && len(line) > 1 {
		// minio-go: "name:value\n\r\n". Peek may slide the buffer, which
		// would overwrite line, so keep a copy.
		n := copy(c.line[:], line[:len(line)-1])
		next, err := c.br.Peek(2)
		if len(next) == 2 && next[0] == '\r' && next[1] == '\n' {
			c.br.Discard(2)
			return c.line[:n], nil
		}
		if len(next) == 0 || (len(next) == 1 && next[0] == '\r') {
			return nil, chunkReadErr(err)
		}
	}
	return nil, fmt.Errorf("%w: line %q does not end in CRLF", ErrChunkMalformed, chunkQuote(string(line)))
}

func (c *ChunkedReader) expectCRLF() error {
	b, err := c.br.Peek(2)
	if err != nil {
		if len(b) == 1 && b[0] != '\r' {
			return fmt.Errorf("%w: chunk data not followed by CRLF", ErrChunkMalformed)
		}
		return chunkReadErr(err)
	}
	if b[0] != '\r' || b[1] != '\n' {
		return fmt.Errorf("%w: chunk data not followed by CRLF", ErrChunkMalformed)
	}
	c.br.Discard(2)
	return nil
}

// chunkReadErr maps an error from the underlying body: its end (EOF or
// ErrUnexpectedEOF) means the framing is incomplete, anything else (a network
// error, a timeout) is passed on wrapped.
func chunkReadErr(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: body ended inside the aws-chunked framing", ErrChunkIncompleteBody)
	}
	return fmt.Errorf("s3: aws-chunked: reading body: %w", err)
}

// chunkParseSize parses a non-empty hex size no larger than max.
func chunkParseSize(b []byte, max int64) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, ch := range b {
		d, ok := chunkHexDigit(ch)
		if !ok {
			return 0, false
		}
		n = n<<4 | int64(d)
		if n > max { // max <= chunkSizeLimit < 2^59: the next shift cannot overflow
			return 0, false
		}
	}
	return n, true
}

func chunkHexDigit(ch byte) (byte, bool) {
	switch {
	case '0' <= ch && ch <= '9':
		return ch - '0', true
	case 'a' <= ch && ch <= 'f':
		return ch - 'a' + 10, true
	case 'A' <= ch && ch <= 'F':
		return ch - 'A' + 10, true
	}
	return 0, false
}

func chunkIsHex(b []byte) bool {
	for _, ch := range b {
		if _, ok := chunkHexDigit(ch); !ok {
			return false
		}
	}
	return true
}

// chunkQuote shortens client-supplied text for error messages.
func chunkQuote(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
