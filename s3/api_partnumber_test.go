package s3_test

// GET and HEAD with ?partNumber=N, as the SDKs' parallel downloaders send
// them (issue: S3 compatibility).

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"github.com/s4/s4/internal/s3test"
)

// TestGetPartNumber: part N of a multipart object is a 206 with its
// Content-Range and x-amz-mp-parts-count, on GET and HEAD; part 1 of a
// single PUT is the whole object as a 206 without a parts count (as S3
// answers); a part past the last is 416 InvalidPartNumber, a number that
// is no part number 400 InvalidArgument, and partNumber with Range 400
// InvalidRequest.
func TestGetPartNumber(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	b := aws.String("bkt")
	s3test.MkBucket(t, w, "bkt")
	parts := [][]byte{s3test.RandBytes(1, 5<<20), s3test.RandBytes(2, 5<<20+7), []byte("the last part")}
	mpu := func(key string, parts ...[]byte) {
		t.Helper()
		mp := s3test.Must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String(key)}))
		var done []types.CompletedPart
		for i, data := range parts {
			n := aws.Int32(int32(i + 1))
			out := s3test.Must[*s3.UploadPartOutput](t)(w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String(key), UploadId: mp.UploadId, PartNumber: n, Body: bytes.NewReader(data)}))
			done = append(done, types.CompletedPart{PartNumber: n, ETag: out.ETag})
		}
		s3test.Must[*s3.CompleteMultipartUploadOutput](t)(w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String(key), UploadId: mp.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}))
	}
	mpu("mp", parts...)
	mpu("one", parts[2])
	s3test.PutString(t, w, "bkt", "plain", "0123456789")
	s3test.PutString(t, w, "bkt", "empty", "")

	// wantPart checks part n of key as the SDK's GET and HEAD and the raw
	// status line see it.
	wantPart := func(key string, n int32, data []byte, start, total int64, count int32) {
		t.Helper()
		wantRange := fmt.Sprintf("bytes %d-%d/%d", start, start+int64(len(data))-1, total)
		g := s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String(key), PartNumber: aws.Int32(n)}))
		if got := s3test.ReadAll(t, g.Body); !bytes.Equal(got, data) {
			t.Errorf("GET %s part %d: %d bytes, want %d", key, n, len(got), len(data))
		}
		h := s3test.Must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key), PartNumber: aws.Int32(n)}))
		for _, got := range []struct {
			what         string
			cr           *string
			count        *int32
			length, etag string
		}{{"GET", g.ContentRange, g.PartsCount, fmt.Sprint(aws.ToInt64(g.ContentLength)), aws.ToString(g.ETag)},
			{"HEAD", h.ContentRange, h.PartsCount, fmt.Sprint(aws.ToInt64(h.ContentLength)), aws.ToString(h.ETag)}} {
			if aws.ToString(got.cr) != wantRange || aws.ToInt32(got.count) != count || got.length != fmt.Sprint(len(data)) {
				t.Errorf("%s %s part %d: Content-Range %q parts count %d length %s, want %q, %d, %d", got.what, key, n, aws.ToString(got.cr), aws.ToInt32(got.count), got.length, wantRange, count, len(data))
			}
		}
		for _, method := range []string{"HEAD", "GET"} {
			if raw := e.Raw(t, method, fmt.Sprintf("/bkt/%s?partNumber=%d", key, n), e.reader); !strings.HasPrefix(raw, "HTTP/1.1 206 ") {
				t.Errorf("%s %s part %d: %.40q, want 206", method, key, n, raw)
			}
		}
	}
	total := int64(len(parts[0]) + len(parts[1]) + len(parts[2]))
	wantPart("mp", 1, parts[0], 0, total, 3)
	wantPart("mp", 2, parts[1], int64(len(parts[0])), total, 3)
	wantPart("mp", 3, parts[2], int64(len(parts[0])+len(parts[1])), total, 3)
	wantPart("one", 1, parts[2], 0, int64(len(parts[2])), 1)
	wantPart("plain", 1, []byte("0123456789"), 0, 10, 0)

	// minio-go's GetObjectOptions.PartNumber.
	mc := e.Minio(t, e.reader)
	obj, err := mc.GetObject(bg, "bkt", "mp", minio.GetObjectOptions{PartNumber: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(obj); err != nil || !bytes.Equal(got, parts[1]) {
		t.Errorf("minio-go part 2: %d bytes, %v", len(got), err)
	}

	// An empty object's part 1: the (empty) object, no range to name.
	g := s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("empty"), PartNumber: aws.Int32(1)}))
	if got := s3test.ReadAll(t, g.Body); len(got) != 0 || g.ContentRange != nil {
		t.Errorf("empty object part 1: %d bytes, Content-Range %q", len(got), aws.ToString(g.ContentRange))
	}

	// Past the last part.
	for _, tc := range []struct {
		key string
		n   int32
	}{{"mp", 4}, {"one", 2}, {"plain", 2}, {"mp", 10000}} {
		_, err := rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String(tc.key), PartNumber: aws.Int32(tc.n)})
		s3test.WantCode(t, err, "InvalidPartNumber", 416)
		if raw := e.Raw(t, "HEAD", fmt.Sprintf("/bkt/%s?partNumber=%d", tc.key, tc.n), e.reader); !strings.HasPrefix(raw, "HTTP/1.1 416 ") || strings.Contains(raw, "x-amz-mp-parts-count") {
			t.Errorf("HEAD %s part %d: %.200q, want 416", tc.key, tc.n, raw)
		}
	}
	// Not a part number.
	for _, pn := range []string{"0", "10001", "-1", "x", ""} {
		resp, body := e.Signed(t, e.reader, "GET", "/bkt/mp?partNumber="+pn, nil, nil)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "<Code>InvalidArgument</Code>") {
			t.Errorf("partNumber=%q: %d %s", pn, resp.StatusCode, body)
		}
	}
	// With a Range.
	_, err = rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("mp"), PartNumber: aws.Int32(1), Range: aws.String("bytes=0-9")})
	s3test.WantCode(t, err, "InvalidRequest", 400)
}
