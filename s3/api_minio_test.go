package s3_test

// The S3 API as minio-go v7 sees it, against the handler on its own
// (harness_test.go).

import (
	"crypto/sha256"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/s4/s4/internal/s3test"
)

// TestMinioMultipart100MiB: a 100 MiB object uploaded by minio-go in 16 MiB
// parts (default checksums) reads back identical, whole and by range.
func TestMinioMultipart100MiB(t *testing.T) {
	e := newEnv(t)
	mc := e.Minio(t, e.writer)
	if err := mc.MakeBucket(bg, "big", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	const size = 100 << 20
	start := time.Now()
	sent := sha256.New()
	info, err := mc.PutObject(bg, "big", "obj", io.TeeReader(s3test.RandReader(42, size), sent), size, minio.PutObjectOptions{PartSize: 16 << 20, ContentType: "application/x-big"})
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
	got, n := s3test.SHA256Of(t, obj)
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
	io.ReadFull(s3test.RandReader(42, size), exp)
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
	io.ReadFull(s3test.RandReader(42, size), exp)
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
