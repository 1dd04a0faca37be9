package s3_test

// Bucket lifecycle configuration through aws-sdk-go-v2, against the
// handler on its own (harness_test.go). The evaluator that applies the
// rules runs on the leader: package node tests it.

import (
	"crypto/md5"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s4/s4/internal/s3test"
)

// TestBucketLifecycle: a configuration put by a Writer is read back by a
// Reader as it was given (each filter form, every action), replaced by the
// next PUT, and gone after DELETE (NoSuchLifecycleConfiguration); a Reader
// cannot change it; a missing bucket is NoSuchBucket.
func TestBucketLifecycle(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	b := aws.String("lcb")
	s3test.MkBucket(t, w, "lcb")

	_, err := rd.GetBucketLifecycleConfiguration(bg, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	s3test.WantCode(t, err, "NoSuchLifecycleConfiguration", 404)

	date := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
		{ID: aws.String("logs"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(30)}},
		{ID: aws.String("tagged"), Status: types.ExpirationStatusDisabled,
			Filter:     &types.LifecycleRuleFilter{Tag: &types.Tag{Key: aws.String("tmp"), Value: aws.String("yes")}},
			Expiration: &types.LifecycleExpiration{Date: &date}},
		{ID: aws.String("and"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{Prefix: aws.String("big/"),
				Tags:                  []types.Tag{{Key: aws.String("b"), Value: aws.String("2")}, {Key: aws.String("a"), Value: aws.String("1")}},
				ObjectSizeGreaterThan: aws.Int64(1024), ObjectSizeLessThan: aws.Int64(1 << 20)}},
			NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(7), NewerNoncurrentVersions: aws.Int32(3)}},
		{ID: aws.String("uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(2)}},
		{ID: aws.String("markers"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{ObjectSizeGreaterThan: aws.Int64(0)},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}},
	}}
	s3test.Must[*s3.PutBucketLifecycleConfigurationOutput](t)(w.PutBucketLifecycleConfiguration(bg, &s3.PutBucketLifecycleConfigurationInput{Bucket: b, LifecycleConfiguration: cfg}))

	got := s3test.Must[*s3.GetBucketLifecycleConfigurationOutput](t)(rd.GetBucketLifecycleConfiguration(bg, &s3.GetBucketLifecycleConfigurationInput{Bucket: b}))
	if len(got.Rules) != 5 {
		t.Fatalf("%d rules", len(got.Rules))
	}
	r := got.Rules
	if aws.ToString(r[0].ID) != "logs" || r[0].Status != types.ExpirationStatusEnabled || aws.ToString(r[0].Filter.Prefix) != "logs/" || aws.ToInt32(r[0].Expiration.Days) != 30 {
		t.Errorf("rule 0: %+v", r[0])
	}
	if r[1].Status != types.ExpirationStatusDisabled || r[1].Filter.Tag == nil || aws.ToString(r[1].Filter.Tag.Key) != "tmp" || r[1].Expiration.Date == nil || !r[1].Expiration.Date.Equal(date) {
		t.Errorf("rule 1: %+v", r[1])
	}
	and := r[2].Filter.And
	if and == nil || aws.ToString(and.Prefix) != "big/" || len(and.Tags) != 2 || aws.ToString(and.Tags[0].Key) != "a" ||
		aws.ToInt64(and.ObjectSizeGreaterThan) != 1024 || aws.ToInt64(and.ObjectSizeLessThan) != 1<<20 ||
		aws.ToInt32(r[2].NoncurrentVersionExpiration.NoncurrentDays) != 7 || aws.ToInt32(r[2].NoncurrentVersionExpiration.NewerNoncurrentVersions) != 3 {
		t.Errorf("rule 2: %+v %+v", r[2], and)
	}
	if r[3].Filter == nil || r[3].AbortIncompleteMultipartUpload == nil || aws.ToInt32(r[3].AbortIncompleteMultipartUpload.DaysAfterInitiation) != 2 {
		t.Errorf("rule 3: %+v", r[3])
	}
	if r[4].Filter == nil || r[4].Filter.ObjectSizeGreaterThan == nil || aws.ToInt64(r[4].Filter.ObjectSizeGreaterThan) != 0 {
		t.Errorf("rule 4: %+v", r[4])
	}

	// The legacy top-level Prefix and a rule without an ID (S3 makes one up).
	body := `<LifecycleConfiguration><Rule><Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule></LifecycleConfiguration>`
	resp, msg := e.Signed(t, e.writer, "PUT", "/lcb?lifecycle", []byte(body), map[string]string{"Content-MD5": contentMD5(body)})
	if resp.StatusCode != 200 {
		t.Fatalf("PUT legacy prefix: %d %s", resp.StatusCode, msg)
	}
	got = s3test.Must[*s3.GetBucketLifecycleConfigurationOutput](t)(rd.GetBucketLifecycleConfiguration(bg, &s3.GetBucketLifecycleConfigurationInput{Bucket: b}))
	if len(got.Rules) != 1 || aws.ToString(got.Rules[0].Prefix) != "old/" || got.Rules[0].Filter != nil || aws.ToString(got.Rules[0].ID) == "" {
		t.Errorf("legacy rule: %+v", got.Rules)
	}

	// A Reader reads it and cannot change it.
	_, err = rd.PutBucketLifecycleConfiguration(bg, &s3.PutBucketLifecycleConfigurationInput{Bucket: b, LifecycleConfiguration: cfg})
	s3test.WantCode(t, err, "AccessDenied", 403)
	_, err = rd.DeleteBucketLifecycle(bg, &s3.DeleteBucketLifecycleInput{Bucket: b})
	s3test.WantCode(t, err, "AccessDenied", 403)

	s3test.Must[*s3.DeleteBucketLifecycleOutput](t)(w.DeleteBucketLifecycle(bg, &s3.DeleteBucketLifecycleInput{Bucket: b}))
	_, err = rd.GetBucketLifecycleConfiguration(bg, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	s3test.WantCode(t, err, "NoSuchLifecycleConfiguration", 404)
	s3test.Must[*s3.DeleteBucketLifecycleOutput](t)(w.DeleteBucketLifecycle(bg, &s3.DeleteBucketLifecycleInput{Bucket: b})) // none: still 204

	nb := aws.String("no-such-bucket")
	_, err = rd.GetBucketLifecycleConfiguration(bg, &s3.GetBucketLifecycleConfigurationInput{Bucket: nb})
	s3test.WantCode(t, err, "NoSuchBucket", 404)
	_, err = w.PutBucketLifecycleConfiguration(bg, &s3.PutBucketLifecycleConfigurationInput{Bucket: nb, LifecycleConfiguration: cfg})
	s3test.WantCode(t, err, "NoSuchBucket", 404)

	// A bucket deleted and made again has no configuration.
	s3test.Must[*s3.PutBucketLifecycleConfigurationOutput](t)(w.PutBucketLifecycleConfiguration(bg, &s3.PutBucketLifecycleConfigurationInput{Bucket: b, LifecycleConfiguration: cfg}))
	s3test.Must[*s3.DeleteBucketOutput](t)(w.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: b}))
	s3test.MkBucket(t, w, "lcb")
	_, err = rd.GetBucketLifecycleConfiguration(bg, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	s3test.WantCode(t, err, "NoSuchLifecycleConfiguration", 404)
}

