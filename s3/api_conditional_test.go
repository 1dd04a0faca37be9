package s3_test

// Conditional writes through aws-sdk-go-v2, against the handler on its own
// (harness_test.go).

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

// TestS3ConditionalWrites: PutObject and CompleteMultipartUpload with
// If-None-Match: * create only a missing key (412 otherwise); with If-Match
// they replace only an existing key with that ETag (404 NoSuchKey, 412);
// with If-None-Match and ETags they replace a key only if it has none of
// them (412; a missing key or another ETag passes); a refused write changes
// nothing; and of many racing create-only PUTs of one key exactly one wins.
func TestS3ConditionalWrites(t *testing.T) {
	e := newEnv(t)
	w := e.SDKFor(e.writer)
	s3test.MkBucket(t, w, "cond")
	put := func(key, body string, edit func(*s3.PutObjectInput)) (*s3.PutObjectOutput, error) {
		in := &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String(key), Body: strings.NewReader(body)}
		edit(in)
		return w.PutObject(bg, in)
	}
	create := func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }

	first, err := put("k", "v1", create)
	if err != nil {
		t.Fatalf("create-only PUT of a new key: %v", err)
	}
	_, err = put("k", "v2", create)
	s3test.WantCode(t, err, "PreconditionFailed", 412)
	if got := s3test.GetString(t, w, "cond", "k"); got != "v1" {
		t.Fatalf("after a refused create-only PUT the object is %q", got)
	}

	_, err = put("k", "v2", func(in *s3.PutObjectInput) { in.IfMatch = aws.String(`"00000000000000000000000000000000"`) })
	s3test.WantCode(t, err, "PreconditionFailed", 412)
	_, err = put("missing", "v2", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag })
	s3test.WantCode(t, err, "NoSuchKey", 404)
	if _, err := put("k", "v2", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag }); err != nil {
		t.Fatalf("PUT with the current ETag in If-Match: %v", err)
	}
	if got := s3test.GetString(t, w, "cond", "k"); got != "v2" {
		t.Fatalf("after the If-Match PUT the object is %q", got)
	}
	_, err = put("k", "v3", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag }) // no longer current
	s3test.WantCode(t, err, "PreconditionFailed", 412)
	current := s3test.Must[*s3.HeadObjectOutput](t)(w.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("cond"), Key: aws.String("k")})).ETag
	_, err = put("k", "v3", func(in *s3.PutObjectInput) { in.IfNoneMatch = current })
	s3test.WantCode(t, err, "PreconditionFailed", 412)
	_, err = put("k", "v3", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String(`"0", W/` + aws.ToString(current)) })
	s3test.WantCode(t, err, "PreconditionFailed", 412)
	if got := s3test.GetString(t, w, "cond", "k"); got != "v2" {
		t.Fatalf("refused writes changed the object to %q", got)
	}

	// If-None-Match with an ETag the key does not have, or on a missing key:
	// written.
	for _, key := range []string{"k-other", "k-new"} {
		if key == "k-other" {
			s3test.PutString(t, w, "cond", key, "other")
		}
		if _, err := put(key, "v4", func(in *s3.PutObjectInput) { in.IfNoneMatch = current }); err != nil {
			t.Fatalf("PUT %s with If-None-Match of another ETag: %v", key, err)
		}
		if got := s3test.GetString(t, w, "cond", key); got != "v4" {
			t.Fatalf("%s after a passing If-None-Match: %q", key, got)
		}
	}

	// CompleteMultipartUpload, create-only, on an existing key: 412, and
	// the upload is still there to complete without the condition.
	mp, err := w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("cond"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := w.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("cond"), Key: aws.String("k"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("multipart v3"))})
	if err != nil {
		t.Fatal(err)
	}
	complete := func(edit func(*s3.CompleteMultipartUploadInput)) error {
		in := &s3.CompleteMultipartUploadInput{Bucket: aws.String("cond"), Key: aws.String("k"), UploadId: mp.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}
		edit(in)
		_, err := w.CompleteMultipartUpload(bg, in)
		return err
	}
	s3test.WantCode(t, complete(func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") }), "PreconditionFailed", 412)
	if err := complete(func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = aws.String("*") }); err != nil {
		t.Fatalf("complete with If-Match: * on an existing key: %v", err)
	}
	if got := s3test.GetString(t, w, "cond", "k"); got != "multipart v3" {
		t.Fatalf("after the conditional complete the object is %q", got)
	}

	// Racing create-only PUTs of one new key: exactly one wins.
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = put("race", fmt.Sprintf("racer %d", i), create)
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		if err == nil {
			if won >= 0 {
				t.Fatalf("racers %d and %d both created the key", won, i)
			}
			won = i
			continue
		}
		if code, _ := s3test.APICode(err); code != "PreconditionFailed" {
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no racer created the key")
	}
	if got := s3test.GetString(t, w, "cond", "race"); got != fmt.Sprintf("racer %d", won) {
		t.Fatalf("the key holds %q, the winner was racer %d", got, won)
	}
}

