package sig

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding"
	"hash"
	"sync"
	"time"

	"github.com/s4/s4/s3/s3err"
)

// HeaderSource gives the verifiers the request's headers. *fasthttp.RequestHeader
// implements it as is (its PeekAll already answers "host" with Host(); wrapping it
// only adds work). PeekAll matches names case-insensitively, returns every value of a
// repeated header in the order received, and returns the Host header for "host"; its
// result need only stay valid until the next call. VisitAll is used by SigV2 only,
// which signs every x-amz-* header rather than a list.
type HeaderSource interface {
	PeekAll(name string) [][]byte
	VisitAll(f func(name, value []byte))
}

// SignedRequest is the part of an HTTP request that authentication reads. The slices
// are read during the call only and never retained.
type SignedRequest struct {
	// Method as sent ("GET").
	Method []byte
	// RawPath is the path exactly as sent, not decoded or normalised: fasthttp
	// URI().PathOriginal(), net/http RequestURI up to '?'.
	RawPath []byte
	// RawQuery is the query string as sent, without '?': fasthttp URI().QueryString()
	// (never QueryArgs, which decodes '+' as a space).
	RawQuery []byte
	Header   HeaderSource
	// Now is the server's clock for the skew and expiry checks.
	Now time.Time
}

// AuthKind says how a request is authenticated.
type AuthKind uint8

const (
	// AuthAnonymous: no Authorization header and no query-string credentials.
	AuthAnonymous AuthKind = iota
	AuthV4Header           // Authorization: AWS4-HMAC-SHA256 Credential=…
	AuthV4Query            // ?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=… (presigned)
	AuthV2Header           // Authorization: AWS AK:signature
	AuthV2Query            // ?AWSAccessKeyId=…&Expires=…&Signature=… (presigned)
)

// IsV4 reports whether the request is verified with VerifyV4 (else VerifyV2).
func (k AuthKind) IsV4() bool { return k == AuthV4Header || k == AuthV4Query }

// RequestAuth is the parsed, not yet verified, credential of a request. Parsing
// copies what it keeps, so a RequestAuth outlives the request's buffers.
type RequestAuth struct {
	Kind      AuthKind
	AccessKey string

	// SigV4.
	// Scope is the credential scope, "20261128/us-east-1/s3/aws4_request".
	Scope string
	// Region is the region named in Scope.
	Region string
	// SignedHeaders is the list as sent, "host;x-amz-content-sha256;x-amz-date".
	SignedHeaders string
	// Signature is the SigV4 signature (the seed signature of an aws-chunked body).
	Signature Signature
	// AmzDate is X-Amz-Date of a presigned request (a header-signed request carries
	// its date in a header).
	AmzDate string
	// Expires is X-Amz-Expires (seconds) for AuthV4Query and the Expires epoch
	// second for AuthV2Query.
	Expires int64

	// SigV2.
	sigV2      [sha1.Size]byte
	expiresRaw string // Expires as sent: the date line of the string to sign
}

// Date is the yyyymmdd date of a SigV4 credential scope ("" for SigV2).
func (a *RequestAuth) Date() string {
	if len(a.Scope) < 8 {
		return ""
	}
	return a.Scope[:8]
}

// ParseRequestAuth finds and parses the request's credential: the Authorization header
// if present, else the presigned-URL query parameters. A request with neither gets
// AuthAnonymous and no error; one with both gets InvalidArgument, as in S3.
func ParseRequestAuth(req *SignedRequest) (RequestAuth, error) {
	if h := firstHeader(req.Header, "authorization"); len(h) > 0 {
		if hasQueryCredential(req.RawQuery) {
			return RequestAuth{}, &s3err.Error{Code: s3err.InvalidArgument, Message: authMsgOneMechanism}
		}
		return ParseAuthorization(h)
	}
	return ParsePresignedQuery(req.RawQuery)
}

const authMsgOneMechanism = "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"

