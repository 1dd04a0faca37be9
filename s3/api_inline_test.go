package s3_test

// Inline objects (inline.go) as the clients see them: the same answers as
// blob objects, no blob file, and a damaged inline body never served.

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"github.com/s4/s4/internal/s3test"
	s4s3 "github.com/s4/s4/s3"
)

// blobFiles counts the committed blob files of e's node (not its FORMAT
// file, temp files or blobs set aside as corrupt).
func (e *env) blobFiles(t *testing.T) int {
	t.Helper()
	n := 0
	root := filepath.Join(e.dataDir, "blobs")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		top, _, _ := strings.Cut(rel, string(filepath.Separator))
		if !d.IsDir() && top != "tmp" && top != "corrupt" && rel != "FORMAT" {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// inlineSizes are the size classes around the threshold th.
func inlineSizes(th int) []int { return []int{0, 1, th - 1, th, th + 1} }

// TestS3InlineSizes: bodies of 0 B, threshold − 1, threshold and
// threshold + 1 round-trip through aws-sdk-go-v2 (single PUT, with and
// without its checksum trailer) and minio-go (known and unknown length):
// GET, HEAD, Range, ListObjects, ETag; only the one above the threshold
// makes a blob file.
func TestS3InlineSizes(t *testing.T) {
	e := newEnv(t)
	th := s4s3.DefaultInlineThreshold
	w := e.SDKFor(e.writer)
	plain := e.SDK(e.writer.AccessKey, e.writer.SecretKey, func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	mc := e.Minio(t, e.writer)
	s3test.MkBucket(t, w, "inl")
	b := aws.String("inl")
	type put struct {
		name string
		do   func(key string, data []byte) error
	}
	puts := []put{
		{"sdk", func(key string, data []byte) error {
			_, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String(key), Body: bytes.NewReader(data)})
			return err
		}},
		{"sdk-plain", func(key string, data []byte) error {
			_, err := plain.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String(key), Body: bytes.NewReader(data)})
			return err
		}},
		{"sdk-crc32c", func(key string, data []byte) error {
			_, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String(key), Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
			return err
		}},
		{"minio", func(key string, data []byte) error {
			_, err := mc.PutObject(bg, "inl", key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
			return err
		}},
		{"minio-unknown-length", func(key string, data []byte) error {
			_, err := mc.PutObject(bg, "inl", key, io.MultiReader(bytes.NewReader(data)), -1, minio.PutObjectOptions{PartSize: 5 << 20})
			return err
		}},
	}
	sizes := map[string]int64{}
	for _, p := range puts {
		for i, n := range inlineSizes(th) {
			key := fmt.Sprintf("%s/%d", p.name, n)
			data := s3test.RandBytes(uint64(100*i+len(p.name)), n)
			before := e.blobFiles(t)
			if err := p.do(key, data); err != nil {
				t.Fatalf("%s: PUT %d bytes: %v", p.name, n, err)
			}
			if got, want := e.blobFiles(t)-before, map[bool]int{true: 0, false: 1}[n <= th]; got != want {
				t.Errorf("%s: PUT of %d bytes made %d blob files, want %d", p.name, n, got, want)
			}
			sizes[key] = int64(n)
			out, err := w.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String(key)})
			if err != nil {
				t.Fatalf("%s: GET %d: %v", p.name, n, err)
			}
			got := s3test.ReadAll(t, out.Body)
			if !bytes.Equal(got, data) || aws.ToInt64(out.ContentLength) != int64(n) {
				t.Fatalf("%s: GET %d bytes: got %d bytes, Content-Length %d", p.name, n, len(got), aws.ToInt64(out.ContentLength))
			}
			if want := fmt.Sprintf(`"%x"`, s3test.MD5Sum(data)); aws.ToString(out.ETag) != want && !strings.HasSuffix(aws.ToString(out.ETag), `-1"`) {
				t.Errorf("%s: ETag %s, want %s", p.name, aws.ToString(out.ETag), want)
			}
			mo, err := mc.GetObject(bg, "inl", key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if mgot, err := io.ReadAll(mo); err != nil || !bytes.Equal(mgot, data) {
				t.Fatalf("%s: minio GET %d bytes: %d bytes, %v", p.name, n, len(mgot), err)
			}
			head, err := w.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key)})
			if err != nil || aws.ToInt64(head.ContentLength) != int64(n) || aws.ToString(head.ETag) != aws.ToString(out.ETag) {
				t.Fatalf("%s: HEAD %d: %v %+v", p.name, n, err, head)
			}
			if n > 2 {
				rng, err := w.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String(key), Range: aws.String(fmt.Sprintf("bytes=1-%d", n-2))})
				if err != nil {
					t.Fatal(err)
				}
				if got := s3test.ReadAll(t, rng.Body); !bytes.Equal(got, data[1:n-1]) || aws.ToString(rng.ContentRange) != fmt.Sprintf("bytes 1-%d/%d", n-2, n) {
					t.Fatalf("%s: range of %d: %d bytes, %s", p.name, n, len(got), aws.ToString(rng.ContentRange))
				}
				suffix, err := w.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String(key), Range: aws.String("bytes=-2")})
				if err != nil {
					t.Fatal(err)
				}
				if got := s3test.ReadAll(t, suffix.Body); !bytes.Equal(got, data[n-2:]) {
					t.Fatalf("%s: suffix range of %d", p.name, n)
				}
			}
			_, err = w.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String(key), IfNoneMatch: out.ETag})
			if code, status := s3test.APICode(err); status != 304 {
				t.Fatalf("%s: If-None-Match: %s %d", p.name, code, status)
			}
		}
	}
	list, err := w.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != len(sizes) {
		t.Fatalf("listed %d objects, want %d", len(list.Contents), len(sizes))
	}
	for _, o := range list.Contents {
		if aws.ToInt64(o.Size) != sizes[aws.ToString(o.Key)] {
			t.Errorf("listed %s with size %d, want %d", aws.ToString(o.Key), aws.ToInt64(o.Size), sizes[aws.ToString(o.Key)])
		}
	}

	// Checks a PUT makes: Content-MD5, the signed SHA-256; refused PUTs write nothing.
	resp, _ := e.Signed(t, e.writer, "PUT", "/in/bad-md5", []byte("small"), map[string]string{"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="})
	if resp.StatusCode != 400 {
		t.Fatalf("wrong Content-MD5: %d", resp.StatusCode)
	}
	resp, _ = e.Signed(t, e.writer, "PUT", "/in/bad-sha", []byte("small"), map[string]string{"X-Amz-Content-Sha256": strings.Repeat("0", 64)})
	if resp.StatusCode != 400 {
		t.Fatalf("wrong signed SHA-256: %d", resp.StatusCode)
	}
	_, err = w.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("bad-crc"), Body: strings.NewReader("small"), ChecksumCRC32: aws.String("AAAAAA==")})
	s3test.WantCode(t, err, "BadDigest", 400)
	for _, k := range []string{"bad-md5", "bad-sha", "bad-crc"} {
		_, err := w.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String(k)})
		if _, status := s3test.APICode(err); status != 404 {
			t.Errorf("refused PUT %s left an object: %v", k, err)
		}
	}

	// Delete everything (one DeleteObject, the rest in one DeleteObjects), then the bucket.
	if _, err := w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("sdk/0")}); err != nil {
		t.Fatal(err)
	}
	var ids []types.ObjectIdentifier
	for k := range sizes {
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
	}
	if _, err := w.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: ids}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	s3test.MkBucket(t, w, "inl")
	if _, err := w.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("sdk/1")}); err == nil {
		t.Fatal("an inline object outlived its bucket")
	}
}

