package node

import (
	"bytes"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestClusterVersionsAnyNode: versions written through n1 (an inline body
// and a blob body) are listed and read through n2 and n3 with the same
// IDs; a delete marker and the delete of a version through n2 are seen on
// every node.
func TestClusterVersionsAnyNode(t *testing.T) {
	nodes, _, c, alice := clusterWithAlice(t)
	cred := addKey(t, c, alice.ID)
	clients := make([]*s3.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = nodeS3Env(t, n).sdk(cred.AccessKey, cred.SecretKey)
	}
	b := aws.String("vers")
	mkBucket(t, clients[0], "vers")
	must[*s3.PutBucketVersioningOutput](t)(clients[0].PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}))
	small, big := []byte("small version"), randBytes(7, 1<<20)
	var ids []string
	for _, body := range [][]byte{small, big} {
		out := must[*s3.PutObjectOutput](t)(clients[0].PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: bytes.NewReader(body)}))
		ids = append(ids, aws.ToString(out.VersionId))
	}
	bigBlob := blobOf(t, nodes[0], "vers", "k") // the current version: big
	listed := func(c *s3.Client) (versions, markers []string) {
		out := must[*s3.ListObjectVersionsOutput](t)(c.ListObjectVersions(bg, &s3.ListObjectVersionsInput{Bucket: b}))
		for _, v := range out.Versions {
			versions = append(versions, aws.ToString(v.VersionId))
		}
		for _, m := range out.DeleteMarkers {
			markers = append(markers, aws.ToString(m.VersionId))
		}
		return versions, markers
	}
	for r := range nodes {
		if v, m := listed(clients[r]); !slices.Equal(v, []string{ids[1], ids[0]}) || len(m) != 0 {
			t.Errorf("versions through n%d: %q %q, want %q", r+1, v, m, []string{ids[1], ids[0]})
		}
		for i, body := range [][]byte{small, big} {
			out := must[*s3.GetObjectOutput](t)(clients[r].GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(ids[i])}))
			if got := readAll(t, out.Body); !bytes.Equal(got, body) || aws.ToString(out.VersionId) != ids[i] {
				t.Errorf("version %d through n%d: %d bytes, version %q", i, r+1, len(got), aws.ToString(out.VersionId))
			}
		}
	}
	// A delete marker through n2, then the blob version deleted through n2.
	d := must[*s3.DeleteObjectOutput](t)(clients[1].DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k")}))
	marker := aws.ToString(d.VersionId)
	must[*s3.DeleteObjectOutput](t)(clients[1].DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(ids[1])}))
	for r := range nodes {
		if v, m := listed(clients[r]); !slices.Equal(v, []string{ids[0]}) || !slices.Equal(m, []string{marker}) {
			t.Errorf("after the deletes, through n%d: versions %q markers %q", r+1, v, m)
		}
		_, err := clients[r].GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("k")})
		wantCode(t, err, "NoSuchKey", 404)
		_, err = clients[r].GetObject(bg, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(ids[1])})
		wantCode(t, err, "NoSuchVersion", 404)
		if n := nodes[r].fsm.Meta().BlobRefs(bigBlob); n != 0 {
			t.Errorf("n%d: the deleted version's blob has %d references", r+1, n)
		}
	}
}