func contentMD5(s string) string {
	sum := md5.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestBucketLifecycleRefused: configurations S3 refuses get S3's error and
// leave the one in place as it was.
func TestBucketLifecycleRefused(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	b := aws.String("lcbad")
	s3test.MkBucket(t, w, "lcbad")
	s3test.Must[*s3.PutBucketLifecycleConfigurationOutput](t)(w.PutBucketLifecycleConfiguration(bg, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{ID: aws.String("keep"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("k/")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(9)}}}}}))

	rule := func(inner string) string {
		return "<LifecycleConfiguration><Rule>" + inner + "</Rule></LifecycleConfiguration>"
	}
	exp := "<Expiration><Days>1</Days></Expiration>"
	for _, c := range []struct {
		name, body, code string
	}{
		{"not XML", "<LifecycleConfiguration>", "MalformedXML"},
		{"wrong root", "<Lifecycle><Rule/></Lifecycle>", "MalformedXML"},
		{"no rule", "<LifecycleConfiguration></LifecycleConfiguration>", "MalformedXML"},
		{"no status", rule("<ID>a</ID><Filter/>" + exp), "MalformedXML"},
		{"bad status", rule("<Status>enabled</Status><Filter/>" + exp), "MalformedXML"},
		{"filter and prefix", rule("<Status>Enabled</Status><Prefix>a</Prefix><Filter><Prefix>a</Prefix></Filter>" + exp), "MalformedXML"},
		{"two conditions outside And", rule("<Status>Enabled</Status><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>" + exp), "MalformedXML"},
		{"days and date", rule("<Status>Enabled</Status><Filter/><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>"), "MalformedXML"},
		{"empty expiration", rule("<Status>Enabled</Status><Filter/><Expiration></Expiration>"), "MalformedXML"},
		{"days not a number", rule("<Status>Enabled</Status><Filter/><Expiration><Days>x</Days></Expiration>"), "MalformedXML"},
		{"no action", rule("<ID>a</ID><Status>Enabled</Status><Filter/>"), "InvalidRequest"},
		{"zero days", rule("<Status>Enabled</Status><Filter/><Expiration><Days>0</Days></Expiration>"), "InvalidArgument"},
		{"date not at midnight", rule("<Status>Enabled</Status><Filter/><Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration>"), "InvalidArgument"},
		{"long ID", rule("<ID>" + strings.Repeat("i", 256) + "</ID><Status>Enabled</Status><Filter/>" + exp), "InvalidArgument"},
		{"same ID twice", "<LifecycleConfiguration><Rule><ID>a</ID><Status>Enabled</Status><Filter/>" + exp + "</Rule><Rule><ID>a</ID><Status>Enabled</Status><Filter/>" + exp + "</Rule></LifecycleConfiguration>", "InvalidArgument"},
		{"noncurrent days 0", rule("<Status>Enabled</Status><Filter/><NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>"), "InvalidArgument"},
		{"newer noncurrent 101", rule("<Status>Enabled</Status><Filter/><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration>"), "InvalidArgument"},
		{"abort days 0", rule("<Status>Enabled</Status><Filter/><AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>"), "InvalidArgument"},
		{"abort with a tag", rule("<Status>Enabled</Status><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>"), "InvalidRequest"},
		{"sizes crossed", rule("<Status>Enabled</Status><Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>5</ObjectSizeLessThan></And></Filter>" + exp), "InvalidArgument"},
		{"aws: tag", rule("<Status>Enabled</Status><Filter><Tag><Key>aws:x</Key><Value>v</Value></Tag></Filter>" + exp), "InvalidTag"},
		{"transition", rule("<Status>Enabled</Status><Filter/><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>"), "InvalidStorageClass"},
		{"1001 rules", "<LifecycleConfiguration>" + strings.Repeat("<Rule><Status>Enabled</Status><Filter/>"+exp+"</Rule>", 1001) + "</LifecycleConfiguration>", "InvalidRequest"},
	} {
		resp, msg := e.Signed(t, e.writer, "PUT", "/lcbad?lifecycle", []byte(c.body), map[string]string{"Content-MD5": contentMD5(c.body)})
		if resp.StatusCode/100 != 4 || !strings.Contains(string(msg), "<Code>"+c.code+"</Code>") {
			t.Errorf("%s: %d %s, want %s", c.name, resp.StatusCode, msg, c.code)
		}
	}
	// Content-MD5 (or a checksum) is required, and checked.
	good := rule("<Status>Enabled</Status><Filter/>" + exp)
	resp, msg := e.Signed(t, e.writer, "PUT", "/lcbad?lifecycle", []byte(good), nil)
	if resp.StatusCode != 400 || !strings.Contains(string(msg), "<Code>InvalidRequest</Code>") || !strings.Contains(string(msg), "Content-MD5") {
		t.Errorf("without Content-MD5: %d %s", resp.StatusCode, msg)
	}
	resp, msg = e.Signed(t, e.writer, "PUT", "/lcbad?lifecycle", []byte(good), map[string]string{"Content-MD5": contentMD5("other")})
	if resp.StatusCode != 400 || !strings.Contains(string(msg), "<Code>BadDigest</Code>") {
		t.Errorf("wrong Content-MD5: %d %s", resp.StatusCode, msg)
	}
	// An object's ?lifecycle is no operation: it must not reach DeleteObject.
	s3test.PutString(t, w, "lcbad", "k/obj", "x")
	resp, msg = e.Signed(t, e.writer, "DELETE", "/lcbad/k/obj?lifecycle", nil, nil)
	if resp.StatusCode != 501 {
		t.Errorf("DELETE object ?lifecycle: %d %s", resp.StatusCode, msg)
	}
	if g := s3test.GetString(t, rd, "lcbad", "k/obj"); g != "x" {
		t.Errorf("object after DELETE ?lifecycle: %q", g)
	}

	got := s3test.Must[*s3.GetBucketLifecycleConfigurationOutput](t)(rd.GetBucketLifecycleConfiguration(bg, &s3.GetBucketLifecycleConfigurationInput{Bucket: b}))
	if len(got.Rules) != 1 || aws.ToString(got.Rules[0].ID) != "keep" || aws.ToInt32(got.Rules[0].Expiration.Days) != 9 {
		t.Errorf("configuration after refused PUTs: %+v", got.Rules)
	}
}
