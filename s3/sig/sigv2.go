package sig

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/s4/s4/s3/s3err"
)

// SigV2 (legacy, HMAC-SHA1) is what `aws s3 presign` and boto3
// generate_presigned_url produce by default for us-east-1 and the other legacy
// regions. The string to sign is
//
//	Method\nContent-MD5\nContent-Type\nDate\nCanonicalizedAmzHeaders CanonicalizedResource
//
// where Date is the Date header (empty when x-amz-date is sent, which then appears
// among the amz headers) or, presigned, the Expires parameter; the amz headers are
// the x-amz-* headers lower-cased, sorted, "name:v1,v2\n"; the resource is the raw
// path plus the sub-resources below, sorted by name, values percent-decoded. This
// follows botocore (auth.py HmacV1Auth), the signer that matters in practice.

// v2SubResources are the query parameters botocore includes in the canonical
// resource (HmacV1Auth.QSAOfInterest), compared as sent (not decoded).
var v2SubResources = map[string]bool{
	"accelerate": true, "acl": true, "analytics": true, "cors": true, "defaultObjectAcl": true,
	"delete": true, "inventory": true, "lifecycle": true, "location": true,
	"logging": true, "metrics": true, "notification": true, "object-lock": true,
	"partNumber": true, "policy": true, "replication": true, "requestPayment": true,
	"response-cache-control": true, "response-content-disposition": true,
	"response-content-encoding": true, "response-content-language": true,
	"response-content-type": true, "response-expires": true, "restore": true,
	"select": true, "select-type": true, "storageClass": true, "tagging": true,
	"torrent": true, "uploadId": true, "uploads": true, "versionId": true,
	"versioning": true, "versions": true, "website": true,
}

// v2Item locates "name" + sep + "value" in authScratch.q.buf: an amz header
// (sep ':') or a sub-resource (sep '=', or none when it had no value).
type v2Item struct {
	name, value, end int32
	hasValue         bool
}

func (s *authScratch) v2Name(it v2Item) []byte  { return s.q.buf[it.name:it.value] }
func (s *authScratch) v2Value(it v2Item) []byte { return s.q.buf[it.value:it.end] }

func errV2Header() error {
	return &s3err.Error{Code: s3err.InvalidArgument, Message: "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"}
}

const v2MsgQueryRequired = "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"

// parseV2Header parses what follows "AWS " in an Authorization header.
func parseV2Header(s string) (RequestAuth, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return RequestAuth{}, errV2Header()
	}
	a := RequestAuth{Kind: AuthV2Header, AccessKey: strings.TrimSpace(s[:i])}
	var ok bool
	if a.sigV2, ok = decodeV2Signature([]byte(strings.TrimSpace(s[i+1:]))); !ok || a.AccessKey == "" {
		return RequestAuth{}, errV2Header()
	}
	return a, nil
}

// parseV2Query checks the SigV2 presigned-URL parameters collected in p.
func parseV2Query(p *presignParams) (RequestAuth, error) {
	if !p.seen[qAccessKeyID] || !p.seen[qSignatureV2] || !p.seen[qExpiresV2] || len(p.vals[qAccessKeyID]) == 0 {
		return RequestAuth{}, &s3err.Error{Code: s3err.AccessDenied, Message: v2MsgQueryRequired}
	}
	exp := p.vals[qExpiresV2]
	if !sigDigits(exp) || len(exp) > 18 {
		return RequestAuth{}, &s3err.Error{Code: s3err.AccessDenied, Message: "Invalid date (should be seconds since epoch): " + sigQuote(string(exp))}
	}
	a := RequestAuth{Kind: AuthV2Query, AccessKey: string(p.vals[qAccessKeyID]), Expires: sigAtoi(exp), expiresRaw: string(exp)}
	var ok bool
	if a.sigV2, ok = decodeV2Signature(p.vals[qSignatureV2]); !ok {
		return RequestAuth{}, s3err.New(s3err.SignatureDoesNotMatch)
	}
	return a, nil
}

// decodeV2Signature decodes a base64 HMAC-SHA1, padded or not.
func decodeV2Signature(b []byte) (sig [sha1.Size]byte, ok bool) {
	var buf [32]byte
	if len(b) > 40 {
		return sig, false
	}
	n, err := base64.StdEncoding.Decode(buf[:], b)
	if err != nil {
		n, err = base64.RawStdEncoding.Decode(buf[:], b)
	}
	if err != nil || n != sha1.Size {
		return sig, false
	}
	copy(sig[:], buf[:n])
	return sig, true
}

// VerifyV2 checks a SigV2 request (header or presigned) against secret.
func (v *Verifier) VerifyV2(req *SignedRequest, a *RequestAuth, secret string) error {
	var dateLine []byte
	switch a.Kind {
	case AuthV2Header:
		date := firstHeader(req.Header, "x-amz-date")
		if date == nil {
			date = firstHeader(req.Header, "date")
			dateLine = bytes.TrimSpace(date)
		}
		t, ok := parseRequestDate(bytes.TrimSpace(date))
		if !ok {
			return s3err.New(s3err.MissingDateHeader)
		}
		if d := req.Now.Sub(t); d > v.maxSkew || d < -v.maxSkew {
			return v.skewError(t, req.Now)
		}
	case AuthV2Query:
		if req.Now.Unix() > a.Expires {
			return &s3err.Error{Code: s3err.RequestExpired, Extra: []s3err.Field{
				{Name: "Expires", Value: time.Unix(a.Expires, 0).UTC().Format(time.RFC3339)},
				{Name: "ServerTime", Value: req.Now.UTC().Format(time.RFC3339)},
			}}
		}
		dateLine = []byte(a.expiresRaw)
	default:
		return &s3err.Error{Code: s3err.InternalError, Cause: errors.New("s3: VerifyV2 called for a request that is not SigV2-signed")}
	}
	s := getAuthScratch()
	defer putAuthScratch(s)
	sts := s.stringToSignV2(req, a.Kind == AuthV2Query, dateLine)
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(sts)
	if !hmac.Equal(m.Sum(nil), a.sigV2[:]) {
		return &s3err.Error{Code: s3err.SignatureDoesNotMatch, Extra: []s3err.Field{
			{Name: "AWSAccessKeyId", Value: a.AccessKey},
			{Name: "StringToSign", Value: string(sts)},
			{Name: "SignatureProvided", Value: base64.StdEncoding.EncodeToString(a.sigV2[:])},
		}}
	}
	return nil
}

