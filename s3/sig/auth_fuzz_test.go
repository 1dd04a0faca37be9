package sig

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/s4/s4/s3/s3err"
)

// Seeds beyond testdata/fuzz: what real clients send, and near misses.
var fuzzAuthorizationSeeds = []string{
	"AWS4-HMAC-SHA256 Credential=S4AK3TP6X1K4WZU8AJFHGK4M/20261128/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=c4403e469c65c39c23fcbcb1172cebef65d66ec536a8f758caf7e91b0fdd32ca",
	"AWS4-HMAC-SHA256 Credential=AK/20261128/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=" + emptyHash,
	"AWS4-HMAC-SHA256 Credential=a/b/c/20260229/r/s3/aws4_request, SignedHeaders=host;x, Signature=" + emptyHash,
	"AWS4-HMAC-SHA256 ,,,",
	"AWS4-HMAC-SHA256 Credential=====",
	"AWS S4AK3TP6X1K4WZU8AJFHGK4M:eGU8N/hHzZH8GiuFiZFPx033nu0=",
	"AWS ::::",
	"",
}

// FuzzParseAuthorization: never panics, fails only with *Error, and what it accepts
// re-serialises to a header that parses to the same credential.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range fuzzAuthorizationSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, header []byte) {
		a, err := ParseAuthorization(header)
		if err != nil {
			if errCode(err) == "?" {
				t.Fatalf("error is not *Error: %v", err)
			}
			return
		}
		var again string
		switch a.Kind {
		case AuthV4Header:
			if !validSignedHeaders(a.SignedHeaders) || a.AccessKey == "" || a.Scope != a.Date()+"/"+a.Region+"/s3/aws4_request" {
				t.Fatalf("accepted an invalid credential: %+v", a)
			}
			if _, ok := parseAmzDate(a.Date() + "T000000Z"); !ok {
				t.Fatalf("accepted scope date %q", a.Date())
			}
			again = "AWS4-HMAC-SHA256 Credential=" + a.AccessKey + "/" + a.Scope + ", SignedHeaders=" + a.SignedHeaders + ", Signature=" + a.Signature.String()
		case AuthV2Header:
			again = "AWS " + a.AccessKey + ":" + base64.StdEncoding.EncodeToString(a.sigV2[:])
		default:
			t.Fatalf("kind %v from a header", a.Kind)
		}
		b, err := ParseAuthorization([]byte(again))
		if err != nil || b != a {
			t.Fatalf("round trip of %q:\n%+v %v\nwant %+v", again, b, err, a)
		}
	})
}

var fuzzPresignSeeds = []string{
	"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=S4AK3TP6X1K4WZU8AJFHGK4M%2F20261128%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261128T094355Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=d3e29803c8f12162539c1a38bc98f3747d4016a4714ea04d802bcc511e33c02e",
	"prefix=x%2Fy&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a/20261128/r/s3/aws4_request&X-Amz-Date=20261128T000000Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=content-type;host&X-Amz-Signature=" + emptyHash,
	"AWSAccessKeyId=S4AK3TP6X1K4WZU8AJFHGK4M&Signature=dKvJwvgs%2F0mz4v3vQTSw%2Bxd0bX8%3D&Expires=1795859279",
	"X-Amz-Expires=-1&X-Amz-Algorithm=x",
	"Signature=&AWSAccessKeyId=&Expires=",
	"%zz=1&a",
}

// FuzzParsePresignedQuery: never panics, fails only with *Error, accepts only valid
// parameters, and what it accepts re-encodes to a query that parses the same.
func FuzzParsePresignedQuery(f *testing.F) {
	for _, s := range fuzzPresignSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, query []byte) {
		a, err := ParsePresignedQuery(query)
		if err != nil {
			if errCode(err) == "?" {
				t.Fatalf("error is not *Error: %v", err)
			}
			return
		}
		q := url.Values{}
		switch a.Kind {
		case AuthAnonymous:
			return
		case AuthV4Query:
			tm, ok := parseAmzDate(a.AmzDate)
			if !ok || a.Expires < 0 || a.Expires > MaxPresignExpires || !validSignedHeaders(a.SignedHeaders) ||
				a.AccessKey == "" || tm.Format("20060102") != a.Date() {
				t.Fatalf("accepted invalid parameters: %+v", a)
			}
			q = url.Values{
				"X-Amz-Algorithm": {v4Algorithm}, "X-Amz-Credential": {a.AccessKey + "/" + a.Scope},
				"X-Amz-Date": {a.AmzDate}, "X-Amz-Expires": {strconv.FormatInt(a.Expires, 10)},
				"X-Amz-SignedHeaders": {a.SignedHeaders}, "X-Amz-Signature": {a.Signature.String()},
			}
		case AuthV2Query:
			if a.AccessKey == "" || a.Expires < 0 {
				t.Fatalf("accepted invalid parameters: %+v", a)
			}
			q = url.Values{"AWSAccessKeyId": {a.AccessKey}, "Expires": {a.expiresRaw}, "Signature": {base64.StdEncoding.EncodeToString(a.sigV2[:])}}
		default:
			t.Fatalf("kind %v from a query", a.Kind)
		}
		enc := strings.ReplaceAll(q.Encode(), "+", "%20")
		b, err := ParsePresignedQuery([]byte(enc))
		if err != nil || b != a {
			t.Fatalf("round trip of %q:\n%+v %v\nwant %+v", enc, b, err, a)
		}
	})
}

