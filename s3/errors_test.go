package s3

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
		code   ErrorCode
		wire   string
		status int
	}{
		{CodeAccessDenied, "AccessDenied", 403},
		{CodeInvalidAccessKeyID, "InvalidAccessKeyId", 403},
		{CodeSignatureDoesNotMatch, "SignatureDoesNotMatch", 403},
		{CodeRequestTimeTooSkewed, "RequestTimeTooSkewed", 403},
		{CodeAuthorizationHeaderMalformed, "AuthorizationHeaderMalformed", 400},
		{CodeAuthorizationQueryParameters, "AuthorizationQueryParametersError", 400},
		{CodeMissingSecurityHeader, "MissingSecurityHeader", 400},
		{CodeRequestExpired, "AccessDenied", 403},
		{CodeUserDeactivated, "AccessDenied", 403},
		{CodeNoSuchBucket, "NoSuchBucket", 404},
		{CodeNoSuchKey, "NoSuchKey", 404},
		{CodeNoSuchUpload, "NoSuchUpload", 404},
		{CodeBucketAlreadyExists, "BucketAlreadyExists", 409},
		{CodeBucketAlreadyOwnedByYou, "BucketAlreadyOwnedByYou", 409},
		{CodeBucketNotEmpty, "BucketNotEmpty", 409},
		{CodeInvalidBucketName, "InvalidBucketName", 400},
		{CodeKeyTooLong, "KeyTooLongError", 400},
		{CodeInvalidArgument, "InvalidArgument", 400},
		{CodeInvalidRequest, "InvalidRequest", 400},
		{CodeInvalidRange, "InvalidRange", 416},
		{CodePreconditionFailed, "PreconditionFailed", 412},
		{CodeNotModified, "NotModified", 304},
		{CodeMalformedXML, "MalformedXML", 400},
		{CodeMaxMessageLengthExceeded, "MaxMessageLengthExceeded", 400},
		{CodeInvalidPart, "InvalidPart", 400},
		{CodeInvalidPartOrder, "InvalidPartOrder", 400},
		{CodeInvalidPartNumber, "InvalidArgument", 400},
		{CodeEntityTooSmall, "EntityTooSmall", 400},
		{CodeEntityTooLarge, "EntityTooLarge", 400},
		{CodeBadDigest, "BadDigest", 400},
		{CodeInvalidDigest, "InvalidDigest", 400},
		{CodeXAmzContentSHA256Mismatch, "XAmzContentSHA256Mismatch", 400},
		{CodeIncompleteBody, "IncompleteBody", 400},
		{CodeMissingContentLength, "MissingContentLength", 411},
		{CodeMethodNotAllowed, "MethodNotAllowed", 405},
		{CodeNotImplemented, "NotImplemented", 501},
		{CodeServiceUnavailable, "ServiceUnavailable", 503},
		{CodeClusterUnavailable, "ServiceUnavailable", 503},
		{CodeSlowDown, "SlowDown", 503},
		{CodeInternalError, "InternalError", 500},
		{CodeInvalidURI, "InvalidURI", 400},
		{CodeAccessControlListNotSupported, "AccessControlListNotSupported", 400},
		{CodeStorageFull, "XS4StorageFull", 507},
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

func c0(s string) APIError { return ErrorCode(s).APIError() }

func TestErrorTableComplete(t *testing.T) {
	for code, a := range errorTable {
		if a.Code == "" || a.Description == "" || http.StatusText(a.HTTPStatus) == "" {
			t.Errorf("%s: incomplete row %+v", code, a)
		}
		if strings.ContainsAny(a.Code, " <>&") {
			t.Errorf("%s: bad wire code %q", code, a.Code)
		}
	}
	if a := ErrorCode("NoSuchThing").APIError(); a.Code != "InternalError" || a.HTTPStatus != 500 {
		t.Errorf("unknown code renders as %+v", a)
	}
}

func TestAPIErrorXMLGolden(t *testing.T) {
	got := string(CodeNoSuchKey.APIError().XML("/bkt/a&b<c>.txt", "4442587FB7D0A2F9"))
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>` +
		`<Resource>/bkt/a&amp;b&lt;c&gt;.txt</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestErrorXMLOverridesAndExtra(t *testing.T) {
	if m := Errorf(CodeInvalidArgument, "bad %d", 7).API().Description; m != "bad 7" {
		t.Fatalf("Errorf message %q", m)
	}
	e := (&Error{Code: CodeInvalidArgument, Message: "bad x\x00y"}).WithResource("/b/k")
	e.Extra = []ErrorField{{Name: "ArgumentName", Value: "max-keys"}, {Name: "bad name", Value: "dropped"}}
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
	e := NewError(CodeNoSuchKey).WithCause(cause)
	wrapped := fmt.Errorf("get: %w", e)
	if !errors.Is(wrapped, NewError(CodeNoSuchKey)) || errors.Is(wrapped, NewError(CodeNoSuchBucket)) {
		t.Fatal("errors.Is on code")
	}
	if !errors.Is(wrapped, cause) {
		t.Fatal("cause not in chain")
	}
	if !IsCode(wrapped, CodeNoSuchKey) || IsCode(cause, CodeNoSuchKey) {
		t.Fatal("IsCode")
	}
	if got := AsError(wrapped); got.Code != CodeNoSuchKey {
		t.Fatalf("AsError %v", got)
	}
	ie := AsError(cause)
	if ie.Code != CodeInternalError || !errors.Is(ie, cause) {
		t.Fatalf("AsError(plain) %v", ie)
	}
	if strings.Contains(string(ie.XML("", "r")), "disk on fire") {
		t.Fatal("cause leaked to the client")
	}
	if AsError(nil) != nil {
		t.Fatal("AsError(nil)")
	}
	if s := e.Error(); !strings.HasPrefix(s, "NoSuchKey: ") || !strings.Contains(s, "disk on fire") {
		t.Fatalf("Error() %q", s)
	}
}
