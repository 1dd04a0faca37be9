package node

// Integration tests of the S3 API with real clients (aws-sdk-go-v2 here,
// minio-go in s3_minio_test.go) against a real node over HTTPS: what a user
// of those SDKs sees.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// s3User is a user with an issued S3 credential.
type s3User struct {
	ID, Name, AccessKey, SecretKey string
}

// s3Env is one node with a Reader, a Writer and a SuperUser, each with a
// credential, and an HTTP client that trusts the node's certificate.
type s3Env struct {
	n        *Node
	admin    *client
	endpoint string
	http     *http.Client
	tls      *tls.Config // trusts the node's certificate
	reader   s3User
	writer   s3User
	super    s3User
}

func newS3Env(t *testing.T) *s3Env {
	t.Helper()
	n := mustOpen(t, testConfig(t.TempDir()))
	c := newClient(t, n)
	c.login("root", rootPassword)
	e := &s3Env{n: n, admin: c, endpoint: c.base, http: s3HTTPClient(t, n)}
	e.tls = e.http.Transport.(*http.Transport).TLSClientConfig
	e.reader = e.newUser(t, "reader", "Reader")
	e.writer = e.newUser(t, "writer", "Writer")
	e.super = e.newUser(t, "super", "SuperUser")
	return e
}

// nodeS3Env is an s3Env for one more node of a cluster (no users of its own).
func nodeS3Env(t *testing.T, n *Node) *s3Env {
	t.Helper()
	return &s3Env{n: n, endpoint: newClient(t, n).base, http: s3HTTPClient(t, n)}
}

func s3HTTPClient(t *testing.T, n *Node) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: nodeCertPool(t, n)}, MaxIdleConnsPerHost: 16, ForceAttemptHTTP2: false}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Minute}
}

// adminAs returns the env's admin client reporting failures to t (a
// subtest's t must not be failed through its parent).
func (e *s3Env) adminAs(t *testing.T) *client {
	c := *e.admin
	c.t = t
	return &c
}

func (e *s3Env) newUser(t *testing.T, name, role string) s3User {
	t.Helper()
	c := e.adminAs(t)
	var u userJSON
	if code := c.do("POST", "/api/admin/users", map[string]string{"username": name, "password": name + "-password", "role": role}, &u); code != 201 {
		t.Fatalf("create user %s: %d", name, code)
	}
	su := s3User{ID: u.ID, Name: name}
	su.AccessKey, su.SecretKey = e.issue(t, u.ID)
	return su
}

func (e *s3Env) issue(t *testing.T, id string) (ak, sk string) {
	t.Helper()
	var cr credJSON
	if code := e.adminAs(t).do("POST", "/api/admin/users/"+id+"/credentials", nil, &cr); code != 201 {
		t.Fatalf("issue credential: %d", code)
	}
	return cr.AccessKey, cr.SecretKey
}

// sdk returns an aws-sdk-go-v2 client for a key pair: path-style, us-east-1,
// default settings otherwise (flexible checksums on, as config.LoadDefaultConfig
// sets them; s3.New alone leaves them unset, which means off).
func (e *s3Env) sdk(ak, sk string, opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(e.endpoint),
		UsePathStyle: true,
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(ak, sk, ""),
		HTTPClient:   e.http,
		// What config.LoadDefaultConfig gives: flexible checksums on
		// uploads (CRC32), validated on downloads.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}, opts...)
}

func (e *s3Env) sdkFor(u s3User) *s3.Client { return e.sdk(u.AccessKey, u.SecretKey) }

// signed sends a raw request signed with SigV4 (payload hash of body), for
// what the SDKs will not send: malformed XML, oversize bodies.
func (e *s3Env) signed(t *testing.T, u s3User, method, path string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.endpoint+path, bytes.NewReader(body))
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
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// apiCode returns the S3 error code and HTTP status of an SDK error.
func apiCode(err error) (string, int) {
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

func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want %s (%d)", code, status)
	}
	gc, gs := apiCode(err)
	if gc != code || (status != 0 && gs != status) {
		t.Fatalf("got %s (%d), want %s (%d): %v", gc, gs, code, status, err)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newPRNG is a deterministic pseudo-random byte stream. ChaCha8's
// generator is assembly, so it stays fast under -race where a Go loop
// writing bytes does not (10x).
func newPRNG(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// randReader is size bytes of the stream of seed, and nothing else (no
// Seek: the SDKs must stream it).
func randReader(seed uint64, size int64) io.Reader {
	return struct{ io.Reader }{io.LimitReader(newPRNG(seed), size)}
}

func randBytes(seed uint64, size int) []byte {
	b := make([]byte, size)
	newPRNG(seed).Read(b)
	return b
}

func sha256Of(t *testing.T, r io.Reader) ([32]byte, int64) {
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

func keysOf(objs []types.Object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, aws.ToString(o.Key))
	}
	return ks
}

func prefixesOf(cps []types.CommonPrefix) []string {
	var ps []string
	for _, p := range cps {
		ps = append(ps, aws.ToString(p.Prefix))
	}
	return ps
}

func putString(t *testing.T, c *s3.Client, bucket, key, body string) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return out
}

func getString(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	return string(readAll(t, out.Body))
}

func mkBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

var bg = context.Background()

// TestS3Buckets: ListBuckets, CreateBucket (again by its owner: 200 as in
// us-east-1; by another user: BucketAlreadyExists), HeadBucket,
// GetBucketLocation, DeleteBucket of a non-empty and an empty bucket, ACLs.
func TestS3Buckets(t *testing.T) {
	e := newS3Env(t)
	w, su := e.sdkFor(e.writer), e.sdkFor(e.super)

	lb := must[*s3.ListBucketsOutput](t)(w.ListBuckets(bg, &s3.ListBucketsInput{}))
	if len(lb.Buckets) != 0 {
		t.Fatalf("buckets on a new node: %v", lb.Buckets)
	}
	before := time.Now().Add(-2 * time.Second)
	mkBucket(t, w, "bkt-one")
	mkBucket(t, w, "bkt-two")
	if _, err := w.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("bkt-one")}); err != nil {
		t.Fatalf("owner re-creating its bucket in us-east-1: %v", err)
	}
	_, err := su.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("bkt-one")})
	wantCode(t, err, "BucketAlreadyExists", 409)
	_, err = w.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	wantCode(t, err, "InvalidBucketName", 400)
	_, err = w.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("bkt-eu"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}})
	wantCode(t, err, "InvalidLocationConstraint", 400)

	lb = must[*s3.ListBucketsOutput](t)(e.sdkFor(e.reader).ListBuckets(bg, &s3.ListBucketsInput{}))
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, aws.ToString(b.Name))
		if b.CreationDate == nil || b.CreationDate.Before(before) || b.CreationDate.After(time.Now().Add(2*time.Second)) {
			t.Errorf("bucket %s CreationDate %v", aws.ToString(b.Name), b.CreationDate)
		}
	}
	if !slices.Equal(names, []string{"bkt-one", "bkt-two"}) {
		t.Fatalf("ListBuckets: %v", names)
	}
	if lb.Owner == nil || aws.ToString(lb.Owner.ID) != e.reader.ID || aws.ToString(lb.Owner.DisplayName) != "reader" {
		t.Errorf("ListBuckets owner: %+v", lb.Owner)
	}

	hb := must[*s3.HeadBucketOutput](t)(e.sdkFor(e.reader).HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("bkt-one")}))
	if aws.ToString(hb.BucketRegion) != "us-east-1" {
		t.Errorf("HeadBucket region %q", aws.ToString(hb.BucketRegion))
	}
	_, err = w.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("no-such-bucket")})
	wantCode(t, err, "NotFound", 404)

	loc := must[*s3.GetBucketLocationOutput](t)(e.sdkFor(e.reader).GetBucketLocation(bg, &s3.GetBucketLocationInput{Bucket: aws.String("bkt-one")}))
	if loc.LocationConstraint != "" {
		t.Errorf("GetBucketLocation: %q, want empty (us-east-1)", loc.LocationConstraint)
	}
	_, err = w.GetBucketLocation(bg, &s3.GetBucketLocationInput{Bucket: aws.String("no-such-bucket")})
	wantCode(t, err, "NoSuchBucket", 404)

	// ACLs: the owner is the creator, private is all there is.
	acl := must[*s3.GetBucketAclOutput](t)(e.sdkFor(e.reader).GetBucketAcl(bg, &s3.GetBucketAclInput{Bucket: aws.String("bkt-one")}))
	if acl.Owner == nil || aws.ToString(acl.Owner.ID) != e.writer.ID || aws.ToString(acl.Owner.DisplayName) != "writer" {
		t.Errorf("GetBucketAcl owner: %+v", acl.Owner)
	}
	if len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl || aws.ToString(acl.Grants[0].Grantee.ID) != e.writer.ID {
		t.Errorf("GetBucketAcl grants: %+v", acl.Grants)
	}
	if _, err := w.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("bkt-one"), ACL: types.BucketCannedACLPrivate}); err != nil {
		t.Errorf("PutBucketAcl private: %v", err)
	}
	// Anything but private: refused as S3 does with ACLs disabled.
	_, err = w.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("bkt-one"), ACL: types.BucketCannedACLPublicRead})
	wantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = w.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("bkt-one"), AccessControlPolicy: &types.AccessControlPolicy{
		Owner: &types.Owner{ID: aws.String(e.writer.ID)},
		Grants: []types.Grant{
			{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(e.writer.ID)}, Permission: types.PermissionFullControl},
			{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/global/AllUsers")}, Permission: types.PermissionRead},
		}}})
	wantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = w.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("bkt-one"), GrantRead: aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)})
	wantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = w.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("bkt-public"), ACL: types.BucketCannedACLPublicRead})
	wantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = w.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("bkt-public")})
	wantCode(t, err, "NotFound", 404)
	_, err = w.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt-one"), Key: aws.String("public"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
	wantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = w.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt-one"), Key: aws.String("public")})
	wantCode(t, err, "NotFound", 404)
	putString(t, w, "bkt-one", "obj", "hello")
	oacl := must[*s3.GetObjectAclOutput](t)(e.sdkFor(e.reader).GetObjectAcl(bg, &s3.GetObjectAclInput{Bucket: aws.String("bkt-one"), Key: aws.String("obj")}))
	if oacl.Owner == nil || aws.ToString(oacl.Owner.ID) != e.writer.ID || aws.ToString(oacl.Owner.DisplayName) != "writer" {
		t.Errorf("GetObjectAcl owner: %+v", oacl.Owner)
	}
	if _, err := w.PutObjectAcl(bg, &s3.PutObjectAclInput{Bucket: aws.String("bkt-one"), Key: aws.String("obj"), ACL: types.ObjectCannedACLPrivate}); err != nil {
		t.Errorf("PutObjectAcl private: %v", err)
	}
	_, err = w.PutObjectAcl(bg, &s3.PutObjectAclInput{Bucket: aws.String("bkt-one"), Key: aws.String("obj"), ACL: types.ObjectCannedACLPublicRead})
	wantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = w.PutObjectAcl(bg, &s3.PutObjectAclInput{Bucket: aws.String("bkt-one"), Key: aws.String("nope"), ACL: types.ObjectCannedACLPrivate})
	wantCode(t, err, "NoSuchKey", 404)

	_, err = w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("bkt-one")})
	wantCode(t, err, "BucketNotEmpty", 409)
	if _, err := w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("bkt-one"), Key: aws.String("obj")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("bkt-one")}); err != nil {
		t.Fatal(err)
	}
	_, err = w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("bkt-one")})
	wantCode(t, err, "NoSuchBucket", 404)
	_, err = w.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("bkt-one")})
	wantCode(t, err, "NotFound", 404)
	lb = must[*s3.ListBucketsOutput](t)(w.ListBuckets(bg, &s3.ListBucketsInput{}))
	if len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != "bkt-two" {
		t.Fatalf("after delete: %+v", lb.Buckets)
	}
}

