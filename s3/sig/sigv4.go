package sig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/s4/s4/s3/s3err"
)

const (
	v4Algorithm   = "AWS4-HMAC-SHA256"
	v4Terminator  = "aws4_request"
	v4Service     = "s3"
	amzDateLayout = "20060102T150405Z"

	// MaxPresignExpires is the longest X-Amz-Expires S3 accepts: seven days.
	MaxPresignExpires = 7 * 24 * 60 * 60
	// DefaultMaxSkew is how far a header-signed request's time may be from the
	// server's clock (S3: 15 minutes).
	DefaultMaxSkew = 15 * time.Minute

	v4UnsignedPayload   = "UNSIGNED-PAYLOAD"
	v4ContentSHA256     = "x-amz-content-sha256"
	v4MsgHeaderPrefix   = "The authorization header is malformed; "
	v4MsgCredential     = "Error parsing the X-Amz-Credential parameter; "
	v4MsgCredentialForm = `the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`
	v4MsgSignedHeaders  = "must be a non-empty, ';'-separated list of lower-case header names that includes host."
)

func v4HeaderMalformed(msg string) *s3err.Error {
	return &s3err.Error{Code: s3err.AuthorizationHeaderMalformed, Message: v4MsgHeaderPrefix + msg}
}

func v4QueryError(msg string) *s3err.Error {
	return &s3err.Error{Code: s3err.AuthorizationQueryParameters, Message: msg}
}

// PayloadMode is how a SigV4 request's body is protected (x-amz-content-sha256).
type PayloadMode uint8

const (
	// PayloadSHA256: the header is the hex SHA-256 of the body (V4Result.PayloadSHA256);
	// the handler hashes the body and compares before it commits anything.
	PayloadSHA256 PayloadMode = iota + 1
	// PayloadUnsigned: UNSIGNED-PAYLOAD, and every presigned request.
	PayloadUnsigned
	// PayloadChunked: an aws-chunked body in the form V4Result.Chunked names;
	// decode it with NewChunkedReader.
	PayloadChunked
)

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Region, when not empty, is the only region a SigV4 credential scope may name;
	// empty accepts any (the signing key is derived with the scope's region).
	Region string
	// MaxSkew bounds the difference between a header-signed request's time and Now;
	// 0 means DefaultMaxSkew. It is also how far in the future a presigned URL's
	// X-Amz-Date may be.
	MaxSkew time.Duration
	// KeyCacheSize is the number of derived SigV4 signing keys kept, rounded up to a
	// power of two; 0 means 1024.
	KeyCacheSize int
}

// Verifier checks request signatures. It is safe for concurrent use; its only state
// is a bounded, lock-free cache of derived signing keys.
type Verifier struct {
	region  string
	maxSkew time.Duration
	keys    signingKeyCache
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg VerifierConfig) *Verifier {
	v := &Verifier{region: cfg.Region, maxSkew: cfg.MaxSkew}
	if v.maxSkew <= 0 {
		v.maxSkew = DefaultMaxSkew
	}
	v.keys.init(cfg.KeyCacheSize)
	return v
}

// Forget drops every cached signing key of accessKey. Call it when a credential is
// revoked or replaced, so that no key material derived from its secret stays in
// memory. Revocation does not depend on it: a cache entry is bound to the secret it
// was derived from, and a revoked access key has no secret left to pass.
func (v *Verifier) Forget(accessKey string) { v.keys.forget(accessKey) }

// V4Result is a verified SigV4 request: who signed it, and what body handling and
// the aws-chunked decoder need.
type V4Result struct {
	AccessKey string
	// Scope is the credential scope, "20261128/us-east-1/s3/aws4_request".
	Scope  string
	Region string
	// Time is the signing time (X-Amz-Date, else Date).
	Time      time.Time
	Presigned bool
	Payload   PayloadMode
	// PayloadSHA256 is the signed body digest when Payload is PayloadSHA256.
	PayloadSHA256 [sha256.Size]byte
	// Chunked is the aws-chunked form when Payload is PayloadChunked.
	Chunked ChunkedMode
	// SigningKey is the key of Scope; Signature is the request signature, the seed of
	// an aws-chunked body's chunk signatures.
	SigningKey SigningKey
	Signature  Signature
}

// AmzDate is the signing time as the string to sign has it, "20261128T094250Z".
func (r *V4Result) AmzDate() string { return r.Time.UTC().Format(amzDateLayout) }

