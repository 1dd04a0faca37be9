package s3_test

// What real S3 clients trip on (issue: S3 compatibility), each checked with
// a real client against the handler on its own.

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s4/s4/internal/s3test"
)

// TestListEmptyContinuationToken: ListObjectsV2 with continuation-token=
// (empty) is refused with InvalidArgument, as S3 does, and changes nothing.
func TestListEmptyContinuationToken(t *testing.T) {
	e := newEnv(t)
	w := e.SDKFor(e.writer)
	s3test.MkBucket(t, w, "bkt")
	s3test.PutString(t, w, "bkt", "a", "x")
	resp, body := e.Signed(t, e.writer, "GET", "/bkt?list-type=2&continuation-token=", nil, nil)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "<Code>InvalidArgument</Code>") {
		t.Fatalf("empty continuation-token: %d %s", resp.StatusCode, body)
	}
	// A real token still works.
	out := s3test.Must[*s3.ListObjectsV2Output](t)(w.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")}))
	if len(out.Contents) != 1 {
		t.Fatalf("listing: %v", s3test.KeysOf(out.Contents))
	}
}

// TestListPrefixWithNewline: a prefix with a newline is echoed as it is
// (XML-escaped) without encoding-type=url, and URL-encoded only with it.
func TestListPrefixWithNewline(t *testing.T) {
	e := newEnv(t)
	w := e.SDKFor(e.writer)
	s3test.MkBucket(t, w, "bkt")
	s3test.PutString(t, w, "bkt", "a\nb", "x")
	resp, body := e.Signed(t, e.writer, "GET", "/bkt?list-type=2&prefix=a%0A", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<Prefix>a\n</Prefix>") && !strings.Contains(string(body), "<Prefix>a&#xA;</Prefix>") {
		t.Fatalf("prefix with a newline, no encoding-type: %d %s", resp.StatusCode, body)
	}
	resp, body = e.Signed(t, e.writer, "GET", "/bkt?list-type=2&prefix=a%0A&encoding-type=url", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<Prefix>a%0A</Prefix>") {
		t.Fatalf("prefix with a newline, encoding-type=url: %d %s", resp.StatusCode, body)
	}
}

// TestEmptyContentMD5: an empty Content-MD5 header is InvalidDigest, and
// nothing is stored.
func TestEmptyContentMD5(t *testing.T) {
	e := newEnv(t)
	w := e.SDKFor(e.writer)
	s3test.MkBucket(t, w, "bkt")
	resp, body := e.Signed(t, e.writer, "PUT", "/bkt/k", []byte("hello"), map[string]string{"Content-MD5": ""})
	if resp.StatusCode != 400 || !strings.Contains(string(body), "<Code>InvalidDigest</Code>") {
		t.Fatalf("empty Content-MD5: %d %s", resp.StatusCode, body)
	}
	_, err := w.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	s3test.WantCode(t, err, "NotFound", 404)
}

// TestDateAndAmzDate: a request that carries both Date and X-Amz-Date is
// accepted, the signature and the clock skew counting X-Amz-Date (as S3
// does), even when Date is days off.
func TestDateAndAmzDate(t *testing.T) {
	e := newEnv(t)
	w := e.SDKFor(e.writer)
	s3test.MkBucket(t, w, "bkt")
	for _, date := range []time.Time{time.Now(), time.Now().Add(-72 * time.Hour)} { // Date may even be far off
		resp, body := e.Signed(t, e.writer, "GET", "/bkt?list-type=2", nil, map[string]string{"Date": date.UTC().Format(http.TimeFormat)})
		if resp.StatusCode != 200 {
			t.Fatalf("Date %v and X-Amz-Date: %d %s", date, resp.StatusCode, body)
		}
	}
}