// partSpec is one part of an upload: a body, or a copy of a source range.
type partSpec struct {
	data     []byte
	src, rng string
}

// TestS3InlineMultipartAndCopy: an upload of a blob part and an inline
// last part, an upload of one inline part, UploadPartCopy of an inline
// range, and CopyObject of inline and mixed sources round-trip through
// aws-sdk-go-v2 and minio-go.
func TestS3InlineMultipartAndCopy(t *testing.T) {
	e := newEnv(t)
	w := e.SDKFor(e.writer)
	mc := e.Minio(t, e.writer)
	s3test.MkBucket(t, w, "mpx")
	b := aws.String("mpx")
	p1, p2 := s3test.RandBytes(1, 5<<20), s3test.RandBytes(2, 1000)
	small := s3test.RandBytes(3, 3000)
	if _, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("small"), Body: bytes.NewReader(small)}); err != nil {
		t.Fatal(err)
	}

	mpu := func(key string, parts ...partSpec) {
		t.Helper()
		out, err := w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		var done []types.CompletedPart
		for i, p := range parts {
			n := aws.Int32(int32(i + 1))
			var etag string
			if p.data != nil {
				out, err := w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String(key), UploadId: out.UploadId, PartNumber: n, Body: bytes.NewReader(p.data)})
				if err != nil {
					t.Fatal(err)
				}
				etag = aws.ToString(out.ETag)
			} else {
				out, err := w.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String(key), UploadId: out.UploadId, PartNumber: n,
					CopySource: aws.String("mpx/" + p.src), CopySourceRange: aws.String(p.rng)})
				if err != nil {
					t.Fatal(err)
				}
				etag = aws.ToString(out.CopyPartResult.ETag)
			}
			done = append(done, types.CompletedPart{PartNumber: n, ETag: aws.String(etag)})
		}
		if _, err := w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String(key), UploadId: out.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(key string, want []byte) {
		t.Helper()
		out, err := w.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if got := s3test.ReadAll(t, out.Body); !bytes.Equal(got, want) {
			t.Fatalf("%s: GET %d bytes, want %d", key, len(got), len(want))
		}
		mo, err := mc.GetObject(bg, "mpx", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(mo); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: minio GET %d bytes (%v), want %d", key, len(got), err, len(want))
		}
		// A range across the last 10 bytes before the tail and into it.
		if len(want) > 2000 {
			from := len(want) - 1010
			rng, err := w.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String(key), Range: aws.String(fmt.Sprintf("bytes=%d-%d", from, from+19))})
			if err != nil {
				t.Fatal(err)
			}
			if got := s3test.ReadAll(t, rng.Body); !bytes.Equal(got, want[from:from+20]) {
				t.Fatalf("%s: range across the tail", key)
			}
		}
	}

	blobs := e.blobFiles(t)
	mpu("mixed", partSpec{data: p1}, partSpec{data: p2})
	if n := e.blobFiles(t) - blobs; n != 1 {
		t.Errorf("an upload of a 5 MiB part and a 1000-byte part made %d blob files, want 1", n)
	}
	check("mixed", append(append([]byte{}, p1...), p2...))
	// GET ?partNumber=2 is the inline part.
	pn, err := w.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("mixed"), PartNumber: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if got := s3test.ReadAll(t, pn.Body); !bytes.Equal(got, p2) || aws.ToInt32(pn.PartsCount) != 2 {
		t.Fatalf("part 2: %d bytes, %d parts", len(got), aws.ToInt32(pn.PartsCount))
	}

	blobs = e.blobFiles(t)
	mpu("one", partSpec{data: p2})
	mpu("copied", partSpec{src: "small", rng: "bytes=100-1099"})
	mpu("mixed-copy", partSpec{src: "mixed", rng: "bytes=0-5242879"}, partSpec{src: "mixed", rng: "bytes=5242880-5243879"})
	if n := e.blobFiles(t) - blobs; n != 1 {
		// The inline parts make none; the 5 MiB part copy is a blob of
		// its own (blobs are named by ID: same bytes, another blob).
		t.Errorf("uploads of inline parts and one 5 MiB part copy made %d blob files, want 1", n)
	}
	check("one", p2)
	check("copied", small[100:1100])
	check("mixed-copy", append(append([]byte{}, p1...), p2...))

	// CopyObject: inline and mixed sources; no new blob file.
	blobs = e.blobFiles(t)
	for _, c := range []struct{ src, dst string }{{"small", "small-copy"}, {"mixed", "mixed-copy2"}, {"one", "one-copy"}} {
		if _, err := w.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String(c.dst), CopySource: aws.String("mpx/" + c.src)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := mc.CopyObject(bg, minio.CopyDestOptions{Bucket: "mpx", Object: "small-minio"}, minio.CopySrcOptions{Bucket: "mpx", Object: "small"}); err != nil {
		t.Fatal(err)
	}
	if n := e.blobFiles(t) - blobs; n != 0 {
		t.Errorf("copies made %d blob files", n)
	}
	check("small-copy", small)
	check("small-minio", small)
	check("mixed-copy2", append(append([]byte{}, p1...), p2...))
	check("one-copy", p2)
	// Deleting the source leaves the copies whole.
	if _, err := w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("small")}); err != nil {
		t.Fatal(err)
	}
	check("small-copy", small)
}

