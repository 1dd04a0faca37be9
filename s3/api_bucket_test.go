package s3_test

// The S3 API as aws-sdk-go-v2 sees it, against the handler on its own
// (harness_test.go): buckets, ACLs and listings.

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s4/s4/internal/s3test"
)

// TestS3Buckets: ListBuckets, CreateBucket (again by its owner: 200 as in
// us-east-1; by another user: BucketAlreadyExists), HeadBucket,
// GetBucketLocation, DeleteBucket of a non-empty and an empty bucket, ACLs.
func TestS3Buckets(t *testing.T) {
	e := newEnv(t)
	w, su := e.SDKFor(e.writer), e.SDKFor(e.super)

	lb := s3test.Must[*s3.ListBucketsOutput](t)(w.ListBuckets(bg, &s3.ListBucketsInput{}))
	if len(lb.Buckets) != 0 {
		t.Fatalf("buckets on a new node: %v", lb.Buckets)
	}
	before := time.Now().Add(-2 * time.Second)
	s3test.MkBucket(t, w, "bkt-one")
	s3test.MkBucket(t, w, "bkt-two")
	if _, err := w.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("bkt-one")}); err != nil {
		t.Fatalf("owner re-creating its bucket in us-east-1: %v", err)
	}
	_, err := su.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("bkt-one")})
	s3test.WantCode(t, err, "BucketAlreadyExists", 409)
	_, err = w.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	s3test.WantCode(t, err, "InvalidBucketName", 400)
	_, err = w.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("bkt-eu"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}})
	s3test.WantCode(t, err, "InvalidLocationConstraint", 400)

	lb = s3test.Must[*s3.ListBucketsOutput](t)(e.SDKFor(e.reader).ListBuckets(bg, &s3.ListBucketsInput{}))
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, aws.ToString(b.Name))
		if b.CreationDate == nil || b.CreationDate.Before(before) || b.CreationDate.After(time.Now().Add(2*time.Second)) {
			t.Errorf("bucket %s CreationDate %v", aws.ToString(b.Name), b.CreationDate)
		}
	}
	if !slices.Equal(names, []string{"bkt-one", "bkt-two"}) {
		t.Fatalf("ListBuckets: %v", names)
	}
	if lb.Owner == nil || aws.ToString(lb.Owner.ID) != e.reader.ID || aws.ToString(lb.Owner.DisplayName) != "reader" {
		t.Errorf("ListBuckets owner: %+v", lb.Owner)
	}

	hb := s3test.Must[*s3.HeadBucketOutput](t)(e.SDKFor(e.reader).HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("bkt-one")}))
	if aws.ToString(hb.BucketRegion) != "us-east-1" {
		t.Errorf("HeadBucket region %q", aws.ToString(hb.BucketRegion))
	}
	_, err = w.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("no-such-bucket")})
	s3test.WantCode(t, err, "NotFound", 404)

	loc := s3test.Must[*s3.GetBucketLocationOutput](t)(e.SDKFor(e.reader).GetBucketLocation(bg, &s3.GetBucketLocationInput{Bucket: aws.String("bkt-one")}))
	if loc.LocationConstraint != "" {
		t.Errorf("GetBucketLocation: %q, want empty (us-east-1)", loc.LocationConstraint)
	}
	_, err = w.GetBucketLocation(bg, &s3.GetBucketLocationInput{Bucket: aws.String("no-such-bucket")})
	s3test.WantCode(t, err, "NoSuchBucket", 404)

	// ACLs: the owner is the creator, private is all there is.
	acl := s3test.Must[*s3.GetBucketAclOutput](t)(e.SDKFor(e.reader).GetBucketAcl(bg, &s3.GetBucketAclInput{Bucket: aws.String("bkt-one")}))
	if acl.Owner == nil || aws.ToString(acl.Owner.ID) != e.writer.ID || aws.ToString(acl.Owner.DisplayName) != "writer" {
		t.Errorf("GetBucketAcl owner: %+v", acl.Owner)
	}
	if len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl || aws.ToString(acl.Grants[0].Grantee.ID) != e.writer.ID {
		t.Errorf("GetBucketAcl grants: %+v", acl.Grants)
	}
	if _, err := w.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("bkt-one"), ACL: types.BucketCannedACLPrivate}); err != nil {
		t.Errorf("PutBucketAcl private: %v", err)
	}
	// Anything but private: refused as S3 does with ACLs disabled.
	_, err = w.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("bkt-one"), ACL: types.BucketCannedACLPublicRead})
	s3test.WantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = w.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("bkt-one"), AccessControlPolicy: &types.AccessControlPolicy{
		Owner: &types.Owner{ID: aws.String(e.writer.ID)},
		Grants: []types.Grant{
			{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(e.writer.ID)}, Permission: types.PermissionFullControl},
			{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/global/AllUsers")}, Permission: types.PermissionRead},
		}}})
	s3test.WantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = w.PutBucketAcl(bg, &s3.PutBucketAclInput{Bucket: aws.String("bkt-one"), GrantRead: aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)})
	s3test.WantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = w.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("bkt-public"), ACL: types.BucketCannedACLPublicRead})
	s3test.WantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = w.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("bkt-public")})
	s3test.WantCode(t, err, "NotFound", 404)
	_, err = w.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt-one"), Key: aws.String("public"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
	s3test.WantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = w.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt-one"), Key: aws.String("public")})
	s3test.WantCode(t, err, "NotFound", 404)
	s3test.PutString(t, w, "bkt-one", "obj", "hello")
	oacl := s3test.Must[*s3.GetObjectAclOutput](t)(e.SDKFor(e.reader).GetObjectAcl(bg, &s3.GetObjectAclInput{Bucket: aws.String("bkt-one"), Key: aws.String("obj")}))
	if oacl.Owner == nil || aws.ToString(oacl.Owner.ID) != e.writer.ID || aws.ToString(oacl.Owner.DisplayName) != "writer" {
		t.Errorf("GetObjectAcl owner: %+v", oacl.Owner)
	}
	if _, err := w.PutObjectAcl(bg, &s3.PutObjectAclInput{Bucket: aws.String("bkt-one"), Key: aws.String("obj"), ACL: types.ObjectCannedACLPrivate}); err != nil {
		t.Errorf("PutObjectAcl private: %v", err)
	}
	_, err = w.PutObjectAcl(bg, &s3.PutObjectAclInput{Bucket: aws.String("bkt-one"), Key: aws.String("obj"), ACL: types.ObjectCannedACLPublicRead})
	s3test.WantCode(t, err, "AccessControlListNotSupported", 400)
	_, err = w.PutObjectAcl(bg, &s3.PutObjectAclInput{Bucket: aws.String("bkt-one"), Key: aws.String("nope"), ACL: types.ObjectCannedACLPrivate})
	s3test.WantCode(t, err, "NoSuchKey", 404)

	_, err = w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("bkt-one")})
	s3test.WantCode(t, err, "BucketNotEmpty", 409)
	if _, err := w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("bkt-one"), Key: aws.String("obj")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("bkt-one")}); err != nil {
		t.Fatal(err)
	}
	_, err = w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("bkt-one")})
	s3test.WantCode(t, err, "NoSuchBucket", 404)
	_, err = w.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("bkt-one")})
	s3test.WantCode(t, err, "NotFound", 404)
	lb = s3test.Must[*s3.ListBucketsOutput](t)(w.ListBuckets(bg, &s3.ListBucketsInput{}))
	if len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != "bkt-two" {
		t.Fatalf("after delete: %+v", lb.Buckets)
	}
}

