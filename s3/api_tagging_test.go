package s3_test

// Object and bucket tagging through aws-sdk-go-v2 and minio-go, against the
// handler on its own (harness_test.go).

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/tags"

	"github.com/s4/s4/internal/s3test"
)

func tagSet(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

func tagPairs(ts []types.Tag) []string {
	var out []string
	for _, t := range ts {
		out = append(out, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	return out
}

// TestObjectTagging: tags set by x-amz-tagging on PutObject, by
// PutObjectTagging, kept or replaced by CopyObject, given by
// CreateMultipartUpload, counted by x-amz-tagging-count on GET and HEAD
// and removed by DeleteObjectTagging; S3's limits are InvalidTag, a bad
// body MalformedXML, a bad header InvalidArgument, and a refused request
// changes nothing; a Reader reads tags and cannot change them.
func TestObjectTagging(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	b := aws.String("tags")
	s3test.MkBucket(t, w, "tags")
	put := s3test.Must[*s3.PutObjectOutput](t)(w.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("data"),
		Tagging: aws.String("b=two%20words&a=1&empty=")}))
	get := func(key string) []string {
		t.Helper()
		out := s3test.Must[*s3.GetObjectTaggingOutput](t)(rd.GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String(key)}))
		return tagPairs(out.TagSet)
	}
	count := func(key string) (head, getc int32) {
		t.Helper()
		h := s3test.Must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key)}))
		g := s3test.Must[*s3.GetObjectOutput](t)(rd.GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String(key)}))
		g.Body.Close()
		return aws.ToInt32(h.TagCount), aws.ToInt32(g.TagCount)
	}
	want := func(key string, pairs ...string) {
		t.Helper()
		if got := get(key); !slices.Equal(got, pairs) {
			t.Errorf("%s: tags %q, want %q", key, got, pairs)
		}
		if h, g := count(key); h != int32(len(pairs)) || g != int32(len(pairs)) {
			t.Errorf("%s: x-amz-tagging-count HEAD %d GET %d, want %d", key, h, g, len(pairs))
		}
	}
	want("k", "a=1", "b=two words", "empty=")

	// PutObjectTagging replaces the set; the object is otherwise the same.
	long := strings.Repeat("ü", 256)
	s3test.Must[*s3.PutObjectTaggingOutput](t)(w.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: tagSet("ключ", long, "z", "", strings.Repeat("k", 128), "v")}}))
	want("k", strings.Repeat("k", 128)+"=v", "z=", "ключ="+long)
	if h := s3test.Must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k")})); aws.ToString(h.ETag) != aws.ToString(put.ETag) {
		t.Errorf("ETag %s after PutObjectTagging, was %s", aws.ToString(h.ETag), aws.ToString(put.ETag))
	}
	if s3test.GetString(t, rd, "tags", "k") != "data" {
		t.Error("the object's data changed with its tags")
	}

	// S3's limits.
	eleven := make([]string, 0, 22)
	for i := range 11 {
		eleven = append(eleven, string(rune('a'+i)), "v")
	}
	for name, ts := range map[string][]types.Tag{
		"11 tags":        tagSet(eleven...),
		"key too long":   tagSet(strings.Repeat("k", 129), "v"),
		"value too long": tagSet("k", strings.Repeat("v", 257)),
		"duplicate key":  tagSet("k", "1", "k", "2"),
		"aws: key":       tagSet("aws:cloudformation:stack-name", "x"),
		"empty key":      tagSet("", "x"),
	} {
		_, err := w.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"), Tagging: &types.Tagging{TagSet: ts}})
		if code, status := s3test.APICode(err); code != "InvalidTag" || status != 400 {
			t.Errorf("%s: %v, want InvalidTag", name, err)
		}
	}
	for _, body := range []string{"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>", "<Tagging/>", "<Tagging><TagSet>", "not xml"} {
		resp, got := e.Signed(t, e.writer, "PUT", "/tags/k?tagging", []byte(body), nil)
		if resp.StatusCode != 400 || !strings.Contains(string(got), "<Code>MalformedXML</Code>") {
			t.Errorf("body %q: %d %s", body, resp.StatusCode, got)
		}
	}
	want("k", strings.Repeat("k", 128)+"=v", "z=", "ключ="+long) // unchanged

	// x-amz-tagging that is refused stores nothing.
	for hdr, code := range map[string]string{"a=1&a=2": "InvalidArgument", "a=%zz": "InvalidArgument", strings.Repeat("x", 129) + "=1": "InvalidTag",
		"a&b&c&d&e&f&g&h&i&j&k": "InvalidTag"} {
		_, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("refused"), Body: strings.NewReader("x"), Tagging: aws.String(hdr)})
		if c, _ := s3test.APICode(err); c != code {
			t.Errorf("x-amz-tagging %q: %v, want %s", hdr, err, code)
		}
	}
	_, err := rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("refused")})
	s3test.WantCode(t, err, "NotFound", 404)

	// CopyObject: the source's tags by default, the request's with REPLACE.
	s3test.Must[*s3.CopyObjectOutput](t)(w.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("tags/k")}))
	want("copy", strings.Repeat("k", 128)+"=v", "z=", "ключ="+long)
	s3test.Must[*s3.CopyObjectOutput](t)(w.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("tags/k"),
		TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("new=1")}))
	want("copy", "new=1")
	s3test.Must[*s3.CopyObjectOutput](t)(w.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("tags/k"),
		TaggingDirective: types.TaggingDirectiveReplace}))
	want("copy")
	resp, body := e.Signed(t, e.writer, "PUT", "/tags/copy2", nil, map[string]string{"X-Amz-Copy-Source": "/tags/k", "X-Amz-Tagging-Directive": "MOVE"})
	if resp.StatusCode != 400 || !strings.Contains(string(body), "<Code>InvalidArgument</Code>") {
		t.Errorf("tagging directive MOVE: %d %s", resp.StatusCode, body)
	}

	// CreateMultipartUpload's tags go to the object.
	mp := s3test.Must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp"), Tagging: aws.String("part=yes")}))
	pt := s3test.Must[*s3.UploadPartOutput](t)(w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("z")}))
	s3test.Must[*s3.CompleteMultipartUploadOutput](t)(w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pt.ETag}}}}))
	want("mp", "part=yes")

	// minio-go sees the same tags and sets them too.
	mc := e.Minio(t, e.writer)
	mt, err := mc.GetObjectTagging(bg, "tags", "mp", minio.GetObjectTaggingOptions{})
	if err != nil || !maps.Equal(mt.ToMap(), map[string]string{"part": "yes"}) {
		t.Errorf("minio-go GetObjectTagging: %v %v", mt, err)
	}
	nt, _ := tags.NewTags(map[string]string{"from": "minio"}, true)
	if err := mc.PutObjectTagging(bg, "tags", "mp", nt, minio.PutObjectTaggingOptions{}); err != nil {
		t.Fatal(err)
	}
	want("mp", "from=minio")

	// DeleteObjectTagging.
	s3test.Must[*s3.DeleteObjectTaggingOutput](t)(w.DeleteObjectTagging(bg, &s3.DeleteObjectTaggingInput{Bucket: b, Key: aws.String("k")}))
	want("k")

	// Missing keys and buckets; roles.
	_, err = rd.GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("missing")})
	s3test.WantCode(t, err, "NoSuchKey", 404)
	_, err = w.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("missing"), Tagging: &types.Tagging{TagSet: tagSet("a", "b")}})
	s3test.WantCode(t, err, "NoSuchKey", 404)
	_, err = w.DeleteObjectTagging(bg, &s3.DeleteObjectTaggingInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
	s3test.WantCode(t, err, "NoSuchBucket", 404)
	_, err = rd.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("mp"), Tagging: &types.Tagging{TagSet: tagSet("a", "b")}})
	s3test.WantCode(t, err, "AccessDenied", 403)
	_, err = rd.DeleteObjectTagging(bg, &s3.DeleteObjectTaggingInput{Bucket: b, Key: aws.String("mp")})
	s3test.WantCode(t, err, "AccessDenied", 403)
	want("mp", "from=minio")
}

