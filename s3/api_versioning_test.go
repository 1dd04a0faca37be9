package s3_test

// S3 versioning through aws-sdk-go-v2 and minio-go, against the handler on
// its own (harness_test.go).

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"github.com/s4/s4/internal/s3test"
	"github.com/s4/s4/meta"
)

func setVersioning(t *testing.T, c *s3.Client, bucket string, st types.BucketVersioningStatus) {
	t.Helper()
	s3test.Must[*s3.PutBucketVersioningOutput](t)(c.PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: st}}))
}

func versioningOf(t *testing.T, c *s3.Client, bucket string) types.BucketVersioningStatus {
	t.Helper()
	return s3test.Must[*s3.GetBucketVersioningOutput](t)(c.GetBucketVersioning(bg, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})).Status
}

// TestBucketVersioningState: a new bucket is unversioned (no Status);
// PutBucketVersioning enables and suspends it, never back to unversioned;
// bad documents are MalformedXML or IllegalVersioningConfigurationException
// and change nothing; a Reader reads the state but may not change it.
func TestBucketVersioningState(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	s3test.MkBucket(t, w, "vers")
	if st := versioningOf(t, rd, "vers"); st != "" {
		t.Fatalf("new bucket: status %q", st)
	}
	setVersioning(t, w, "vers", types.BucketVersioningStatusEnabled)
	if st := versioningOf(t, rd, "vers"); st != types.BucketVersioningStatusEnabled {
		t.Fatalf("after enabling: status %q", st)
	}
	_, err := rd.PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: aws.String("vers"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	s3test.WantCode(t, err, "AccessDenied", 403)
	setVersioning(t, w, "vers", types.BucketVersioningStatusSuspended)
	if st := versioningOf(t, rd, "vers"); st != types.BucketVersioningStatusSuspended {
		t.Fatalf("after suspending: status %q", st)
	}
	for _, c := range []struct{ body, code string }{
		{`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Off</Status></VersioningConfiguration>`, "MalformedXML"},
		{`<VersioningConfiguration><Status></Status></VersioningConfiguration>`, "MalformedXML"},
		{`<VersioningConfiguration>`, "MalformedXML"},
		{`<Versioning><Status>Enabled</Status></Versioning>`, "MalformedXML"},
		{``, "MalformedXML"},
		{`<VersioningConfiguration/>`, "IllegalVersioningConfigurationException"},
		{`<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>`, "IllegalVersioningConfigurationException"},
	} {
		resp, got := e.Signed(t, e.writer, "PUT", "/vers?versioning", []byte(c.body), nil)
		if resp.StatusCode != 400 || !containsCode(got, c.code) {
			t.Errorf("PUT ?versioning %q: %d %s, want 400 %s", c.body, resp.StatusCode, got, c.code)
		}
	}
	if st := versioningOf(t, rd, "vers"); st != types.BucketVersioningStatusSuspended {
		t.Fatalf("after refused documents: status %q", st)
	}
	// MfaDelete Disabled is what S3 has anyway.
	resp, got := e.Signed(t, e.writer, "PUT", "/vers?versioning",
		[]byte(`<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>`), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("enable with MfaDelete Disabled: %d %s", resp.StatusCode, got)
	}
	// minio-go reads the same state.
	mc := e.Minio(t, e.reader)
	cfg, err := mc.GetBucketVersioning(bg, "vers")
	if err != nil || !cfg.Enabled() {
		t.Fatalf("minio GetBucketVersioning: %+v %v", cfg, err)
	}
	if err := e.Minio(t, e.writer).SuspendVersioning(bg, "vers"); err != nil {
		t.Fatal(err)
	}
	if cfg, err := mc.GetBucketVersioning(bg, "vers"); err != nil || !cfg.Suspended() {
		t.Fatalf("minio after SuspendVersioning: %+v %v", cfg, err)
	}
	// Missing bucket; ?versioning on an object is no operation.
	_, err = w.PutBucketVersioning(bg, &s3.PutBucketVersioningInput{Bucket: aws.String("nobucket"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	s3test.WantCode(t, err, "NoSuchBucket", 404)
	_, err = rd.GetBucketVersioning(bg, &s3.GetBucketVersioningInput{Bucket: aws.String("nobucket")})
	s3test.WantCode(t, err, "NoSuchBucket", 404)
	resp, got = e.Signed(t, e.reader, "GET", "/vers/k?versioning", nil, nil)
	if resp.StatusCode != 501 {
		t.Errorf("GET object ?versioning: %d %s", resp.StatusCode, got)
	}
}

func containsCode(body []byte, code string) bool {
	return len(code) > 0 && strings.Contains(string(body), "<Code>"+code+"</Code>")
}

// getVersion reads version id of bucket/key ("": the latest) as a string.
func getVersion(t *testing.T, c *s3.Client, bucket, key, id string) (string, error) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if id != "" {
		in.VersionId = aws.String(id)
	}
	out, err := c.GetObject(bg, in)
	if err != nil {
		return "", err
	}
	return string(s3test.ReadAll(t, out.Body)), nil
}

// listedVersions is ListObjectVersions of bucket as "key id[:m][*]" per
// version (m: a delete marker, *: the latest), in the answer's order,
// paging with max-keys page.
func listedVersions(t *testing.T, c *s3.Client, bucket string, page int32) []string {
	t.Helper()
	var out []string
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(page)}
	for range 1000 {
		res := s3test.Must[*s3.ListObjectVersionsOutput](t)(c.ListObjectVersions(bg, in))
		// The SDK splits versions and markers: put them back in S3's order
		// (key, then newest first) by their order in the answer... which
		// the SDK loses; sort by key then LastModified, newest first.
		type ent struct {
			key, s string
			at     int64
		}
		var ents []ent
		for _, v := range res.Versions {
			s := aws.ToString(v.Key) + " " + aws.ToString(v.VersionId)
			if aws.ToBool(v.IsLatest) {
				s += "*"
			}
			ents = append(ents, ent{aws.ToString(v.Key), s, v.LastModified.UnixNano()})
		}
		for _, v := range res.DeleteMarkers {
			s := aws.ToString(v.Key) + " " + aws.ToString(v.VersionId) + ":m"
			if aws.ToBool(v.IsLatest) {
				s += "*"
			}
			ents = append(ents, ent{aws.ToString(v.Key), s, v.LastModified.UnixNano()})
		}
		slices.SortStableFunc(ents, func(a, b ent) int {
			if a.key != b.key {
				return strings.Compare(a.key, b.key)
			}
			return int(b.at - a.at)
		})
		for _, e := range ents {
			out = append(out, e.s)
		}
		if !aws.ToBool(res.IsTruncated) {
			return out
		}
		in.KeyMarker, in.VersionIdMarker = res.NextKeyMarker, res.NextVersionIdMarker
	}
	t.Fatal("ListObjectVersions never ends")
	return nil
}

// TestObjectVersions: version IDs on PUT, copy and complete; GET, HEAD,
// DELETE and tagging by versionId; delete markers; CopyObject from a
// version; the null version; DeleteObjects with versions;
// ListObjectVersions; DeleteBucket while versions exist.
func TestObjectVersions(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	b := aws.String("verobj")
	s3test.MkBucket(t, w, "verobj")
	// Before versioning: the null version, no x-amz-version-id.
	if out := s3test.PutString(t, w, "verobj", "k", "null0"); out.VersionId != nil {
		t.Fatalf("unversioned PUT: version %q", aws.ToString(out.VersionId))
	}
	setVersioning(t, w, "verobj", types.BucketVersioningStatusEnabled)
	v1 := aws.ToString(s3test.PutString(t, w, "verobj", "k", "one").VersionId)
	v2 := aws.ToString(s3test.PutString(t, w, "verobj", "k", "two").VersionId)
	if len(v1) != 32 || len(v2) != 32 || v1 == v2 {
		t.Fatalf("version IDs %q %q", v1, v2)
	}
	for id, want := range map[string]string{"": "two", v1: "one", v2: "two", "null": "null0"} {
		if got, err := getVersion(t, rd, "verobj", "k", id); err != nil || got != want {
			t.Errorf("GET version %q: %q %v, want %q", id, got, err, want)
		}
	}
	h := s3test.Must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v1)}))
	if aws.ToString(h.VersionId) != v1 || aws.ToInt64(h.ContentLength) != 3 {
		t.Errorf("HEAD v1: %q %d", aws.ToString(h.VersionId), aws.ToInt64(h.ContentLength))
	}
	_, err := getVersion(t, rd, "verobj", "k", "0123456789abcdef0123456789abcdef")
	s3test.WantCode(t, err, "NoSuchVersion", 404)
	_, err = getVersion(t, rd, "verobj", "k", "bad/id")
	s3test.WantCode(t, err, "InvalidArgument", 400)

	// Copy from a version; the copy is a new version.
	cp := s3test.Must[*s3.CopyObjectOutput](t)(w.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"),
		CopySource: aws.String("verobj/k?versionId=" + v1)}))
	if aws.ToString(cp.CopySourceVersionId) != v1 || len(aws.ToString(cp.VersionId)) != 32 {
		t.Errorf("copy: source version %q, version %q", aws.ToString(cp.CopySourceVersionId), aws.ToString(cp.VersionId))
	}
	if got, _ := getVersion(t, rd, "verobj", "copy", ""); got != "one" {
		t.Errorf("copy of v1: %q", got)
	}
	// Restoring v1 by copying it onto its key.
	s3test.Must[*s3.CopyObjectOutput](t)(w.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"),
		CopySource: aws.String("verobj/k?versionId=" + v1)}))

	// A delete makes a delete marker.
	d := s3test.Must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k")}))
	marker := aws.ToString(d.VersionId)
	if !aws.ToBool(d.DeleteMarker) || len(marker) != 32 {
		t.Fatalf("delete: marker %v %q", aws.ToBool(d.DeleteMarker), marker)
	}
	_, err = getVersion(t, rd, "verobj", "k", "")
	s3test.WantCode(t, err, "NoSuchKey", 404)
	resp, _ := e.Signed(t, e.reader, "GET", "/verobj/k", nil, nil)
	if resp.Header.Get("x-amz-delete-marker") != "true" || resp.Header.Get("x-amz-version-id") != marker {
		t.Errorf("GET of a deleted key: headers %v", resp.Header)
	}
	resp, _ = e.Signed(t, e.reader, "GET", "/verobj/k?versionId="+marker, nil, nil)
	if resp.StatusCode != 405 || resp.Header.Get("x-amz-delete-marker") != "true" {
		t.Errorf("GET of a delete marker: %d %v", resp.StatusCode, resp.Header)
	}
	if got, _ := getVersion(t, rd, "verobj", "k", v2); got != "two" {
		t.Errorf("v2 behind the marker: %q", got)
	}
	lo := s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b}))
	if got := s3test.KeysOf(lo.Contents); !slices.Equal(got, []string{"copy"}) {
		t.Errorf("ListObjectsV2 with a deleted key: %q", got)
	}
	_, err = w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: b})
	s3test.WantCode(t, err, "BucketNotEmpty", 409)

	// Tags per version.
	s3test.Must[*s3.PutObjectTaggingOutput](t)(w.PutObjectTagging(bg, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v1),
		Tagging: &types.Tagging{TagSet: tagSet("a", "1")}}))
	tg := s3test.Must[*s3.GetObjectTaggingOutput](t)(rd.GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v1)}))
	if got := tagPairs(tg.TagSet); !slices.Equal(got, []string{"a=1"}) || aws.ToString(tg.VersionId) != v1 {
		t.Errorf("tags of v1: %q %q", got, aws.ToString(tg.VersionId))
	}
	tg = s3test.Must[*s3.GetObjectTaggingOutput](t)(rd.GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v2)}))
	if len(tg.TagSet) != 0 {
		t.Errorf("tags of v2: %q", tagPairs(tg.TagSet))
	}
	_, err = rd.GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("k")})
	s3test.WantCode(t, err, "NoSuchKey", 404)
	s3test.Must[*s3.DeleteObjectTaggingOutput](t)(w.DeleteObjectTagging(bg, &s3.DeleteObjectTaggingInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v1)}))
	tg = s3test.Must[*s3.GetObjectTaggingOutput](t)(rd.GetObjectTagging(bg, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v1)}))
	if len(tg.TagSet) != 0 {
		t.Errorf("tags of v1 after delete: %q", tagPairs(tg.TagSet))
	}

	want := []string{"copy " + "?*", "copy ?", "k " + marker + ":m*", "k " + v2, "k " + v1, "k null"}
	got := listedVersions(t, rd, "verobj", 1000)
	if len(got) != len(want) || !slices.Equal(got[2:], want[2:]) || !strings.HasSuffix(got[0], "*") {
		t.Errorf("versions: %q, want %q", got, want)
	}
	for _, page := range []int32{1, 2, 3} {
		if p := listedVersions(t, rd, "verobj", page); !slices.Equal(p, got) {
			t.Errorf("versions by pages of %d: %q, want %q", page, p, got)
		}
	}

	// Deleting the marker by ID brings v2 back; deleting v2 brings v1.
	d = s3test.Must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(marker)}))
	if !aws.ToBool(d.DeleteMarker) || aws.ToString(d.VersionId) != marker {
		t.Errorf("delete of the marker: %v %q", aws.ToBool(d.DeleteMarker), aws.ToString(d.VersionId))
	}
	if got, _ := getVersion(t, rd, "verobj", "k", ""); got != "two" {
		t.Errorf("latest after deleting the marker: %q", got)
	}
	s3test.Must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(v2)}))
	if got, _ := getVersion(t, rd, "verobj", "k", ""); got != "one" {
		t.Errorf("latest after deleting v2: %q", got)
	}
	_, err = getVersion(t, rd, "verobj", "k", v2)
	s3test.WantCode(t, err, "NoSuchVersion", 404)

	// Multipart: Complete answers the version.
	mp := s3test.Must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp")}))
	pt := s3test.Must[*s3.UploadPartOutput](t)(w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part")}))
	cm := s3test.Must[*s3.CompleteMultipartUploadOutput](t)(w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pt.ETag}}}}))
	if len(aws.ToString(cm.VersionId)) != 32 {
		t.Errorf("complete: version %q", aws.ToString(cm.VersionId))
	}
	if got, _ := getVersion(t, rd, "verobj", "mp", aws.ToString(cm.VersionId)); got != "part" {
		t.Errorf("multipart version: %q", got)
	}

	// DeleteObjects with versions and without.
	do := s3test.Must[*s3.DeleteObjectsOutput](t)(w.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("k"), VersionId: aws.String(v1)},
		{Key: aws.String("mp")},
		{Key: aws.String("k"), VersionId: aws.String("bad/id")},
	}}}))
	if len(do.Deleted) != 2 || len(do.Errors) != 1 || aws.ToString(do.Errors[0].Code) != "InvalidArgument" {
		t.Fatalf("DeleteObjects: %+v %+v", do.Deleted, do.Errors)
	}
	for _, dd := range do.Deleted {
		switch aws.ToString(dd.Key) {
		case "k":
			if aws.ToString(dd.VersionId) != v1 || aws.ToBool(dd.DeleteMarker) {
				t.Errorf("deleted k: %+v", dd)
			}
		case "mp":
			if !aws.ToBool(dd.DeleteMarker) || len(aws.ToString(dd.DeleteMarkerVersionId)) != 32 {
				t.Errorf("deleted mp: %+v", dd)
			}
		}
	}
	if got, _ := getVersion(t, rd, "verobj", "k", ""); got != "null0" {
		t.Errorf("latest of k after deleting v1: %q", got)
	}

	// Suspended: writes and deletes are the null version.
	setVersioning(t, w, "verobj", types.BucketVersioningStatusSuspended)
	if out := s3test.PutString(t, w, "verobj", "k", "null1"); aws.ToString(out.VersionId) != "null" {
		t.Errorf("suspended PUT: version %q", aws.ToString(out.VersionId))
	}
	if h := s3test.Must[*s3.HeadObjectOutput](t)(rd.HeadObject(bg, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k")})); aws.ToString(h.VersionId) != "null" {
		t.Errorf("HEAD of the null version of a suspended bucket: version %q", aws.ToString(h.VersionId))
	}
	d = s3test.Must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k")}))
	if !aws.ToBool(d.DeleteMarker) || aws.ToString(d.VersionId) != "null" {
		t.Errorf("suspended delete: %v %q", aws.ToBool(d.DeleteMarker), aws.ToString(d.VersionId))
	}
	if got := listedVersions(t, rd, "verobj", 1000); !slices.Contains(got, "k null:m*") || len(got) != 5 {
		t.Errorf("versions after suspended writes: %q", got)
	}

	// Every version gone: the bucket can go; the blobs are freed.
	for _, v := range e.meta.ObjectVersions("verobj", "copy") {
		s3test.Must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("copy"), VersionId: aws.String(vidOf(v.Object.VersionID))}))
	}
	for _, k := range []string{"k", "mp"} {
		for _, v := range e.meta.ObjectVersions("verobj", k) {
			s3test.Must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String(k), VersionId: aws.String(vidOf(v.Object.VersionID))}))
		}
	}
	s3test.Must[*s3.DeleteBucketOutput](t)(w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: b}))

	// minio-go lists versions too.
	s3test.MkBucket(t, w, "vermin")
	setVersioning(t, w, "vermin", types.BucketVersioningStatusEnabled)
	s3test.PutString(t, w, "vermin", "a", "1")
	s3test.PutString(t, w, "vermin", "a", "2")
	w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("vermin"), Key: aws.String("a")})
	n, markers := 0, 0
	for o := range e.Minio(t, e.reader).ListObjects(bg, "vermin", minio.ListObjectsOptions{WithVersions: true, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
		if o.IsDeleteMarker {
			markers++
		}
	}
	if n != 3 || markers != 1 {
		t.Errorf("minio versions: %d, markers %d", n, markers)
	}
}