// TestS3Listings: ListObjects (v1), ListObjectsV2 and ListObjectVersions
// with prefix, delimiter, max-keys, paging and encoding-type=url.
func TestS3Listings(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	s3test.MkBucket(t, w, "lst")
	keys := []string{"a/1", "a/2", "a/b/3", "b/4", "c", "d e+f", "x\x01y"}
	keys[len(keys)-1] = "x\x01y" // a control character: only encoding-type=url carries it in XML
	for _, k := range keys {
		s3test.PutString(t, w, "lst", k, "v:"+k)
	}
	b := aws.String("lst")

	// V2: everything, in order.
	l2 := s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, EncodingType: types.EncodingTypeUrl}))
	var got []string
	for _, o := range l2.Contents {
		k, err := url.QueryUnescape(aws.ToString(o.Key))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, k)
		if aws.ToInt64(o.Size) != int64(len("v:"+k)) || aws.ToString(o.ETag) == "" || o.LastModified == nil {
			t.Errorf("entry %q: size %d etag %q", k, aws.ToInt64(o.Size), aws.ToString(o.ETag))
		}
	}
	if !slices.Equal(got, keys) || aws.ToInt32(l2.KeyCount) != int32(len(keys)) || aws.ToBool(l2.IsTruncated) {
		t.Fatalf("V2 all: %q count %d truncated %v", got, aws.ToInt32(l2.KeyCount), aws.ToBool(l2.IsTruncated))
	}
	if raw := aws.ToString(l2.Contents[5].Key); raw != "d%20e%2Bf" {
		t.Errorf("encoding-type=url renders %q as %q", keys[5], raw)
	}

	// Without encoding-type=url, XML 1.0 cannot carry U+0001: that key is
	// rendered with U+FFFD (what encoding-type=url exists for).
	plain := slices.Clone(keys)
	plain[6] = "x\uFFFDy"

	// V2: delimiter and prefix.
	l2 = s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, Delimiter: aws.String("/")}))
	if k, p := s3test.KeysOf(l2.Contents), s3test.PrefixesOf(l2.CommonPrefixes); !slices.Equal(k, plain[4:]) || !slices.Equal(p, []string{"a/", "b/"}) || aws.ToInt32(l2.KeyCount) != 5 {
		t.Errorf("V2 delimiter: %q %q %d", k, p, aws.ToInt32(l2.KeyCount))
	}
	l2 = s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("a/"), Delimiter: aws.String("/")}))
	if k, p := s3test.KeysOf(l2.Contents), s3test.PrefixesOf(l2.CommonPrefixes); !slices.Equal(k, []string{"a/1", "a/2"}) || !slices.Equal(p, []string{"a/b/"}) || aws.ToString(l2.Prefix) != "a/" {
		t.Errorf("V2 prefix+delimiter: %q %q", k, p)
	}
	l2 = s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("zzz")}))
	if len(l2.Contents) != 0 || aws.ToInt32(l2.KeyCount) != 0 {
		t.Errorf("V2 empty prefix: %v", s3test.KeysOf(l2.Contents))
	}
	l2 = s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, StartAfter: aws.String("b/4")}))
	if k := s3test.KeysOf(l2.Contents); !slices.Equal(k, plain[4:]) || aws.ToString(l2.StartAfter) != "b/4" {
		t.Errorf("V2 start-after: %q", k)
	}
	l2 = s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(0)}))
	if len(l2.Contents) != 0 {
		t.Errorf("V2 max-keys=0: %q", s3test.KeysOf(l2.Contents))
	}
	// V2 paging, by hand and with the SDK's paginator, with and without a delimiter.
	for _, delim := range []string{"", "/"} {
		var pages [][]string
		in := &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(2), EncodingType: types.EncodingTypeUrl}
		if delim != "" {
			in.Delimiter = aws.String(delim)
		}
		var all []string
		pg := s3.NewListObjectsV2Paginator(rd, in)
		for pg.HasMorePages() {
			out, err := pg.NextPage(bg)
			if err != nil {
				t.Fatal(err)
			}
			var page []string
			for _, o := range out.Contents {
				k, _ := url.QueryUnescape(aws.ToString(o.Key))
				page = append(page, k)
			}
			for _, p := range out.CommonPrefixes {
				k, _ := url.QueryUnescape(aws.ToString(p.Prefix))
				page = append(page, k)
			}
			all = append(all, page...)
			pages = append(pages, page)
			if len(page) > 2 || len(pages) > 10 {
				t.Fatalf("V2 paging (delimiter %q): page %q", delim, page)
			}
		}
		want := keys
		if delim != "" {
			want = []string{"a/", "b/", "c", "d e+f", keys[6]}
		}
		slices.Sort(all)
		if !slices.Equal(all, want) {
			t.Errorf("V2 paging (delimiter %q): %q, want %q", delim, all, want)
		}
	}
	// fetch-owner.
	l2 = s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(1)}))
	if l2.Contents[0].Owner != nil {
		t.Errorf("V2 without fetch-owner: owner %+v", l2.Contents[0].Owner)
	}
	l2 = s3test.Must[*s3.ListObjectsV2Output](t)(rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(1), FetchOwner: aws.Bool(true)}))
	if o := l2.Contents[0].Owner; o == nil || aws.ToString(o.ID) != e.writer.ID || aws.ToString(o.DisplayName) != "writer" {
		t.Errorf("V2 with fetch-owner: owner %+v", o)
	}
	_, err := rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: b, ContinuationToken: aws.String("!!not a token!!")})
	s3test.WantCode(t, err, "InvalidArgument", 400)
	_, err = rd.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("no-such-bucket")})
	s3test.WantCode(t, err, "NoSuchBucket", 404)

	// V1: marker paging; NextMarker only with a delimiter, else the last key.
	var all []string
	marker := ""
	for i := 0; ; i++ {
		out := s3test.Must[*s3.ListObjectsOutput](t)(rd.ListObjects(bg, &s3.ListObjectsInput{Bucket: b, MaxKeys: aws.Int32(3), Marker: aws.String(marker), EncodingType: types.EncodingTypeUrl}))
		if m, _ := url.QueryUnescape(aws.ToString(out.Marker)); m != marker {
			t.Errorf("V1 marker echoed as %q", aws.ToString(out.Marker))
		}
		for _, o := range out.Contents {
			k, _ := url.QueryUnescape(aws.ToString(o.Key))
			all = append(all, k)
			if o.Owner == nil || aws.ToString(o.Owner.ID) != e.writer.ID {
				t.Errorf("V1 owner of %q: %+v", k, o.Owner)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		if len(out.Contents) != 3 || i > 5 {
			t.Fatalf("V1 page %d: %q", i, s3test.KeysOf(out.Contents))
		}
		marker = all[len(all)-1]
	}
	if !slices.Equal(all, keys) {
		t.Errorf("V1 paging: %q", all)
	}
	l1 := s3test.Must[*s3.ListObjectsOutput](t)(rd.ListObjects(bg, &s3.ListObjectsInput{Bucket: b, Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)}))
	if k, p := s3test.KeysOf(l1.Contents), s3test.PrefixesOf(l1.CommonPrefixes); len(k)+len(p) != 1 || !aws.ToBool(l1.IsTruncated) || aws.ToString(l1.NextMarker) != "a/" {
		t.Errorf("V1 delimiter page: %q %q next %q", k, p, aws.ToString(l1.NextMarker))
	}
	l1 = s3test.Must[*s3.ListObjectsOutput](t)(rd.ListObjects(bg, &s3.ListObjectsInput{Bucket: b, Delimiter: aws.String("/"), Marker: aws.String("a/")}))
	if k, p := s3test.KeysOf(l1.Contents), s3test.PrefixesOf(l1.CommonPrefixes); !slices.Equal(k, plain[4:]) || !slices.Equal(p, []string{"b/"}) {
		t.Errorf("V1 after NextMarker a/: %q %q", k, p)
	}

	// Versions: every object is version "null"; paging by key-marker.
	var vkeys []string
	keyMarker := ""
	for i := 0; i < 10; i++ {
		out := s3test.Must[*s3.ListObjectVersionsOutput](t)(rd.ListObjectVersions(bg, &s3.ListObjectVersionsInput{Bucket: b, MaxKeys: aws.Int32(4), KeyMarker: aws.String(keyMarker), EncodingType: types.EncodingTypeUrl}))
		for _, v := range out.Versions {
			if aws.ToString(v.VersionId) != "null" || !aws.ToBool(v.IsLatest) || aws.ToString(v.ETag) == "" {
				t.Errorf("version %+v", v)
			}
			k, _ := url.QueryUnescape(aws.ToString(v.Key))
			vkeys = append(vkeys, k)
		}
		if len(out.DeleteMarkers) != 0 {
			t.Errorf("delete markers: %+v", out.DeleteMarkers)
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		keyMarker, _ = url.QueryUnescape(aws.ToString(out.NextKeyMarker))
		if keyMarker == "" {
			t.Fatal("truncated version listing without NextKeyMarker")
		}
	}
	if !slices.Equal(vkeys, keys) {
		t.Errorf("versions: %q", vkeys)
	}
	// The SDK's own paginator for versions.
	n := 0
	vp := s3.NewListObjectVersionsPaginator(rd, &s3.ListObjectVersionsInput{Bucket: b, MaxKeys: aws.Int32(3)})
	for vp.HasMorePages() {
		out, err := vp.NextPage(bg)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Versions)
	}
	if n != len(keys) {
		t.Errorf("version paginator: %d versions", n)
	}
}