// TestS3Objects: PutObject/GetObject with every stored header and user
// metadata, Range, conditionals, response-* overrides, HeadObject,
// DeleteObject, DeleteObjects (quiet and verbose), CopyObject.
func TestS3Objects(t *testing.T) {
	e := newS3Env(t)
	w, rd := e.sdkFor(e.writer), e.sdkFor(e.reader)
	mkBucket(t, w, "objs")
	body := "0123456789abcdefghijklmnopqrstuvwxyz"
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	put, err := w.PutObject(bg, &s3.PutObjectInput{
		Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), Body: strings.NewReader(body),
		ContentType: aws.String("text/plain; charset=utf-8"), ContentEncoding: aws.String("gzip"),
		CacheControl: aws.String("max-age=60"), ContentDisposition: aws.String(`attachment; filename="f.txt"`),
		ContentLanguage: aws.String("de"), Expires: &expires,
		Metadata: map[string]string{"Color": "blue", "two-words": "a b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	md5sum := fmt.Sprintf("%x", md5Sum([]byte(body)))
	if aws.ToString(put.ETag) != `"`+md5sum+`"` {
		t.Errorf("PutObject ETag %s, want MD5 %s", aws.ToString(put.ETag), md5sum)
	}
	if put.ChecksumCRC32 == nil {
		t.Errorf("PutObject returned no CRC32 although the SDK sent one")
	}

	check := func(what string, ct, ce, cc, cd, cl *string, exp *string, meta map[string]string, etag *string, lm *time.Time, size *int64) {
		t.Helper()
		for _, f := range []struct {
			name      string
			got, want string
		}{
			{"Content-Type", aws.ToString(ct), "text/plain; charset=utf-8"},
			{"Content-Encoding", aws.ToString(ce), "gzip"},
			{"Cache-Control", aws.ToString(cc), "max-age=60"},
			{"Content-Disposition", aws.ToString(cd), `attachment; filename="f.txt"`},
			{"Content-Language", aws.ToString(cl), "de"},
			{"Expires", aws.ToString(exp), expires.Format(http.TimeFormat)},
			{"ETag", aws.ToString(etag), aws.ToString(put.ETag)},
		} {
			if f.got != f.want {
				t.Errorf("%s %s = %q, want %q", what, f.name, f.got, f.want)
			}
		}
		if meta["color"] != "blue" || meta["two-words"] != "a b" || len(meta) != 2 {
			t.Errorf("%s metadata %v", what, meta)
		}
		if lm == nil || time.Since(*lm) > time.Minute || time.Until(*lm) > 2*time.Second {
			t.Errorf("%s Last-Modified %v", what, lm)
		}
		if aws.ToInt64(size) != int64(len(body)) {
			t.Errorf("%s size %d", what, aws.ToInt64(size))
		}
	}
	get := must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")}))
	if got := string(readAll(t, get.Body)); got != body {
		t.Fatalf("GetObject body %q", got)
	}
	check("GetObject", get.ContentType, get.ContentEncoding, get.CacheControl, get.ContentDisposition, get.ContentLanguage, get.ExpiresString, get.Metadata, get.ETag, get.LastModified, get.ContentLength)
	head := must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")}))
	check("HeadObject", head.ContentType, head.ContentEncoding, head.CacheControl, head.ContentDisposition, head.ContentLanguage, head.ExpiresString, head.Metadata, head.ETag, head.LastModified, head.ContentLength)
	lastMod := *head.LastModified

	// Range.
	rg := must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), Range: aws.String("bytes=10-19")}))
	if got := string(readAll(t, rg.Body)); got != body[10:20] || aws.ToString(rg.ContentRange) != fmt.Sprintf("bytes 10-19/%d", len(body)) || aws.ToInt64(rg.ContentLength) != 10 {
		t.Errorf("range 10-19: %q %q %d", got, aws.ToString(rg.ContentRange), aws.ToInt64(rg.ContentLength))
	}
	rg = must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), Range: aws.String("bytes=-5")}))
	if got := string(readAll(t, rg.Body)); got != body[len(body)-5:] {
		t.Errorf("suffix range: %q", got)
	}
	rg = must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), Range: aws.String("bytes=30-")}))
	if got := string(readAll(t, rg.Body)); got != body[30:] {
		t.Errorf("open range: %q", got)
	}
	// The status is 206: check it on the wire.
	presigned := must[*v4.PresignedHTTPRequest](t)(s3.NewPresignClient(rd).PresignGetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")}))
	req, _ := http.NewRequest("GET", presigned.URL, nil)
	req.Header.Set("Range", "bytes=0-3")
	resp := must[*http.Response](t)(e.http.Do(req))
	if b := readAll(t, resp.Body); resp.StatusCode != 206 || string(b) != "0123" || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 0-3/%d", len(body)) {
		t.Errorf("range on the wire: %d %q %q", resp.StatusCode, b, resp.Header.Get("Content-Range"))
	}

	// Conditionals.
	etag := aws.ToString(put.ETag)
	cond := func(in *s3.GetObjectInput) error {
		in.Bucket, in.Key = aws.String("objs"), aws.String("dir/file.txt")
		out, err := rd.GetObject(bg, in)
		if err == nil {
			readAll(t, out.Body)
		}
		return err
	}
	if err := cond(&s3.GetObjectInput{IfMatch: aws.String(etag)}); err != nil {
		t.Errorf("If-Match current: %v", err)
	}
	wantCode(t, cond(&s3.GetObjectInput{IfMatch: aws.String(`"0000"`)}), "PreconditionFailed", 412)
	if err := cond(&s3.GetObjectInput{IfNoneMatch: aws.String(`"0000"`)}); err != nil {
		t.Errorf("If-None-Match other: %v", err)
	}
	_, st := apiCode(cond(&s3.GetObjectInput{IfNoneMatch: aws.String(etag)}))
	if st != 304 {
		t.Errorf("If-None-Match current: status %d, want 304", st)
	}
	// A 304 carries the validators, no body.
	resp, b304 := e.signed(t, e.reader, "GET", "/objs/dir/file.txt", nil, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 304 || resp.Header.Get("ETag") != etag || resp.Header.Get("Last-Modified") != lastMod.UTC().Format(http.TimeFormat) || len(b304) != 0 {
		t.Errorf("304: status %d ETag %q Last-Modified %q body %q", resp.StatusCode, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"), b304)
	}
	_, st = apiCode(cond(&s3.GetObjectInput{IfModifiedSince: aws.Time(lastMod.Add(time.Hour))}))
	if st != 304 {
		t.Errorf("If-Modified-Since future: status %d, want 304", st)
	}
	if err := cond(&s3.GetObjectInput{IfModifiedSince: aws.Time(lastMod.Add(-time.Hour))}); err != nil {
		t.Errorf("If-Modified-Since past: %v", err)
	}
	wantCode(t, cond(&s3.GetObjectInput{IfUnmodifiedSince: aws.Time(lastMod.Add(-time.Hour))}), "PreconditionFailed", 412)
	if err := cond(&s3.GetObjectInput{IfUnmodifiedSince: aws.Time(lastMod.Add(time.Hour))}); err != nil {
		t.Errorf("If-Unmodified-Since future: %v", err)
	}
	_, err = rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), IfMatch: aws.String(`"0000"`)})
	if _, st := apiCode(err); st != 412 {
		t.Errorf("HeadObject If-Match other: %v", err)
	}

	// response-* overrides.
	ov := must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"),
		ResponseContentType: aws.String("application/x-test"), ResponseContentDisposition: aws.String("inline"), ResponseCacheControl: aws.String("no-cache")}))
	readAll(t, ov.Body)
	if aws.ToString(ov.ContentType) != "application/x-test" || aws.ToString(ov.ContentDisposition) != "inline" || aws.ToString(ov.CacheControl) != "no-cache" {
		t.Errorf("overrides: %q %q %q", aws.ToString(ov.ContentType), aws.ToString(ov.ContentDisposition), aws.ToString(ov.CacheControl))
	}

	// Versions: "null" is the only one.
	vg := must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), VersionId: aws.String("null")}))
	readAll(t, vg.Body)
	_, err = rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), VersionId: aws.String("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")})
	wantCode(t, err, "NoSuchVersion", 404)

	// Missing objects.
	_, err = rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("nope")})
	wantCode(t, err, "NoSuchKey", 404)
	_, err = rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("nope")})
	wantCode(t, err, "NoSuchBucket", 404)
	_, err = rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("nope")})
	wantCode(t, err, "NotFound", 404)

	// Every checksum algorithm the SDK offers, in a trailer; GetObject
	// validates what comes back.
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme,
		types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
		k := "ck/" + string(alg)
		data := randBytes(uint64(len(alg)), 100_000)
		if _, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("objs"), Key: aws.String(k), Body: bytes.NewReader(data), ChecksumAlgorithm: alg}); err != nil {
			t.Errorf("PutObject with %s: %v", alg, err)
			continue
		}
		g, err := rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String(k), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Errorf("GetObject with %s: %v", alg, err)
			continue
		}
		got, err := io.ReadAll(g.Body)
		g.Body.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("GetObject with %s: %d bytes, %v", alg, len(got), err)
		}
		if g.ChecksumCRC32 == nil && g.ChecksumCRC32C == nil && g.ChecksumCRC64NVME == nil && g.ChecksumSHA1 == nil && g.ChecksumSHA256 == nil {
			t.Errorf("GetObject with %s: no checksum returned", alg)
		}
	}

	// Empty object, overwrite.
	putString(t, w, "objs", "empty", "")
	if got := getString(t, rd, "objs", "empty"); got != "" {
		t.Errorf("empty object: %q", got)
	}
	putString(t, w, "objs", "empty", "not any more")
	if got := getString(t, rd, "objs", "empty"); got != "not any more" {
		t.Errorf("overwritten object: %q", got)
	}
	ho := must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("empty")}))
	if aws.ToString(ho.ContentType) != "binary/octet-stream" && aws.ToString(ho.ContentType) != "application/octet-stream" {
		t.Errorf("default content type %q", aws.ToString(ho.ContentType))
	}

	// CopyObject, COPY: metadata comes along.
	cp, err := w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy1"), CopySource: aws.String("objs/dir/file.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if cp.CopyObjectResult == nil || aws.ToString(cp.CopyObjectResult.ETag) != etag {
		t.Errorf("CopyObject result %+v", cp.CopyObjectResult)
	}
	c1 := must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy1")}))
	if got := string(readAll(t, c1.Body)); got != body {
		t.Errorf("copy body %q", got)
	}
	check("copy (COPY)", c1.ContentType, c1.ContentEncoding, c1.CacheControl, c1.ContentDisposition, c1.ContentLanguage, c1.ExpiresString, c1.Metadata, c1.ETag, c1.LastModified, c1.ContentLength)
	// REPLACE: only the new metadata.
	_, err = w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy2"), CopySource: aws.String("objs/dir/file.txt"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("image/png"), Metadata: map[string]string{"new": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	c2 := must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy2")}))
	if aws.ToString(c2.ContentType) != "image/png" || len(c2.Metadata) != 1 || c2.Metadata["new"] != "yes" || c2.ContentEncoding != nil || c2.CacheControl != nil {
		t.Errorf("copy (REPLACE): type %q meta %v encoding %v cache %v", aws.ToString(c2.ContentType), c2.Metadata, c2.ContentEncoding, c2.CacheControl)
	}
	// To itself: only with REPLACE.
	_, err = w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy2"), CopySource: aws.String("objs/copy2")})
	wantCode(t, err, "InvalidRequest", 400)
	_, err = w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy2"), CopySource: aws.String("objs/copy2"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"newer": "1"}})
	if err != nil {
		t.Errorf("copy to itself with REPLACE: %v", err)
	}
	// Source with special characters, URL-encoded as the SDK users must.
	putString(t, w, "objs", "src key+ü", "special")
	_, err = w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy3"), CopySource: aws.String("objs/" + url.PathEscape("src key+ü"))})
	if err != nil {
		t.Fatal(err)
	}
	if got := getString(t, rd, "objs", "copy3"); got != "special" {
		t.Errorf("copy of an encoded source: %q", got)
	}
	_, err = w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy4"), CopySource: aws.String("objs/nope")})
	wantCode(t, err, "NoSuchKey", 404)
	// The copy outlives its source.
	if _, err := w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")}); err != nil {
		t.Fatal(err)
	}
	e.n.CollectGarbage()
	if got := getString(t, rd, "objs", "copy1"); got != body {
		t.Errorf("copy after its source was deleted: %q", got)
	}
	_, err = rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")})
	wantCode(t, err, "NoSuchKey", 404)
	// Deleting what does not exist succeeds.
	if _, err := w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")}); err != nil {
		t.Errorf("delete of a missing key: %v", err)
	}

	// DeleteObjects, verbose then quiet.
	for i := 0; i < 6; i++ {
		putString(t, w, "objs", fmt.Sprintf("del/%d", i), "x")
	}
	ids := func(keys ...string) []types.ObjectIdentifier {
		var out []types.ObjectIdentifier
		for _, k := range keys {
			out = append(out, types.ObjectIdentifier{Key: aws.String(k)})
		}
		return out
	}
	dv, err := w.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("objs"), Delete: &types.Delete{Objects: ids("del/0", "del/1", "del/missing")}})
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, d := range dv.Deleted {
		deleted = append(deleted, aws.ToString(d.Key))
	}
	slices.Sort(deleted)
	if !slices.Equal(deleted, []string{"del/0", "del/1", "del/missing"}) || len(dv.Errors) != 0 {
		t.Errorf("verbose DeleteObjects: deleted %v errors %+v", deleted, dv.Errors)
	}
	dq, err := w.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("objs"), Delete: &types.Delete{Objects: ids("del/2", "del/3"), Quiet: aws.Bool(true)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dq.Deleted) != 0 || len(dq.Errors) != 0 {
		t.Errorf("quiet DeleteObjects: %+v %+v", dq.Deleted, dq.Errors)
	}
	lo := must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("objs"), Prefix: aws.String("del/")}))
	if got := keysOf(lo.Contents); !slices.Equal(got, []string{"del/4", "del/5"}) {
		t.Errorf("after DeleteObjects: %v", got)
	}
	_, err = w.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("no-such-bucket"), Delete: &types.Delete{Objects: ids("a")}})
	wantCode(t, err, "NoSuchBucket", 404)
}