// stringToSignV2 builds the SigV2 string to sign in s.sts.
func (s *authScratch) stringToSignV2(req *SignedRequest, presigned bool, dateLine []byte) []byte {
	s.q.buf, s.v2 = s.q.buf[:0], s.v2[:0]

	// Standard headers. botocore's presigner moves Content-MD5, Content-Type and
	// x-amz-* headers into the query, so a presigned request may carry them there.
	b := append(s.sts[:0], req.Method...)
	b = append(b, '\n')
	for _, name := range [...]string{"content-md5", "content-type"} {
		v := firstHeader(req.Header, name)
		if v == nil && presigned {
			v = s.queryValue(req.RawQuery, name)
		}
		b = append(b, bytes.TrimSpace(v)...)
		b = append(b, '\n')
	}
	b = append(b, dateLine...)
	b = append(b, '\n')

	// Canonicalized amz headers.
	req.Header.VisitAll(func(name, value []byte) {
		if v2HasPrefixFold(name, "x-amz-") {
			s.addAmzHeader(name, bytes.TrimSpace(value))
		}
	})
	if presigned {
		for q := req.RawQuery; len(q) > 0; {
			var name, value []byte
			name, value, _, q = nextQueryPair(q)
			if v2HasPrefixFold(name, "x-amz-") {
				v, _ := appendQueryUnescape(nil, value, false)
				s.addAmzHeader(name, bytes.TrimSpace(v))
			}
		}
	}
	slices.SortStableFunc(s.v2, func(x, y v2Item) int { return bytes.Compare(s.v2Name(x), s.v2Name(y)) })
	for i, it := range s.v2 {
		if i > 0 && bytes.Equal(s.v2Name(it), s.v2Name(s.v2[i-1])) {
			b = append(b, ',')
		} else {
			if i > 0 {
				b = append(b, '\n')
			}
			b = append(b, s.v2Name(it)...)
			b = append(b, ':')
		}
		b = append(b, s.v2Value(it)...)
	}
	if len(s.v2) > 0 {
		b = append(b, '\n')
	}
	s.sts = s.appendV2Resource(b, req)
	return s.sts
}

// appendV2Resource appends the SigV2 canonicalized resource to b: the raw
// path, then the sub-resources botocore signs, sorted by name, values
// decoded. It reuses s.q.buf and s.v2.
func (s *authScratch) appendV2Resource(b []byte, req *SignedRequest) []byte {
	if len(req.RawPath) == 0 {
		b = append(b, '/')
	}
	b = append(b, req.RawPath...)
	s.q.buf, s.v2 = s.q.buf[:0], s.v2[:0]
	for q := req.RawQuery; len(q) > 0; {
		var name, value []byte
		var hasValue bool
		name, value, hasValue, q = nextQueryPair(q)
		if v2SubResources[string(name)] {
			start := len(s.q.buf)
			s.q.buf = append(s.q.buf, name...)
			mid := len(s.q.buf)
			s.q.buf, _ = appendQueryUnescape(s.q.buf, value, false)
			s.v2 = append(s.v2, v2Item{int32(start), int32(mid), int32(len(s.q.buf)), hasValue})
		}
	}
	slices.SortStableFunc(s.v2, func(x, y v2Item) int { return bytes.Compare(s.v2Name(x), s.v2Name(y)) })
	for i, it := range s.v2 {
		b = append(b, "?&"[min(i, 1)])
		b = append(b, s.v2Name(it)...)
		if it.hasValue {
			b = append(b, '=')
			b = append(b, s.v2Value(it)...)
		}
	}
	return b
}

// addAmzHeader records an amz header with its name lower-cased.
func (s *authScratch) addAmzHeader(name, value []byte) {
	start := len(s.q.buf)
	for _, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		s.q.buf = append(s.q.buf, c)
	}
	mid := len(s.q.buf)
	s.q.buf = append(s.q.buf, value...)
	s.v2 = append(s.v2, v2Item{int32(start), int32(mid), int32(len(s.q.buf)), true})
}

// queryValue returns the decoded value of the first query parameter whose name
// equals name case-insensitively, or nil.
func (s *authScratch) queryValue(rawQuery []byte, name string) []byte {
	for q := rawQuery; len(q) > 0; {
		var n, v []byte
		n, v, _, q = nextQueryPair(q)
		if len(n) == len(name) && v2HasPrefixFold(n, name) {
			d, _ := appendQueryUnescape(nil, v, false)
			return d
		}
	}
	return nil
}

// v2HasPrefixFold reports whether b starts with the lower-case ASCII prefix,
// ignoring case.
func v2HasPrefixFold(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}