// SignChunk returns the expected hex signature of a chunk whose SHA-256 is
// chunkSHA256, chained from prevSig (hex); it is ChunkedConfig.SignChunk.
func (r *V4Result) SignChunk(prevSig string, chunkSHA256 []byte) string {
	prev, ok1 := ParseSignature([]byte(prevSig))
	if !ok1 || len(chunkSHA256) != sha256.Size {
		return "" // matches no signature
	}
	return ChunkSignature(&r.SigningKey, r.AmzDate(), r.Scope, prev, [sha256.Size]byte(chunkSHA256)).String()
}

// SignTrailer returns the expected hex trailer signature; it is
// ChunkedConfig.SignTrailer.
func (r *V4Result) SignTrailer(prevSig string, trailerSHA256 []byte) string {
	prev, ok1 := ParseSignature([]byte(prevSig))
	if !ok1 || len(trailerSHA256) != sha256.Size {
		return ""
	}
	return TrailerSignature(&r.SigningKey, r.AmzDate(), r.Scope, prev, [sha256.Size]byte(trailerSHA256)).String()
}

var v4UnsignedPayloadBytes = []byte(v4UnsignedPayload)

// VerifyV4 checks a SigV4 request (header or presigned) against secret, the secret
// key the auth index holds for a.AccessKey. On success the request is authentic up
// to its body: for PayloadSHA256 the caller still compares the body's digest, and a
// PayloadChunked body is checked by the ChunkedReader it is decoded with.
func (v *Verifier) VerifyV4(req *SignedRequest, a *RequestAuth, secret string) (V4Result, error) {
	res := V4Result{
		AccessKey: a.AccessKey, Scope: a.Scope, Region: a.Region,
		Presigned: a.Kind == AuthV4Query, Signature: a.Signature,
	}
	if v.region != "" && a.Region != v.region {
		msg := "the region '" + a.Region + "' is wrong; expecting '" + v.region + "'"
		e := v4HeaderMalformed(msg)
		if res.Presigned {
			e = v4QueryError(v4MsgCredential + msg)
		}
		e.Extra = []s3err.Field{{Name: "Region", Value: v.region}}
		return res, e
	}
	var amzDate [len(amzDateLayout)]byte
	var payload []byte
	var known [2]knownHeader // single-valued headers already read, not to be peeked twice
	switch a.Kind {
	case AuthV4Header:
		t, ok := v4HeaderTime(req.Header, &amzDate, &known[0])
		if !ok {
			return res, s3err.New(s3err.MissingDateHeader)
		}
		if string(amzDate[:8]) != a.Date() {
			return res, v4HeaderMalformed("Invalid credential date. Date is not the same as X-Amz-Date.")
		}
		if d := req.Now.Sub(t); d > v.maxSkew || d < -v.maxSkew {
			return res, v.skewError(t, req.Now)
		}
		res.Time = t
		vals := req.Header.PeekAll(v4ContentSHA256)
		if len(vals) == 0 {
			return res, &s3err.Error{Code: s3err.MissingSecurityHeader, Message: "Your request was missing a required header",
				Extra: []s3err.Field{{Name: "MissingHeaderName", Value: v4ContentSHA256}}}
		}
		if payload = vals[0]; len(vals) > 1 || !res.setPayload(payload) {
			return res, s3err.New(s3err.ContentSHA256Invalid)
		}
		if !signedHeadersHas(a.SignedHeaders, v4ContentSHA256) {
			return res, &s3err.Error{Code: s3err.UnsignedHeaders, Extra: []s3err.Field{{Name: "HeadersNotSigned", Value: v4ContentSHA256}}}
		}
		known[1] = knownHeader{v4ContentSHA256, payload}
	case AuthV4Query:
		t, _ := parseAmzDate(a.AmzDate) // validated by ParsePresignedQuery
		copy(amzDate[:], a.AmzDate)
		if t.Sub(req.Now) > v.maxSkew {
			return res, s3err.New(s3err.RequestNotYetValid)
		}
		if expires := t.Add(time.Duration(a.Expires) * time.Second); req.Now.After(expires) {
			return res, &s3err.Error{Code: s3err.RequestExpired, Extra: []s3err.Field{
				{Name: "Expires", Value: expires.UTC().Format(time.RFC3339)},
				{Name: "ServerTime", Value: req.Now.UTC().Format(time.RFC3339)},
			}}
		}
		res.Time, res.Payload, payload = t, PayloadUnsigned, v4UnsignedPayloadBytes
	default:
		return res, &s3err.Error{Code: s3err.InternalError, Cause: errors.New("s3: VerifyV4 called for a request that is not SigV4-signed")}
	}

	k := v.keys.get(a.AccessKey, a.Scope, secret)
	s := getAuthScratch()
	defer putAuthScratch(s)
	sig, err := s.signV4(req, a, payload, amzDate[:], &known, k)
	if err != nil {
		return res, err
	}
	if !hmac.Equal(sig[:], a.Signature[:]) {
		return res, &s3err.Error{Code: s3err.SignatureDoesNotMatch, Extra: []s3err.Field{
			{Name: "AWSAccessKeyId", Value: a.AccessKey},
			{Name: "StringToSign", Value: string(s.sts)},
			{Name: "SignatureProvided", Value: a.Signature.String()},
			{Name: "CanonicalRequest", Value: string(s.canon)},
		}}
	}
	res.SigningKey = k.key
	return res, nil
}