// TestS3Listings: ListObjects (v1), ListObjectsV2 and ListObjectVersions
// with prefix, delimiter, max-keys, paging and encoding-type=url.
func TestS3Listings(t *testing.T) {
	e := newS3Env(t)
	w, rd := e.sdkFor(e.writer), e.sdkFor(e.reader)
	mkBucket(t, w, "lst")
	keys := []string{"a/1", "a/2", "a/b/3", "b/4", "c", "d e+f", "x\x01y"}
	keys[len(keys)-1] = "x\x01y" // a control character: only encoding-type=url carries it in XML
	for _, k := range keys {
		putString(t, w, "lst", k, "v:"+k)
	}
	b := aws.String("lst")

	// V2: everything, in order.
	l2 := must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, EncodingType: types.EncodingTypeUrl}))
	var got []string
	for _, o := range l2.Contents {
		k, err := url.QueryUnescape(aws.ToString(o.Key))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, k)
		if aws.ToInt64(o.Size) != int64(len("v:"+k)) || aws.ToString(o.ETag) == "" || o.LastModified == nil {
			t.Errorf("entry %q: size %d etag %q", k, aws.ToInt64(o.Size), aws.ToString(o.ETag))
		}
	}
	if !slices.Equal(got, keys) || aws.ToInt32(l2.KeyCount) != int32(len(keys)) || aws.ToBool(l2.IsTruncated) {
		t.Fatalf("V2 all: %q count %d truncated %v", got, aws.ToInt32(l2.KeyCount), aws.ToBool(l2.IsTruncated))
	}
	if raw := aws.ToString(l2.Contents[5].Key); raw != "d%20e%2Bf" {
		t.Errorf("encoding-type=url renders %q as %q", keys[5], raw)
	}

	// Without encoding-type=url, XML 1.0 cannot carry U+0001: that key is
	// rendered with U+FFFD (what encoding-type=url exists for).
	plain := slices.Clone(keys)
	plain[6] = "x\uFFFDy"

	// V2: delimiter and prefix.
	l2 = must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, Delimiter: aws.String("/")}))
	if k, p := keysOf(l2.Contents), prefixesOf(l2.CommonPrefixes); !slices.Equal(k, plain[4:]) || !slices.Equal(p, []string{"a/", "b/"}) || aws.ToInt32(l2.KeyCount) != 5 {
		t.Errorf("V2 delimiter: %q %q %d", k, p, aws.ToInt32(l2.KeyCount))
	}
	l2 = must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("a/"), Delimiter: aws.String("/")}))
	if k, p := keysOf(l2.Contents), prefixesOf(l2.CommonPrefixes); !slices.Equal(k, []string{"a/1", "a/2"}) || !slices.Equal(p, []string{"a/b/"}) || aws.ToString(l2.Prefix) != "a/" {
		t.Errorf("V2 prefix+delimiter: %q %q", k, p)
	}
	l2 = must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("zzz")}))
	if len(l2.Contents) != 0 || aws.ToInt32(l2.KeyCount) != 0 {
		t.Errorf("V2 empty prefix: %v", keysOf(l2.Contents))
	}
	l2 = must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, StartAfter: aws.String("b/4")}))
	if k := keysOf(l2.Contents); !slices.Equal(k, plain[4:]) || aws.ToString(l2.StartAfter) != "b/4" {
		t.Errorf("V2 start-after: %q", k)
	}
	l2 = must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(0)}))
	if len(l2.Contents) != 0 {
		t.Errorf("V2 max-keys=0: %q", keysOf(l2.Contents))
	}
	// V2 paging, by hand and with the SDK's paginator, with and without a delimiter.
	for _, delim := range []string{"", "/"} {
		var pages [][]string
		in := &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(2), EncodingType: types.EncodingTypeUrl}
		if delim != "" {
			in.Delimiter = aws.String(delim)
		}
		var all []string
		pg := s3.NewListObjectsV2Paginator(rd, in)
		for pg.HasMorePages() {
			out, err := pg.NextPage(bg)
			if err != nil {
				t.Fatal(err)
			}
			var page []string
			for _, o := range out.Contents {
				k, _ := url.QueryUnescape(aws.ToString(o.Key))
				page = append(page, k)
			}
			for _, p := range out.CommonPrefixes {
				k, _ := url.QueryUnescape(aws.ToString(p.Prefix))
				page = append(page, k)
			}
			all = append(all, page...)
			pages = append(pages, page)
			if len(page) > 2 || len(pages) > 10 {
				t.Fatalf("V2 paging (delimiter %q): page %q", delim, page)
			}
		}
		want := keys
		if delim != "" {
			want = []string{"a/", "b/", "c", "d e+f", keys[6]}
		}
		slices.Sort(all)
		if !slices.Equal(all, want) {
			t.Errorf("V2 paging (delimiter %q): %q, want %q", delim, all, want)
		}
	}
	// fetch-owner.
	l2 = must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(1)}))
	if l2.Contents[0].Owner != nil {
		t.Errorf("V2 without fetch-owner: owner %+v", l2.Contents[0].Owner)
	}
	l2 = must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(1), FetchOwner: aws.Bool(true)}))
	if o := l2.Contents[0].Owner; o == nil || aws.ToString(o.ID) != e.writer.ID || aws.ToString(o.DisplayName) != "writer" {
		t.Errorf("V2 with fetch-owner: owner %+v", o)
	}
	_, err := rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, ContinuationToken: aws.String("!!not a token!!")})
	wantCode(t, err, "InvalidArgument", 400)
	_, err = rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("no-such-bucket")})
	wantCode(t, err, "NoSuchBucket", 404)

	// V1: marker paging; NextMarker only with a delimiter, else the last key.
	var all []string
	marker := ""
	for i := 0; ; i++ {
		out := must[*s3.ListObjectsOutput](t)(rd.ListObjects(bg, &s3.ListObjectsInput{Bucket: b, MaxKeys: aws.Int32(3), Marker: aws.String(marker), EncodingType: types.EncodingTypeUrl}))
		if m, _ := url.QueryUnescape(aws.ToString(out.Marker)); m != marker {
			t.Errorf("V1 marker echoed as %q", aws.ToString(out.Marker))
		}
		for _, o := range out.Contents {
			k, _ := url.QueryUnescape(aws.ToString(o.Key))
			all = append(all, k)
			if o.Owner == nil || aws.ToString(o.Owner.ID) != e.writer.ID {
				t.Errorf("V1 owner of %q: %+v", k, o.Owner)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		if len(out.Contents) != 3 || i > 5 {
			t.Fatalf("V1 page %d: %q", i, keysOf(out.Contents))
		}
		marker = all[len(all)-1]
	}
	if !slices.Equal(all, keys) {
		t.Errorf("V1 paging: %q", all)
	}
	l1 := must[*s3.ListObjectsOutput](t)(rd.ListObjects(bg, &s3.ListObjectsInput{Bucket: b, Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)}))
	if k, p := keysOf(l1.Contents), prefixesOf(l1.CommonPrefixes); len(k)+len(p) != 1 || !aws.ToBool(l1.IsTruncated) || aws.ToString(l1.NextMarker) != "a/" {
		t.Errorf("V1 delimiter page: %q %q next %q", k, p, aws.ToString(l1.NextMarker))
	}
	l1 = must[*s3.ListObjectsOutput](t)(rd.ListObjects(bg, &s3.ListObjectsInput{Bucket: b, Delimiter: aws.String("/"), Marker: aws.String("a/")}))
	if k, p := keysOf(l1.Contents), prefixesOf(l1.CommonPrefixes); !slices.Equal(k, plain[4:]) || !slices.Equal(p, []string{"b/"}) {
		t.Errorf("V1 after NextMarker a/: %q %q", k, p)
	}

	// Versions: every object is version "null"; paging by key-marker.
	var vkeys []string
	keyMarker := ""
	for i := 0; i < 10; i++ {
		out := must[*s3.ListObjectVersionsOutput](t)(rd.ListObjectVersions(bg, &s3.ListObjectVersionsInput{Bucket: b, MaxKeys: aws.Int32(4), KeyMarker: aws.String(keyMarker), EncodingType: types.EncodingTypeUrl}))
		for _, v := range out.Versions {
			if aws.ToString(v.VersionId) != "null" || !aws.ToBool(v.IsLatest) || aws.ToString(v.ETag) == "" {
				t.Errorf("version %+v", v)
			}
			k, _ := url.QueryUnescape(aws.ToString(v.Key))
			vkeys = append(vkeys, k)
		}
		if len(out.DeleteMarkers) != 0 {
			t.Errorf("delete markers: %+v", out.DeleteMarkers)
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		keyMarker, _ = url.QueryUnescape(aws.ToString(out.NextKeyMarker))
		if keyMarker == "" {
			t.Fatal("truncated version listing without NextKeyMarker")
		}
	}
	if !slices.Equal(vkeys, keys) {
		t.Errorf("versions: %q", vkeys)
	}
	// The SDK's own paginator for versions.
	n := 0
	vp := s3.NewListObjectVersionsPaginator(rd, &s3.ListObjectVersionsInput{Bucket: b, MaxKeys: aws.Int32(3)})
	for vp.HasMorePages() {
		out, err := vp.NextPage(bg)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Versions)
	}
	if n != len(keys) {
		t.Errorf("version paginator: %d versions", n)
	}
}