// ParseAuthorization parses an Authorization header value: SigV4
// ("AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/s3/aws4_request, SignedHeaders=a;b,
// Signature=hex", with or without a space after each comma) or SigV2 ("AWS AK:base64").
func ParseAuthorization(header []byte) (RequestAuth, error) {
	if len(header) > maxAuthLen {
		return RequestAuth{}, v4HeaderMalformed("the header is too long.")
	}
	h := bytes.TrimLeft(header, " ")
	switch {
	case bytes.HasPrefix(h, []byte(v4Algorithm+" ")):
		return parseV4Header(string(h[len(v4Algorithm)+1:]))
	case bytes.HasPrefix(h, []byte("AWS ")):
		return parseV2Header(string(h[len("AWS "):]))
	}
	return RequestAuth{}, s3err.New(s3err.UnsupportedSignature)
}

// ParsePresignedQuery parses presigned-URL credentials from a raw query string:
// SigV4 (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature) or SigV2 (AWSAccessKeyId, Expires,
// Signature). A query with none of them gives AuthAnonymous and no error.
func ParsePresignedQuery(rawQuery []byte) (RequestAuth, error) {
	if len(rawQuery) > maxAuthQueryLen {
		return RequestAuth{}, &s3err.Error{Code: s3err.InvalidURI, Message: "Couldn't parse the specified URI: the query string is too long."}
	}
	var p presignParams
	if err := p.collect(rawQuery); err != nil {
		return RequestAuth{}, err
	}
	v4 := p.seen[qAlgorithm] || p.seen[qCredential] || p.seen[qSignatureV4]
	v2 := p.seen[qAccessKeyID] || p.seen[qSignatureV2]
	switch {
	case v4 && v2:
		return RequestAuth{}, &s3err.Error{Code: s3err.InvalidArgument, Message: authMsgOneMechanism}
	case v4:
		return parseV4Query(&p)
	case v2:
		return parseV2Query(&p)
	}
	return RequestAuth{Kind: AuthAnonymous}, nil
}

// Bounds on what parsing accepts. fasthttp already caps the header block; these keep
// the parsers' own work bounded whatever the server's settings.
const (
	maxAuthLen      = 8 << 10
	maxAuthQueryLen = 16 << 10
)

// firstHeader returns the first value of the named header, or nil.
func firstHeader(h HeaderSource, name string) []byte {
	if v := h.PeekAll(name); len(v) > 0 {
		return v[0]
	}
	return nil
}

// hasQueryCredential is a cheap test for query-string credentials next to an
// Authorization header; it need not be exact, only catch what real clients send.
func hasQueryCredential(q []byte) bool {
	return len(q) > 0 && (bytes.Contains(q, []byte("X-Amz-Signature=")) ||
		bytes.Contains(q, []byte("X-Amz-Credential=")) || bytes.Contains(q, []byte("AWSAccessKeyId=")))
}

// authScratch is the working memory of one verification, pooled so that a
// verification allocates nothing in the steady state.
type authScratch struct {
	q     queryScratch
	canon []byte // SigV4 canonical request
	sts   []byte // string to sign
	h     hash.Hash
	hu    encoding.BinaryUnmarshaler
	sum   [sha256.Size]byte
	v2    []v2Item // SigV2 x-amz-* headers and sub-resources, located in q.buf
}

var authScratchPool = sync.Pool{New: func() any {
	h := sha256.New()
	return &authScratch{h: h, hu: h.(encoding.BinaryUnmarshaler), canon: make([]byte, 0, 1024), sts: make([]byte, 0, 256)}
}}

func getAuthScratch() *authScratch { return authScratchPool.Get().(*authScratch) }

// putAuthScratch returns s to the pool unless an outsized request grew it.
func putAuthScratch(s *authScratch) {
	const maxKeep = 64 << 10
	if cap(s.canon) > maxKeep || cap(s.sts) > maxKeep || cap(s.q.buf) > maxKeep || cap(s.q.pairs) > maxKeep/8 {
		return
	}
	authScratchPool.Put(s)
}