// setPayload classifies an x-amz-content-sha256 value into r.
func (r *V4Result) setPayload(v []byte) bool {
	if len(v) == 2*sha256.Size {
		if _, err := hex.Decode(r.PayloadSHA256[:], v); err == nil {
			r.Payload = PayloadSHA256
			return true
		}
	}
	if string(v) == v4UnsignedPayload {
		r.Payload = PayloadUnsigned
		return true
	}
	if m, ok := ParseChunkedMode(string(v)); ok {
		r.Payload, r.Chunked = PayloadChunked, m
		return true
	}
	return false
}

func (v *Verifier) skewError(t, now time.Time) *s3err.Error {
	return &s3err.Error{Code: s3err.RequestTimeTooSkewed, Extra: []s3err.Field{
		{Name: "RequestTime", Value: t.UTC().Format(amzDateLayout)},
		{Name: "ServerTime", Value: now.UTC().Format(time.RFC3339)},
		{Name: "MaxAllowedSkewMilliseconds", Value: strconv.FormatInt(v.maxSkew.Milliseconds(), 10)},
	}}
}

// knownHeader is a header whose only value VerifyV4 has already read.
type knownHeader struct {
	name  string
	value []byte
}

// signV4 builds the canonical request and the string to sign in s and returns the
// signature made with the cached key k.
func (s *authScratch) signV4(req *SignedRequest, a *RequestAuth, payload, amzDate []byte, known *[2]knownHeader, k *signingKeyEntry) (Signature, error) {
	b := append(s.canon[:0], req.Method...)
	b = append(b, '\n')
	if len(req.RawPath) == 0 {
		b = append(b, '/')
	} else {
		b = append(b, req.RawPath...)
	}
	b = append(b, '\n')
	b, err := s.q.appendCanonicalQuery(b, req.RawQuery, a.Kind == AuthV4Query)
	if err != nil {
		return Signature{}, err
	}
	b = append(b, '\n')
	for rest := a.SignedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		b = append(b, name...)
		b = append(b, ':')
		switch name {
		case known[0].name:
			b = appendCanonicalHeaderValue(b, known[0].value)
		case known[1].name:
			b = appendCanonicalHeaderValue(b, known[1].value)
		default:
			for i, v := range req.Header.PeekAll(name) {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendCanonicalHeaderValue(b, v)
			}
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, a.SignedHeaders...)
	b = append(b, '\n')
	b = append(b, payload...)
	s.canon = b

	sum := sha256.Sum256(b)
	t := append(s.sts[:0], v4Algorithm+"\n"...)
	t = append(t, amzDate...)
	t = append(t, '\n')
	t = append(t, a.Scope...)
	t = append(t, '\n')
	t = hex.AppendEncode(t, sum[:])
	s.sts = t
	return s.mac(k, t), nil
}

// appendCanonicalHeaderValue appends a header value as SigV4 canonicalises it:
// leading and trailing blanks removed, each inner run of blanks (space, tab)
// written as one space.
func appendCanonicalHeaderValue(b, v []byte) []byte {
	clean := true
	for i, c := range v {
		if c == '\t' || c == ' ' && (i == 0 || i == len(v)-1 || v[i+1] == ' ' || v[i+1] == '\t') {
			clean = false
			break
		}
	}
	if clean {
		return append(b, v...)
	}
	blank, start := false, len(b)
	for _, c := range v {
		if c == ' ' || c == '\t' {
			blank = true
			continue
		}
		if blank && len(b) > start {
			b = append(b, ' ')
		}
		blank = false
		b = append(b, c)
	}
	return b
}