func vidOf(id string) string {
	if id == "" {
		return "null"
	}
	return id
}

// TestVersionListings: ListObjectVersions with prefix, delimiter and
// encoding-type=url, its marker rules; ListObjectsV2 hides keys (and
// common prefixes) whose latest version is a delete marker; a conditional
// PUT sees a delete marker as no key; DeleteObjects of a delete marker by
// ID; minio-go reads a version.
func TestVersionListings(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	b := aws.String("verlist")
	s3test.MkBucket(t, w, "verlist")
	setVersioning(t, w, "verlist", types.BucketVersioningStatusEnabled)
	for _, k := range []string{"a b", "dir/x", "dir/y", "gone/z", "zz"} {
		s3test.PutString(t, w, "verlist", k, k)
	}
	d := s3test.Must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("gone/z")}))
	s3test.Must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("zz")}))

	lo := s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, Delimiter: aws.String("/")}))
	if k, p := s3test.KeysOf(lo.Contents), s3test.PrefixesOf(lo.CommonPrefixes); !slices.Equal(k, []string{"a b"}) || !slices.Equal(p, []string{"dir/"}) {
		t.Errorf("ListObjectsV2 /: keys %q prefixes %q", k, p)
	}
	lo = s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(3)}))
	if k := s3test.KeysOf(lo.Contents); !slices.Equal(k, []string{"a b", "dir/x", "dir/y"}) || aws.ToBool(lo.IsTruncated) {
		t.Errorf("ListObjectsV2 max-keys 3: %q truncated %v", k, aws.ToBool(lo.IsTruncated))
	}

	lv := s3test.Must[*s3.ListObjectVersionsOutput](t)(rd.ListObjectVersions(bg, &s3.ListObjectVersionsInput{Bucket: b, Delimiter: aws.String("/")}))
	if p := s3test.PrefixesOf(lv.CommonPrefixes); !slices.Equal(p, []string{"dir/", "gone/"}) || len(lv.Versions) != 2 || len(lv.DeleteMarkers) != 1 {
		t.Errorf("ListObjectVersions /: prefixes %q, %d versions, %d markers", p, len(lv.Versions), len(lv.DeleteMarkers))
	}
	lv = s3test.Must[*s3.ListObjectVersionsOutput](t)(rd.ListObjectVersions(bg, &s3.ListObjectVersionsInput{Bucket: b, Prefix: aws.String("gone/")}))
	if len(lv.Versions) != 1 || len(lv.DeleteMarkers) != 1 || aws.ToString(lv.DeleteMarkers[0].VersionId) != aws.ToString(d.VersionId) || !aws.ToBool(lv.DeleteMarkers[0].IsLatest) {
		t.Errorf("ListObjectVersions gone/: %+v %+v", lv.Versions, lv.DeleteMarkers)
	}
	resp, body := e.Signed(t, e.reader, "GET", "/verlist?versions&encoding-type=url&max-keys=1", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<Key>a%20b</Key>") || !strings.Contains(string(body), "<NextKeyMarker>a%20b</NextKeyMarker>") {
		t.Errorf("encoding-type=url: %d %s", resp.StatusCode, body)
	}
	resp, body = e.Signed(t, e.reader, "GET", "/verlist?versions&version-id-marker=null", nil, nil)
	if resp.StatusCode != 400 || !containsCode(body, "InvalidArgument") {
		t.Errorf("version-id-marker without key-marker: %d %s", resp.StatusCode, body)
	}
	resp, body = e.Signed(t, e.reader, "GET", "/verlist?versions&key-marker=a&version-id-marker=no%2Fid", nil, nil)
	if resp.StatusCode != 400 || !containsCode(body, "InvalidArgument") {
		t.Errorf("bad version-id-marker: %d %s", resp.StatusCode, body)
	}

	// A delete marker as latest is no key for If-None-Match: *.
	s3test.Must[*s3.PutObjectOutput](t)(w.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("zz"), Body: strings.NewReader("back"), IfNoneMatch: aws.String("*")}))
	_, err := w.PutObject(bg, &s3.PutObjectInput{Bucket: b, Key: aws.String("zz"), Body: strings.NewReader("again"), IfNoneMatch: aws.String("*")})
	s3test.WantCode(t, err, "PreconditionFailed", 412)

	// DeleteObjects of the marker by its ID says it was one.
	do := s3test.Must[*s3.DeleteObjectsOutput](t)(w.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("gone/z"), VersionId: d.VersionId}}}}))
	if len(do.Deleted) != 1 || !aws.ToBool(do.Deleted[0].DeleteMarker) || aws.ToString(do.Deleted[0].DeleteMarkerVersionId) != aws.ToString(d.VersionId) {
		t.Errorf("DeleteObjects of a marker: %+v %+v", do.Deleted, do.Errors)
	}
	if got, err := getVersion(t, rd, "verlist", "gone/z", ""); err != nil || got != "gone/z" {
		t.Errorf("gone/z after its marker is deleted: %q %v", got, err)
	}

	// UploadPartCopy from a version.
	old := aws.ToString(s3test.PutString(t, w, "verlist", "src", "old body").VersionId)
	s3test.PutString(t, w, "verlist", "src", "new body")
	mp := s3test.Must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("fromold")}))
	pc := s3test.Must[*s3.UploadPartCopyOutput](t)(w.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("fromold"), UploadId: mp.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("verlist/src?versionId=" + old)}))
	if aws.ToString(pc.CopySourceVersionId) != old {
		t.Errorf("UploadPartCopy: source version %q, want %q", aws.ToString(pc.CopySourceVersionId), old)
	}
	_, err = w.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("fromold"), UploadId: mp.UploadId,
		PartNumber: aws.Int32(2), CopySource: aws.String("verlist/src?versionId=0123456789abcdef0123456789abcdef")})
	s3test.WantCode(t, err, "NoSuchVersion", 404)
	s3test.Must[*s3.CompleteMultipartUploadOutput](t)(w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("fromold"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pc.CopyPartResult.ETag}}}}))
	if got, err := getVersion(t, rd, "verlist", "fromold", ""); err != nil || got != "old body" {
		t.Errorf("object from UploadPartCopy of a version: %q %v", got, err)
	}

	// minio-go reads a version by ID.
	v := aws.ToString(s3test.PutString(t, w, "verlist", "m", "first").VersionId)
	s3test.PutString(t, w, "verlist", "m", "second")
	o, err := e.Minio(t, e.reader).GetObject(bg, "verlist", "m", minio.GetObjectOptions{VersionID: v})
	if err != nil {
		t.Fatal(err)
	}
	if got := s3test.ReadAll(t, o); string(got) != "first" {
		t.Errorf("minio GetObject of a version: %q", got)
	}
}

