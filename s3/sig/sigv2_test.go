package sig

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/s4/s4/s3/s3err"
)

// referenceV2 signs a string to sign as the SigV2 documentation describes:
// base64(HMAC-SHA1(secret, stringToSign)).
func referenceV2(stringToSign string) string {
	m := hmac.New(sha1.New, []byte(testSecret))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// v2StringToSignOf verifies with a wrong secret and returns the string to sign the
// SignatureDoesNotMatch error reports.
func v2StringToSignOf(t *testing.T, raw string, now time.Time) string {
	t.Helper()
	_, _, err := authenticateWire(t, NewVerifier(VerifierConfig{}), raw, now, "not-the-secret")
	wantCode(t, err, s3err.SignatureDoesNotMatch)
	return errExtra(err, "StringToSign")
}

// `aws s3 presign s3://bkt/a/api.txt --expires-in 300` from the wire doc.
func TestV2PresignWireDoc(t *testing.T) {
	const sts = "GET\n\n\n1795859279\n/bkt/a/api.txt"
	if got := referenceV2(sts); got != "dKvJwvgs/0mz4v3vQTSw+xd0bX8=" {
		t.Fatalf("the documented algorithm gives %s", got)
	}
	raw := "GET /bkt/a/api.txt?AWSAccessKeyId=S4AK3TP6X1K4WZU8AJFHGK4M&Signature=dKvJwvgs%2F0mz4v3vQTSw%2Bxd0bX8%3D&Expires=1795859279 HTTP/1.1\r\n" +
		"Host: 127.0.0.1:18080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
	v := NewVerifier(VerifierConfig{})
	a, _, err := authenticateWire(t, v, raw, time.Unix(1795859279-300, 0), testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind != AuthV2Query || a.AccessKey != testAccessKey || a.Expires != 1795859279 {
		t.Fatalf("%+v", a)
	}
	if got := v2StringToSignOf(t, raw, time.Unix(1795859000, 0)); got != sts {
		t.Fatalf("string to sign %q", got)
	}
	if _, _, err := authenticateWire(t, v, raw, time.Unix(1795859279, 0), testSecret); err != nil {
		t.Fatalf("at the expiry second: %v", err)
	}
	_, _, err = authenticateWire(t, v, raw, time.Unix(1795859280, 0), testSecret)
	wantCode(t, err, s3err.RequestExpired)
}

// URLs and a header-signed request produced by botocore 1.43 HmacV1QueryAuth /
// HmacV1Auth (generated offline with the wire doc's dummy credential), with the
// string to sign written out by hand from the SigV2 rules.
func TestV2BotocoreVectors(t *testing.T) {
	now := time.Unix(1795859000, 0)
	for _, c := range []struct {
		name, raw, sts string
	}{
		{
			"plain",
			"GET /bkt/a/api.txt?AWSAccessKeyId=S4AK3TP6X1K4WZU8AJFHGK4M&Signature=VMXow1gVJfrrpHuWEiPxA%2BcH%2BZQ%3D&Expires=1795859300 HTTP/1.1\r\nHost: 127.0.0.1:18080\r\n\r\n",
			"GET\n\n\n1795859300\n/bkt/a/api.txt",
		},
		{
			"encoded key, decoded sub-resource values, other parameters unsigned",
			"GET /bkt/dir%20with%20space/a%2Bb%3Dc~d%25e%20%C3%BC%26x.txt?versionId=3%2F4&response-content-disposition=attachment%3B%20filename%3D%22a%20b.txt%22&x-id=GetObject&AWSAccessKeyId=S4AK3TP6X1K4WZU8AJFHGK4M&Signature=34itq4eb4Ct%2FT%2FQo5BuWQcUP%2Fhs%3D&Expires=1795859300 HTTP/1.1\r\nHost: 127.0.0.1:18080\r\n\r\n",
			"GET\n\n\n1795859300\n/bkt/dir%20with%20space/a%2Bb%3Dc~d%25e%20%C3%BC%26x.txt?response-content-disposition=attachment; filename=\"a b.txt\"&versionId=3/4",
		},
		{
			"headers moved into the query",
			"PUT /bkt/k?uploadId=U1&partNumber=2&AWSAccessKeyId=S4AK3TP6X1K4WZU8AJFHGK4M&Signature=xbUPpzCiMsRZFZY07Cg%2BiZ9rK0g%3D&content-type=text%2Fplain&content-md5=XUFAKrxLKna5cZ2REBfFkg%3D%3D&x-amz-meta-a=%20b%20%20c%20&Expires=1795859300 HTTP/1.1\r\nHost: 127.0.0.1:18080\r\nContent-Length: 0\r\n\r\n",
			"PUT\nXUFAKrxLKna5cZ2REBfFkg==\ntext/plain\n1795859300\nx-amz-meta-a:b  c\n/bkt/k?partNumber=2&uploadId=U1",
		},
		{
			"valueless sub-resources",
			"GET /bkt?acl&uploads&list-type=2&AWSAccessKeyId=S4AK3TP6X1K4WZU8AJFHGK4M&Signature=H4KCp3YXaAtuwLGYkM9o9YjVLzg%3D&Expires=1795859300 HTTP/1.1\r\nHost: 127.0.0.1:18080\r\n\r\n",
			"GET\n\n\n1795859300\n/bkt?acl&uploads",
		},
		{
			"header-signed",
			"PUT /bkt/k.txt?tagging HTTP/1.1\r\nHost: 127.0.0.1:18080\r\nContent-Type: text/plain\r\nX-Amz-Meta-Z: z1\r\nx-amz-meta-a: a1\r\n" +
				"Date: Sat, 28 Nov 2026 09:42:50 GMT\r\nAuthorization: AWS S4AK3TP6X1K4WZU8AJFHGK4M:eGU8N/hHzZH8GiuFiZFPx033nu0=\r\nContent-Length: 0\r\n\r\n",
			"PUT\n\ntext/plain\nSat, 28 Nov 2026 09:42:50 GMT\nx-amz-meta-a:a1\nx-amz-meta-z:z1\n/bkt/k.txt?tagging",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			at := now
			if strings.Contains(c.raw, "Authorization") {
				at = mustTime(t, "20261128T094300Z")
			}
			if _, _, err := authenticateWire(t, NewVerifier(VerifierConfig{}), c.raw, at, testSecret); err != nil {
				t.Fatal(err)
			}
			if got := v2StringToSignOf(t, c.raw, at); got != c.sts {
				t.Fatalf("string to sign:\n%q\nwant\n%q", got, c.sts)
			}
		})
	}
}

// presignV2 builds a SigV2 presigned request by the documented algorithm alone:
// the caller writes the string to sign by hand.
func presignV2(method, target, extraHeaders, stringToSign string, expires int64) string {
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	q := url.Values{"AWSAccessKeyId": {testAccessKey}, "Expires": {strings.TrimSpace(strings.Split(stringToSign, "\n")[3])}, "Signature": {referenceV2(stringToSign)}}
	return method + " " + target + sep + q.Encode() + " HTTP/1.1\r\nHost: s4.example:9000\r\n" + extraHeaders + "\r\n"
}

func TestV2PresignIndependent(t *testing.T) {
	now := time.Unix(1795859000, 0)
	v := NewVerifier(VerifierConfig{})
	for _, c := range []struct {
		method, target, headers, sts string
	}{
		{"GET", "/bkt/k", "", "GET\n\n\n1795859300\n/bkt/k"},
		{"GET", "/", "", "GET\n\n\n1795859300\n/"},
		{"HEAD", "/bkt/a+b/%2B%20/..//x", "", "HEAD\n\n\n1795859300\n/bkt/a+b/%2B%20/..//x"},
		{"GET", "/bkt/k?versionId=v%2B1&response-content-type=text%2Fplain&prefix=ignored", "",
			"GET\n\n\n1795859300\n/bkt/k?response-content-type=text/plain&versionId=v+1"},
		{"PUT", "/bkt/k?partNumber=1&uploadId=abc", "Content-Type: application/octet-stream\r\nContent-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==\r\nContent-Length: 0\r\n",
			"PUT\n1B2M2Y8AsgTpgAmY7PhCfg==\napplication/octet-stream\n1795859300\n/bkt/k?partNumber=1&uploadId=abc"},
		{"PUT", "/bkt/k", "X-Amz-Meta-B: 2\r\nx-amz-meta-a:  1 \r\nX-Amz-Meta-B: 3\r\nContent-Length: 0\r\n",
			"PUT\n\n\n1795859300\nx-amz-meta-a:1\nx-amz-meta-b:2,3\n/bkt/k"},
		{"DELETE", "/bkt?delete&uploads=", "", "DELETE\n\n\n1795859300\n/bkt?delete&uploads="},
	} {
		raw := presignV2(c.method, c.target, c.headers, c.sts, 1795859300)
		if _, _, err := authenticateWire(t, v, raw, now, testSecret); err != nil {
			t.Errorf("%s %s: %v (server signed %q)", c.method, c.target, err, v2StringToSignOf(t, raw, now))
		}
	}
}

func TestV2Tamper(t *testing.T) {
	now := time.Unix(1795859000, 0)
	v := NewVerifier(VerifierConfig{})
	raw := presignV2("GET", "/bkt/k?versionId=v1&list-type=2", "Content-Type: text/plain\r\n",
		"GET\n\ntext/plain\n1795859300\n/bkt/k?versionId=v1", 1795859300)
	if _, _, err := authenticateWire(t, v, raw, now, testSecret); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		old, new string
		want     s3err.Code
	}{
		{"GET /", "HEAD /", s3err.SignatureDoesNotMatch},
		{"/bkt/k?", "/bkt/j?", s3err.SignatureDoesNotMatch},
		{"versionId=v1", "versionId=v2", s3err.SignatureDoesNotMatch},
		{"list-type=2", "list-type=2&acl", s3err.SignatureDoesNotMatch},
		{"Content-Type: text/plain", "Content-Type: text/html", s3err.SignatureDoesNotMatch},
		{"Expires=1795859300", "Expires=1795859301", s3err.SignatureDoesNotMatch},
		{"Expires=1795859300", "Expires=1795858999", s3err.RequestExpired},
		{"\r\n\r\n", "\r\nX-Amz-Meta-Injected: 1\r\n\r\n", s3err.SignatureDoesNotMatch},
		// SigV2 signs only sub-resources, so other parameters are not protected.
		{"list-type=2", "list-type=1", ""},
		{"Host: s4.example:9000", "Host: elsewhere", ""},
	} {
		_, _, err := authenticateWire(t, v, strings.Replace(raw, c.old, c.new, 1), now, testSecret)
		if errCode(err) != c.want {
			t.Errorf("%q → %q: %v, want %q", c.old, c.new, err, c.want)
		}
	}
	_, _, err := authenticateWire(t, v, raw, now, testSecret+"x")
	wantCode(t, err, s3err.SignatureDoesNotMatch)
}

