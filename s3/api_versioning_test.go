package s3_test

// S3 versioning through aws-sdk-go-v2 and minio-go, against the handler on
// its own (harness_test.go).

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s4/s4/internal/s3test"
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