// TestWrittenVersionRacingVersioning: a write whose handler read the
// bucket before a versioning change was applied (a follower that had not
// applied it yet, or a race through any node) answers the version the
// write made, as a HEAD then shows it: the ID the apply derived when
// versioning was enabled in between (the handler proposed none), "null"
// when it was suspended in between (the handler proposed an ID that the
// apply did not use); for PutObject, CopyObject and
// CompleteMultipartUpload. On the build before, the first answered no
// version ID, the second the unused one, the copy and the completion none.
func TestWrittenVersionRacingVersioning(t *testing.T) {
	e := newEnv(t)
	w := e.SDKFor(e.writer)
	latest := func(bucket, key string) string {
		t.Helper()
		return aws.ToString(s3test.Must[*s3.HeadObjectOutput](t)(w.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})).VersionId)
	}
	want := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: x-amz-version-id %q, the store has %q", what, got, want)
		}
	}

	s3test.MkBucket(t, w, "race")
	e.racing(t, "race", meta.VersioningEnabled)
	put := s3test.PutString(t, w, "race", "k", "a")
	if v := latest("race", "k"); len(v) != 32 {
		t.Fatalf("enabled before the PUT applied: the store has version %q", v)
	}
	want("PUT, versioning enabled meanwhile", aws.ToString(put.VersionId), latest("race", "k"))

	e.racing(t, "race", meta.VersioningSuspended)
	put = s3test.PutString(t, w, "race", "k", "b")
	want("PUT, versioning suspended meanwhile", aws.ToString(put.VersionId), "null")
	want("HEAD after it", latest("race", "k"), "null")

	s3test.MkBucket(t, w, "race2")
	e.racing(t, "race2", meta.VersioningEnabled)
	cp := s3test.Must[*s3.CopyObjectOutput](t)(w.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("race2"), Key: aws.String("copy"), CopySource: aws.String("race/k")}))
	want("CopyObject, versioning enabled meanwhile", aws.ToString(cp.VersionId), latest("race2", "copy"))

	s3test.MkBucket(t, w, "race3")
	b := aws.String("race3")
	mp := s3test.Must[*s3.CreateMultipartUploadOutput](t)(w.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp")}))
	pt := s3test.Must[*s3.UploadPartOutput](t)(w.UploadPart(bg, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part")}))
	e.racing(t, "race3", meta.VersioningEnabled)
	cm := s3test.Must[*s3.CompleteMultipartUploadOutput](t)(w.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pt.ETag}}}}))
	want("CompleteMultipartUpload, versioning enabled meanwhile", aws.ToString(cm.VersionId), latest("race3", "mp"))
}
