package s3err

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestErrorTableStatuses(t *testing.T) {
	cases := []struct {
		code   Code
		wire   string
		status int
	}{
		{AccessDenied, "AccessDenied", 403},
		{InvalidAccessKeyID, "InvalidAccessKeyId", 403},
		{SignatureDoesNotMatch, "SignatureDoesNotMatch", 403},
		{RequestTimeTooSkewed, "RequestTimeTooSkewed", 403},
		{AuthorizationHeaderMalformed, "AuthorizationHeaderMalformed", 400},
		{AuthorizationQueryParameters, "AuthorizationQueryParametersError", 400},
		{MissingSecurityHeader, "MissingSecurityHeader", 400},
		{RequestExpired, "AccessDenied", 403},
		{UserDeactivated, "AccessDenied", 403},
		{NoSuchBucket, "NoSuchBucket", 404},
		{NoSuchKey, "NoSuchKey", 404},
		{NoSuchUpload, "NoSuchUpload", 404},
		{BucketAlreadyExists, "BucketAlreadyExists", 409},
		{BucketAlreadyOwnedByYou, "BucketAlreadyOwnedByYou", 409},
		{BucketNotEmpty, "BucketNotEmpty", 409},
		{InvalidBucketName, "InvalidBucketName", 400},
		{KeyTooLong, "KeyTooLongError", 400},
		{InvalidArgument, "InvalidArgument", 400},
		{InvalidRequest, "InvalidRequest", 400},
		{InvalidRange, "InvalidRange", 416},
		{PreconditionFailed, "PreconditionFailed", 412},
		{NotModified, "NotModified", 304},
		{MalformedXML, "MalformedXML", 400},
		{MaxMessageLengthExceeded, "MaxMessageLengthExceeded", 400},
		{InvalidPart, "InvalidPart", 400},
		{InvalidPartOrder, "InvalidPartOrder", 400},
		{InvalidPartNumber, "InvalidArgument", 400},
		{EntityTooSmall, "EntityTooSmall", 400},
		{EntityTooLarge, "EntityTooLarge", 400},
		{BadDigest, "BadDigest", 400},
		{InvalidDigest, "InvalidDigest", 400},
		{XAmzContentSHA256Mismatch, "XAmzContentSHA256Mismatch", 400},
		{IncompleteBody, "IncompleteBody", 400},
		{MissingContentLength, "MissingContentLength", 411},
		{MethodNotAllowed, "MethodNotAllowed", 405},
		{NotImplemented, "NotImplemented", 501},
		{ServiceUnavailable, "ServiceUnavailable", 503},
		{ClusterUnavailable, "ServiceUnavailable", 503},
		{SlowDown, "SlowDown", 503},
		{InternalError, "InternalError", 500},
		{InvalidURI, "InvalidURI", 400},
		{AccessControlListNotSupported, "AccessControlListNotSupported", 400},
		{StorageFull, "XS4StorageFull", 507},
	}
	for _, c := range cases {
		a := c.code.APIError()
		if a.Code != c.wire || a.HTTPStatus != c.status {
			t.Errorf("%s: got %s %d, want %s %d", c.code, a.Code, a.HTTPStatus, c.wire, c.status)
		}
	}
	if got := c0("RequestExpired").Description; got != "Request has expired" {
		t.Errorf("RequestExpired message %q", got)
	}
}

func c0(s string) APIError { return Code(s).APIError() }

func TestErrorTableComplete(t *testing.T) {
	for code, a := range errorTable {
		if a.Code == "" || a.Description == "" || http.StatusText(a.HTTPStatus) == "" {
			t.Errorf("%s: incomplete row %+v", code, a)
		}
		if strings.ContainsAny(a.Code, " <>&") {
			t.Errorf("%s: bad wire code %q", code, a.Code)
		}
	}
	if a := Code("NoSuchThing").APIError(); a.Code != "InternalError" || a.HTTPStatus != 500 {
		t.Errorf("unknown code renders as %+v", a)
	}
}

func TestAPIErrorXMLGolden(t *testing.T) {
	got := string(NoSuchKey.APIError().XML("/bkt/a&b<c>.txt", "4442587FB7D0A2F9"))
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>` +
		`<Resource>/bkt/a&amp;b&lt;c&gt;.txt</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestErrorXMLOverridesAndExtra(t *testing.T) {
	if m := Errorf(InvalidArgument, "bad %d", 7).API().Description; m != "bad 7" {
		t.Fatalf("Errorf message %q", m)
	}
	e := (&Error{Code: InvalidArgument, Message: "bad x\x00y"}).WithResource("/b/k")
	e.Extra = []Field{{Name: "ArgumentName", Value: "max-keys"}, {Name: "bad name", Value: "dropped"}}
	body := e.XML("/ignored", "RID")
	var doc struct {
		XMLName      xml.Name `xml:"Error"`
		Code         string
		Message      string
		ArgumentName string
		Resource     string
		RequestID    string `xml:"RequestId"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("unmarshal %s: %v", body, err)
	}
	if doc.Code != "InvalidArgument" || doc.Message != "bad x\uFFFDy" || doc.ArgumentName != "max-keys" ||
		doc.Resource != "/b/k" || doc.RequestID != "RID" {
		t.Fatalf("doc %+v", doc)
	}
	if strings.Contains(string(body), "dropped") {
		t.Fatalf("invalid element name rendered: %s", body)
	}
	if e.Status() != 400 {
		t.Fatalf("status %d", e.Status())
	}
}

func TestErrorWrapping(t *testing.T) {
	cause := errors.New("disk on fire")
	e := New(NoSuchKey).WithCause(cause)
	wrapped := fmt.Errorf("get: %w", e)
	if !errors.Is(wrapped, New(NoSuchKey)) || errors.Is(wrapped, New(NoSuchBucket)) {
		t.Fatal("errors.Is on code")
	}
	if !errors.Is(wrapped, cause) {
		t.Fatal("cause not in chain")
	}
	if !IsCode(wrapped, NoSuchKey) || IsCode(cause, NoSuchKey) {
		t.Fatal("IsCode")
	}
	if got := As(wrapped); got.Code != NoSuchKey {
		t.Fatalf("AsError %v", got)
	}
	ie := As(cause)
	if ie.Code != InternalError || !errors.Is(ie, cause) {
		t.Fatalf("AsError(plain) %v", ie)
	}
	if strings.Contains(string(ie.XML("", "r")), "disk on fire") {
		t.Fatal("cause leaked to the client")
	}
	if As(nil) != nil {
		t.Fatal("AsError(nil)")
	}
	if s := e.Error(); !strings.HasPrefix(s, "NoSuchKey: ") || !strings.Contains(s, "disk on fire") {
		t.Fatalf("Error() %q", s)
	}
}