// expectContinue sends a signed PUT of size bytes with "Expect:
// 100-continue", headers only, and returns what the server answers before
// it gets a byte of the body (within a second).
func expectContinue(t *testing.T, c *s3test.Client, u s3test.User, path string, size int) string {
	t.Helper()
	req, _ := http.NewRequest("PUT", c.Endpoint+path, nil)
	req.ContentLength = int64(size)
	req.Header.Set("Expect", "100-continue")
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: u.AccessKey, SecretAccessKey: u.SecretKey}, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", req.URL.Host, c.TLS)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var head bytes.Buffer
	fmt.Fprintf(&head, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.RequestURI(), req.URL.Host, size)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	b, _ := io.ReadAll(conn) // until the server closes, or the deadline
	return string(b)
}

// TestExpectContinueRefusedBeforeBody: a PUT with "Expect: 100-continue"
// that will be refused (an unknown key, a Reader's write) gets its S3 error
// document at once, before sending its body, never "100 Continue"; an
// accepted one gets "100 Continue". Before, every request got 100 Continue
// and sent its body before the error.
func TestExpectContinueRefusedBeforeBody(t *testing.T) {
	e := newEnv(t)
	s3test.MkBucket(t, e.SDKFor(e.writer), "bkt")
	stranger := s3test.User{AccessKey: "S4AKunknownunknownunkn", SecretKey: strings.Repeat("x", 40)}
	for _, tc := range []struct {
		who  s3test.User
		code string
	}{{stranger, "InvalidAccessKeyId"}, {e.reader, "AccessDenied"}} {
		got := expectContinue(t, e.Client, tc.who, "/bkt/big", 64<<20)
		if strings.Contains(got, "100 Continue") || !strings.HasPrefix(got, "HTTP/1.1 403") || !strings.Contains(got, "<Code>"+tc.code+"</Code>") {
			t.Fatalf("%s: the server answered %q, want 403 %s before the body", tc.code, got, tc.code)
		}
	}
	if got := expectContinue(t, e.Client, e.writer, "/bkt/big", 64<<20); !strings.HasPrefix(got, "HTTP/1.1 100 Continue") {
		t.Fatalf("the writer's PUT: %q, want 100 Continue", got)
	}
	// The SDK's uploads still work through the same server.
	s3test.PutString(t, e.SDKFor(e.writer), "bkt", "small", "data")
}

