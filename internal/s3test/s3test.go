// Package s3test is what the end-to-end tests of the S3 API share: the
// handler's own tests in package s3 (against the handler on a loopback
// HTTPS listener, over a temporary store) and those of package node
// (against a real node). It holds clients for a test endpoint
// (aws-sdk-go-v2, minio-go, raw SigV4-signed requests) and small helpers
// for what they return. Only tests import it.
package s3test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	mcreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// User is a user with an issued S3 credential.
type User struct {
	ID, Name, AccessKey, SecretKey string
}

// Client reaches one S3 endpoint over HTTPS.
type Client struct {
	Endpoint string       // "https://127.0.0.1:port"
	HTTP     *http.Client // trusts the endpoint's certificate
	TLS      *tls.Config  // the same trust, for raw connections
}

// HTTPClient returns an HTTP client (HTTP/1.1) that trusts the certificates
// in roots; its idle connections are closed when t ends.
func HTTPClient(t *testing.T, roots *x509.CertPool) *http.Client {
	t.Helper()
	// ExpectContinueTimeout as aws-sdk-go-v2's default client has it: a
	// body sent with "Expect: 100-continue" (the SDK adds it above 2 MiB)
	// waits up to a second for the server's word. Without it, Go sends the
	// body at once, and a refusal the server gives before reading it closes
	// the connection under the body.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, MaxIdleConnsPerHost: 16, ForceAttemptHTTP2: false,
		ExpectContinueTimeout: time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Minute}
}

// SDK returns an aws-sdk-go-v2 client for a key pair: path-style, us-east-1,
// default settings otherwise (flexible checksums on, as config.LoadDefaultConfig
// sets them; s3.New alone leaves them unset, which means off).
func (c *Client) SDK(ak, sk string, opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(c.Endpoint),
		UsePathStyle: true,
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(ak, sk, ""),
		HTTPClient:   c.HTTP,
		// What config.LoadDefaultConfig gives: flexible checksums on
		// uploads (CRC32), validated on downloads.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}, opts...)
}

// SDKFor is SDK with u's key pair.
func (c *Client) SDKFor(u User) *s3.Client { return c.SDK(u.AccessKey, u.SecretKey) }

// Signed sends a raw request signed with SigV4 (payload hash of body), for
// what the SDKs will not send: malformed XML, oversize bodies.
func (c *Client) Signed(t *testing.T, u User, method, path string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	ph := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", ph)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	creds := aws.Credentials{AccessKeyID: u.AccessKey, SecretAccessKey: u.SecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, ph, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// Raw sends a signed request without a body over its own TLS connection
// and returns every byte the server sent until it closed the connection,
// header names as they went on the wire (Go's client would canonicalise
// them).
func (c *Client) Raw(t *testing.T, method, path string, u User) string {
	t.Helper()
	req, _ := http.NewRequest(method, c.Endpoint+path, nil)
	req.Close = true
	const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	req.Header.Set("X-Amz-Content-Sha256", empty)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: u.AccessKey, SecretAccessKey: u.SecretKey}, req, empty, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", req.URL.Host, c.TLS)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(conn)
	if err != nil && len(b) == 0 {
		t.Fatal(err)
	}
	return string(b)
}

// Minio is minio-go with default settings, except that it trusts the
// endpoint's certificate and addresses buckets path-style.
func (c *Client) Minio(t *testing.T, u User) *minio.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: c.TLS.Clone(), MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	mc, err := minio.New(strings.TrimPrefix(c.Endpoint, "https://"), &minio.Options{
		Creds:        mcreds.NewStaticV4(u.AccessKey, u.SecretKey, ""),
		Secure:       true,
		Transport:    tr,
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// MinioCode returns the S3 error code and HTTP status of a minio-go error.
func MinioCode(err error) (string, int) {
	if err == nil {
		return "", 0
	}
	r := minio.ToErrorResponse(err)
	return r.Code, r.StatusCode
}

// APICode returns the S3 error code and HTTP status of an SDK error.
func APICode(err error) (string, int) {
	if err == nil {
		return "", 0
	}
	code, status := "", 0
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// WantCode fails t unless err is an SDK error with code and (unless 0)
// status.
func WantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want %s (%d)", code, status)
	}
	gc, gs := APICode(err)
	if gc != code || (status != 0 && gs != status) {
		t.Fatalf("got %s (%d), want %s (%d): %v", gc, gs, code, status, err)
	}
}

// Must returns a function that fails t on an error and returns the value
// otherwise: Must[*s3.ListBucketsOutput](t)(c.ListBuckets(…)).
func Must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// ReadAll reads and closes rc.
func ReadAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// NewPRNG is a deterministic pseudo-random byte stream. ChaCha8's
// generator is assembly, so it stays fast under -race where a Go loop
// writing bytes does not (10x).
func NewPRNG(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// RandReader is size bytes of the stream of seed, and nothing else (no
// Seek: the SDKs must stream it).
func RandReader(seed uint64, size int64) io.Reader {
	return struct{ io.Reader }{io.LimitReader(NewPRNG(seed), size)}
}

// RandBytes is the first size bytes of the stream of seed.
func RandBytes(seed uint64, size int) []byte {
	b := make([]byte, size)
	NewPRNG(seed).Read(b)
	return b
}

// SHA256Of reads r to its end and returns its SHA-256 and length.
func SHA256Of(t *testing.T, r io.Reader) ([32]byte, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	h.Sum(s[:0])
	return s, n
}

// MD5Sum is the MD5 of b.
func MD5Sum(b []byte) [16]byte { return md5.Sum(b) }

// KeysOf returns the keys of a listing's objects.
func KeysOf(objs []types.Object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, aws.ToString(o.Key))
	}
	return ks
}

// PrefixesOf returns a listing's common prefixes.
func PrefixesOf(cps []types.CommonPrefix) []string {
	var ps []string
	for _, p := range cps {
		ps = append(ps, aws.ToString(p.Prefix))
	}
	return ps
}

// PutString stores body as bucket/key.
func PutString(t *testing.T, c *s3.Client, bucket, key, body string) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return out
}

// GetString reads bucket/key.
func GetString(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	return string(ReadAll(t, out.Body))
}

// MkBucket creates a bucket.
func MkBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}
