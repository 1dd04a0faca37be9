package sig

import (
	"bytes"
	"slices"

	"github.com/s4/s4/s3/s3err"
)

// Query strings are parsed here rather than with fasthttp QueryArgs or net/url:
// both decode '+' as a space, while S3 signing treats the query as RFC 3986 text in
// which '+' is a plus. A name or value is percent-decoded, then re-encoded with every
// byte outside A-Z a-z 0-9 - _ . ~ as %XX (upper-case hex).

// queryUnreserved[c] reports whether c is an RFC 3986 unreserved character.
var queryUnreserved = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c], t[c+'a'-'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['_'], t['.'], t['~'] = true, true, true, true
	return t
}()

// nextQueryPair cuts the first '&'-separated "name[=value]" off q.
func nextQueryPair(q []byte) (name, value []byte, hasValue bool, rest []byte) {
	pair := q
	if i := bytes.IndexByte(q, '&'); i >= 0 {
		pair, rest = q[:i], q[i+1:]
	}
	name, value, hasValue = bytes.Cut(pair, []byte{'='})
	return name, value, hasValue, rest
}

func queryUnhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// queryUnescapeAt returns the byte at s[i], decoding a %XX escape, and how many
// input bytes it used; ok is false for a '%' not followed by two hex digits.
func queryUnescapeAt(s []byte, i int) (c byte, n int, ok bool) {
	if s[i] != '%' {
		return s[i], 1, true
	}
	if i+2 < len(s) {
		hi, ok1 := queryUnhex(s[i+1])
		lo, ok2 := queryUnhex(s[i+2])
		if ok1 && ok2 {
			return hi<<4 | lo, 3, true
		}
	}
	return '%', 1, false
}

// appendQueryUnescape appends the percent-decoding of s to dst. With strict it fails
// on a malformed escape; otherwise such a '%' is kept as is (as Python's unquote
// does, which SigV2 signers use).
func appendQueryUnescape(dst, s []byte, strict bool) ([]byte, bool) {
	for i := 0; i < len(s); {
		c, n, ok := queryUnescapeAt(s, i)
		if !ok && strict {
			return dst, false
		}
		dst = append(dst, c)
		i += n
	}
	return dst, true
}

// appendQueryRecode appends the canonical encoding of the raw query component s:
// decoded, then re-encoded, in one pass. It fails on a malformed escape.
func appendQueryRecode(dst, s []byte) ([]byte, bool) {
	const upperHex = "0123456789ABCDEF"
	for i := 0; i < len(s); {
		c, n, ok := queryUnescapeAt(s, i)
		if !ok {
			return dst, false
		}
		if queryUnreserved[c] {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
		i += n
	}
	return dst, true
}

func errQueryEscape() error {
	return &s3err.Error{Code: s3err.InvalidURI, Message: "Couldn't parse the specified URI: invalid percent-encoding in the query string."}
}

// queryPair locates one encoded "name=value" in queryScratch.buf.
type queryPair struct{ name, value, end int32 }

// queryScratch holds the reusable buffers of query canonicalisation.
type queryScratch struct {
	buf   []byte
	pairs []queryPair
}

// appendCanonicalQuery appends the SigV4 canonical query string of rawQuery to dst:
// every name and value decoded and re-encoded, the pairs sorted by encoded name then
// encoded value (byte order, "the sorting occurs after encoding"), a name without a
// value written "name=". With presigned, X-Amz-Signature is left out. Empty
// segments ("a=1&&b=2") are skipped; "=" is a pair with an empty name and value.
func (s *queryScratch) appendCanonicalQuery(dst, rawQuery []byte, presigned bool) ([]byte, error) {
	if len(rawQuery) == 0 {
		return dst, nil
	}
	buf, pairs := s.buf[:0], s.pairs[:0]
	for q := rawQuery; len(q) > 0; {
		var name, value []byte
		var hasValue bool
		name, value, hasValue, q = nextQueryPair(q)
		if len(name) == 0 && !hasValue {
			continue
		}
		var ok bool
		start := len(buf)
		if buf, ok = appendQueryRecode(buf, name); !ok {
			return dst, errQueryEscape()
		}
		if presigned && string(buf[start:]) == presignParamNames[qSignatureV4] {
			buf = buf[:start]
			continue
		}
		mid := len(buf)
		if buf, ok = appendQueryRecode(buf, value); !ok {
			return dst, errQueryEscape()
		}
		pairs = append(pairs, queryPair{int32(start), int32(mid), int32(len(buf))})
	}
	slices.SortFunc(pairs, func(a, b queryPair) int {
		if c := bytes.Compare(buf[a.name:a.value], buf[b.name:b.value]); c != 0 {
			return c
		}
		return bytes.Compare(buf[a.value:a.end], buf[b.value:b.end])
	})
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, buf[p.name:p.value]...)
		dst = append(dst, '=')
		dst = append(dst, buf[p.value:p.end]...)
	}
	s.buf, s.pairs = buf, pairs
	return dst, nil
}

// AppendCanonicalQuery appends the SigV4 canonical query string of rawQuery (as sent,
// without '?') to dst; presigned leaves X-Amz-Signature out. It fails with InvalidURI
// on a malformed percent-escape.
func AppendCanonicalQuery(dst, rawQuery []byte, presigned bool) ([]byte, error) {
	s := getAuthScratch()
	defer putAuthScratch(s)
	return s.q.appendCanonicalQuery(dst, rawQuery, presigned)
}

// The query parameters that carry presigned-URL credentials.
const (
	qAlgorithm = iota
	qCredential
	qDate
	qExpiresV4
	qSignedHeaders
	qSignatureV4
	qAccessKeyID
	qExpiresV2
	qSignatureV2
	numPresignParams
)

var presignParamNames = [numPresignParams]string{
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "AWSAccessKeyId", "Expires", "Signature",
}

// presignParams holds the decoded credential parameters of a query string.
type presignParams struct {
	vals [numPresignParams][]byte
	seen [numPresignParams]bool
}

// collect decodes the credential parameters of rawQuery. A parameter given twice is
// an error: which one was signed would be ambiguous.
func (p *presignParams) collect(rawQuery []byte) error {
	var nameBuf [32]byte
	for q := rawQuery; len(q) > 0; {
		var name, value []byte
		name, value, _, q = nextQueryPair(q)
		if len(name) == 0 || len(name) > 3*len("X-Amz-SignedHeaders") {
			continue
		}
		decoded, ok := appendQueryUnescape(nameBuf[:0], name, true)
		if !ok {
			return errQueryEscape()
		}
		k := slices.Index(presignParamNames[:], string(decoded))
		if k < 0 {
			continue
		}
		if p.seen[k] {
			code := s3err.AuthorizationQueryParameters
			if k >= qAccessKeyID {
				code = s3err.InvalidArgument
			}
			return &s3err.Error{Code: code, Message: "The query parameter " + presignParamNames[k] + " is given more than once."}
		}
		if p.vals[k], ok = appendQueryUnescape(nil, value, true); !ok {
			return errQueryEscape()
		}
		p.seen[k] = true
	}
	return nil
}