// TestS3Multipart: Create, UploadPart, UploadPartCopy, ListParts,
// ListMultipartUploads, Complete (and its refusals), Abort.
func TestS3Multipart(t *testing.T) {
	e := newS3Env(t)
	w, rd := e.sdkFor(e.writer), e.sdkFor(e.reader)
	mkBucket(t, w, "mpu")
	b := aws.String("mpu")
	const partSize = 5 << 20
	p1, p2 := randBytes(1, partSize), randBytes(2, partSize)
	src := randBytes(3, 6<<20)
	if _, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("src"), Body: bytes.NewReader(src)}); err != nil {
		t.Fatal(err)
	}

	create := func(key string) string {
		t.Helper()
		out, err := w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String(key), ContentType: aws.String("video/mp4"),
			Metadata: map[string]string{"m": "1"}})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.Bucket) != "mpu" || aws.ToString(out.Key) != key || aws.ToString(out.UploadId) == "" {
			t.Fatalf("CreateMultipartUpload: %+v", out)
		}
		return aws.ToString(out.UploadId)
	}
	upload := func(key, id string, n int32, data []byte) string {
		t.Helper()
		out, err := w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String(key), UploadId: aws.String(id), PartNumber: aws.Int32(n), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`"%x"`, md5Sum(data)); aws.ToString(out.ETag) != want {
			t.Errorf("part %d ETag %s, want %s", n, aws.ToString(out.ETag), want)
		}
		return aws.ToString(out.ETag)
	}
	complete := func(key, id string, parts ...types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
		return w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String(key), UploadId: aws.String(id),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	}
	part := func(n int32, etag string) types.CompletedPart {
		return types.CompletedPart{PartNumber: aws.Int32(n), ETag: aws.String(etag)}
	}

	id := create("big")
	e1 := upload("big", id, 1, p1)
	e2 := upload("big", id, 2, p2)
	cp, err := w.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id), PartNumber: aws.Int32(3),
		CopySource: aws.String("mpu/src"), CopySourceRange: aws.String("bytes=1000-1999")})
	if err != nil {
		t.Fatal(err)
	}
	e3 := aws.ToString(cp.CopyPartResult.ETag)
	if want := fmt.Sprintf(`"%x"`, md5Sum(src[1000:2000])); e3 != want {
		t.Errorf("UploadPartCopy ETag %s, want %s", e3, want)
	}
	_, err = w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String("nope"), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantCode(t, err, "NoSuchUpload", 404)
	_, err = w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("other"), UploadId: aws.String(id), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantCode(t, err, "NoSuchUpload", 404)
	_, err = w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id), PartNumber: aws.Int32(10001), Body: strings.NewReader("x")})
	wantCode(t, err, "InvalidArgument", 400)

	lp := must[*s3.ListPartsOutput](t)(w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id)}))
	if len(lp.Parts) != 3 || aws.ToString(lp.Parts[0].ETag) != e1 || aws.ToInt64(lp.Parts[1].Size) != partSize || aws.ToInt64(lp.Parts[2].Size) != 1000 ||
		aws.ToString(lp.Owner.ID) != e.writer.ID || aws.ToString(lp.Initiator.DisplayName) != "writer" {
		t.Errorf("ListParts: %+v", lp)
	}
	lp = must[*s3.ListPartsOutput](t)(w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id), MaxParts: aws.Int32(2)}))
	if len(lp.Parts) != 2 || !aws.ToBool(lp.IsTruncated) || aws.ToString(lp.NextPartNumberMarker) != "2" {
		t.Errorf("ListParts page 1: %d parts, truncated %v, next %q", len(lp.Parts), aws.ToBool(lp.IsTruncated), aws.ToString(lp.NextPartNumberMarker))
	}
	lp = must[*s3.ListPartsOutput](t)(w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id), PartNumberMarker: aws.String("2")}))
	if len(lp.Parts) != 1 || aws.ToInt32(lp.Parts[0].PartNumber) != 3 || aws.ToBool(lp.IsTruncated) {
		t.Errorf("ListParts page 2: %+v", lp.Parts)
	}

	id2 := create("other/key")
	lu := must[*s3.ListMultipartUploadsOutput](t)(w.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: b}))
	var ups []string
	for _, u := range lu.Uploads {
		ups = append(ups, aws.ToString(u.Key)+"="+aws.ToString(u.UploadId))
		if aws.ToString(u.Initiator.ID) != e.writer.ID {
			t.Errorf("upload initiator %+v", u.Initiator)
		}
	}
	if !slices.Equal(ups, []string{"big=" + id, "other/key=" + id2}) {
		t.Errorf("ListMultipartUploads: %q", ups)
	}
	lu = must[*s3.ListMultipartUploadsOutput](t)(w.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: b, Delimiter: aws.String("/")}))
	if len(lu.Uploads) != 1 || !slices.Equal(prefixesOf(lu.CommonPrefixes), []string{"other/"}) {
		t.Errorf("ListMultipartUploads with delimiter: %d uploads, prefixes %q", len(lu.Uploads), prefixesOf(lu.CommonPrefixes))
	}
	lu = must[*s3.ListMultipartUploadsOutput](t)(w.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: b, MaxUploads: aws.Int32(1)}))
	if len(lu.Uploads) != 1 || !aws.ToBool(lu.IsTruncated) || aws.ToString(lu.NextKeyMarker) != "big" {
		t.Errorf("ListMultipartUploads page 1: %d truncated %v next %q", len(lu.Uploads), aws.ToBool(lu.IsTruncated), aws.ToString(lu.NextKeyMarker))
	}
	lu = must[*s3.ListMultipartUploadsOutput](t)(w.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: b, KeyMarker: lu.NextKeyMarker, UploadIdMarker: lu.NextUploadIdMarker}))
	if len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != id2 || aws.ToBool(lu.IsTruncated) {
		t.Errorf("ListMultipartUploads page 2: %+v", lu.Uploads)
	}

	// Refusals leave the upload as it was.
	_, err = complete("big", id, part(2, e2), part(1, e1), part(3, e3))
	wantCode(t, err, "InvalidPartOrder", 400)
	_, err = complete("big", id, part(1, e1), part(2, `"00000000000000000000000000000000"`), part(3, e3))
	wantCode(t, err, "InvalidPart", 400)
	_, err = complete("big", id, part(1, e1), part(2, e2), part(4, e3))
	wantCode(t, err, "InvalidPart", 400)
	_, err = complete("big", id, part(1, e1), part(3, e3), part(2, e2))
	wantCode(t, err, "InvalidPartOrder", 400)
	_, err = complete("big", id, part(3, e3), part(1, e1))
	wantCode(t, err, "InvalidPartOrder", 400)
	// Part 3 (1000 bytes) is fine last, not before another part.
	id3 := create("small")
	s1 := upload("small", id3, 1, p1[:1000])
	s2 := upload("small", id3, 2, p2[:10])
	_, err = complete("small", id3, part(1, s1), part(2, s2))
	wantCode(t, err, "EntityTooSmall", 400)
	_, err = rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("big")})
	wantCode(t, err, "NotFound", 404)
	if lp := must[*s3.ListPartsOutput](t)(w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id)})); len(lp.Parts) != 3 {
		t.Fatalf("parts after refused completions: %d", len(lp.Parts))
	}

	// Completion: any subset in ascending order.
	done, err := complete("big", id, part(1, e1), part(2, e2), part(3, e3))
	if err != nil {
		t.Fatal(err)
	}
	if et := aws.ToString(done.ETag); !strings.HasSuffix(et, `-3"`) || aws.ToString(done.Key) != "big" || aws.ToString(done.Bucket) != "mpu" {
		t.Errorf("CompleteMultipartUpload: %+v", done)
	}
	want := slices.Concat(p1, p2, src[1000:2000])
	g := must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("big")}))
	if got := readAll(t, g.Body); !bytes.Equal(got, want) {
		t.Fatalf("completed object: %d bytes, want %d (equal prefix: %v)", len(got), len(want), bytes.Equal(got[:min(len(got), partSize)], p1))
	}
	if aws.ToString(g.ETag) != aws.ToString(done.ETag) || aws.ToString(g.ContentType) != "video/mp4" || g.Metadata["m"] != "1" {
		t.Errorf("completed object headers: etag %s type %s meta %v", aws.ToString(g.ETag), aws.ToString(g.ContentType), g.Metadata)
	}
	// A range across the part boundary, and part 2 by number.
	g = must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("big"), Range: aws.String(fmt.Sprintf("bytes=%d-%d", partSize-10, partSize+9))}))
	if got := readAll(t, g.Body); !bytes.Equal(got, want[partSize-10:partSize+10]) {
		t.Errorf("range across parts differs")
	}
	g = must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("big"), PartNumber: aws.Int32(2)}))
	if got := readAll(t, g.Body); !bytes.Equal(got, p2) || aws.ToInt32(g.PartsCount) != 3 {
		t.Errorf("part 2 by number: %d bytes, parts count %d", len(got), aws.ToInt32(g.PartsCount))
	}
	_, err = w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id)})
	wantCode(t, err, "NoSuchUpload", 404)
	_, err = complete("big", id, part(1, e1))
	wantCode(t, err, "NoSuchUpload", 404)

	// Abort.
	if _, err := w.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("other/key"), UploadId: aws.String(id2)}); err != nil {
		t.Fatal(err)
	}
	_, err = w.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("other/key"), UploadId: aws.String(id2)})
	wantCode(t, err, "NoSuchUpload", 404)
	if _, err := w.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("small"), UploadId: aws.String(id3)}); err != nil {
		t.Fatal(err)
	}
	lu = must[*s3.ListMultipartUploadsOutput](t)(w.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: b}))
	if len(lu.Uploads) != 0 {
		t.Errorf("uploads left: %+v", lu.Uploads)
	}

	// With CRC32 checksums throughout, as the aws cli and the SDK's upload
	// manager do: the parts' checksums are listed and go into Complete.
	cu := must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("crc"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}))
	if cu.ChecksumAlgorithm != types.ChecksumAlgorithmCrc32 {
		t.Errorf("CreateMultipartUpload checksum algorithm %q", cu.ChecksumAlgorithm)
	}
	var cparts []types.CompletedPart
	for i, data := range [][]byte{p1, p2[:1234]} {
		n := int32(i + 1)
		out, err := w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("crc"), UploadId: cu.UploadId, PartNumber: aws.Int32(n),
			Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		if err != nil {
			t.Fatal(err)
		}
		if out.ChecksumCRC32 == nil {
			t.Errorf("part %d: no CRC32 in the answer", n)
		}
		cparts = append(cparts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
	}
	lp = must[*s3.ListPartsOutput](t)(w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("crc"), UploadId: cu.UploadId}))
	for i, p := range lp.Parts {
		if aws.ToString(p.ChecksumCRC32) != aws.ToString(cparts[i].ChecksumCRC32) {
			t.Errorf("ListParts part %d CRC32 %q, upload said %q", i+1, aws.ToString(p.ChecksumCRC32), aws.ToString(cparts[i].ChecksumCRC32))
		}
	}
	bad := slices.Clone(cparts)
	bad[0].ChecksumCRC32 = aws.String("AAAAAA==")
	_, err = w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("crc"), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: bad}})
	wantCode(t, err, "InvalidPart", 400)
	if _, err := w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("crc"), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cparts}}); err != nil {
		t.Fatal(err)
	}
	g = must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("crc")}))
	if got := readAll(t, g.Body); !bytes.Equal(got, slices.Concat(p1, p2[:1234])) {
		t.Errorf("CRC32 multipart object differs (%d bytes)", len(got))
	}
	_, err = rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("other/key")})
	wantCode(t, err, "NotFound", 404)
}

