package s3_test

// The S3 API as aws-sdk-go-v2 sees it, against the handler on its own
// (harness_test.go): objects, keys, and bad input.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s4/s4/internal/s3test"
	s4s3 "github.com/s4/s4/s3"
)

// TestS3Objects: PutObject/GetObject with every stored header and user
// metadata, Range, conditionals, response-* overrides, HeadObject,
// DeleteObject, DeleteObjects (quiet and verbose), CopyObject.
func TestS3Objects(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	s3test.MkBucket(t, w, "objs")
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
	md5sum := fmt.Sprintf("%x", s3test.MD5Sum([]byte(body)))
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
	get := s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")}))
	if got := string(s3test.ReadAll(t, get.Body)); got != body {
		t.Fatalf("GetObject body %q", got)
	}
	check("GetObject", get.ContentType, get.ContentEncoding, get.CacheControl, get.ContentDisposition, get.ContentLanguage, get.ExpiresString, get.Metadata, get.ETag, get.LastModified, get.ContentLength)
	head := s3test.Must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")}))
	check("HeadObject", head.ContentType, head.ContentEncoding, head.CacheControl, head.ContentDisposition, head.ContentLanguage, head.ExpiresString, head.Metadata, head.ETag, head.LastModified, head.ContentLength)
	lastMod := *head.LastModified

	// Range.
	rg := s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), Range: aws.String("bytes=10-19")}))
	if got := string(s3test.ReadAll(t, rg.Body)); got != body[10:20] || aws.ToString(rg.ContentRange) != fmt.Sprintf("bytes 10-19/%d", len(body)) || aws.ToInt64(rg.ContentLength) != 10 {
		t.Errorf("range 10-19: %q %q %d", got, aws.ToString(rg.ContentRange), aws.ToInt64(rg.ContentLength))
	}
	rg = s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), Range: aws.String("bytes=-5")}))
	if got := string(s3test.ReadAll(t, rg.Body)); got != body[len(body)-5:] {
		t.Errorf("suffix range: %q", got)
	}
	rg = s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), Range: aws.String("bytes=30-")}))
	if got := string(s3test.ReadAll(t, rg.Body)); got != body[30:] {
		t.Errorf("open range: %q", got)
	}
	// The status is 206: check it on the wire.
	presigned := s3test.Must[*v4.PresignedHTTPRequest](t)(s3.NewPresignClient(rd).PresignGetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")}))
	req, _ := http.NewRequest("GET", presigned.URL, nil)
	req.Header.Set("Range", "bytes=0-3")
	resp := s3test.Must[*http.Response](t)(e.HTTP.Do(req))
	if b := s3test.ReadAll(t, resp.Body); resp.StatusCode != 206 || string(b) != "0123" || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 0-3/%d", len(body)) {
		t.Errorf("range on the wire: %d %q %q", resp.StatusCode, b, resp.Header.Get("Content-Range"))
	}

	// Conditionals.
	etag := aws.ToString(put.ETag)
	cond := func(in *s3.GetObjectInput) error {
		in.Bucket, in.Key = aws.String("objs"), aws.String("dir/file.txt")
		out, err := rd.GetObject(bg, in)
		if err == nil {
			s3test.ReadAll(t, out.Body)
		}
		return err
	}
	if err := cond(&s3.GetObjectInput{IfMatch: aws.String(etag)}); err != nil {
		t.Errorf("If-Match current: %v", err)
	}
	s3test.WantCode(t, cond(&s3.GetObjectInput{IfMatch: aws.String(`"0000"`)}), "PreconditionFailed", 412)
	if err := cond(&s3.GetObjectInput{IfNoneMatch: aws.String(`"0000"`)}); err != nil {
		t.Errorf("If-None-Match other: %v", err)
	}
	_, st := s3test.APICode(cond(&s3.GetObjectInput{IfNoneMatch: aws.String(etag)}))
	if st != 304 {
		t.Errorf("If-None-Match current: status %d, want 304", st)
	}
	// A 304 carries the validators, no body.
	resp, b304 := e.Signed(t, e.reader, "GET", "/objs/dir/file.txt", nil, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 304 || resp.Header.Get("ETag") != etag || resp.Header.Get("Last-Modified") != lastMod.UTC().Format(http.TimeFormat) || len(b304) != 0 {
		t.Errorf("304: status %d ETag %q Last-Modified %q body %q", resp.StatusCode, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"), b304)
	}
	_, st = s3test.APICode(cond(&s3.GetObjectInput{IfModifiedSince: aws.Time(lastMod.Add(time.Hour))}))
	if st != 304 {
		t.Errorf("If-Modified-Since future: status %d, want 304", st)
	}
	if err := cond(&s3.GetObjectInput{IfModifiedSince: aws.Time(lastMod.Add(-time.Hour))}); err != nil {
		t.Errorf("If-Modified-Since past: %v", err)
	}
	s3test.WantCode(t, cond(&s3.GetObjectInput{IfUnmodifiedSince: aws.Time(lastMod.Add(-time.Hour))}), "PreconditionFailed", 412)
	if err := cond(&s3.GetObjectInput{IfUnmodifiedSince: aws.Time(lastMod.Add(time.Hour))}); err != nil {
		t.Errorf("If-Unmodified-Since future: %v", err)
	}
	_, err = rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), IfMatch: aws.String(`"0000"`)})
	if _, st := s3test.APICode(err); st != 412 {
		t.Errorf("HeadObject If-Match other: %v", err)
	}

	// response-* overrides.
	ov := s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"),
		ResponseContentType: aws.String("application/x-test"), ResponseContentDisposition: aws.String("inline"), ResponseCacheControl: aws.String("no-cache")}))
	s3test.ReadAll(t, ov.Body)
	if aws.ToString(ov.ContentType) != "application/x-test" || aws.ToString(ov.ContentDisposition) != "inline" || aws.ToString(ov.CacheControl) != "no-cache" {
		t.Errorf("overrides: %q %q %q", aws.ToString(ov.ContentType), aws.ToString(ov.ContentDisposition), aws.ToString(ov.CacheControl))
	}

	// Versions: "null" is the only one.
	vg := s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), VersionId: aws.String("null")}))
	s3test.ReadAll(t, vg.Body)
	_, err = rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt"), VersionId: aws.String("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")})
	s3test.WantCode(t, err, "NoSuchVersion", 404)

	// Missing objects.
	_, err = rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("nope")})
	s3test.WantCode(t, err, "NoSuchKey", 404)
	_, err = rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("nope")})
	s3test.WantCode(t, err, "NoSuchBucket", 404)
	_, err = rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("nope")})
	s3test.WantCode(t, err, "NotFound", 404)

	// Every checksum algorithm the SDK offers, in a trailer; GetObject
	// validates what comes back.
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme,
		types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
		k := "ck/" + string(alg)
		data := s3test.RandBytes(uint64(len(alg)), 100_000)
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
	s3test.PutString(t, w, "objs", "empty", "")
	if got := s3test.GetString(t, rd, "objs", "empty"); got != "" {
		t.Errorf("empty object: %q", got)
	}
	s3test.PutString(t, w, "objs", "empty", "not any more")
	if got := s3test.GetString(t, rd, "objs", "empty"); got != "not any more" {
		t.Errorf("overwritten object: %q", got)
	}
	ho := s3test.Must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("empty")}))
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
	c1 := s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy1")}))
	if got := string(s3test.ReadAll(t, c1.Body)); got != body {
		t.Errorf("copy body %q", got)
	}
	check("copy (COPY)", c1.ContentType, c1.ContentEncoding, c1.CacheControl, c1.ContentDisposition, c1.ContentLanguage, c1.ExpiresString, c1.Metadata, c1.ETag, c1.LastModified, c1.ContentLength)
	// REPLACE: only the new metadata.
	_, err = w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy2"), CopySource: aws.String("objs/dir/file.txt"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("image/png"), Metadata: map[string]string{"new": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	c2 := s3test.Must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy2")}))
	if aws.ToString(c2.ContentType) != "image/png" || len(c2.Metadata) != 1 || c2.Metadata["new"] != "yes" || c2.ContentEncoding != nil || c2.CacheControl != nil {
		t.Errorf("copy (REPLACE): type %q meta %v encoding %v cache %v", aws.ToString(c2.ContentType), c2.Metadata, c2.ContentEncoding, c2.CacheControl)
	}
	// To itself: only with REPLACE.
	_, err = w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy2"), CopySource: aws.String("objs/copy2")})
	s3test.WantCode(t, err, "InvalidRequest", 400)
	_, err = w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy2"), CopySource: aws.String("objs/copy2"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"newer": "1"}})
	if err != nil {
		t.Errorf("copy to itself with REPLACE: %v", err)
	}
	// Source with special characters, URL-encoded as the SDK users must.
	s3test.PutString(t, w, "objs", "src key+ü", "special")
	_, err = w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy3"), CopySource: aws.String("objs/" + url.PathEscape("src key+ü"))})
	if err != nil {
		t.Fatal(err)
	}
	if got := s3test.GetString(t, rd, "objs", "copy3"); got != "special" {
		t.Errorf("copy of an encoded source: %q", got)
	}
	_, err = w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("objs"), Key: aws.String("copy4"), CopySource: aws.String("objs/nope")})
	s3test.WantCode(t, err, "NoSuchKey", 404)
	// The copy outlives its source.
	if _, err := w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")}); err != nil {
		t.Fatal(err)
	}
	e.collectGarbage()
	if got := s3test.GetString(t, rd, "objs", "copy1"); got != body {
		t.Errorf("copy after its source was deleted: %q", got)
	}
	_, err = rd.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")})
	s3test.WantCode(t, err, "NoSuchKey", 404)
	// Deleting what does not exist succeeds.
	if _, err := w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.txt")}); err != nil {
		t.Errorf("delete of a missing key: %v", err)
	}

	// DeleteObjects, verbose then quiet.
	for i := 0; i < 6; i++ {
		s3test.PutString(t, w, "objs", fmt.Sprintf("del/%d", i), "x")
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
	lo := s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("objs"), Prefix: aws.String("del/")}))
	if got := s3test.KeysOf(lo.Contents); !slices.Equal(got, []string{"del/4", "del/5"}) {
		t.Errorf("after DeleteObjects: %v", got)
	}
	_, err = w.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("no-such-bucket"), Delete: &types.Delete{Objects: ids("a")}})
	s3test.WantCode(t, err, "NoSuchBucket", 404)
}