// signedHeadersHas reports whether the ';'-separated list contains name.
func signedHeadersHas(list, name string) bool {
	for rest := list; rest != ""; {
		var n string
		n, rest, _ = strings.Cut(rest, ";")
		if n == name {
			return true
		}
	}
	return false
}

// v4HeaderTime returns the time of a header-signed request, from X-Amz-Date or else
// Date, and writes it to amzDate in the string-to-sign form. X-Amz-Date must have
// one value; it is recorded in known.
func v4HeaderTime(h HeaderSource, amzDate *[len(amzDateLayout)]byte, known *knownHeader) (time.Time, bool) {
	if vals := h.PeekAll("x-amz-date"); len(vals) > 0 {
		t, ok := parseAmzDate(vals[0])
		copy(amzDate[:], vals[0])
		*known = knownHeader{"x-amz-date", vals[0]}
		return t, ok && len(vals) == 1
	}
	if v := firstHeader(h, "date"); v != nil {
		t, ok := parseRequestDate(v)
		t.UTC().AppendFormat(amzDate[:0], amzDateLayout)
		return t, ok
	}
	return time.Time{}, false
}

// parseAmzDate parses the ISO 8601 basic form "20261128T094250Z", strictly.
func parseAmzDate[T string | []byte](s T) (time.Time, bool) {
	if len(s) != len(amzDateLayout) || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	num := func(i, n int) (v int, ok bool) {
		for j := i; j < i+n; j++ {
			if s[j] < '0' || s[j] > '9' {
				return 0, false
			}
			v = v*10 + int(s[j]-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(4, 2)
	d, ok3 := num(6, 2)
	h, ok4 := num(9, 2)
	mi, ok5 := num(11, 2)
	sec, ok6 := num(13, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	if t.Month() != time.Month(mo) || t.Day() != d { // 20261331, 20260230
		return time.Time{}, false
	}
	return t, true
}

// parseRequestDate parses a Date or x-amz-date header: ISO 8601 basic, or an HTTP
// date (RFC 1123, RFC 850, asctime).
func parseRequestDate(v []byte) (time.Time, bool) {
	if t, ok := parseAmzDate(v); ok {
		return t, true
	}
	t, err := http.ParseTime(strings.TrimSpace(string(v)))
	return t, err == nil
}

// parseCredential splits "AK/yyyymmdd/region/s3/aws4_request" (an access key may not
// contain '/', but splitting from the right keeps one that does intact). msg says
// what is wrong.
func parseCredential(cred string) (accessKey, scope, region, msg string) {
	var cut [4]int
	end := len(cred)
	for i := range cut {
		j := strings.LastIndexByte(cred[:end], '/')
		if j < 0 {
			return "", "", "", v4MsgCredentialForm
		}
		cut[i], end = j, j
	}
	accessKey, scope = cred[:cut[3]], cred[cut[3]+1:]
	date, region := cred[cut[3]+1:cut[2]], cred[cut[2]+1:cut[1]]
	service, term := cred[cut[1]+1:cut[0]], cred[cut[0]+1:]
	if _, ok := parseAmzDate(date + "T000000Z"); !ok {
		return "", "", "", `incorrect date format "` + sigQuote(date) + `". This date in the credential must be in the format "yyyyMMdd".`
	}
	switch {
	case accessKey == "" || region == "":
		return "", "", "", v4MsgCredentialForm
	case service != v4Service:
		return "", "", "", `incorrect service "` + sigQuote(service) + `". This endpoint belongs to "s3".`
	case term != v4Terminator:
		return "", "", "", `incorrect terminal "` + sigQuote(term) + `". This endpoint uses "aws4_request".`
	}
	return accessKey, scope, region, ""
}

// validSignedHeaders checks a SignedHeaders list: non-empty lower-case token names
// separated by ';', including host (S3 requires host to be signed).
func validSignedHeaders(list string) bool {
	hasHost := false
	for rest, more := list, true; more; {
		var name string
		name, rest, more = strings.Cut(rest, ";")
		if name == "" {
			return false
		}
		for i := 0; i < len(name); i++ {
			if !signedHeaderChar[name[i]] {
				return false
			}
		}
		hasHost = hasHost || name == "host"
	}
	return hasHost
}

// signedHeaderChar[c] reports whether c may appear in a signed header name: an RFC
// 9110 token character other than an upper-case letter.
var signedHeaderChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// sigQuote shortens an untrusted value for an error message.
func sigQuote(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// parseV4Header parses what follows "AWS4-HMAC-SHA256 " in an Authorization header.
func parseV4Header(s string) (RequestAuth, error) {
	var parts [3]string // Credential, SignedHeaders, Signature
	var seen [3]bool
	for rest := strings.TrimLeft(s, " "); rest != ""; rest = strings.TrimLeft(rest, " ") {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		name, value, _ := strings.Cut(strings.TrimRight(part, " "), "=")
		i := -1
		switch name {
		case "Credential":
			i = 0
		case "SignedHeaders":
			i = 1
		case "Signature":
			i = 2
		}
		if i < 0 || seen[i] {
			return RequestAuth{}, v4HeaderMalformed(`unexpected or repeated component "` + sigQuote(name) + `".`)
		}
		parts[i], seen[i] = value, true
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return RequestAuth{}, v4HeaderMalformed("it must contain Credential, SignedHeaders and Signature.")
	}
	a := RequestAuth{Kind: AuthV4Header, SignedHeaders: parts[1]}
	var msg string
	if a.AccessKey, a.Scope, a.Region, msg = parseCredential(parts[0]); msg != "" {
		return RequestAuth{}, v4HeaderMalformed(msg)
	}
	if !validSignedHeaders(a.SignedHeaders) {
		return RequestAuth{}, v4HeaderMalformed("SignedHeaders " + v4MsgSignedHeaders)
	}
	var ok bool
	if a.Signature, ok = ParseSignature([]byte(parts[2])); !ok {
		return RequestAuth{}, v4HeaderMalformed("the Signature must be 64 hexadecimal digits.")
	}
	return a, nil
}

// parseV4Query checks the SigV4 presigned-URL parameters collected in p.
func parseV4Query(p *presignParams) (RequestAuth, error) {
	for _, k := range [...]int{qAlgorithm, qCredential, qDate, qExpiresV4, qSignedHeaders, qSignatureV4} {
		if !p.seen[k] {
			return RequestAuth{}, s3err.New(s3err.PresignMissingParams)
		}
	}
	if string(p.vals[qAlgorithm]) != v4Algorithm {
		return RequestAuth{}, v4QueryError(`X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"`)
	}
	a := RequestAuth{Kind: AuthV4Query}
	var msg string
	if a.AccessKey, a.Scope, a.Region, msg = parseCredential(string(p.vals[qCredential])); msg != "" {
		return RequestAuth{}, &s3err.Error{Code: s3err.CredentialMalformed, Message: v4MsgCredential + msg}
	}
	if _, ok := parseAmzDate(p.vals[qDate]); !ok {
		return RequestAuth{}, v4QueryError(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`)
	}
	a.AmzDate = string(p.vals[qDate])
	if a.AmzDate[:8] != a.Date() {
		return RequestAuth{}, s3err.New(s3err.SignatureDateMismatch)
	}
	exp := p.vals[qExpiresV4]
	switch {
	case len(exp) > 1 && exp[0] == '-' && sigDigits(exp[1:]):
		return RequestAuth{}, v4QueryError("X-Amz-Expires must be non-negative")
	case !sigDigits(exp):
		return RequestAuth{}, s3err.New(s3err.PresignExpiresMalformed)
	case len(exp) > 7 || sigAtoi(exp) > MaxPresignExpires:
		return RequestAuth{}, s3err.New(s3err.PresignExpiresTooLarge)
	}
	a.Expires = sigAtoi(exp)
	if a.SignedHeaders = string(p.vals[qSignedHeaders]); !validSignedHeaders(a.SignedHeaders) {
		return RequestAuth{}, v4QueryError("X-Amz-SignedHeaders " + v4MsgSignedHeaders)
	}
	var ok bool
	if a.Signature, ok = ParseSignature(p.vals[qSignatureV4]); !ok {
		return RequestAuth{}, v4QueryError("X-Amz-Signature must be 64 hexadecimal digits.")
	}
	return a, nil
}

// sigDigits reports whether b is a non-empty run of ASCII digits.
func sigDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// sigAtoi converts at most 18 digits (the caller checks).
func sigAtoi(b []byte) (n int64) {
	for _, c := range b {
		n = n*10 + int64(c-'0')
	}
	return n
}
