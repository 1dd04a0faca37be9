package s3_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s4/s4/internal/s3test"
)

// TestEmptyVersionedBucketByPages: a versioned bucket is emptied as boto3's
// bucket.object_versions.delete() and Terraform's force_destroy do: list a
// page of versions, delete the page (DeleteObjects with VersionIds), list
// the next page from the previous answer's NextKeyMarker and
// NextVersionIdMarker, which name a version just deleted. Every version
// must come up on some page: afterwards the bucket has none and
// DeleteBucket succeeds.
func TestEmptyVersionedBucketByPages(t *testing.T) {
	e := newEnv(t)
	w := e.SDKFor(e.writer)
	s3test.MkBucket(t, w, "empty-me")
	setVersioning(t, w, "empty-me", types.BucketVersioningStatusEnabled)
	for _, key := range []string{"a", "b"} {
		for i := range 5 {
			s3test.Must[*s3.PutObjectOutput](t)(w.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("empty-me"), Key: aws.String(key),
				Body: strings.NewReader(fmt.Sprint(key, i))}))
		}
		s3test.Must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("empty-me"), Key: aws.String(key)}))
	}
	in := &s3.ListObjectVersionsInput{Bucket: aws.String("empty-me"), MaxKeys: aws.Int32(2)}
	for range 100 {
		res := s3test.Must[*s3.ListObjectVersionsOutput](t)(w.ListObjectVersions(bg, in))
		var ids []types.ObjectIdentifier
		for _, v := range res.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, v := range res.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		if len(ids) > 0 {
			out := s3test.Must[*s3.DeleteObjectsOutput](t)(w.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("empty-me"),
				Delete: &types.Delete{Objects: ids}}))
			if len(out.Errors) > 0 {
				t.Fatalf("DeleteObjects: %+v", out.Errors)
			}
		}
		if !aws.ToBool(res.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = res.NextKeyMarker, res.NextVersionIdMarker
	}
	if left := listedVersions(t, w, "empty-me", 1000); len(left) != 0 {
		t.Errorf("versions left after deleting every page: %v", left)
	}
	if _, err := w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("empty-me")}); err != nil {
		t.Errorf("DeleteBucket after emptying: %v", err)
	}
}
