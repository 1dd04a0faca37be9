package s3_test

// The S3 API as aws-sdk-go-v2 sees it, against the handler on its own
// (harness_test.go): multipart uploads.

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s4/s4/internal/s3test"
)

// TestS3Multipart: Create, UploadPart, UploadPartCopy, ListParts,
// ListMultipartUploads, Complete (and its refusals), Abort.
func TestS3Multipart(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	s3test.MkBucket(t, w, "mpu")
	b := aws.String("mpu")
	const partSize = 5 << 20
	p1, p2 := s3test.RandBytes(1, partSize), s3test.RandBytes(2, partSize)
	src := s3test.RandBytes(3, 6<<20)
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
		if want := fmt.Sprintf(`"%x"`, s3test.MD5Sum(data)); aws.ToString(out.ETag) != want {
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
	if want := fmt.Sprintf(`"%x"`, s3test.MD5Sum(src[1000:2000])); e3 != want {
		t.Errorf("UploadPartCopy ETag %s, want %s", e3, want)
	}
	_, err = w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String("nope"), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	s3test.WantCode(t, err, "NoSuchUpload", 404)
	_, err = w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("other"), UploadId: aws.String(id), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	s3test.WantCode(t, err, "NoSuchUpload", 404)
	_, err = w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id), PartNumber: aws.Int32(10001), Body: strings.NewReader("x")})
	s3test.WantCode(t, err, "InvalidArgument", 400)

	lp := s3test.Must[*s3.ListPartsOutput](t)(w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id)}))
	if len(lp.Parts) != 3 || aws.ToString(lp.Parts[0].ETag) != e1 || aws.ToInt64(lp.Parts[1].Size) != partSize || aws.ToInt64(lp.Parts[2].Size) != 1000 ||
		aws.ToString(lp.Owner.ID) != e.writer.ID || aws.ToString(lp.Initiator.DisplayName) != "writer" {
		t.Errorf("ListParts: %+v", lp)
	}
	lp = s3test.Must[*s3.ListPartsOutput](t)(w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id), MaxParts: aws.Int32(2)}))
	if len(lp.Parts) != 2 || !aws.ToBool(lp.IsTruncated) || aws.ToString(lp.NextPartNumberMarker) != "2" {
		t.Errorf("ListParts page 1: %d parts, truncated %v, next %q", len(lp.Parts), aws.ToBool(lp.IsTruncated), aws.ToString(lp.NextPartNumberMarker))
	}
	lp = s3test.Must[*s3.ListPartsOutput](t)(w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id), PartNumberMarker: aws.String("2")}))
	if len(lp.Parts) != 1 || aws.ToInt32(lp.Parts[0].PartNumber) != 3 || aws.ToBool(lp.IsTruncated) {
		t.Errorf("ListParts page 2: %+v", lp.Parts)
	}

	id2 := create("other/key")
	lu := s3test.Must[*s3.ListMultipartUploadsOutput](t)(w.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: b}))
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
	lu = s3test.Must[*s3.ListMultipartUploadsOutput](t)(w.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: b, Delimiter: aws.String("/")}))
	if len(lu.Uploads) != 1 || !slices.Equal(s3test.PrefixesOf(lu.CommonPrefixes), []string{"other/"}) {
		t.Errorf("ListMultipartUploads with delimiter: %d uploads, prefixes %q", len(lu.Uploads), s3test.PrefixesOf(lu.CommonPrefixes))
	}
	lu = s3test.Must[*s3.ListMultipartUploadsOutput](t)(w.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: b, MaxUploads: aws.Int32(1)}))
	if len(lu.Uploads) != 1 || !aws.ToBool(lu.IsTruncated) || aws.ToString(lu.NextKeyMarker) != "big" {
		t.Errorf("ListMultipartUploads page 1: %d truncated %v next %q", len(lu.Uploads), aws.ToBool(lu.IsTruncated), aws.ToString(lu.NextKeyMarker))
	}
	lu = s3test.Must[*s3.ListMultipartUploadsOutput](t)(w.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: b, KeyMarker: lu.NextKeyMarker, UploadIdMarker: lu.NextUploadIdMarker}))
	if len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != id2 || aws.ToBool(lu.IsTruncated) {
		t.Errorf("ListMultipartUploads page 2: %+v", lu.Uploads)
	}

	// Refusals leave the upload as it was.
	_, err = complete("big", id, part(2, e2), part(1, e1), part(3, e3))
	s3test.WantCode(t, err, "InvalidPartOrder", 400)
	_, err = complete("big", id, part(1, e1), part(2, `"00000000000000000000000000000000"`), part(3, e3))
	s3test.WantCode(t, err, "InvalidPart", 400)
	_, err = complete("big", id, part(1, e1), part(2, e2), part(4, e3))
	s3test.WantCode(t, err, "InvalidPart", 400)
	_, err = complete("big", id, part(1, e1), part(3, e3), part(2, e2))
	s3test.WantCode(t, err, "InvalidPartOrder", 400)
	_, err = complete("big", id, part(3, e3), part(1, e1))
	s3test.WantCode(t, err, "InvalidPartOrder", 400)
	// Part 3 (1000 bytes) is fine last, not before another part.
	id3 := create("small")
	s1 := upload("small", id3, 1, p1[:1000])
	s2 := upload("small", id3, 2, p2[:10])
	_, err = complete("small", id3, part(1, s1), part(2, s2))
	s3test.WantCode(t, err, "EntityTooSmall", 400)
	_, err = rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("big")})
	s3test.WantCode(t, err, "NotFound", 404)
	if lp := s3test.Must[*s3.ListPartsOutput](t)(w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id)})); len(lp.Parts) != 3 {
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
	g := s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("big")}))
	if got := s3test.ReadAll(t, g.Body); !bytes.Equal(got, want) {
		t.Fatalf("completed object: %d bytes, want %d (equal prefix: %v)", len(got), len(want), bytes.Equal(got[:min(len(got), partSize)], p1))
	}
	if aws.ToString(g.ETag) != aws.ToString(done.ETag) || aws.ToString(g.ContentType) != "video/mp4" || g.Metadata["m"] != "1" {
		t.Errorf("completed object headers: etag %s type %s meta %v", aws.ToString(g.ETag), aws.ToString(g.ContentType), g.Metadata)
	}
	// A range across the part boundary, and part 2 by number.
	g = s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("big"), Range: aws.String(fmt.Sprintf("bytes=%d-%d", partSize-10, partSize+9))}))
	if got := s3test.ReadAll(t, g.Body); !bytes.Equal(got, want[partSize-10:partSize+10]) {
		t.Errorf("range across parts differs")
	}
	g = s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("big"), PartNumber: aws.Int32(2)}))
	if got := s3test.ReadAll(t, g.Body); !bytes.Equal(got, p2) || aws.ToInt32(g.PartsCount) != 3 {
		t.Errorf("part 2 by number: %d bytes, parts count %d", len(got), aws.ToInt32(g.PartsCount))
	}
	_, err = w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("big"), UploadId: aws.String(id)})
	s3test.WantCode(t, err, "NoSuchUpload", 404)
	_, err = complete("big", id, part(1, e1))
	s3test.WantCode(t, err, "NoSuchUpload", 404)

	// Abort.
	if _, err := w.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("other/key"), UploadId: aws.String(id2)}); err != nil {
		t.Fatal(err)
	}
	_, err = w.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("other/key"), UploadId: aws.String(id2)})
	s3test.WantCode(t, err, "NoSuchUpload", 404)
	if _, err := w.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("small"), UploadId: aws.String(id3)}); err != nil {
		t.Fatal(err)
	}
	lu = s3test.Must[*s3.ListMultipartUploadsOutput](t)(w.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: b}))
	if len(lu.Uploads) != 0 {
		t.Errorf("uploads left: %+v", lu.Uploads)
	}

	// With CRC32 checksums throughout, as the aws cli and the SDK's upload
	// manager do: the parts' checksums are listed and go into Complete.
	cu := s3test.Must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("crc"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}))
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
	lp = s3test.Must[*s3.ListPartsOutput](t)(w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("crc"), UploadId: cu.UploadId}))
	for i, p := range lp.Parts {
		if aws.ToString(p.ChecksumCRC32) != aws.ToString(cparts[i].ChecksumCRC32) {
			t.Errorf("ListParts part %d CRC32 %q, upload said %q", i+1, aws.ToString(p.ChecksumCRC32), aws.ToString(cparts[i].ChecksumCRC32))
		}
	}
	bad := slices.Clone(cparts)
	bad[0].ChecksumCRC32 = aws.String("AAAAAA==")
	_, err = w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("crc"), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: bad}})
	s3test.WantCode(t, err, "InvalidPart", 400)
	if _, err := w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("crc"), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cparts}}); err != nil {
		t.Fatal(err)
	}
	g = s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("crc")}))
	if got := s3test.ReadAll(t, g.Body); !bytes.Equal(got, slices.Concat(p1, p2[:1234])) {
		t.Errorf("CRC32 multipart object differs (%d bytes)", len(got))
	}
	_, err = rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("other/key")})
	s3test.WantCode(t, err, "NotFound", 404)
}

