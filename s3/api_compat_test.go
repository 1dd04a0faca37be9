package s3_test

// What real S3 clients trip on (issue: S3 compatibility), each checked with
// a real client against the handler on its own.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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
