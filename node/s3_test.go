package node

// End-to-end tests of the S3 API through a real node over HTTPS, with
// aws-sdk-go-v2 (minio-go in s3_minio_test.go): what the node adds to the
// handler (the admin API's credentials and roles taking effect at once,
// its HTTPS listener streaming bodies, its garbage collector). The S3
// behaviour itself is tested in package s3, against the handler alone.

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"net/http"
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
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestS3NodeFlow: the usual aws-sdk-go-v2 flow through a real node:
// create a bucket, put (a streamed body with the SDK's checksum trailer),
// get, head, list, copy; delete the source and let the node's garbage
// collector run: the copy, which shares the source's blob, still reads
// back; then empty and delete the bucket.
func TestS3NodeFlow(t *testing.T) {
	e := newS3Env(t)
	w, rd := e.sdkFor(e.writer), e.sdkFor(e.reader)
	mkBucket(t, w, "flow")
	data := randBytes(11, 3<<20)
	put, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("flow"), Key: aws.String("a/src"),
		Body: randReader(11, int64(len(data))), ContentLength: aws.Int64(int64(len(data)))})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"%x"`, md5.Sum(data)); aws.ToString(put.ETag) != want {
		t.Errorf("PutObject ETag %s, want %s", aws.ToString(put.ETag), want)
	}
	g := must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("flow"), Key: aws.String("a/src")}))
	if got := readAll(t, g.Body); !bytes.Equal(got, data) {
		t.Fatalf("GetObject: %d bytes differ from the %d put", len(got), len(data))
	}
	hd := must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("flow"), Key: aws.String("a/src")}))
	if aws.ToInt64(hd.ContentLength) != int64(len(data)) || aws.ToString(hd.ETag) != aws.ToString(put.ETag) {
		t.Errorf("HeadObject: %d bytes, ETag %s", aws.ToInt64(hd.ContentLength), aws.ToString(hd.ETag))
	}
	must[*s3.CopyObjectOutput](t)(w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("flow"), Key: aws.String("b/copy"), CopySource: aws.String("flow/a/src")}))
	ls := must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("flow")}))
	if got := keysOf(ls.Contents); !slices.Equal(got, []string{"a/src", "b/copy"}) {
		t.Errorf("ListObjectsV2: %q", got)
	}
	sum := blobOf(t, e.n, "flow", "b/copy")
	if src := blobOf(t, e.n, "flow", "a/src"); src != sum {
		t.Fatalf("the copy references blob %x, its source %x: a copy shares its source's blob", sum[:8], src[:8])
	}
	must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("flow"), Key: aws.String("a/src")}))
	e.n.CollectGarbage()
	if !e.n.Blobs().Has(sum) {
		t.Fatal("the collector removed the blob the copy still uses")
	}
	g = must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("flow"), Key: aws.String("b/copy")}))
	if got := readAll(t, g.Body); !bytes.Equal(got, data) {
		t.Fatalf("the copy after its source was deleted: %d bytes", len(got))
	}
	_, err = w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("flow")})
	wantCode(t, err, "BucketNotEmpty", 409)
	must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("flow"), Key: aws.String("b/copy")}))
	must[*s3.DeleteBucketOutput](t)(w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("flow")}))
	e.n.CollectGarbage()
	if e.n.Blobs().Has(sum) {
		t.Error("the blob is still there after the last object using it was deleted and the collector ran")
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