// TestCompleteMultipartResent: a CompleteMultipartUpload re-sent after the
// upload completed (an SDK retries one whose answer it lost) answers 200
// with the first answer's ETag and location, as S3 does, while the key
// still holds the object that upload made and the request lists the same
// parts; copies sent at the same time all succeed. Anything else is
// NoSuchUpload: other parts, another key, the object replaced or deleted.
// A part with another ETag is InvalidPart.
func TestCompleteMultipartResent(t *testing.T) {
	e := newEnv(t)
	w := e.SDKFor(e.writer)
	b := aws.String("mpu")
	s3test.MkBucket(t, w, "mpu")
	p1, p2 := s3test.RandBytes(1, 5<<20), []byte("the last part")
	upload := func(key string) (string, []types.CompletedPart) {
		t.Helper()
		mp := s3test.Must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String(key)}))
		var parts []types.CompletedPart
		for i, data := range [][]byte{p1, p2} {
			n := aws.Int32(int32(i + 1))
			out := s3test.Must[*s3.UploadPartOutput](t)(w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String(key), UploadId: mp.UploadId, PartNumber: n, Body: bytes.NewReader(data)}))
			parts = append(parts, types.CompletedPart{PartNumber: n, ETag: out.ETag})
		}
		return aws.ToString(mp.UploadId), parts
	}
	complete := func(key, id string, parts ...types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
		return w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String(key), UploadId: aws.String(id),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	}
	id, parts := upload("k")
	bad := parts[1]
	bad.ETag = aws.String(`"0123456789abcdef0123456789abcdef"`)
	_, err := complete("k", id, parts[0], bad)
	s3test.WantCode(t, err, "InvalidPart", 400)
	bad.ETag = aws.String("not-an-etag")
	_, err = complete("k", id, parts[0], bad)
	s3test.WantCode(t, err, "InvalidPart", 400)

	first := s3test.Must[*s3.CompleteMultipartUploadOutput](t)(complete("k", id, parts...))
	same := func(what string, out *s3.CompleteMultipartUploadOutput) {
		t.Helper()
		if aws.ToString(out.ETag) != aws.ToString(first.ETag) || aws.ToString(out.Location) != aws.ToString(first.Location) ||
			aws.ToString(out.Bucket) != "mpu" || aws.ToString(out.Key) != "k" {
			t.Errorf("%s: ETag %s location %s bucket %s key %s, want the first answer's: ETag %s location %s", what,
				aws.ToString(out.ETag), aws.ToString(out.Location), aws.ToString(out.Bucket), aws.ToString(out.Key), aws.ToString(first.ETag), aws.ToString(first.Location))
		}
	}
	same("re-sent", s3test.Must[*s3.CompleteMultipartUploadOutput](t)(complete("k", id, parts...)))
	same("re-sent again", s3test.Must[*s3.CompleteMultipartUploadOutput](t)(complete("k", id, parts...)))
	if got := s3test.GetString(t, w, "mpu", "k"); got != string(p1)+string(p2) {
		t.Fatalf("object after re-sent completions: %d bytes", len(got))
	}
	// Not the same request: other parts, another key.
	_, err = complete("k", id, parts[0])
	s3test.WantCode(t, err, "NoSuchUpload", 404)
	_, err = complete("other", id, parts...)
	s3test.WantCode(t, err, "NoSuchUpload", 404)

	// The object replaced: the upload's result is gone.
	s3test.PutString(t, w, "mpu", "k", "replaced")
	_, err = complete("k", id, parts...)
	s3test.WantCode(t, err, "NoSuchUpload", 404)
	// Deleted: gone too.
	id2, parts2 := upload("k2")
	s3test.Must[*s3.CompleteMultipartUploadOutput](t)(complete("k2", id2, parts2...))
	s3test.Must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k2")}))
	_, err = complete("k2", id2, parts2...)
	s3test.WantCode(t, err, "NoSuchUpload", 404)

	// Copies sent together: every one gets the same 200.
	id3, parts3 := upload("k3")
	outs := make([]*s3.CompleteMultipartUploadOutput, 4)
	errs := make([]error, len(outs))
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() { outs[i], errs[i] = complete("k3", id3, parts3...) })
	}
	wg.Wait()
	for i := range outs {
		if errs[i] != nil {
			t.Fatalf("concurrent completion %d: %v", i, errs[i])
		}
		if aws.ToString(outs[i].ETag) != aws.ToString(outs[0].ETag) || aws.ToString(outs[i].ETag) != aws.ToString(first.ETag) {
			t.Errorf("concurrent completion %d: ETag %s, want %s", i, aws.ToString(outs[i].ETag), aws.ToString(first.ETag))
		}
	}
}