// TestBucketTagging: Put/Get/DeleteBucketTagging with S3's limit of 50
// tags; a bucket without tags is NoSuchTagSet; a Reader reads them and
// cannot change them.
func TestBucketTagging(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	b := aws.String("btags")
	s3test.MkBucket(t, w, "btags")
	_, err := rd.GetBucketTagging(bg, &s3.GetBucketTaggingInput{Bucket: b})
	s3test.WantCode(t, err, "NoSuchTagSet", 404)

	s3test.Must[*s3.PutBucketTaggingOutput](t)(w.PutBucketTagging(bg, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: tagSet("team", "s4", "env", "test")}}))
	out := s3test.Must[*s3.GetBucketTaggingOutput](t)(rd.GetBucketTagging(bg, &s3.GetBucketTaggingInput{Bucket: b}))
	if got := tagPairs(out.TagSet); !slices.Equal(got, []string{"env=test", "team=s4"}) {
		t.Errorf("bucket tags %q", got)
	}
	fifty := make([]string, 0, 102)
	for i := range 51 {
		fifty = append(fifty, strings.Repeat("k", i+1), "v")
	}
	_, err = w.PutBucketTagging(bg, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: tagSet(fifty...)}})
	s3test.WantCode(t, err, "InvalidTag", 400)
	_, err = rd.PutBucketTagging(bg, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: tagSet("a", "b")}})
	s3test.WantCode(t, err, "AccessDenied", 403)
	_, err = rd.DeleteBucketTagging(bg, &s3.DeleteBucketTaggingInput{Bucket: b})
	s3test.WantCode(t, err, "AccessDenied", 403)
	if out := s3test.Must[*s3.GetBucketTaggingOutput](t)(rd.GetBucketTagging(bg, &s3.GetBucketTaggingInput{Bucket: b})); len(out.TagSet) != 2 {
		t.Errorf("refused requests changed the bucket's tags: %q", tagPairs(out.TagSet))
	}
	s3test.Must[*s3.PutBucketTaggingOutput](t)(w.PutBucketTagging(bg, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: tagSet(fifty[:100]...)}}))
	if out := s3test.Must[*s3.GetBucketTaggingOutput](t)(rd.GetBucketTagging(bg, &s3.GetBucketTaggingInput{Bucket: b})); len(out.TagSet) != 50 {
		t.Errorf("50 bucket tags: %d", len(out.TagSet))
	}
	s3test.Must[*s3.DeleteBucketTaggingOutput](t)(w.DeleteBucketTagging(bg, &s3.DeleteBucketTaggingInput{Bucket: b}))
	_, err = rd.GetBucketTagging(bg, &s3.GetBucketTaggingInput{Bucket: b})
	s3test.WantCode(t, err, "NoSuchTagSet", 404)
	_, err = rd.GetBucketTagging(bg, &s3.GetBucketTaggingInput{Bucket: aws.String("nobucket")})
	s3test.WantCode(t, err, "NoSuchBucket", 404)
	// The bucket's tags are not its objects'.
	s3test.PutString(t, w, "btags", "k", "x")
	if h := s3test.Must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k")})); h.TagCount != nil {
		t.Errorf("an untagged object has a tag count %d", aws.ToInt32(h.TagCount))
	}
}