// metaLines returns the x-amz-meta-* header lines of a raw response, as
// sent (any case of the prefix), sorted.
func metaLines(raw string) []string {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	var out []string
	for _, l := range strings.Split(head, "\r\n") {
		if len(l) > 11 && strings.EqualFold(l[:11], "x-amz-meta-") {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// TestUserMetadataLowerCase: user metadata names are stored and sent back
// in lower case (x-amz-meta-foo, as S3 does: boto3 hands the name after
// the prefix back as it came, so x-amz-meta-Foo made Metadata['foo'] a
// KeyError), on GET and HEAD alike, after CopyObject with COPY and REPLACE
// and on a multipart object; a non-ASCII value, sent raw in UTF-8 or
// RFC 2047-encoded, is stored decoded and sent back RFC 2047-encoded.
func TestUserMetadataLowerCase(t *testing.T) {
	e := newEnv(t)
	w := e.SDKFor(e.writer)
	s3test.MkBucket(t, w, "bkt")
	s3test.Must[*s3.PutObjectOutput](t)(w.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("sdk"),
		Body: strings.NewReader("x"), Metadata: map[string]string{"Foo": "bar", "Two-Words": "A b"}}))
	// What boto3 sends for Metadata={'uni': 'héllo'} (botocore ≥ 1.40) and what
	// a client that encodes sends.
	resp, body := e.Signed(t, e.writer, "PUT", "/bkt/uni", []byte("y"), map[string]string{
		"X-Amz-Meta-Raw": "héllo wörld", "x-amz-meta-ENC": mime.QEncoding.Encode("UTF-8", "ünïcode"), "x-amz-meta-plain": "a=?b"})
	if resp.StatusCode != 200 {
		t.Fatalf("PUT with unicode metadata: %d %s", resp.StatusCode, body)
	}
	enc := func(s string) string { return mime.BEncoding.Encode("UTF-8", s) }
	sdkLines := []string{"x-amz-meta-foo: bar", "x-amz-meta-two-words: A b"}
	uniLines := []string{"x-amz-meta-enc: " + enc("ünïcode"), "x-amz-meta-plain: a=?b", "x-amz-meta-raw: " + enc("héllo wörld")}
	check := func(key string, want []string, wantSDK map[string]string) {
		t.Helper()
		for _, method := range []string{"HEAD", "GET"} {
			raw := e.Raw(t, method, "/bkt/"+key, e.reader)
			if !strings.HasPrefix(raw, "HTTP/1.1 200") {
				t.Fatalf("%s %s: %.200q", method, key, raw)
			}
			if got := metaLines(raw); !slices.Equal(got, want) {
				t.Errorf("%s %s: metadata headers on the wire %q, want %q", method, key, got, want)
			}
		}
		h := s3test.Must[*s3.HeadObjectOutput](t)(w.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)}))
		g := s3test.Must[*s3.GetObjectOutput](t)(w.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)}))
		g.Body.Close()
		dec := func(m map[string]string) map[string]string {
			out := map[string]string{}
			for k, v := range m {
				d, err := new(mime.WordDecoder).DecodeHeader(v)
				if err != nil {
					t.Errorf("%s: metadata %s=%q does not decode: %v", key, k, v, err)
				}
				out[k] = d
			}
			return out
		}
		if hm, gm := dec(h.Metadata), dec(g.Metadata); !maps.Equal(hm, wantSDK) || !maps.Equal(gm, wantSDK) {
			t.Errorf("%s: the SDK's metadata: HEAD %q GET %q, want %q", key, hm, gm, wantSDK)
		}
	}
	check("sdk", sdkLines, map[string]string{"foo": "bar", "two-words": "A b"})
	check("uni", uniLines, map[string]string{"enc": "ünïcode", "plain": "a=?b", "raw": "héllo wörld"})

	// CopyObject: COPY keeps the names and values, REPLACE takes the new ones.
	for _, src := range []string{"sdk", "uni"} {
		s3test.Must[*s3.CopyObjectOutput](t)(w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String(src + "-copy"), CopySource: aws.String("bkt/" + src)}))
	}
	check("sdk-copy", sdkLines, map[string]string{"foo": "bar", "two-words": "A b"})
	check("uni-copy", uniLines, map[string]string{"enc": "ünïcode", "plain": "a=?b", "raw": "héllo wörld"})
	resp, body = e.Signed(t, e.writer, "PUT", "/bkt/replaced", nil, map[string]string{"X-Amz-Copy-Source": "/bkt/uni",
		"X-Amz-Metadata-Directive": "REPLACE", "X-Amz-Meta-New-Name": "Ünï", "X-Amz-Meta-Ascii": "Mixed Case"})
	if resp.StatusCode != 200 {
		t.Fatalf("CopyObject REPLACE: %d %s", resp.StatusCode, body)
	}
	check("replaced", []string{"x-amz-meta-ascii: Mixed Case", "x-amz-meta-new-name: " + enc("Ünï")}, map[string]string{"ascii": "Mixed Case", "new-name": "Ünï"})

	// A multipart object keeps what CreateMultipartUpload got.
	mp := s3test.Must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp"),
		Metadata: map[string]string{"Upper": "Case"}}))
	pt := s3test.Must[*s3.UploadPartOutput](t)(w.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("z")}))
	s3test.Must[*s3.CompleteMultipartUploadOutput](t)(w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pt.ETag}}}}))
	check("mp", []string{"x-amz-meta-upper: Case"}, map[string]string{"upper": "Case"})
}
