package sig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/s4/s4/s3/s3err"
)

const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Test vector 1 of shared/wire/aws-cli-requests.md: aws-cli ListObjectsV2, with the
// query in the client's (unsorted) order.
const wireVector1 = "GET /bkt?list-type=2&delimiter=%2F&prefix=a%2F&encoding-type=url HTTP/1.1\r\n" +
	"Host: 127.0.0.1:18080\r\n" +
	"Accept-Encoding: identity\r\n" +
	"User-Agent: aws-cli/1.45.11 md/Botocore#1.43.11 ua/2.1 os/linux#6.8 botocore/1.43.11\r\n" +
	"X-Amz-Date: 20261128T094250Z\r\n" +
	"X-Amz-Content-SHA256: " + emptyHash + "\r\n" +
	"Authorization: AWS4-HMAC-SHA256 Credential=S4AK3TP6X1K4WZU8AJFHGK4M/20261128/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=c4403e469c65c39c23fcbcb1172cebef65d66ec536a8f758caf7e91b0fdd32ca\r\n" +
	"amz-sdk-invocation-id: 52743af0-36c6-41eb-b9ac-42d6e34ec2a1\r\n" +
	"amz-sdk-request: attempt=1\r\n\r\n"

const wireVector1Canonical = "GET\n/bkt\ndelimiter=%2F&encoding-type=url&list-type=2&prefix=a%2F\n" +
	"host:127.0.0.1:18080\nx-amz-content-sha256:" + emptyHash + "\nx-amz-date:20261128T094250Z\n\n" +
	"host;x-amz-content-sha256;x-amz-date\n" + emptyHash

// canonicalOf verifies with a wrong secret and returns the canonical request and
// string to sign the SignatureDoesNotMatch error reports.
func canonicalOf(t *testing.T, raw string, now time.Time) (canonical, stringToSign string) {
	t.Helper()
	_, _, err := authenticateWire(t, NewVerifier(VerifierConfig{}), raw, now, "not-the-secret")
	wantCode(t, err, s3err.SignatureDoesNotMatch)
	return errExtra(err, "CanonicalRequest"), errExtra(err, "StringToSign")
}

