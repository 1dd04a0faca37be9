package s3_test

// Conditional writes through aws-sdk-go-v2, against the handler on its own
// (harness_test.go).

import (
	"bytes"
	"fmt"
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
// a refused write changes nothing; If-None-Match with an ETag is 501; and
// of many racing create-only PUTs of one key exactly one wins.
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
	_, err = put("k", "v3", func(in *s3.PutObjectInput) { in.IfNoneMatch = first.ETag })
	s3test.WantCode(t, err, "NotImplemented", 501)
	if got := s3test.GetString(t, w, "cond", "k"); got != "v2" {
		t.Fatalf("refused writes changed the object to %q", got)
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