// FuzzCanonicalQuery: never panics; the output is canonical (only unreserved
// characters and upper-case escapes, sorted pairs), canonicalising it again changes
// nothing, and it agrees with the reference algorithm of aws-sdk-go-v2 (decode with
// net/url, escape, sort after encoding) wherever net/url reads the query the same
// way (no '+', which it decodes as a space, and no ';', which it rejects).
func FuzzCanonicalQuery(f *testing.F) {
	for _, s := range append(fuzzPresignSeeds, roundTripQueries...) {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("X-Amz-Signature=a&X-Amz-Date=1"), true)
	f.Fuzz(func(t *testing.T, raw []byte, presigned bool) {
		got, err := AppendCanonicalQuery(nil, raw, presigned)
		if err != nil {
			if errCode(err) != s3err.InvalidURI {
				t.Fatalf("error %v", err)
			}
			return
		}
		var pairs []string
		if len(got) > 0 {
			pairs = strings.Split(string(got), "&")
		}
		for i, p := range pairs {
			name, value, ok := strings.Cut(p, "=")
			if !ok || !canonicalComponent(name) || !canonicalComponent(value) {
				t.Fatalf("pair %q of %q is not canonical", p, got)
			}
			if presigned && name == "X-Amz-Signature" {
				t.Fatalf("X-Amz-Signature kept: %q", got)
			}
			if i > 0 {
				prevName, prevValue, _ := strings.Cut(pairs[i-1], "=")
				if prevName > name || prevName == name && prevValue > value {
					t.Fatalf("not sorted: %q", got)
				}
			}
		}
		again, err := AppendCanonicalQuery(nil, got, presigned)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("not idempotent: %q → %q (%v)", got, again, err)
		}
		if bytes.ContainsAny(raw, "+;") {
			return
		}
		values, err := url.ParseQuery(string(raw))
		if err != nil {
			return
		}
		var ref [][2]string
		for k, vs := range values {
			if presigned && k == "X-Amz-Signature" {
				continue
			}
			for _, v := range vs {
				ref = append(ref, [2]string{sdkEscape(k), sdkEscape(v)})
			}
		}
		slices.SortFunc(ref, func(a, b [2]string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
		var want strings.Builder
		for i, p := range ref {
			if i > 0 {
				want.WriteByte('&')
			}
			want.WriteString(p[0] + "=" + p[1])
		}
		if string(got) != want.String() {
			t.Fatalf("%q: canonical %q, reference %q", raw, got, want.String())
		}
	})
}

// sdkEscape is aws-sdk-go-v2's query component encoding (internal/v4 EncodeQuery).
func sdkEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func canonicalComponent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) {
				return false
			}
			if b, _ := strconv.ParseUint(s[i+1:i+3], 16, 8); queryUnreserved[b] {
				return false // an unreserved byte must not be escaped
			}
			i += 2
			continue
		}
		if !queryUnreserved[c] {
			return false
		}
	}
	return true
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

// Every error the parsers return renders as a proper S3 error.
func TestParseErrorsAreS3Errors(t *testing.T) {
	for _, s := range fuzzAuthorizationSeeds {
		if _, err := ParseAuthorization([]byte(s + "\x00")); err != nil {
			var e *s3err.Error
			if !errors.As(err, &e) || e.Status() < 400 || e.API().Code == "InternalError" {
				t.Errorf("%q: %v", s, err)
			}
		}
	}
}