// TestS3KeysRoundTrip: keys are data, never paths: each comes back exactly,
// in GET, HEAD, listings and copies, and nothing named after one appears on
// disk.
func TestS3KeysRoundTrip(t *testing.T) {
	e := newEnvWith(t, s4s3.Config{}) // blob objects only: the test looks at the blob files
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	s3test.MkBucket(t, w, "keys")
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
		if got := s3test.GetString(t, rd, "keys", k); got != body {
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
		s3test.WantCode(t, err, "NotFound", 404)
	}
	// Copy with an encoded source key.
	for _, k := range []string{"../x", "dir with space/a+b=c~d%e ü&x.txt", "%2F", "+"} {
		dst := "copy of " + k
		if _, err := w.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String(dst), CopySource: aws.String("keys/" + url.PathEscape(k))}); err != nil {
			t.Errorf("copy %q: %v", k, err)
			continue
		}
		if got, want := s3test.GetString(t, rd, "keys", dst), s3test.GetString(t, rd, "keys", k); got != want {
			t.Errorf("copy of %q: %q, want %q", k, got, want)
		}
	}
	// Past 1024 bytes.
	for _, k := range []string{long + "k", longUTF8 + "k"} {
		_, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader("x")})
		s3test.WantCode(t, err, "KeyTooLongError", 400)
		_, err = rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String(k)})
		s3test.WantCode(t, err, "KeyTooLongError", 400)
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
	s3test.WantCode(t, err, "NotFound", 404)
	if _, err := w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("%2F")}); err != nil {
		t.Fatal(err)
	}
	if got := s3test.GetString(t, rd, "keys", "+"); got == "" {
		t.Error("deleting %2F touched +")
	}

	// Nothing on disk is named after a key: blobs are stored by digest.
	root := filepath.Dir(e.dataDir)
	names := map[string]bool{}
	for _, k := range keys {
		for _, part := range strings.Split(k, "/") {
			if part != "" && part != "." && part != ".." && part != "tmp" {
				names[part] = true
			}
		}
	}
	blobs := filepath.Join(e.dataDir, "blobs")
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if names[d.Name()] {
			t.Errorf("%s is named after an object key", path)
		}
		if !strings.HasPrefix(path, e.dataDir) && path != root {
			t.Errorf("%s: outside the node's data dir", path)
		}
		if rel, err := filepath.Rel(blobs, path); err == nil && !strings.HasPrefix(rel, "..") && !d.IsDir() && rel != "FORMAT" {
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

// TestS3BadInput: malformed and oversize XML, bad ranges, unsupported
// sub-resources and HEAD errors get S3's error, and change nothing.
func TestS3BadInput(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	s3test.MkBucket(t, w, "bad")
	b := aws.String("bad")
	const body = "0123456789"
	s3test.PutString(t, w, "bad", "a", body)
	s3test.PutString(t, w, "bad", "b", body)

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
		out := s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b}))
		return s3test.KeysOf(out.Contents)
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
		resp, got := e.Signed(t, e.writer, "POST", "/bad?delete", []byte(x), nil)
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
	resp, got := e.Signed(t, e.writer, "POST", "/bad?delete", []byte(many.String()), nil)
	xmlErr("DeleteObjects of 1002 keys", resp, got, "MalformedXML", 400)
	// Over the size limit: a valid document padded with whitespace.
	pad := strings.Repeat(" ", 3<<20)
	resp, got = e.Signed(t, e.writer, "POST", "/bad?delete", []byte("<Delete>"+pad+"<Object><Key>a</Key></Object></Delete>"), nil)
	xmlErr("DeleteObjects of 3 MiB", resp, got, "MaxMessageLengthExceeded", 400)
	if k := objectsLeft(); !slices.Equal(k, []string{"a", "b"}) {
		t.Fatalf("objects after refused DeleteObjects: %q", k)
	}

	// CompleteMultipartUpload.
	up := s3test.Must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp")}))
	pt := s3test.Must[*s3.UploadPartOutput](t)(w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader(body)}))
	cpath := "/bad/mp?uploadId=" + aws.ToString(up.UploadId)
	good := fmt.Sprintf("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>", aws.ToString(pt.ETag))
	for _, x := range []string{
		good[:len(good)-10],
		"<CompleteMultipartUpload></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
		"",
	} {
		resp, got := e.Signed(t, e.writer, "POST", cpath, []byte(x), nil)
		xmlErr(fmt.Sprintf("Complete %q", x), resp, got, "MalformedXML", 400)
	}
	resp, got = e.Signed(t, e.writer, "POST", cpath, []byte("<CompleteMultipartUpload>"+strings.Repeat(" ", 5<<20)+good[len("<CompleteMultipartUpload>"):]), nil)
	xmlErr("Complete of 5 MiB", resp, got, "MaxMessageLengthExceeded", 400)
	if lp := s3test.Must[*s3.ListPartsOutput](t)(w.ListParts(bg, &s3.ListPartsInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId})); len(lp.Parts) != 1 {
		t.Fatalf("parts after malformed completions: %d", len(lp.Parts))
	}
	_, err := rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("mp")})
	s3test.WantCode(t, err, "NotFound", 404)
	resp, got = e.Signed(t, e.writer, "POST", cpath, []byte(good), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("the good completion after the bad ones: %d %s", resp.StatusCode, got)
	}
	if g := s3test.GetString(t, rd, "bad", "mp"); g != body {
		t.Errorf("completed: %q", g)
	}

	// CreateBucket and PutBucketAcl bodies: 1 MiB at most.
	resp, got = e.Signed(t, e.writer, "PUT", "/bad-big", []byte("<CreateBucketConfiguration>"+strings.Repeat(" ", 1<<20)+"</CreateBucketConfiguration>"), nil)
	xmlErr("CreateBucket of 1 MiB", resp, got, "MaxMessageLengthExceeded", 400)
	resp, got = e.Signed(t, e.writer, "PUT", "/bad-big", []byte("<CreateBucketConfiguration><LocationConstraint>"), nil)
	xmlErr("CreateBucket malformed", resp, got, "MalformedXML", 400)
	_, err = rd.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("bad-big")})
	s3test.WantCode(t, err, "NotFound", 404)
	resp, got = e.Signed(t, e.writer, "PUT", "/bad?acl", []byte("<AccessControlPolicy>"+strings.Repeat(" ", 1<<20)+"</AccessControlPolicy>"), nil)
	xmlErr("PutBucketAcl of 1 MiB", resp, got, "MaxMessageLengthExceeded", 400)

	// Bodies that do not match what the client declared: nothing stored.
	resp, got = e.Signed(t, e.writer, "PUT", "/bad/a", []byte("other"), map[string]string{"x-amz-checksum-crc32": "AAAAAA=="})
	xmlErr("PUT with a wrong CRC32", resp, got, "BadDigest", 400)
	resp, got = e.Signed(t, e.writer, "PUT", "/bad/a", []byte("other"), map[string]string{"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="})
	xmlErr("PUT with a wrong Content-MD5", resp, got, "BadDigest", 400)
	resp, got = e.Signed(t, e.writer, "PUT", "/bad/a", []byte("other"), map[string]string{"x-amz-checksum-crc32": "not base64"})
	if resp.StatusCode != 400 {
		t.Errorf("PUT with an invalid CRC32: %d %s", resp.StatusCode, got)
	}
	if g := s3test.GetString(t, rd, "bad", "a"); g != body {
		t.Fatalf("object after refused PUTs: %q", g)
	}

	// Range.
	for _, r := range []string{"bytes=10-20", "bytes=100-", "bytes=20-30"} {
		_, err := rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("a"), Range: aws.String(r)})
		s3test.WantCode(t, err, "InvalidRange", 416)
	}
	resp, got = e.Signed(t, e.reader, "GET", "/bad/a", nil, map[string]string{"Range": "bytes=10-"})
	xmlErr("Range past the end", resp, got, "InvalidRange", 416)
	if cr := resp.Header.Get("Content-Range"); cr != "bytes */10" {
		t.Errorf("416 Content-Range %q", cr)
	}
	// A Range S3 ignores (syntactically invalid): the whole object.
	resp, got = e.Signed(t, e.reader, "GET", "/bad/a", nil, map[string]string{"Range": "bytes=5-2"})
	if resp.StatusCode != 200 || string(got) != body {
		t.Errorf("invalid Range syntax: %d %q", resp.StatusCode, got)
	}

	// Unsupported sub-resources.
	_, err = rd.GetBucketPolicy(bg, &s3.GetBucketPolicyInput{Bucket: b})
	s3test.WantCode(t, err, "NotImplemented", 501)
	_, err = w.PutBucketPolicy(bg, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	s3test.WantCode(t, err, "NotImplemented", 501)
	_, err = w.DeleteBucketPolicy(bg, &s3.DeleteBucketPolicyInput{Bucket: b})
	s3test.WantCode(t, err, "NotImplemented", 501)
	_, err = rd.GetBucketCors(bg, &s3.GetBucketCorsInput{Bucket: b})
	s3test.WantCode(t, err, "NotImplemented", 501)
	// ?lifecycle is a bucket's (api_lifecycle_test.go); on an object it is
	// no operation, and certainly not DeleteObject.
	resp, got = e.Signed(t, e.writer, "DELETE", "/bad/a?lifecycle", nil, nil)
	xmlErr("DELETE object ?lifecycle", resp, got, "NotImplemented", 501)
	resp, got = e.Signed(t, e.writer, "POST", "/bad/a?restore", []byte("<RestoreRequest/>"), nil)
	xmlErr("POST ?restore", resp, got, "NotImplemented", 501)
	if g := s3test.GetString(t, rd, "bad", "a"); g != body {
		t.Fatalf("object after unsupported requests: %q", g)
	}

	// HEAD errors: a status, headers, no body at all on the wire.
	for _, c := range []struct {
		path, accessKey string
		status          int
	}{
		{"/bad/missing", e.reader.AccessKey, 404},
		{"/no-such-bucket", e.reader.AccessKey, 404},
		{"/bad/a", "S4AKNOSUCHKEY00000000000", 403},
	} {
		raw := e.Raw(t, "HEAD", c.path, s3test.User{AccessKey: c.accessKey, SecretKey: e.reader.SecretKey})
		head, rest, ok := strings.Cut(raw, "\r\n\r\n")
		if !ok || !strings.HasPrefix(head, fmt.Sprintf("HTTP/1.1 %d ", c.status)) || rest != "" {
			t.Errorf("HEAD %s: %q", c.path, raw)
		}
	}
}
