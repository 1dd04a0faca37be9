package node

// The S3 API as minio-go v7 sees it, against a real node over HTTPS (the
// handler alone: package s3).

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/s4/s4/internal/s3test"
)

// minioClient is minio-go with default settings, except that it trusts the
// node's certificate and addresses buckets path-style.
func (e *s3Env) minioClient(t *testing.T, u s3User) *minio.Client { return e.s3().Minio(t, u) }

func minioCode(err error) (string, int) { return s3test.MinioCode(err) }

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