func TestWireVector1(t *testing.T) {
	now := mustTime(t, "20261128T094300Z")
	a, res, err := authenticateWire(t, NewVerifier(VerifierConfig{}), wireVector1, now, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind != AuthV4Header || res.AccessKey != testAccessKey || res.Region != "us-east-1" ||
		res.Scope != "20261128/us-east-1/s3/aws4_request" || res.AmzDate() != "20261128T094250Z" || res.Presigned {
		t.Fatalf("result = %+v", res)
	}
	if res.Payload != PayloadSHA256 || hex.EncodeToString(res.PayloadSHA256[:]) != emptyHash {
		t.Fatalf("payload = %v %x", res.Payload, res.PayloadSHA256)
	}
	if res.Signature.String() != "c4403e469c65c39c23fcbcb1172cebef65d66ec536a8f758caf7e91b0fdd32ca" {
		t.Fatalf("seed signature = %s", res.Signature)
	}
	if want := DeriveSigningKey(testSecret, "20261128", "us-east-1", "s3"); res.SigningKey != want {
		t.Fatal("signing key differs from DeriveSigningKey")
	}
	canonical, sts := canonicalOf(t, wireVector1, now)
	if canonical != wireVector1Canonical {
		t.Fatalf("canonical request:\n%s\nwant:\n%s", canonical, wireVector1Canonical)
	}
	sum := sha256.Sum256([]byte(wireVector1Canonical))
	if want := "AWS4-HMAC-SHA256\n20261128T094250Z\n20261128/us-east-1/s3/aws4_request\n" + hex.EncodeToString(sum[:]); sts != want {
		t.Fatalf("string to sign:\n%s\nwant:\n%s", sts, want)
	}
	// minio-go writes the Authorization header without spaces after the commas.
	nospace := strings.NewReplacer(", SignedHeaders", ",SignedHeaders", ", Signature", ",Signature").Replace(wireVector1)
	if _, _, err := authenticateWire(t, NewVerifier(VerifierConfig{}), nospace, now, testSecret); err != nil {
		t.Fatalf("no-space separators: %v", err)
	}
}

// Test vector 2: aws-cli PutObject over https, unsigned payload with a CRC32 trailer.
func TestWireVector2(t *testing.T) {
	body := "9\r\nhello s4\n\r\n0\r\nx-amz-checksum-crc32:HIHzPw==\r\n\r\n"
	raw := "PUT /bkt/small.txt HTTP/1.1\r\n" +
		"Host: 127.0.0.1:18443\r\n" +
		"Accept-Encoding: identity\r\n" +
		"Content-Type: text/plain\r\n" +
		"User-Agent: aws-cli/1.45.11\r\n" +
		"Content-Encoding: aws-chunked\r\n" +
		"X-Amz-Trailer: x-amz-checksum-crc32\r\n" +
		"X-Amz-Decoded-Content-Length: 9\r\n" +
		"Transfer-Encoding: chunked\r\n" +
		"x-amz-sdk-checksum-algorithm: CRC32\r\n" +
		"X-Amz-Date: 20261128T094650Z\r\n" +
		"X-Amz-Content-SHA256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\r\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=S4AK3TP6X1K4WZU8AJFHGK4M/20261128/us-east-1/s3/aws4_request, " +
		"SignedHeaders=content-encoding;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-sdk-checksum-algorithm;x-amz-trailer, " +
		"Signature=fefdd4c3ac53631c044d88eb05d86154579b90e87d59c0aaa16b4257840f00cf\r\n\r\n" +
		fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	now := mustTime(t, "20261128T094650Z")
	_, res, err := authenticateWire(t, NewVerifier(VerifierConfig{}), raw, now, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if res.Payload != PayloadChunked || res.Chunked != ChunkedUnsignedTrailer {
		t.Fatalf("payload = %v/%v", res.Payload, res.Chunked)
	}
	canonical, _ := canonicalOf(t, raw, now)
	want := "PUT\n/bkt/small.txt\n\n" +
		"content-encoding:aws-chunked\ncontent-type:text/plain\nhost:127.0.0.1:18443\n" +
		"x-amz-content-sha256:STREAMING-UNSIGNED-PAYLOAD-TRAILER\nx-amz-date:20261128T094650Z\n" +
		"x-amz-decoded-content-length:9\nx-amz-sdk-checksum-algorithm:CRC32\nx-amz-trailer:x-amz-checksum-crc32\n\n" +
		"content-encoding;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-sdk-checksum-algorithm;x-amz-trailer\n" +
		"STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	if canonical != want {
		t.Fatalf("canonical request:\n%s\nwant:\n%s", canonical, want)
	}
}

// Requests signed by botocore 1.43 (generated offline with the wire doc's dummy
// credential): a header-signed GET whose signed header has runs of spaces and whose
// query is unsorted with a valueless parameter, and the same URL presigned.
func TestBotocoreVectors(t *testing.T) {
	now := mustTime(t, "20261128T094400Z")
	v := NewVerifier(VerifierConfig{Region: "eu-central-1"})
	header := "GET /bkt/a%20b/c%2Bd.txt?prefix=x%2Fy&b=2&a=1&empty=&flag HTTP/1.1\r\n" +
		"Host: 127.0.0.1:18080\r\nRange: bytes=0-9\r\nX-Amz-Meta-Sp:   a   b  \r\n" +
		"X-Amz-Date: 20261128T094355Z\r\nX-Amz-Content-SHA256: " + emptyHash + "\r\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=S4AK3TP6X1K4WZU8AJFHGK4M/20261128/eu-central-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;x-amz-meta-sp, Signature=842165ca46e6b1589506a3294ba9b175d0f325b7e5169275de03c74969d74c70\r\n\r\n"
	if _, _, err := authenticateWire(t, v, header, now, testSecret); err != nil {
		t.Fatalf("header-signed: %v", err)
	}
	presigned := "GET /bkt/a%20b/c%2Bd.txt?prefix=x%2Fy&b=2&a=1&empty=&flag=&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=S4AK3TP6X1K4WZU8AJFHGK4M%2F20261128%2Feu-central-1%2Fs3%2Faws4_request&X-Amz-Date=20261128T094355Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=d3e29803c8f12162539c1a38bc98f3747d4016a4714ea04d802bcc511e33c02e HTTP/1.1\r\n" +
		"Host: 127.0.0.1:18080\r\nUser-Agent: curl/8\r\n\r\n"
	a, res, err := authenticateWire(t, v, presigned, now, testSecret)
	if err != nil {
		t.Fatalf("presigned: %v", err)
	}
	if a.Kind != AuthV4Query || !res.Presigned || res.Payload != PayloadUnsigned || a.Expires != 300 {
		t.Fatalf("presigned result %+v / %+v", a, res)
	}
}

var sdkCreds = aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}

// sdkSigner signs like the aws-sdk-go-v2 S3 client: the path is not escaped again.
var sdkSigner = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })

// sdkSign signs method+target with aws-sdk-go-v2 and returns the request as sent.
// The SDK rewrites the query into canonical form; unless it holds a '+' (which the
// SDK reads as a space), the wire keeps the query as the caller wrote it, so that
// the server's canonicalisation is what is tested.
func sdkSign(t testing.TB, method, target string, hdr http.Header, payloadHash string, at time.Time) string {
	t.Helper()
	req, err := http.NewRequest(method, "http://127.0.0.1:9000"+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	orig := req.URL.RawQuery
	if err := sdkSigner.SignHTTP(context.Background(), sdkCreds, req, payloadHash, "s3", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(orig, "+") {
		req.URL.RawQuery = orig
	}
	return wireOf(t, req)
}

// sdkPresign presigns a GET of target for expires seconds and returns the request
// a browser or curl would send for the URL.
func sdkPresign(t testing.TB, target string, expires int, at time.Time) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:9000"+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.RawQuery != "" {
		req.URL.RawQuery += "&"
	}
	req.URL.RawQuery += fmt.Sprintf("X-Amz-Expires=%d", expires)
	uri, _, err := sdkSigner.PresignHTTP(context.Background(), sdkCreds, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	return "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: curl/8.5\r\n\r\n"
}

// Paths and queries for the round trips: encoded and raw specials, unicode, empty
// segments, dot segments, '=' in values, empty values, repeated keys, keys whose
// order differs before and after encoding.
var (
	roundTripPaths = []string{
		"/",
		"/bkt",
		"/bkt/key.txt",
		"/bkt/dir%20with%20space/a%2Bb%3Dc~d%25e%20%C3%BC%26x.txt",
		"/bkt/a+b",
		"/bkt/raw-ünïcödé/✓",
		"/bkt//double//slash/",
		"/bkt/../../etc/passwd",
		"/bkt/./dot/.",
		"/bkt/a%2Fb%2f%2E%2E",
		"/bkt/sub-delims!$&'()*,;=:@",
		"/bkt/%7Etilde~_.-",
	}
	roundTripQueries = []string{
		"",
		"list-type=2&delimiter=%2F&prefix=a%2F&encoding-type=url",
		"uploads",
		"uploadId=2~jyZszEoDF4u8dgSDef4oyftCyz-QpQa&partNumber=1",
		"prefix=a%20b",
		"prefix=a+b",
		"prefix=%2b%2f%7e%e2%9c%93",
		"k=v&k=a&k=&k=v",
		"a=b=c&x==",
		"empty=&flag&z",
		"z=1&a=2&m=3&A=4&_=5&~=6",
		"x-id=GetObject",
		"response-content-disposition=attachment%3B%20filename%3D%22a%20b.txt%22",
		"k=a%2Fb&k=a-b",
		"%C3%A9=2&a=1",
		"versionId=%E2%9C%93&tagging",
		"a=1&&b=2&",
	}
)

func TestSDKRoundTripHeader(t *testing.T) {
	at := mustTime(t, "20261128T094250Z")
	v := NewVerifier(VerifierConfig{})
	hdr := http.Header{
		"Content-Type":     {"text/plain"},
		"X-Amz-Meta-Multi": {"one", "  two  three  "},
		"Accept-Encoding":  {"identity"},
		"Range":            {"bytes=0-99"},
	}
	for _, p := range roundTripPaths {
		for _, q := range roundTripQueries {
			target := p
			if q != "" {
				target += "?" + q
			}
			raw := sdkSign(t, http.MethodGet, target, hdr, emptyHash, at)
			if _, _, err := authenticateWire(t, v, raw, at.Add(time.Minute), testSecret); err != nil {
				t.Errorf("%s: %v\n%s", target, err, raw)
			}
		}
	}
}

func TestSDKRoundTripPresigned(t *testing.T) {
	at := mustTime(t, "20261128T094250Z")
	v := NewVerifier(VerifierConfig{})
	for _, p := range roundTripPaths {
		for _, q := range roundTripQueries {
			target := p
			if q != "" {
				target += "?" + q
			}
			raw := sdkPresign(t, target, 300, at)
			a, res, err := authenticateWire(t, v, raw, at.Add(time.Minute), testSecret)
			if err != nil {
				t.Errorf("%s: %v\n%s", target, err, raw)
				continue
			}
			if a.Kind != AuthV4Query || res.Payload != PayloadUnsigned || !res.Presigned {
				t.Errorf("%s: kind %v payload %v", target, a.Kind, res.Payload)
			}
		}
	}
}

// Changing any signed part of a request must fail; changing an unsigned header must
// not.
func TestTamper(t *testing.T) {
	at := mustTime(t, "20261128T094250Z")
	now := at.Add(time.Minute)
	body := sha256.Sum256([]byte("part data"))
	bodyHash := hex.EncodeToString(body[:])
	raw := sdkSign(t, http.MethodPut, "/bkt/dir%2Bx/key?uploadId=U&partNumber=3", http.Header{
		"Content-Type": {"text/plain"},
		"X-Amz-Meta-A": {"alpha"},
	}, bodyHash, at)
	v := NewVerifier(VerifierConfig{})
	if _, _, err := authenticateWire(t, v, raw, now, testSecret); err != nil {
		t.Fatalf("untampered: %v\n%s", err, raw)
	}
	sig := raw[strings.Index(raw, "Signature=")+len("Signature="):][:64]
	flipped := []byte(sig)
	flipped[10] ^= 1
	other := sha256.Sum256([]byte("other data"))
	cases := []struct {
		name, old, new string
		want           s3err.Code
	}{
		{"method", "PUT ", "POST ", s3err.SignatureDoesNotMatch},
		{"path", "/key?", "/kez?", s3err.SignatureDoesNotMatch},
		{"path escape case", "%2Bx", "%2bx", s3err.SignatureDoesNotMatch},
		{"path decoded", "%2Bx", "+x", s3err.SignatureDoesNotMatch},
		{"query value", "partNumber=3", "partNumber=4", s3err.SignatureDoesNotMatch},
		{"query added", "partNumber=3", "partNumber=3&acl", s3err.SignatureDoesNotMatch},
		{"query removed", "uploadId=U&", "", s3err.SignatureDoesNotMatch},
		{"signed header", "Content-Type: text/plain", "Content-Type: text/html", s3err.SignatureDoesNotMatch},
		{"signed header removed", "X-Amz-Meta-A: alpha\r\n", "", s3err.SignatureDoesNotMatch},
		{"signed header repeated", "X-Amz-Meta-A: alpha\r\n", "X-Amz-Meta-A: alpha\r\nX-Amz-Meta-A: beta\r\n", s3err.SignatureDoesNotMatch},
		{"host", "Host: 127.0.0.1:9000", "Host: 127.0.0.1:9001", s3err.SignatureDoesNotMatch},
		{"date", "T094250Z", "T094251Z", s3err.SignatureDoesNotMatch},
		{"payload hash", bodyHash, hex.EncodeToString(other[:]), s3err.SignatureDoesNotMatch},
		{"payload unsigned", "X-Amz-Content-Sha256: " + bodyHash, "X-Amz-Content-Sha256: UNSIGNED-PAYLOAD", s3err.SignatureDoesNotMatch},
		{"signature", sig, string(flipped), s3err.SignatureDoesNotMatch},
		{"scope region", "/us-east-1/", "/us-west-2/", s3err.SignatureDoesNotMatch},
		// SigV4 does not sign the access key itself: what binds it is the lookup,
		// which gives another key another secret (the last check below).
		{"access key", "Credential=" + testAccessKey, "Credential=S4AKAAAAAAAAAAAAAAAAAAAA", ""},
		{"scope date", "Credential=" + testAccessKey + "/20261128", "Credential=" + testAccessKey + "/20261127", s3err.AuthorizationHeaderMalformed},
		{"signed headers list", "SignedHeaders=content-type;", "SignedHeaders=", s3err.SignatureDoesNotMatch},
		{"unsigned header", "User-Agent: Go-http-client/1.1", "User-Agent: something else", ""},
	}
	for _, c := range cases {
		if !strings.Contains(raw, c.old) {
			t.Fatalf("%s: %q not in request\n%s", c.name, c.old, raw)
		}
		tampered := strings.Replace(raw, c.old, c.new, 1)
		_, _, err := authenticateWire(t, v, tampered, now, testSecret)
		if errCode(err) != c.want {
			t.Errorf("%s: error %v, want code %q", c.name, err, c.want)
		}
	}
	// The secret itself.
	_, _, err := authenticateWire(t, v, raw, now, testSecret+"x")
	wantCode(t, err, s3err.SignatureDoesNotMatch)
}

func TestClockSkew(t *testing.T) {
	at := mustTime(t, "20261128T094250Z")
	raw := sdkSign(t, http.MethodGet, "/bkt/k", nil, emptyHash, at)
	v := NewVerifier(VerifierConfig{})
	for _, c := range []struct {
		d    time.Duration
		want s3err.Code
	}{
		{0, ""}, {14 * time.Minute, ""}, {-14 * time.Minute, ""}, {15 * time.Minute, ""},
		{15*time.Minute + time.Second, s3err.RequestTimeTooSkewed},
		{-16 * time.Minute, s3err.RequestTimeTooSkewed},
		{48 * time.Hour, s3err.RequestTimeTooSkewed},
	} {
		_, _, err := authenticateWire(t, v, raw, at.Add(c.d), testSecret)
		if errCode(err) != c.want {
			t.Errorf("now = t%+v: %v, want %q", c.d, err, c.want)
		}
	}
	_, _, err := authenticateWire(t, NewVerifier(VerifierConfig{MaxSkew: time.Minute}), raw, at.Add(2*time.Minute), testSecret)
	wantCode(t, err, s3err.RequestTimeTooSkewed)
	if errExtra(err, "MaxAllowedSkewMilliseconds") != "60000" || errExtra(err, "RequestTime") != "20261128T094250Z" {
		t.Errorf("skew error extras: %+v", err)
	}
}

// Without X-Amz-Date the Date header dates the request (and is what is signed).
func TestDateHeaderFallback(t *testing.T) {
	at := mustTime(t, "20261128T094250Z")
	raw := sdkSign(t, http.MethodGet, "/bkt/k", nil, emptyHash, at)
	v := NewVerifier(VerifierConfig{})
	// Re-sign by hand: the SDK always sends X-Amz-Date, so build the equivalent
	// request with a Date header and the signature the SDK would compute for it.
	noAmz := strings.Replace(raw, "X-Amz-Date: 20261128T094250Z\r\n", "Date: Sat, 28 Nov 2026 09:42:50 GMT\r\n", 1)
	noAmz = strings.Replace(noAmz, "SignedHeaders=host;x-amz-content-sha256;x-amz-date", "SignedHeaders=date;host;x-amz-content-sha256", 1)
	sr := signedRequestOf(parseWire(t, noAmz), at)
	a, err := ParseRequestAuth(sr)
	if err != nil {
		t.Fatal(err)
	}
	canon := "GET\n/bkt/k\n\ndate:Sat, 28 Nov 2026 09:42:50 GMT\nhost:127.0.0.1:9000\nx-amz-content-sha256:" + emptyHash + "\n\ndate;host;x-amz-content-sha256\n" + emptyHash
	a.Signature = referenceV4Signature(canon, "20261128T094250Z", a.Scope)
	if _, err := v.VerifyV4(sr, &a, testSecret); err != nil {
		t.Fatal(err)
	}
	noDate := strings.Replace(raw, "X-Amz-Date: 20261128T094250Z\r\n", "", 1)
	_, _, err = authenticateWire(t, v, noDate, at, testSecret)
	wantCode(t, err, s3err.MissingDateHeader)
	badDate := strings.Replace(raw, "X-Amz-Date: 20261128T094250Z", "X-Amz-Date: 20261128T250000Z", 1)
	_, _, err = authenticateWire(t, v, badDate, at, testSecret)
	wantCode(t, err, s3err.MissingDateHeader)
}

// referenceV4Signature signs a canonical request the way the SigV4 documentation
// describes, with crypto/hmac and no code under test.
func referenceV4Signature(canonical, amzDate, scope string) Signature {
	h := func(key []byte, s string) []byte { return hmacSHA256(key, s) }
	parts := strings.Split(scope, "/")
	k := h(h(h(h([]byte("AWS4"+testSecret), parts[0]), parts[1]), parts[2]), parts[3])
	sum := sha256.Sum256([]byte(canonical))
	return Signature(h(k, "AWS4-HMAC-SHA256\n"+amzDate+"\n"+scope+"\n"+hex.EncodeToString(sum[:])))
}

func TestPresignExpiry(t *testing.T) {
	at := mustTime(t, "20261128T094250Z")
	raw := sdkPresign(t, "/bkt/k", 300, at)
	v := NewVerifier(VerifierConfig{})
	for _, c := range []struct {
		d    time.Duration
		want s3err.Code
	}{
		{0, ""}, {300 * time.Second, ""}, {-10 * time.Minute, ""},
		{301 * time.Second, s3err.RequestExpired},
		{-16 * time.Minute, s3err.RequestNotYetValid},
	} {
		_, _, err := authenticateWire(t, v, raw, at.Add(c.d), testSecret)
		if errCode(err) != c.want {
			t.Errorf("now = t%+v: %v, want %q", c.d, err, c.want)
		}
	}
	_, _, err := authenticateWire(t, v, raw, at.Add(time.Hour), testSecret)
	if e := s3err.As(err); e.API().Code != "AccessDenied" || e.API().Description != "Request has expired" {
		t.Errorf("expired presign renders as %+v", e.API())
	}
	week := sdkPresign(t, "/bkt/k", MaxPresignExpires, at)
	if _, _, err := authenticateWire(t, v, week, at.Add(6*24*time.Hour), testSecret); err != nil {
		t.Errorf("7-day presign: %v", err)
	}
	tooLong := sdkPresign(t, "/bkt/k", MaxPresignExpires+1, at)
	_, _, err = authenticateWire(t, v, tooLong, at, testSecret)
	wantCode(t, err, s3err.PresignExpiresTooLarge)
	// Tampering with a presigned URL.
	for _, c := range [][2]string{
		{"X-Amz-Expires=300", "X-Amz-Expires=3000"},
		{"/bkt/k?", "/bkt/j?"},
		{"X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=host&acl"},
		{"Host: 127.0.0.1:9000", "Host: evil:9000"},
	} {
		_, _, err := authenticateWire(t, v, strings.Replace(raw, c[0], c[1], 1), at, testSecret)
		wantCode(t, err, s3err.SignatureDoesNotMatch)
	}
}

// Each x-amz-content-sha256 value yields its payload mode, and the value is signed.
func TestPayloadModes(t *testing.T) {
	at := mustTime(t, "20261128T094250Z")
	v := NewVerifier(VerifierConfig{})
	sum := sha256.Sum256([]byte("hello"))
	for _, c := range []struct {
		value   string
		mode    PayloadMode
		chunked ChunkedMode
	}{
		{hex.EncodeToString(sum[:]), PayloadSHA256, 0},
		{strings.ToUpper(hex.EncodeToString(sum[:])), PayloadSHA256, 0},
		{"UNSIGNED-PAYLOAD", PayloadUnsigned, 0},
		{"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", PayloadChunked, ChunkedSigned},
		{"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", PayloadChunked, ChunkedSignedTrailer},
		{"STREAMING-UNSIGNED-PAYLOAD-TRAILER", PayloadChunked, ChunkedUnsignedTrailer},
	} {
		raw := sdkSign(t, http.MethodPut, "/bkt/k", nil, c.value, at)
		_, res, err := authenticateWire(t, v, raw, at, testSecret)
		if err != nil || res.Payload != c.mode || res.Chunked != c.chunked {
			t.Errorf("%s: %v mode %v/%v", c.value, err, res.Payload, res.Chunked)
		}
		if c.mode == PayloadSHA256 && res.PayloadSHA256 != sum {
			t.Errorf("%s: digest %x", c.value, res.PayloadSHA256)
		}
	}
	for _, bad := range []string{"", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "unsigned-payload", emptyHash[:63], emptyHash + "0", strings.Repeat("g", 64)} {
		raw := sdkSign(t, http.MethodPut, "/bkt/k", nil, bad, at)
		_, _, err := authenticateWire(t, v, raw, at, testSecret)
		wantCode(t, err, s3err.ContentSHA256Invalid)
	}
	raw := sdkSign(t, http.MethodGet, "/bkt/k", nil, emptyHash, at)
	missing := strings.Replace(raw, "X-Amz-Content-Sha256: "+emptyHash+"\r\n", "", 1)
	_, _, err := authenticateWire(t, v, missing, at, testSecret)
	wantCode(t, err, s3err.MissingSecurityHeader)
	// Present but not signed: whoever changed it could swap the body.
	unsigned := strings.Replace(raw, "host;x-amz-content-sha256;x-amz-date", "host;x-amz-date", 1)
	_, _, err = authenticateWire(t, v, unsigned, at, testSecret)
	wantCode(t, err, s3err.UnsignedHeaders)
	twice := strings.Replace(raw, "X-Amz-Content-Sha256: "+emptyHash+"\r\n", "X-Amz-Content-Sha256: "+emptyHash+"\r\nX-Amz-Content-Sha256: UNSIGNED-PAYLOAD\r\n", 1)
	_, _, err = authenticateWire(t, v, twice, at, testSecret)
	wantCode(t, err, s3err.ContentSHA256Invalid)
}

func TestParseAuthorizationErrors(t *testing.T) {
	const cred = "Credential=AK/20261128/us-east-1/s3/aws4_request"
	const sig = "Signature=" + emptyHash
	const sh = "SignedHeaders=host;x-amz-date"
	for _, c := range []struct {
		header string
		want   s3err.Code
	}{
		{"AWS4-HMAC-SHA256 " + cred + ", " + sh + ", " + sig, ""},
		{"  AWS4-HMAC-SHA256   " + sig + "," + cred + " ,  " + sh + "  ", ""},
		{"AWS4-HMAC-SHA256 " + cred + ", " + sh, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", " + sh + ", " + sig + ", " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", " + sh + ", " + sig + ", Extra=1", s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ",, " + sh + ", " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20261128/us-east-1/s3, " + sh + ", " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=/20261128/us-east-1/s3/aws4_request, " + sh + ", " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20261128//s3/aws4_request, " + sh + ", " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20261328/us-east-1/s3/aws4_request, " + sh + ", " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/2026-11-28/us-east-1/s3/aws4_request, " + sh + ", " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20261128/us-east-1/sts/aws4_request, " + sh + ", " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20261128/us-east-1/s3/aws5_request, " + sh + ", " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=x-amz-date, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=Host;x-amz-date, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;;x-amz-date, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=, " + sig, s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", " + sh + ", Signature=" + emptyHash[:63], s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + cred + ", " + sh + ", Signature=" + emptyHash[:63] + "z", s3err.AuthorizationHeaderMalformed},
		{"AWS4-HMAC-SHA256 " + strings.Repeat("x", maxAuthLen), s3err.AuthorizationHeaderMalformed},
		{"AWS4-ECDSA-P256-SHA256 " + cred + ", " + sh + ", " + sig, s3err.UnsupportedSignature},
		{"Bearer abc", s3err.UnsupportedSignature},
		{"AWS4-HMAC-SHA256", s3err.UnsupportedSignature},
		{"AWS AK:" + "VMXow1gVJfrrpHuWEiPxA+cH+ZQ=", ""},
		{"AWS AK:VMXow1gVJfrrpHuWEiPxA+cH+ZQ", ""},
		{"AWS AK:short", s3err.InvalidArgument},
		{"AWS :VMXow1gVJfrrpHuWEiPxA+cH+ZQ=", s3err.InvalidArgument},
		{"AWS AKVMXow1gVJfrrpHuWEiPxA+cH+ZQ=", s3err.InvalidArgument},
	} {
		_, err := ParseAuthorization([]byte(c.header))
		if errCode(err) != c.want {
			t.Errorf("%.80q: %v, want %q", c.header, err, c.want)
		}
	}
	a, err := ParseAuthorization([]byte("AWS4-HMAC-SHA256 Credential=AK/with/slash/20261128/us-east-1/s3/aws4_request, " + sh + ", " + sig))
	if err != nil || a.AccessKey != "AK/with/slash" || a.Scope != "20261128/us-east-1/s3/aws4_request" || a.Region != "us-east-1" || a.Date() != "20261128" {
		t.Errorf("access key with '/': %+v %v", a, err)
	}
}

func TestParsePresignedQueryErrors(t *testing.T) {
	good := url.Values{
		"X-Amz-Algorithm":     {"AWS4-HMAC-SHA256"},
		"X-Amz-Credential":    {"AK/20261128/us-east-1/s3/aws4_request"},
		"X-Amz-Date":          {"20261128T094250Z"},
		"X-Amz-Expires":       {"300"},
		"X-Amz-SignedHeaders": {"host"},
		"X-Amz-Signature":     {emptyHash},
	}
	with := func(k, v string) string {
		q := url.Values{}
		for k, v := range good {
			q[k] = v
		}
		if v == "" {
			delete(q, k)
		} else {
			q.Set(k, v)
		}
		return q.Encode()
	}
	for _, c := range []struct {
		query string
		want  s3err.Code
	}{
		{good.Encode(), ""},
		{"", ""},
		{"list-type=2&prefix=a", ""},
		{with("X-Amz-Algorithm", ""), s3err.PresignMissingParams},
		{with("X-Amz-Expires", ""), s3err.PresignMissingParams},
		{with("X-Amz-Signature", ""), s3err.PresignMissingParams},
		{with("X-Amz-Algorithm", "AWS4-HMAC-SHA1"), s3err.AuthorizationQueryParameters},
		{with("X-Amz-Credential", "AK/20261128/us-east-1/s3"), s3err.CredentialMalformed},
		{with("X-Amz-Credential", "AK/20261128/us-east-1/ec2/aws4_request"), s3err.CredentialMalformed},
		{with("X-Amz-Date", "2026-11-28T09:42:50Z"), s3err.AuthorizationQueryParameters},
		{with("X-Amz-Date", "20261127T094250Z"), s3err.SignatureDateMismatch},
		{with("X-Amz-Expires", "abc"), s3err.PresignExpiresMalformed},
		{with("X-Amz-Expires", "-5"), s3err.AuthorizationQueryParameters},
		{with("X-Amz-Expires", "604800"), ""},
		{with("X-Amz-Expires", "604801"), s3err.PresignExpiresTooLarge},
		{with("X-Amz-Expires", "99999999999999999999999"), s3err.PresignExpiresTooLarge},
		{with("X-Amz-SignedHeaders", "x-amz-date"), s3err.AuthorizationQueryParameters},
		{with("X-Amz-Signature", "abc"), s3err.AuthorizationQueryParameters},
		{good.Encode() + "&X-Amz-Expires=300", s3err.AuthorizationQueryParameters},
		{good.Encode() + "&Signature=abc", s3err.InvalidArgument},
		{"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=%zz", s3err.InvalidURI},
		{"AWSAccessKeyId=AK&Expires=1795859300&Signature=VMXow1gVJfrrpHuWEiPxA%2BcH%2BZQ%3D", ""},
		{"AWSAccessKeyId=AK&Signature=VMXow1gVJfrrpHuWEiPxA%2BcH%2BZQ%3D", s3err.AccessDenied},
		{"AWSAccessKeyId=AK&Expires=soon&Signature=VMXow1gVJfrrpHuWEiPxA%2BcH%2BZQ%3D", s3err.AccessDenied},
		{"AWSAccessKeyId=AK&Expires=1&Signature=nope", s3err.SignatureDoesNotMatch},
		{"AWSAccessKeyId=AK&AWSAccessKeyId=BK&Expires=1&Signature=VMXow1gVJfrrpHuWEiPxA%2BcH%2BZQ%3D", s3err.InvalidArgument},
	} {
		_, err := ParsePresignedQuery([]byte(c.query))
		if errCode(err) != c.want {
			t.Errorf("%q: %v, want %q", c.query, err, c.want)
		}
	}
}

func TestAuthMechanisms(t *testing.T) {
	at := mustTime(t, "20261128T094250Z")
	v := NewVerifier(VerifierConfig{})
	a, _, err := authenticateWire(t, v, "GET /bkt/k?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", at, testSecret)
	if err != nil || a.Kind != AuthAnonymous {
		t.Fatalf("anonymous: %+v %v", a, err)
	}
	raw := sdkSign(t, http.MethodGet, "/bkt/k?X-Amz-Credential=x", nil, emptyHash, at)
	_, _, err = authenticateWire(t, v, raw, at, testSecret)
	wantCode(t, err, s3err.InvalidArgument)
	// An empty Authorization header is no header.
	a, _, err = authenticateWire(t, v, "GET / HTTP/1.1\r\nHost: h\r\nAuthorization: \r\n\r\n", at, testSecret)
	if err != nil || a.Kind != AuthAnonymous {
		t.Fatalf("empty Authorization: %+v %v", a, err)
	}
	// Verify with the wrong verifier kind is a server bug, not a client error.
	sr := signedRequestOf(parseWire(t, raw), at)
	if err := v.VerifyV2(sr, &RequestAuth{Kind: AuthV4Header}, testSecret); errCode(err) != s3err.InternalError {
		t.Errorf("VerifyV2 on SigV4: %v", err)
	}
	if _, err := v.VerifyV4(sr, &RequestAuth{Kind: AuthAnonymous}, testSecret); errCode(err) != s3err.InternalError {
		t.Errorf("VerifyV4 on anonymous: %v", err)
	}
}

func TestVerifierRegion(t *testing.T) {
	at := mustTime(t, "20261128T094250Z")
	raw := sdkSign(t, http.MethodGet, "/bkt/k", nil, emptyHash, at)
	if _, _, err := authenticateWire(t, NewVerifier(VerifierConfig{Region: "us-east-1"}), raw, at, testSecret); err != nil {
		t.Fatal(err)
	}
	_, _, err := authenticateWire(t, NewVerifier(VerifierConfig{Region: "s4"}), raw, at, testSecret)
	wantCode(t, err, s3err.AuthorizationHeaderMalformed)
	if errExtra(err, "Region") != "s4" {
		t.Errorf("region error: %+v", err)
	}
	_, _, err = authenticateWire(t, NewVerifier(VerifierConfig{Region: "s4"}), sdkPresign(t, "/bkt/k", 60, at), at, testSecret)
	wantCode(t, err, s3err.AuthorizationQueryParameters)
}

func (c *signingKeyCache) entriesFor(accessKey string) (n int) {
	for i := range c.slots {
		if e := c.slots[i].Load(); e != nil && e.accessKey == accessKey {
			n++
		}
	}
	return n
}

func TestSigningKeyCache(t *testing.T) {
	at := mustTime(t, "20261128T094250Z")
	v := NewVerifier(VerifierConfig{KeyCacheSize: 5})
	if len(v.keys.slots) != 8 {
		t.Fatalf("cache size %d, want 8", len(v.keys.slots))
	}
	raw := sdkSign(t, http.MethodGet, "/bkt/k", nil, emptyHash, at)
	if _, _, err := authenticateWire(t, v, raw, at, testSecret); err != nil {
		t.Fatal(err)
	}
	if n := v.keys.entriesFor(testAccessKey); n != 1 {
		t.Fatalf("%d cache entries after a verification", n)
	}
	// The key was rotated under the same access key: the cached signing key must
	// not verify for the new secret, nor the old secret's requests once it is gone.
	_, _, err := authenticateWire(t, v, raw, at, "a-new-secret")
	wantCode(t, err, s3err.SignatureDoesNotMatch)
	if _, _, err := authenticateWire(t, v, raw, at, testSecret); err != nil {
		t.Fatal(err)
	}
	v.Forget("someone-else")
	if n := v.keys.entriesFor(testAccessKey); n != 1 {
		t.Fatalf("Forget of another key dropped ours")
	}
	v.Forget(testAccessKey)
	if n := v.keys.entriesFor(testAccessKey); n != 0 {
		t.Fatalf("%d cache entries after Forget", n)
	}
	if _, _, err := authenticateWire(t, v, raw, at, testSecret); err != nil {
		t.Fatalf("after Forget: %v", err)
	}
	// Bounded: many scopes never grow the cache.
	for d := 0; d < 100; d++ {
		v.keys.get(testAccessKey, fmt.Sprintf("2026%04d/us-east-1/s3/aws4_request", d), testSecret)
	}
	if n := v.keys.entriesFor(testAccessKey); n > len(v.keys.slots) {
		t.Fatalf("%d entries in %d slots", n, len(v.keys.slots))
	}
}

// The cache is read and written from many goroutines (run with -race).
func TestVerifierConcurrent(t *testing.T) {
	at := mustTime(t, "20261128T094250Z")
	v := NewVerifier(VerifierConfig{KeyCacheSize: 2})
	raws := []string{
		sdkSign(t, http.MethodGet, "/bkt/a", nil, emptyHash, at),
		sdkSign(t, http.MethodGet, "/bkt/b?list-type=2", nil, emptyHash, at.Add(-24*time.Hour+time.Minute)),
		sdkPresign(t, "/bkt/c", 600, at),
	}
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 200 && err == nil; i++ {
				raw := raws[(g+i)%len(raws)]
				now := at
				if strings.Contains(raw, "/bkt/b") {
					now = at.Add(-24*time.Hour + time.Minute)
				}
				_, _, err = authenticateWire(t, v, raw, now, testSecret)
				if i%50 == 0 {
					v.Forget(testAccessKey)
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	for _, c := range []struct {
		raw, want string
		presigned bool
	}{
		{"", "", false},
		{"list-type=2&delimiter=%2F&prefix=a%2F&encoding-type=url", "delimiter=%2F&encoding-type=url&list-type=2&prefix=a%2F", false},
		{"uploads", "uploads=", false},
		{"a+b=c+d", "a%2Bb=c%2Bd", false},
		{"k=a%20b&k=a b", "k=a%20b&k=a%20b", false},
		{"k=%2f%7e%41", "k=%2F~A", false},
		{"k=a/b&k=a-b", "k=a%2Fb&k=a-b", false},
		{"k=a-b&k=a/b", "k=a%2Fb&k=a-b", false},
		{"filter[]=team/group/1&filter[]=team-scout/group/1", "filter%5B%5D=team%2Fgroup%2F1&filter%5B%5D=team-scout%2Fgroup%2F1", false},
		{"a=1&%C3%A9=2", "%C3%A9=2&a=1", false},
		{"b=1&a=2&a=1", "a=1&a=2&b=1", false},
		{"a=b=c", "a=b%3Dc", false},
		{"&&a=1&&", "a=1", false},
		{"=v", "=v", false},
		{"=&a", "=&a=", false},
		{"X-Amz-Signature=abc&X-Amz-Date=1", "X-Amz-Date=1", true},
		{"X-Amz-Signature=abc&X-Amz-Date=1", "X-Amz-Date=1&X-Amz-Signature=abc", false},
		{"X-Amz-%53ignature=abc", "", true},
		{"ü=ü", "%C3%BC=%C3%BC", false},
	} {
		got, err := AppendCanonicalQuery(nil, []byte(c.raw), c.presigned)
		if err != nil || string(got) != c.want {
			t.Errorf("%q: %q %v, want %q", c.raw, got, err, c.want)
		}
	}
	for _, bad := range []string{"a=%", "a=%2", "a=%zz", "%g0=1", "a=1&b=%2"} {
		_, err := AppendCanonicalQuery(nil, []byte(bad), false)
		wantCode(t, err, s3err.InvalidURI)
	}
}

func TestCanonicalHeaderValue(t *testing.T) {
	for in, want := range map[string]string{
		"":                "",
		"a":               "a",
		"  a  ":           "a",
		"a  b\t\tc   d":   "a b c d",
		"\ta\t b ":        "a b",
		"bytes=0-9":       "bytes=0-9",
		" x  y":           "x y",
		"quoted \"a  b\"": "quoted \"a b\"",
	} {
		if got := string(appendCanonicalHeaderValue(nil, []byte(in))); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}
