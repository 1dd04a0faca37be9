package s3

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
)

// FuzzDecodeLifecycle: any body decodes into a configuration that
// meta's own check accepts and that survives a round trip through the
// GET document, or fails with one of the S3 errors DecodeLifecycle
// documents; nothing panics.
func FuzzDecodeLifecycle(f *testing.F) {
	xmlTestFuzzSeeds(f,
		`<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>r</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration></Rule></LifecycleConfiguration>`,
		`<LifecycleConfiguration><Rule><Prefix></Prefix><Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>`,
		`<LifecycleConfiguration><Rule><ID>a</ID><Filter><And><Prefix>p</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule></LifecycleConfiguration>`,
		`<LifecycleConfiguration><Rule><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule></LifecycleConfiguration>`,
		`<LifecycleConfiguration><Rule><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition></Rule></LifecycleConfiguration>`,
		`<!DOCTYPE x [<!ENTITY a "b">]><LifecycleConfiguration/>`)
	f.Fuzz(func(t *testing.T, body []byte) {
		lc, err := DecodeLifecycle(bytes.NewReader(body))
		if err != nil {
			var e *s3err.Error
			if !errors.As(err, &e) {
				t.Fatalf("not an *Error: %v", err)
			}
			switch e.Code {
			case s3err.MalformedXML, s3err.MaxMessageLengthExceeded, s3err.InvalidArgument, s3err.InvalidRequest, s3err.InvalidTag, s3err.InvalidStorageClass:
			default:
				t.Fatalf("unexpected code %s", e.Code)
			}
			return
		}
		if len(lc.Rules) == 0 || len(lc.Rules) > meta.MaxLifecycleRules {
			t.Fatalf("%d rules", len(lc.Rules))
		}
		out, err := EncodeXMLResponse(LifecycleDoc(lc))
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeLifecycle(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("the GET document does not decode: %v\n%s", err, out)
		}
		if len(again.Rules) != len(lc.Rules) {
			t.Fatalf("%d rules after a round trip, was %d", len(again.Rules), len(lc.Rules))
		}
		for i := range lc.Rules {
			a, b := lc.Rules[i], again.Rules[i]
			if a.ID != b.ID || a.Prefix != b.Prefix || a.FilterKind != b.FilterKind || len(a.Tags) != len(b.Tags) ||
				a.ExpirationDays != b.ExpirationDays || a.AbortDays != b.AbortDays || a.NoncurrentDays != b.NoncurrentDays ||
				a.Enabled != b.Enabled || a.SizeLessThan != b.SizeLessThan {
				t.Fatalf("rule %d: %+v after a round trip, was %+v", i, b, a)
			}
		}
	})
}

// TestLifecycleDate: an Expiration Date is ISO 8601 at midnight UTC.
func TestLifecycleDate(t *testing.T) {
	for s, ok := range map[string]bool{
		"2030-01-01": true, "2030-01-01T00:00:00Z": true, "2030-01-01T00:00:00.000Z": true,
		"2030-01-01T01:00:00+01:00": true, "2030-01-01T00:00:01Z": false, "2030-01-01T00:00:00+01:00": false,
		"tomorrow": false, "": false,
	} {
		_, err := parseLifecycleDate(s)
		if (err == nil) != ok {
			t.Errorf("%q: %v", s, err)
		}
		if err != nil && !strings.Contains(err.Error(), "midnight GMT") {
			t.Errorf("%q: %v", s, err)
		}
	}
}