// TestS3InlineDamagedNeverServed: a flipped byte in an inline body on the
// node's store is never sent: GET, a range GET, a copy and a part copy of
// it answer 500 InternalError; HEAD and listings, which send no byte of
// it, answer as before; an overwrite replaces it.
func TestS3InlineDamagedNeverServed(t *testing.T) {
	e := newEnv(t)
	w := e.SDKFor(e.writer)
	mc := e.Minio(t, e.writer)
	s3test.MkBucket(t, w, "dmg")
	b := aws.String("dmg")
	data := s3test.RandBytes(9, 4096)
	s3test.PutString(t, w, "dmg", "k", string(data))
	if err := e.meta.DamageInline("dmg", "k", 4000); err != nil {
		t.Fatal(err)
	}
	_, err := w.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("k")})
	s3test.WantCode(t, err, "InternalError", 500)
	_, err = w.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), Range: aws.String("bytes=0-9")})
	s3test.WantCode(t, err, "InternalError", 500)
	mo, err := mc.GetObject(bg, "dmg", "k", minio.GetObjectOptions{})
	if err == nil {
		_, err = io.ReadAll(mo)
	}
	if code, status := s3test.MinioCode(err); code != "InternalError" || status != 500 {
		t.Fatalf("minio GET of a damaged body: %v", err)
	}
	_, err = w.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("dmg/k")})
	s3test.WantCode(t, err, "InternalError", 500)
	up, err := w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mpx")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("mpx"), UploadId: up.UploadId, PartNumber: aws.Int32(1), CopySource: aws.String("dmg/k")})
	s3test.WantCode(t, err, "InternalError", 500)
	if _, err := w.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("copy")}); err == nil {
		t.Fatal("a copy of a damaged body was made")
	}
	head, err := w.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k")})
	if err != nil || aws.ToInt64(head.ContentLength) != 4096 {
		t.Fatalf("HEAD of a damaged inline object: %v", err)
	}
	s3test.PutString(t, w, "dmg", "k", "fresh")
	if got := s3test.GetString(t, w, "dmg", "k"); got != "fresh" {
		t.Fatalf("after overwrite: %q", got)
	}
}

// TestS3InlineDisabled: threshold 0 keeps every body in a blob, as before.
func TestS3InlineDisabled(t *testing.T) {
	e := newEnvWith(t, s4s3.Config{})
	w := e.SDKFor(e.writer)
	s3test.MkBucket(t, w, "xxx")
	for i, n := range []int{0, 1, 100} {
		s3test.PutString(t, w, "xxx", fmt.Sprint(i), strings.Repeat("a", n))
	}
	if n := e.blobFiles(t); n != 3 {
		t.Fatalf("%d blob files, want 3", n)
	}
}