// TestS3ConditionalDelete: DeleteObject with If-Match deletes only a key
// with that ETag (412 PreconditionFailed otherwise, the object kept) or,
// with *, any existing key; a missing key is 404 NoSuchKey, as S3 answers;
// of many racing conditional deletes of one object exactly one deletes it;
// DeleteObjects entries with an <ETag> get the same verdicts, each its own.
func TestS3ConditionalDelete(t *testing.T) {
	e := newEnv(t)
	w := e.SDKFor(e.writer)
	b := aws.String("cond")
	s3test.MkBucket(t, w, "cond")
	del := func(key, ifMatch string) error {
		_, err := w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String(key), IfMatch: aws.String(ifMatch)})
		return err
	}
	exists := func(key string) bool {
		_, err := w.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key)})
		return err == nil
	}
	v1 := aws.ToString(s3test.PutString(t, w, "cond", "k", "v1").ETag)
	s3test.WantCode(t, del("k", `"00000000000000000000000000000000"`), "PreconditionFailed", 412)
	s3test.WantCode(t, del("k", "W/"+v1), "PreconditionFailed", 412) // weak tags never match If-Match
	if !exists("k") {
		t.Fatal("a refused conditional delete deleted the object")
	}
	s3test.WantCode(t, del("missing", v1), "NoSuchKey", 404)
	s3test.WantCode(t, del("missing", "*"), "NoSuchKey", 404)
	if err := del("k", `"0", `+v1); err != nil {
		t.Fatalf("DeleteObject with the current ETag: %v", err)
	}
	if exists("k") {
		t.Fatal("the object is still there after the If-Match delete")
	}
	s3test.PutString(t, w, "cond", "k", "v2")
	if err := del("k", "*"); err != nil || exists("k") {
		t.Fatalf("DeleteObject with If-Match: *: %v, still there %v", err, exists("k"))
	}
	// Without a condition a missing key is still no error.
	if _, err := w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}

	// Racing deletes of one object, all with its ETag: one wins.
	etag := aws.ToString(s3test.PutString(t, w, "cond", "race", "x").ETag)
	const racers = 8
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { errs[i] = del("race", etag) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
		} else if code, status := s3test.APICode(err); code != "NoSuchKey" || status != 404 {
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d racers deleted the object, want 1", won)
	}

	// DeleteObjects entries with an <ETag>: each its own verdict.
	e1 := s3test.PutString(t, w, "cond", "m1", "1").ETag
	s3test.PutString(t, w, "cond", "m2", "2")
	s3test.PutString(t, w, "cond", "m3", "3")
	out := s3test.Must[*s3.DeleteObjectsOutput](t)(w.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("m1"), ETag: e1},
		{Key: aws.String("m2"), ETag: e1},
		{Key: aws.String("gone"), ETag: e1},
		{Key: aws.String("m3")},
	}}}))
	var deleted, failed []string
	for _, d := range out.Deleted {
		deleted = append(deleted, aws.ToString(d.Key))
	}
	for _, f := range out.Errors {
		failed = append(failed, aws.ToString(f.Key)+":"+aws.ToString(f.Code))
	}
	slices.Sort(deleted)
	slices.Sort(failed)
	if !slices.Equal(deleted, []string{"m1", "m3"}) || !slices.Equal(failed, []string{"gone:NoSuchKey", "m2:PreconditionFailed"}) {
		t.Errorf("DeleteObjects with ETags: deleted %q, errors %q", deleted, failed)
	}
	if exists("m1") || !exists("m2") || exists("m3") {
		t.Errorf("after DeleteObjects: m1 %v m2 %v m3 %v, want false true false", exists("m1"), exists("m2"), exists("m3"))
	}

	// An <ETag> too long to be one is that entry's InvalidArgument; the
	// entries before and after it still run, and the answer is a 200 that
	// says so. Before the fix, an ETag over the event size limit answered
	// the whole request 503 after the entries before it were deleted.
	e4 := s3test.PutString(t, w, "cond", "m4", "4").ETag
	s3test.PutString(t, w, "cond", "m5", "5")
	out = s3test.Must[*s3.DeleteObjectsOutput](t)(w.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("m4"), ETag: e4},
		{Key: aws.String("m2"), ETag: aws.String(strings.Repeat("x", 400<<10))},
		{Key: aws.String("m5")},
	}}}))
	deleted, failed = nil, nil
	for _, d := range out.Deleted {
		deleted = append(deleted, aws.ToString(d.Key))
	}
	for _, f := range out.Errors {
		failed = append(failed, aws.ToString(f.Key)+":"+aws.ToString(f.Code))
	}
	slices.Sort(deleted)
	if !slices.Equal(deleted, []string{"m4", "m5"}) || !slices.Equal(failed, []string{"m2:InvalidArgument"}) {
		t.Errorf("DeleteObjects with an oversized ETag: deleted %q, errors %q", deleted, failed)
	}
	if !exists("m2") || exists("m4") || exists("m5") {
		t.Errorf("after it: m2 %v m4 %v m5 %v, want true false false", exists("m2"), exists("m4"), exists("m5"))
	}
}
