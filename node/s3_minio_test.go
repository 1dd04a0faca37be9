package node

// The S3 API as minio-go v7 sees it, against a real node over HTTPS.

import (
	"crypto/sha256"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	mcreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// minioClient is minio-go with default settings, except that it trusts the
// node's certificate and addresses buckets path-style.
func (e *s3Env) minioClient(t *testing.T, u s3User) *minio.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: e.tls.Clone(), MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := minio.New(strings.TrimPrefix(e.endpoint, "https://"), &minio.Options{
		Creds:        mcreds.NewStaticV4(u.AccessKey, u.SecretKey, ""),
		Secure:       true,
		Transport:    tr,
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func minioCode(err error) (string, int) {
	if err == nil {
		return "", 0
	}
	r := minio.ToErrorResponse(err)
	return r.Code, r.StatusCode
}

// TestMinioBasics: MakeBucket, BucketExists, PutObject, StatObject,
// GetObject, ListObjects, CopyObject, RemoveObject, RemoveObjects.
func TestMinioBasics(t *testing.T) {
	e := newS3Env(t)
	mc := e.minioClient(t, e.writer)
	rc := e.minioClient(t, e.reader)

	if err := mc.MakeBucket(bg, "minio-bkt", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := rc.BucketExists(bg, "minio-bkt"); err != nil || !ok {
		t.Fatalf("BucketExists: %v %v", ok, err)
	}
	if ok, err := rc.BucketExists(bg, "no-such-bucket"); err != nil || ok {
		t.Fatalf("BucketExists of a missing bucket: %v %v", ok, err)
	}
	err := e.minioClient(t, e.super).MakeBucket(bg, "minio-bkt", minio.MakeBucketOptions{})
	if c, st := minioCode(err); c != "BucketAlreadyExists" || st != 409 {
		t.Errorf("MakeBucket of another user's bucket: %v", err)
	}
	bs, err := rc.ListBuckets(bg)
	if err != nil || len(bs) != 1 || bs[0].Name != "minio-bkt" {
		t.Fatalf("ListBuckets: %+v %v", bs, err)
	}

	keys := []string{"a/1.txt", "a/2.txt", "b/3.txt", "c.txt", "d with space+ü.txt"}
	for _, k := range keys {
		info, err := mc.PutObject(bg, "minio-bkt", k, strings.NewReader("content of "+k), int64(len("content of "+k)),
			minio.PutObjectOptions{ContentType: "text/plain", UserMetadata: map[string]string{"origin": "minio"}})
		if err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		if info.Size != int64(len("content of "+k)) || info.ETag == "" {
			t.Errorf("put %q: %+v", k, info)
		}
	}
	// Unknown size: minio-go streams it as a multipart upload.
	if _, err := mc.PutObject(bg, "minio-bkt", "unknown-size", strings.NewReader("streamed"), -1, minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put of unknown size: %v", err)
	}

	st, err := rc.StatObject(bg, "minio-bkt", "d with space+ü.txt", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != int64(len("content of d with space+ü.txt")) || st.ContentType != "text/plain" || st.UserMetadata["Origin"] != "minio" ||
		time.Since(st.LastModified) > time.Minute {
		t.Errorf("StatObject: %+v", st)
	}
	_, err = rc.StatObject(bg, "minio-bkt", "nope", minio.StatObjectOptions{})
	if c, s := minioCode(err); c != "NoSuchKey" || s != 404 {
		t.Errorf("StatObject of a missing key: %q %d %v", c, s, err)
	}

	obj, err := rc.GetObject(bg, "minio-bkt", "a/1.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(obj); err != nil || string(b) != "content of a/1.txt" {
		t.Errorf("GetObject: %q %v", b, err)
	}
	obj.Close()
	ro := minio.GetObjectOptions{}
	ro.SetRange(3, 6)
	obj, err = rc.GetObject(bg, "minio-bkt", "a/1.txt", ro)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(obj); err != nil || string(b) != "tent" {
		t.Errorf("ranged GetObject: %q %v", b, err)
	}
	obj.Close()

	list := func(opts minio.ListObjectsOptions) []string {
		t.Helper()
		var out []string
		for o := range rc.ListObjects(bg, "minio-bkt", opts) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			out = append(out, o.Key)
		}
		return out
	}
	all := append(slices.Clone(keys), "unknown-size")
	if got := list(minio.ListObjectsOptions{Recursive: true}); !slices.Equal(got, all) {
		t.Errorf("ListObjects recursive: %q", got)
	}
	if got := list(minio.ListObjectsOptions{Recursive: true, MaxKeys: 2}); !slices.Equal(got, all) {
		t.Errorf("ListObjects in pages of 2: %q", got)
	}
	// (minio-go yields a page's objects, then its prefixes.)
	if got := list(minio.ListObjectsOptions{}); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"a/", "b/", "c.txt", "d with space+ü.txt", "unknown-size"}) {
		t.Errorf("ListObjects by directory: %q", got)
	}
	if got := list(minio.ListObjectsOptions{Prefix: "a/", UseV1: true}); !slices.Equal(got, []string{"a/1.txt", "a/2.txt"}) {
		t.Errorf("ListObjects v1 with a prefix: %q", got)
	}
	if got := list(minio.ListObjectsOptions{Recursive: true, WithVersions: true}); !slices.Equal(got, all) {
		t.Errorf("ListObjects with versions: %q", got)
	}

	if _, err := mc.CopyObject(bg, minio.CopyDestOptions{Bucket: "minio-bkt", Object: "copy.txt"}, minio.CopySrcOptions{Bucket: "minio-bkt", Object: "d with space+ü.txt"}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}

	// The reader may not write.
	_, err = rc.PutObject(bg, "minio-bkt", "x", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	if c, s := minioCode(err); c != "AccessDenied" || s != 403 {
		t.Errorf("reader PutObject: %q %d %v", c, s, err)
	}
	if err := rc.RemoveObject(bg, "minio-bkt", "c.txt", minio.RemoveObjectOptions{}); err == nil {
		t.Error("reader RemoveObject succeeded")
	}

	if err := mc.RemoveObject(bg, "minio-bkt", "c.txt", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	ch := make(chan minio.ObjectInfo)
	go func() {
		defer close(ch)
		for _, k := range []string{"a/1.txt", "a/2.txt", "b/3.txt", "never-existed"} {
			ch <- minio.ObjectInfo{Key: k}
		}
	}()
	for rerr := range mc.RemoveObjects(bg, "minio-bkt", ch, minio.RemoveObjectsOptions{}) {
		t.Errorf("RemoveObjects: %s: %v", rerr.ObjectName, rerr.Err)
	}
	if got := list(minio.ListObjectsOptions{Recursive: true}); !slices.Equal(got, []string{"copy.txt", "d with space+ü.txt", "unknown-size"}) {
		t.Errorf("after removals: %q", got)
	}
	err = mc.RemoveBucket(bg, "minio-bkt")
	if c, _ := minioCode(err); c != "BucketNotEmpty" {
		t.Errorf("RemoveBucket of a non-empty bucket: %v", err)
	}
}

// TestMinioMultipart100MiB: a 100 MiB object uploaded by minio-go in 16 MiB
// parts (default checksums) reads back identical, whole and by range.
func TestMinioMultipart100MiB(t *testing.T) {
	e := newS3Env(t)
	mc := e.minioClient(t, e.writer)
	if err := mc.MakeBucket(bg, "big", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	const size = 100 << 20
	start := time.Now()
	sent := sha256.New()
	info, err := mc.PutObject(bg, "big", "obj", io.TeeReader(randReader(42, size), sent), size, minio.PutObjectOptions{PartSize: 16 << 20, ContentType: "application/x-big"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PutObject of 100 MiB: %v", time.Since(start))
	if info.Size != size || !strings.HasSuffix(info.ETag, "-7") {
		t.Errorf("upload info: size %d etag %s", info.Size, info.ETag)
	}
	st, err := mc.StatObject(bg, "big", "obj", minio.StatObjectOptions{})
	if err != nil || st.Size != size || st.ContentType != "application/x-big" {
		t.Fatalf("StatObject: %+v %v", st, err)
	}

	var want [32]byte
	sent.Sum(want[:0])
	start = time.Now()
	obj, err := mc.GetObject(bg, "big", "obj", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, n := sha256Of(t, obj)
	obj.Close()
	t.Logf("GetObject of 100 MiB: %v", time.Since(start))
	if n != size || got != want {
		t.Fatalf("read back %d bytes, sha256 %x, want %d bytes %x", n, got, size, want)
	}
	// A range that spans a part boundary.
	opts := minio.GetObjectOptions{}
	const from, to = 16<<20 - 1000, 16<<20 + 999
	opts.SetRange(from, to)
	obj, err = mc.GetObject(bg, "big", "obj", opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(obj)
	obj.Close()
	exp := make([]byte, to+1)
	io.ReadFull(randReader(42, size), exp)
	if err != nil || !slices.Equal(b, exp[from:]) {
		t.Errorf("range across parts: %d bytes, %v", len(b), err)
	}
	// ComposeObject: UploadPartCopy with a source range for every part.
	srcs := []minio.CopySrcOptions{
		{Bucket: "big", Object: "obj", MatchRange: true, Start: 0, End: 5<<20 - 1},
		{Bucket: "big", Object: "obj", MatchRange: true, Start: 50 << 20, End: 50<<20 + 999},
	}
	if _, err := mc.ComposeObject(bg, minio.CopyDestOptions{Bucket: "big", Object: "composed"}, srcs...); err != nil {
		t.Fatalf("ComposeObject: %v", err)
	}
	obj, err = mc.GetObject(bg, "big", "composed", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(obj)
	obj.Close()
	exp = make([]byte, 50<<20+1000)
	io.ReadFull(randReader(42, size), exp)
	if err != nil || !slices.Equal(b, slices.Concat(exp[:5<<20], exp[50<<20:])) {
		t.Errorf("composed object: %d bytes, %v", len(b), err)
	}
	// No upload is left behind.
	for u := range mc.ListIncompleteUploads(bg, "big", "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		t.Errorf("incomplete upload left: %+v", u)
	}
}