func TestV2Header(t *testing.T) {
	at := mustTime(t, "20261128T094250Z")
	v := NewVerifier(VerifierConfig{})
	// With x-amz-date the Date line is empty and x-amz-date is an amz header.
	sts := "GET\n\n\n\nx-amz-date:Sat, 28 Nov 2026 09:42:50 GMT\n/bkt/k?acl"
	raw := "GET /bkt/k?acl HTTP/1.1\r\nHost: h\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nX-Amz-Date: Sat, 28 Nov 2026 09:42:50 GMT\r\n" +
		"Authorization: AWS " + testAccessKey + ":" + referenceV2(sts) + "\r\n\r\n"
	a, _, err := authenticateWire(t, v, raw, at, testSecret)
	if err != nil || a.Kind != AuthV2Header {
		t.Fatalf("%+v %v", a, err)
	}
	_, _, err = authenticateWire(t, v, raw, at.Add(16*time.Minute), testSecret)
	wantCode(t, err, s3err.RequestTimeTooSkewed)
	noDate := strings.NewReplacer("Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n", "", "X-Amz-Date: Sat, 28 Nov 2026 09:42:50 GMT\r\n", "").Replace(raw)
	_, _, err = authenticateWire(t, v, noDate, at, testSecret)
	wantCode(t, err, s3err.MissingDateHeader)
	bad := strings.Replace(raw, "AWS "+testAccessKey+":", "AWS "+testAccessKey+":AAAA", 1)
	_, _, err = authenticateWire(t, v, bad, at, testSecret)
	wantCode(t, err, s3err.InvalidArgument)
}
