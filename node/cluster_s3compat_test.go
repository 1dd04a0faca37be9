package node

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestClusterTaggingAndConditionalsAnyNode: the events of tagging, of
// conditional deletes and of a completed upload's memory travel through the
// cluster as every other write: tags set through one node are read through
// the others, a conditional delete through one node is refused or applied
// as the object on the leader says, and a CompleteMultipartUpload re-sent
// to another node gets the first answer.
func TestClusterTaggingAndConditionalsAnyNode(t *testing.T) {
	nodes, _, c, alice := clusterWithAlice(t)
	cred := addKey(t, c, alice.ID)
	clients := make([]*s3.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = nodeS3Env(t, n).sdk(cred.AccessKey, cred.SecretKey)
	}
	b := aws.String("compat")
	mkBucket(t, clients[0], "compat")
	put := putString(t, clients[1], "compat", "k", "data")
	for i := range nodes {
		tags := []types.Tag{{Key: aws.String("through"), Value: aws.String(fmt.Sprintf("n%d", i+1))}}
		must[*s3.PutObjectTaggingOutput](t)(clients[i].PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"), Tagging: &types.Tagging{TagSet: tags}}))
		must[*s3.PutBucketTaggingOutput](t)(clients[i].PutBucketTagging(bg, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: tags}}))
		for r := range nodes {
			out := must[*s3.GetObjectTaggingOutput](t)(clients[r].GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("k")}))
			bt := must[*s3.GetBucketTaggingOutput](t)(clients[r].GetBucketTagging(bg, &s3.GetBucketTaggingInput{Bucket: b}))
			want := fmt.Sprintf("n%d", i+1)
			if len(out.TagSet) != 1 || aws.ToString(out.TagSet[0].Value) != want || len(bt.TagSet) != 1 || aws.ToString(bt.TagSet[0].Value) != want {
				t.Errorf("tags set through n%d, read through n%d: object %v bucket %v", i+1, r+1, out.TagSet, bt.TagSet)
			}
		}
	}

	// A conditional delete through each node: refused for another ETag,
	// applied for the object's.
	for i := range nodes {
		_, err := clients[i].DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), IfMatch: aws.String(`"00000000000000000000000000000000"`)})
		wantCode(t, err, "PreconditionFailed", 412)
	}
	must[*s3.DeleteObjectOutput](t)(clients[2].DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), IfMatch: put.ETag}))
	for r := range nodes {
		_, err := clients[r].HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k")})
		wantCode(t, err, "NotFound", 404)
	}

	// An upload completed through n1, its completion re-sent to n2 and n3.
	mp := must[*s3.CreateMultipartUploadOutput](t)(clients[0].CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp")}))
	pt := must[*s3.UploadPartOutput](t)(clients[0].UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("one part"))}))
	in := &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pt.ETag}}}}
	var etags []string
	for i := range nodes {
		out := must[*s3.CompleteMultipartUploadOutput](t)(clients[i].CompleteMultipartUpload(bg, in))
		etags = append(etags, aws.ToString(out.ETag))
	}
	if len(slices.Compact(slices.Clone(etags))) != 1 {
		t.Errorf("completion through n1 then re-sent to n2 and n3: ETags %q", etags)
	}
}