// TestS3KeysRoundTrip: keys are data, never paths: each comes back exactly,
// in GET, HEAD, listings and copies, and nothing named after one appears on
// disk.
func TestS3KeysRoundTrip(t *testing.T) {
	e := newS3Env(t)
	w, rd := e.sdkFor(e.writer), e.sdkFor(e.reader)
	mkBucket(t, w, "keys")
	b := aws.String("keys")
	long := strings.Repeat("k", 1024)
	longUTF8 := strings.Repeat("ü", 512) // 1024 bytes
	keys := []string{"../x", "../../../../../../../../tmp/s4-escape", "a//b", "/lead", "dir with space/a+b=c~d%e ü&x.txt", "%2F", "+", "a b", "?q=1&r#frag",
		"日本語/キー", "emoji 😀", "./.", "..", "trailing/", "semi;colon", "tab\tkey", "x-id=PutObject", long, longUTF8}
	for i, k := range keys {
		body := fmt.Sprintf("body %d", i)
		if _, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader(body)}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		if got := getString(t, rd, "keys", k); got != body {
			t.Errorf("get %q: %q, want %q", k, got, body)
		}
		if _, err := rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String(k)}); err != nil {
			t.Errorf("head %q: %v", k, err)
		}
	}
	var listed []string
	pg := s3.NewListObjectsV2Paginator(rd, &s3.ListObjectsV2Input{Bucket: b, EncodingType: types.EncodingTypeUrl, MaxKeys: aws.Int32(7)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(bg)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			k, err := url.QueryUnescape(aws.ToString(o.Key))
			if err != nil {
				t.Fatal(err)
			}
			listed = append(listed, k)
		}
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("listed keys:\n%q\nwant\n%q", listed, want)
	}
	// Keys that differ only where a path would be normalised are distinct.
	for _, k := range []string{"a/b", "x", "tmp/s4-escape"} {
		_, err := rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String(k)})
		wantCode(t, err, "NotFound", 404)
	}
	// Copy with an encoded source key.
	for _, k := range []string{"../x", "dir with space/a+b=c~d%e ü&x.txt", "%2F", "+"} {
		dst := "copy of " + k
		if _, err := w.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String(dst), CopySource: aws.String("keys/" + url.PathEscape(k))}); err != nil {
			t.Errorf("copy %q: %v", k, err)
			continue
		}
		if got, want := getString(t, rd, "keys", dst), getString(t, rd, "keys", k); got != want {
			t.Errorf("copy of %q: %q, want %q", k, got, want)
		}
	}
	// Past 1024 bytes.
	for _, k := range []string{long + "k", longUTF8 + "k"} {
		_, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader("x")})
		wantCode(t, err, "KeyTooLongError", 400)
		_, err = rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String(k)})
		wantCode(t, err, "KeyTooLongError", 400)
	}
	// Delete a few by DeleteObjects, the rest one by one.
	dv, err := w.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("../x")}, {Key: aws.String("a//b")}, {Key: aws.String(long + "k")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dv.Deleted) != 2 || len(dv.Errors) != 1 || aws.ToString(dv.Errors[0].Code) != "KeyTooLongError" {
		t.Errorf("DeleteObjects: deleted %+v errors %+v", dv.Deleted, dv.Errors)
	}
	_, err = rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("a//b")})
	wantCode(t, err, "NotFound", 404)
	if _, err := w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("%2F")}); err != nil {
		t.Fatal(err)
	}
	if got := getString(t, rd, "keys", "+"); got == "" {
		t.Error("deleting %2F touched +")
	}

	// Nothing on disk is named after a key: blobs are stored by digest.
	root := filepath.Dir(e.n.cfg.DataDir)
	names := map[string]bool{}
	for _, k := range keys {
		for _, part := range strings.Split(k, "/") {
			if part != "" && part != "." && part != ".." && part != "tmp" {
				names[part] = true
			}
		}
	}
	blobs := filepath.Join(e.n.cfg.DataDir, "blobs")
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if names[d.Name()] {
			t.Errorf("%s is named after an object key", path)
		}
		if !strings.HasPrefix(path, e.n.cfg.DataDir) && path != root {
			t.Errorf("%s: outside the node's data dir", path)
		}
		if rel, err := filepath.Rel(blobs, path); err == nil && !strings.HasPrefix(rel, "..") && !d.IsDir() {
			files++
			if _, err := hex.DecodeString(d.Name()); err != nil || len(d.Name()) != 64 {
				t.Errorf("blob file %s is not named by its digest", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < len(keys) {
		t.Errorf("only %d blob files for %d objects", files, len(keys))
	}
	if _, err := os.Stat("/tmp/s4-escape"); err == nil {
		t.Error("/tmp/s4-escape exists")
	}
}

// TestS3Roles: what each role may do, and how revocation, regeneration,
// deactivation, demotion and deletion take effect on the very next request.
func TestS3Roles(t *testing.T) {
	e := newS3Env(t)
	w, rd, su := e.sdkFor(e.writer), e.sdkFor(e.reader), e.sdkFor(e.super)
	mkBucket(t, w, "roles")
	b := aws.String("roles")
	putString(t, w, "roles", "obj", "data")

	// Reader reads.
	must[*s3.ListBucketsOutput](t)(rd.ListBuckets(bg, &s3.ListBucketsInput{}))
	must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b}))
	must[*s3.ListObjectsOutput](t)(rd.ListObjects(bg, &s3.ListObjectsInput{Bucket: b}))
	must[*s3.HeadBucketOutput](t)(rd.HeadBucket(bg, &s3.HeadBucketInput{Bucket: b}))
	must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("obj")}))
	must[*s3.GetBucketLocationOutput](t)(rd.GetBucketLocation(bg, &s3.GetBucketLocationInput{Bucket: b}))
	if got := getString(t, rd, "roles", "obj"); got != "data" {
		t.Fatalf("reader get: %q", got)
	}
	// ... and nothing else.
	denied := map[string]func(c *s3.Client) error{
		"PutObject": func(c *s3.Client) error {
			_, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("new"), Body: strings.NewReader("x")})
			return err
		},
		"DeleteObject": func(c *s3.Client) error {
			_, err := c.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("obj")})
			return err
		},
		"DeleteObjects": func(c *s3.Client) error {
			_, err := c.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("obj")}}}})
			return err
		},
		"CopyObject": func(c *s3.Client) error {
			_, err := c.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("roles/obj")})
			return err
		},
		"CreateBucket": func(c *s3.Client) error {
			_, err := c.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("reader-bucket")})
			return err
		},
		"DeleteBucket": func(c *s3.Client) error {
			_, err := c.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: b})
			return err
		},
		"CreateMultipartUpload": func(c *s3.Client) error {
			_, err := c.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp")})
			return err
		},
		"ListMultipartUploads": func(c *s3.Client) error {
			_, err := c.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: b})
			return err
		},
		"PutBucketAcl": func(c *s3.Client) error {
			_, err := c.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: b, ACL: types.BucketCannedACLPrivate})
			return err
		},
	}
	for name, fn := range denied {
		if err := fn(rd); err == nil {
			t.Errorf("Reader %s succeeded", name)
		} else if c, st := apiCode(err); c != "AccessDenied" || st != 403 {
			t.Errorf("Reader %s: %s %d, want AccessDenied 403", name, c, st)
		}
	}
	// A refused body the client sends whole (no 100-continue wait): the
	// answer is AccessDenied, not a reset connection.
	_, err := rd.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("big"), Body: randReader(7, 8<<20), ContentLength: aws.Int64(8 << 20)})
	wantCode(t, err, "AccessDenied", 403)
	// Writer-only multipart steps, with a real upload id.
	up := must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp")}))
	_, err = rd.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: randReader(8, 6<<20), ContentLength: aws.Int64(6 << 20)})
	wantCode(t, err, "AccessDenied", 403)
	_, err = rd.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId})
	wantCode(t, err, "AccessDenied", 403)
	_, err = rd.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"x"`)}}}})
	wantCode(t, err, "AccessDenied", 403)
	if got := getString(t, rd, "roles", "obj"); got != "data" {
		t.Fatalf("after the reader's refused writes: %q", got)
	}
	// Writer and SuperUser write.
	for _, c := range []*s3.Client{w, su} {
		putString(t, c, "roles", "new", "x")
		must[*s3.CopyObjectOutput](t)(c.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("roles/obj")}))
		must[*s3.DeleteObjectOutput](t)(c.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("new")}))
		must[*s3.ListMultipartUploadsOutput](t)(c.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: b}))
	}
	mkBucket(t, su, "super-bucket")

	// A wrong secret.
	bad := []byte(e.writer.SecretKey)
	bad[len(bad)-1] ^= 1
	_, err = e.sdk(e.writer.AccessKey, string(bad)).ListBuckets(bg, &s3.ListBucketsInput{})
	wantCode(t, err, "SignatureDoesNotMatch", 403)
	_, err = e.sdk(e.writer.AccessKey, string(bad)).PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("obj"), Body: strings.NewReader("overwritten")})
	wantCode(t, err, "SignatureDoesNotMatch", 403)
	// An unknown key.
	_, err = e.sdk("S4AKNOSUCHKEY00000000000", "secret").ListBuckets(bg, &s3.ListBucketsInput{})
	wantCode(t, err, "InvalidAccessKeyId", 403)
	// Anonymous.
	for _, path := range []string{"/", "/roles", "/roles/obj"} {
		resp := must[*http.Response](t)(e.http.Get(e.endpoint + path))
		body := readAll(t, resp.Body)
		if resp.StatusCode != 403 || !bytes.Contains(body, []byte("<Code>AccessDenied</Code>")) {
			t.Errorf("anonymous GET %s: %d %s", path, resp.StatusCode, body)
		}
	}

	adm := e.adminAs(t)
	writes := func(c *s3.Client) error {
		_, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("w"), Body: strings.NewReader("x")})
		return err
	}
	// Regenerate: the old key is gone at once, the new one works at once.
	oldW := w
	ak, sk := e.issue(t, e.writer.ID)
	newW := e.sdk(ak, sk)
	wantCode(t, writes(oldW), "InvalidAccessKeyId", 403)
	if err := writes(newW); err != nil {
		t.Fatalf("regenerated key: %v", err)
	}
	// Demote to Reader, promote back.
	if code := adm.do("PUT", "/api/admin/users/"+e.writer.ID, map[string]string{"role": "Reader"}, nil); code != 200 {
		t.Fatalf("demote: %d", code)
	}
	wantCode(t, writes(newW), "AccessDenied", 403)
	if got := getString(t, newW, "roles", "obj"); got != "data" {
		t.Errorf("demoted user reads %q", got)
	}
	if code := adm.do("PUT", "/api/admin/users/"+e.writer.ID, map[string]string{"role": "Writer"}, nil); code != 200 {
		t.Fatalf("promote: %d", code)
	}
	if err := writes(newW); err != nil {
		t.Fatalf("promoted back: %v", err)
	}
	// Deactivate: AccessDenied, for reads too; reactivate: the key works again.
	if code := adm.do("PUT", "/api/admin/users/"+e.writer.ID, map[string]any{"is_active": false}, nil); code != 200 {
		t.Fatalf("deactivate: %d", code)
	}
	wantCode(t, writes(newW), "AccessDenied", 403)
	_, err = newW.ListBuckets(bg, &s3.ListBucketsInput{})
	wantCode(t, err, "AccessDenied", 403)
	if code := adm.do("PUT", "/api/admin/users/"+e.writer.ID, map[string]any{"is_active": true}, nil); code != 200 {
		t.Fatalf("reactivate: %d", code)
	}
	if err := writes(newW); err != nil {
		t.Fatalf("reactivated: %v", err)
	}
	// Revoke: InvalidAccessKeyId at once.
	if code := adm.do("DELETE", "/api/admin/users/"+e.writer.ID+"/credentials", nil, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	wantCode(t, writes(newW), "InvalidAccessKeyId", 403)
	_, err = newW.ListBuckets(bg, &s3.ListBucketsInput{})
	wantCode(t, err, "InvalidAccessKeyId", 403)
	// Delete the reader: its key is gone.
	if code := adm.do("DELETE", "/api/admin/users/"+e.reader.ID, nil, nil); code != 204 {
		t.Fatalf("delete user: %d", code)
	}
	_, err = rd.ListBuckets(bg, &s3.ListBucketsInput{})
	wantCode(t, err, "InvalidAccessKeyId", 403)
	// The SuperUser is untouched by all this.
	if got := getString(t, su, "roles", "w"); got != "x" {
		t.Errorf("super get: %q", got)
	}
}

// TestS3Presigned: presigned GET and PUT from aws-sdk-go-v2 work with a
// plain net/http client; an expired URL is refused.
func TestS3Presigned(t *testing.T) {
	e := newS3Env(t)
	w := e.sdkFor(e.writer)
	mkBucket(t, w, "pre")
	ps := s3.NewPresignClient(w)
	key := "dir with space/a+b ü.txt"

	put, err := ps.PresignPutObject(bg, &s3.PutObjectInput{Bucket: aws.String("pre"), Key: aws.String(key), ContentType: aws.String("text/plain")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, strings.NewReader("presigned body"))
	for k, vs := range put.SignedHeader {
		if !strings.EqualFold(k, "host") {
			req.Header[k] = vs
		}
	}
	resp := must[*http.Response](t)(e.http.Do(req))
	if b := readAll(t, resp.Body); resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d %s", resp.StatusCode, b)
	}
	if h := must[*s3.HeadObjectOutput](t)(w.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("pre"), Key: aws.String(key)})); aws.ToString(h.ContentType) != "text/plain" {
		t.Errorf("presigned PUT content type %q", aws.ToString(h.ContentType))
	}

	get, err := ps.PresignGetObject(bg, &s3.GetObjectInput{Bucket: aws.String("pre"), Key: aws.String(key)}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp = must[*http.Response](t)(e.http.Get(get.URL))
	if b := readAll(t, resp.Body); resp.StatusCode != 200 || string(b) != "presigned body" {
		t.Fatalf("presigned GET: %d %s", resp.StatusCode, b)
	}
	// A tampered URL.
	resp = must[*http.Response](t)(e.http.Get(strings.Replace(get.URL, "X-Amz-Expires=60", "X-Amz-Expires=61", 1)))
	if b := readAll(t, resp.Body); resp.StatusCode != 403 || !bytes.Contains(b, []byte("SignatureDoesNotMatch")) {
		t.Errorf("tampered URL: %d %s", resp.StatusCode, b)
	}

	// Expired: signed an hour ago, valid for a minute.
	past := s3.NewPresignClient(w, func(o *s3.PresignOptions) { o.Presigner = pastSigner{v4.NewSigner(), time.Hour} })
	for _, op := range []string{"GET", "PUT"} {
		var pr *v4.PresignedHTTPRequest
		if op == "GET" {
			pr, err = past.PresignGetObject(bg, &s3.GetObjectInput{Bucket: aws.String("pre"), Key: aws.String(key)}, s3.WithPresignExpires(time.Minute))
		} else {
			pr, err = past.PresignPutObject(bg, &s3.PutObjectInput{Bucket: aws.String("pre"), Key: aws.String(key)}, s3.WithPresignExpires(time.Minute))
		}
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(op, pr.URL, strings.NewReader("overwritten?"))
		resp := must[*http.Response](t)(e.http.Do(req))
		if b := readAll(t, resp.Body); resp.StatusCode != 403 || !bytes.Contains(b, []byte("<Code>AccessDenied</Code>")) || !bytes.Contains(b, []byte("expired")) {
			t.Errorf("expired presigned %s: %d %s", op, resp.StatusCode, b)
		}
	}
	if got := getString(t, w, "pre", key); got != "presigned body" {
		t.Errorf("after the expired PUT: %q", got)
	}
	// And one that expires while we wait: X-Amz-Expires=1.
	short, err := ps.PresignGetObject(bg, &s3.GetObjectInput{Bucket: aws.String("pre"), Key: aws.String(key)}, s3.WithPresignExpires(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := must[*http.Response](t)(e.http.Get(short.URL))
		b := readAll(t, resp.Body)
		if resp.StatusCode == 403 {
			if !bytes.Contains(b, []byte("<Code>AccessDenied</Code>")) {
				t.Errorf("expired: %s", b)
			}
			break
		}
		if resp.StatusCode != 200 || time.Now().After(deadline) {
			t.Fatalf("short-lived URL: %d %s", resp.StatusCode, b)
		}
		time.Sleep(100 * time.Millisecond) // polling the condition, bounded by deadline
	}
}

// pastSigner presigns as if the time were ago earlier.
type pastSigner struct {
	s   *v4.Signer
	ago time.Duration
}

func (p pastSigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, at time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return p.s.PresignHTTP(ctx, creds, r, payloadHash, service, region, at.Add(-p.ago), optFns...)
}

// TestS3BadInput: malformed and oversize XML, bad ranges, unsupported
// sub-resources and HEAD errors get S3's error, and change nothing.
func TestS3BadInput(t *testing.T) {
	e := newS3Env(t)
	w, rd := e.sdkFor(e.writer), e.sdkFor(e.reader)
	mkBucket(t, w, "bad")
	b := aws.String("bad")
	const body = "0123456789"
	putString(t, w, "bad", "a", body)
	putString(t, w, "bad", "b", body)

	xmlErr := func(what string, resp *http.Response, got []byte, code string, status int) {
		t.Helper()
		if resp.StatusCode != status || !bytes.Contains(got, []byte("<Code>"+code+"</Code>")) {
			t.Errorf("%s: %d %s, want %d %s", what, resp.StatusCode, got, status, code)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "xml") {
			t.Errorf("%s: Content-Type %q", what, ct)
		}
	}
	objectsLeft := func() []string {
		t.Helper()
		out := must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b}))
		return keysOf(out.Contents)
	}

	// DeleteObjects.
	for _, x := range []string{
		"<Delete><Object><Key>a</Key></Object>",
		"<Delete><Object><Key>a</Key></Object></Delete>trailing<",
		"not xml at all",
		"<Delete></Delete>",
		"<Delete><Object><Key>a</Key></Object><Object></Object></Delete>",
		"<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>",
		"<Other><Object><Key>a</Key></Object></Other>",
		`<!DOCTYPE d [<!ENTITY e "a">]><Delete><Object><Key>&e;</Key></Object></Delete>`,
	} {
		resp, got := e.signed(t, e.writer, "POST", "/bad?delete", []byte(x), nil)
		xmlErr("DeleteObjects "+x, resp, got, "MalformedXML", 400)
	}
	if k := objectsLeft(); !slices.Equal(k, []string{"a", "b"}) {
		t.Fatalf("objects after malformed DeleteObjects: %q", k)
	}
	// 1001 keys.
	var many strings.Builder
	many.WriteString("<Delete>")
	for i := 0; i <= 1000; i++ {
		fmt.Fprintf(&many, "<Object><Key>%d</Key></Object>", i)
	}
	many.WriteString("<Object><Key>a</Key></Object></Delete>")
	resp, got := e.signed(t, e.writer, "POST", "/bad?delete", []byte(many.String()), nil)
	xmlErr("DeleteObjects of 1002 keys", resp, got, "MalformedXML", 400)
	// Over the size limit: a valid document padded with whitespace.
	pad := strings.Repeat(" ", 3<<20)
	resp, got = e.signed(t, e.writer, "POST", "/bad?delete", []byte("<Delete>"+pad+"<Object><Key>a</Key></Object></Delete>"), nil)
	xmlErr("DeleteObjects of 3 MiB", resp, got, "MaxMessageLengthExceeded", 400)
	if k := objectsLeft(); !slices.Equal(k, []string{"a", "b"}) {
		t.Fatalf("objects after refused DeleteObjects: %q", k)
	}

	// CompleteMultipartUpload.
	up := must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp")}))
	pt := must[*s3.UploadPartOutput](t)(w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader(body)}))
	cpath := "/bad/mp?uploadId=" + aws.ToString(up.UploadId)
	good := fmt.Sprintf("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>", aws.ToString(pt.ETag))
	for _, x := range []string{
		good[:len(good)-10],
		"<CompleteMultipartUpload></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
		"",
	} {
		resp, got := e.signed(t, e.writer, "POST", cpath, []byte(x), nil)
		xmlErr(fmt.Sprintf("Complete %q", x), resp, got, "MalformedXML", 400)
	}
	resp, got = e.signed(t, e.writer, "POST", cpath, []byte("<CompleteMultipartUpload>"+strings.Repeat(" ", 5<<20)+good[len("<CompleteMultipartUpload>"):]), nil)
	xmlErr("Complete of 5 MiB", resp, got, "MaxMessageLengthExceeded", 400)
	if lp := must[*s3.ListPartsOutput](t)(w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId})); len(lp.Parts) != 1 {
		t.Fatalf("parts after malformed completions: %d", len(lp.Parts))
	}
	_, err := rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("mp")})
	wantCode(t, err, "NotFound", 404)
	resp, got = e.signed(t, e.writer, "POST", cpath, []byte(good), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("the good completion after the bad ones: %d %s", resp.StatusCode, got)
	}
	if g := getString(t, rd, "bad", "mp"); g != body {
		t.Errorf("completed: %q", g)
	}

	// CreateBucket and PutBucketAcl bodies: 1 MiB at most.
	resp, got = e.signed(t, e.writer, "PUT", "/bad-big", []byte("<CreateBucketConfiguration>"+strings.Repeat(" ", 1<<20)+"</CreateBucketConfiguration>"), nil)
	xmlErr("CreateBucket of 1 MiB", resp, got, "MaxMessageLengthExceeded", 400)
	resp, got = e.signed(t, e.writer, "PUT", "/bad-big", []byte("<CreateBucketConfiguration><LocationConstraint>"), nil)
	xmlErr("CreateBucket malformed", resp, got, "MalformedXML", 400)
	_, err = rd.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("bad-big")})
	wantCode(t, err, "NotFound", 404)
	resp, got = e.signed(t, e.writer, "PUT", "/bad?acl", []byte("<AccessControlPolicy>"+strings.Repeat(" ", 1<<20)+"</AccessControlPolicy>"), nil)
	xmlErr("PutBucketAcl of 1 MiB", resp, got, "MaxMessageLengthExceeded", 400)

	// Bodies that do not match what the client declared: nothing stored.
	resp, got = e.signed(t, e.writer, "PUT", "/bad/a", []byte("other"), map[string]string{"x-amz-checksum-crc32": "AAAAAA=="})
	xmlErr("PUT with a wrong CRC32", resp, got, "BadDigest", 400)
	resp, got = e.signed(t, e.writer, "PUT", "/bad/a", []byte("other"), map[string]string{"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="})
	xmlErr("PUT with a wrong Content-MD5", resp, got, "BadDigest", 400)
	resp, got = e.signed(t, e.writer, "PUT", "/bad/a", []byte("other"), map[string]string{"x-amz-checksum-crc32": "not base64"})
	if resp.StatusCode != 400 {
		t.Errorf("PUT with an invalid CRC32: %d %s", resp.StatusCode, got)
	}
	if g := getString(t, rd, "bad", "a"); g != body {
		t.Fatalf("object after refused PUTs: %q", g)
	}

	// Range.
	for _, r := range []string{"bytes=10-20", "bytes=100-", "bytes=20-30"} {
		_, err := rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("a"), Range: aws.String(r)})
		wantCode(t, err, "InvalidRange", 416)
	}
	resp, got = e.signed(t, e.reader, "GET", "/bad/a", nil, map[string]string{"Range": "bytes=10-"})
	xmlErr("Range past the end", resp, got, "InvalidRange", 416)
	if cr := resp.Header.Get("Content-Range"); cr != "bytes */10" {
		t.Errorf("416 Content-Range %q", cr)
	}
	// A Range S3 ignores (syntactically invalid): the whole object.
	resp, got = e.signed(t, e.reader, "GET", "/bad/a", nil, map[string]string{"Range": "bytes=5-2"})
	if resp.StatusCode != 200 || string(got) != body {
		t.Errorf("invalid Range syntax: %d %q", resp.StatusCode, got)
	}

	// Unsupported sub-resources.
	_, err = rd.GetBucketPolicy(bg, &s3.GetBucketPolicyInput{Bucket: b})
	wantCode(t, err, "NotImplemented", 501)
	_, err = w.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	wantCode(t, err, "NotImplemented", 501)
	_, err = w.DeleteBucketPolicy(bg, &s3.DeleteBucketPolicyInput{Bucket: b})
	wantCode(t, err, "NotImplemented", 501)
	_, err = rd.GetBucketCors(bg, &s3.GetBucketCorsInput{Bucket: b})
	wantCode(t, err, "NotImplemented", 501)
	_, err = w.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("a"), Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
	wantCode(t, err, "NotImplemented", 501)
	_, err = rd.GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("a")})
	wantCode(t, err, "NotImplemented", 501)
	resp, got = e.signed(t, e.writer, "DELETE", "/bad/a?tagging", nil, nil)
	xmlErr("DELETE ?tagging", resp, got, "NotImplemented", 501)
	resp, got = e.signed(t, e.writer, "POST", "/bad/a?restore", []byte("<RestoreRequest/>"), nil)
	xmlErr("POST ?restore", resp, got, "NotImplemented", 501)
	if g := getString(t, rd, "bad", "a"); g != body {
		t.Fatalf("object after unsupported requests: %q", g)
	}
	// GetBucketVersioning is answered (never enabled).
	v := must[*s3.GetBucketVersioningOutput](t)(rd.GetBucketVersioning(bg, &s3.GetBucketVersioningInput{Bucket: b}))
	if v.Status != "" {
		t.Errorf("versioning status %q", v.Status)
	}
	_, err = w.PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: b, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	wantCode(t, err, "NotImplemented", 501)

	// HEAD errors: a status, headers, no body at all on the wire.
	for _, c := range []struct {
		path, accessKey string
		status          int
	}{
		{"/bad/missing", e.reader.AccessKey, 404},
		{"/no-such-bucket", e.reader.AccessKey, 404},
		{"/bad/a", "S4AKNOSUCHKEY00000000000", 403},
	} {
		raw := e.rawHEAD(t, c.path, s3User{AccessKey: c.accessKey, SecretKey: e.reader.SecretKey})
		head, rest, ok := strings.Cut(raw, "\r\n\r\n")
		if !ok || !strings.HasPrefix(head, fmt.Sprintf("HTTP/1.1 %d ", c.status)) || rest != "" {
			t.Errorf("HEAD %s: %q", c.path, raw)
		}
	}
}

// rawHEAD sends a signed HEAD over its own TLS connection and returns every
// byte the server sent until it closed the connection.
func (e *s3Env) rawHEAD(t *testing.T, path string, u s3User) string {
	t.Helper()
	req, _ := http.NewRequest("HEAD", e.endpoint+path, nil)
	req.Close = true
	const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	req.Header.Set("X-Amz-Content-Sha256", empty)
	if err := v4.NewSigner().SignHTTP(bg, aws.Credentials{AccessKeyID: u.AccessKey, SecretAccessKey: u.SecretKey}, req, empty, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", req.URL.Host, e.tls)
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

// TestS3UploadHeap1GiB: a 1 GiB PutObject streams through the node: the
// process's heap (client and node share it) grows by less than 64 MiB, at
// its peak during the upload and after it.
func TestS3UploadHeap1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB upload: skipped with -short")
	}
	e := newS3Env(t)
	w := e.sdkFor(e.writer)
	mkBucket(t, w, "heap")
	const size = 1 << 30
	const limit = 64 << 20

	heapInuse := func() int64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapInuse)
	}
	// Collect often during the upload (at 10 % growth instead of 100 %):
	// the peak then shows what the upload keeps, not how much garbage the
	// client and server made between two collections, which depends on
	// the heap the earlier tests of this process left.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	base := heapInuse()
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if h := heapInuse(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	h := md5.New()
	start := time.Now()
	out, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("heap"), Key: aws.String("1GiB"),
		Body: io.TeeReader(randReader(1, size), h), ContentLength: aws.Int64(size)})
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	after := heapInuse()
	t.Logf("1 GiB PutObject in %v (%.0f MiB/s); heap in use: %d MiB before, peak +%d MiB, +%d MiB after",
		elapsed, float64(size>>20)/elapsed.Seconds(), base>>20, (peak.Load()-base)>>20, (after-base)>>20)
	if want := fmt.Sprintf(`"%x"`, h.Sum(nil)); aws.ToString(out.ETag) != want {
		t.Errorf("ETag %s, want the MD5 of what was sent %s", aws.ToString(out.ETag), want)
	}
	if d := peak.Load() - base; d >= limit {
		t.Errorf("heap in use grew by %d MiB during the upload (limit %d MiB)", d>>20, limit>>20)
	}
	if d := after - base; d >= limit {
		t.Errorf("heap in use grew by %d MiB after the upload (limit %d MiB)", d>>20, limit>>20)
	}
	hd := must[*s3.HeadObjectOutput](t)(w.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("heap"), Key: aws.String("1GiB")}))
	if aws.ToInt64(hd.ContentLength) != size {
		t.Errorf("stored size %d", aws.ToInt64(hd.ContentLength))
	}
}

func md5Sum(b []byte) [16]byte { return md5.Sum(b) }
