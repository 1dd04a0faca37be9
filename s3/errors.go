package s3

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
)

// ErrorCode names one row of the S3 error table. Most values equal the wire
// code S3 sends (<Code>); a few are variants of one wire code with their own
// message (CodeRequestExpired is AccessDenied with "Request has expired").
// Handlers pick the row; APIError gives what goes on the wire.
type ErrorCode string

// APIError is one row of the table: the wire code, S3's message, the status.
type APIError struct {
	Code        string
	Description string
	HTTPStatus  int
}

// The error table keys. Messages follow the "List of error codes" in the
// Amazon S3 API reference (ErrorResponses) and, for the auth variants, what
// S3 sends in practice.
const (
	CodeAccessDenied                   ErrorCode = "AccessDenied"
	CodeAccessControlListNotSupported  ErrorCode = "AccessControlListNotSupported"
	CodeAuthorizationHeaderMalformed   ErrorCode = "AuthorizationHeaderMalformed"
	CodeAuthorizationQueryParameters   ErrorCode = "AuthorizationQueryParametersError"
	CodeBadDigest                      ErrorCode = "BadDigest"
	CodeBucketAlreadyExists            ErrorCode = "BucketAlreadyExists"
	CodeBucketAlreadyOwnedByYou        ErrorCode = "BucketAlreadyOwnedByYou"
	CodeBucketNotEmpty                 ErrorCode = "BucketNotEmpty"
	CodeConditionalRequestConflict     ErrorCode = "ConditionalRequestConflict"
	CodeEntityTooLarge                 ErrorCode = "EntityTooLarge"
	CodeEntityTooSmall                 ErrorCode = "EntityTooSmall"
	CodeExpiredToken                   ErrorCode = "ExpiredToken"
	CodeIllegalLocationConstraint      ErrorCode = "IllegalLocationConstraintException"
	CodeIncompleteBody                 ErrorCode = "IncompleteBody"
	CodeInternalError                  ErrorCode = "InternalError"
	CodeInvalidAccessKeyID             ErrorCode = "InvalidAccessKeyId"
	CodeInvalidArgument                ErrorCode = "InvalidArgument"
	CodeInvalidBucketName              ErrorCode = "InvalidBucketName"
	CodeInvalidDigest                  ErrorCode = "InvalidDigest"
	CodeInvalidLocationConstraint      ErrorCode = "InvalidLocationConstraint"
	CodeInvalidPart                    ErrorCode = "InvalidPart"
	CodeInvalidPartOrder               ErrorCode = "InvalidPartOrder"
	CodeInvalidRange                   ErrorCode = "InvalidRange"
	CodeInvalidRequest                 ErrorCode = "InvalidRequest"
	CodeInvalidStorageClass            ErrorCode = "InvalidStorageClass"
	CodeInvalidURI                     ErrorCode = "InvalidURI"
	CodeKeyTooLong                     ErrorCode = "KeyTooLongError"
	CodeMalformedXML                   ErrorCode = "MalformedXML"
	CodeMaxMessageLengthExceeded       ErrorCode = "MaxMessageLengthExceeded"
	CodeMetadataTooLarge               ErrorCode = "MetadataTooLarge"
	CodeMethodNotAllowed               ErrorCode = "MethodNotAllowed"
	CodeMissingContentLength           ErrorCode = "MissingContentLength"
	CodeMissingRequestBody             ErrorCode = "MissingRequestBodyError"
	CodeMissingSecurityHeader          ErrorCode = "MissingSecurityHeader"
	CodeNoSuchBucket                   ErrorCode = "NoSuchBucket"
	CodeNoSuchKey                      ErrorCode = "NoSuchKey"
	CodeNoSuchUpload                   ErrorCode = "NoSuchUpload"
	CodeNoSuchVersion                  ErrorCode = "NoSuchVersion"
	CodeNotImplemented                 ErrorCode = "NotImplemented"
	CodeNotModified                    ErrorCode = "NotModified"
	CodePreconditionFailed             ErrorCode = "PreconditionFailed"
	CodeRequestTimeTooSkewed           ErrorCode = "RequestTimeTooSkewed"
	CodeRequestTimeout                 ErrorCode = "RequestTimeout"
	CodeServiceUnavailable             ErrorCode = "ServiceUnavailable"
	CodeSignatureDoesNotMatch          ErrorCode = "SignatureDoesNotMatch"
	CodeSlowDown                       ErrorCode = "SlowDown"
	CodeUnexpectedContent              ErrorCode = "UnexpectedContent"
	CodeXAmzContentSHA256Mismatch      ErrorCode = "XAmzContentSHA256Mismatch"
	CodeInvalidChunkSizeError          ErrorCode = "InvalidChunkSizeError"
	CodeInvalidEncodingType            ErrorCode = "InvalidEncodingType"            // InvalidArgument
	CodeInvalidMaxKeys                 ErrorCode = "InvalidMaxKeys"                 // InvalidArgument
	CodeInvalidMaxUploads              ErrorCode = "InvalidMaxUploads"              // InvalidArgument
	CodeInvalidMaxParts                ErrorCode = "InvalidMaxParts"                // InvalidArgument
	CodeInvalidPartNumberMarker        ErrorCode = "InvalidPartNumberMarker"        // InvalidArgument
	CodeInvalidPartNumber              ErrorCode = "InvalidPartNumber"              // InvalidArgument
	CodeInvalidCopySource              ErrorCode = "InvalidCopySource"              // InvalidArgument
	CodeInvalidCopyDest                ErrorCode = "InvalidCopyDest"                // InvalidRequest
	CodeUnsupportedSignature           ErrorCode = "UnsupportedSignature"           // InvalidRequest
	CodeRequestExpired                 ErrorCode = "RequestExpired"                 // AccessDenied
	CodeRequestNotYetValid             ErrorCode = "RequestNotYetValid"             // AccessDenied
	CodeUserDeactivated                ErrorCode = "UserDeactivated"                // AccessDenied
	CodeMissingDateHeader              ErrorCode = "MissingDateHeader"              // AccessDenied
	CodeUnsignedHeaders                ErrorCode = "UnsignedHeaders"                // AccessDenied
	CodeCredentialMalformed            ErrorCode = "CredentialMalformed"            // AuthorizationQueryParametersError
	CodePresignExpiresMalformed        ErrorCode = "PresignExpiresMalformed"        // AuthorizationQueryParametersError
	CodePresignExpiresTooLarge         ErrorCode = "PresignExpiresTooLarge"         // AuthorizationQueryParametersError
	CodePresignMissingParams           ErrorCode = "PresignMissingParams"           // AuthorizationQueryParametersError
	CodeSignatureDateMismatch          ErrorCode = "SignatureDateMismatch"          // SignatureDoesNotMatch
	CodeInvalidObjectKeyEmpty          ErrorCode = "InvalidObjectKeyEmpty"          // InvalidArgument
	CodeContentSHA256Invalid           ErrorCode = "ContentSHA256Invalid"           // InvalidArgument
	CodeTrailerMalformed               ErrorCode = "TrailerMalformed"               // InvalidRequest
	CodeChecksumAlgorithmNotSupported  ErrorCode = "ChecksumAlgorithmNotSupported"  // InvalidRequest
	CodeChecksumMismatch               ErrorCode = "ChecksumMismatch"               // BadDigest
	CodeClusterUnavailable             ErrorCode = "ClusterUnavailable"             // ServiceUnavailable
	CodeConditionalWriteNotImplemented ErrorCode = "ConditionalWriteNotImplemented" // NotImplemented
	// CodeStorageFull is S4's own code: 507, the node is at its free-space
	// reserve (package disk) or its disk is full.
	CodeStorageFull ErrorCode = "XS4StorageFull"
)

// errorTable maps every ErrorCode to what S3 sends. Statuses and codes follow
// the Amazon S3 API reference "List of error codes"; CodeUserDeactivated is
// S4's (DESIGN.md "Roles": a deactivated user gets AccessDenied), and so is
// CodeStorageFull (507 Insufficient Storage, from WebDAV, which S3 never
// sends: SDKs do not retry it, and its message says what to do).
var errorTable = map[ErrorCode]APIError{
	CodeAccessDenied:                  {"AccessDenied", "Access Denied", http.StatusForbidden},
	CodeAccessControlListNotSupported: {"AccessControlListNotSupported", "The bucket does not allow ACLs", http.StatusBadRequest},
	CodeAuthorizationHeaderMalformed:  {"AuthorizationHeaderMalformed", "The authorization header you provided is invalid.", http.StatusBadRequest},
	CodeAuthorizationQueryParameters:  {"AuthorizationQueryParametersError", "Error parsing the query-string authentication parameters.", http.StatusBadRequest},
	CodeBadDigest:                     {"BadDigest", "The Content-MD5 you specified did not match what we received.", http.StatusBadRequest},
	CodeBucketAlreadyExists:           {"BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.", http.StatusConflict},
	CodeBucketAlreadyOwnedByYou:       {"BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", http.StatusConflict},
	CodeBucketNotEmpty:                {"BucketNotEmpty", "The bucket you tried to delete is not empty", http.StatusConflict},
	CodeConditionalRequestConflict:    {"ConditionalRequestConflict", "A conflicting conditional operation is currently in progress against this resource. Please try again.", http.StatusConflict},
	CodeEntityTooLarge:                {"EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", http.StatusBadRequest},
	CodeEntityTooSmall:                {"EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.", http.StatusBadRequest},
	CodeExpiredToken:                  {"ExpiredToken", "The provided token has expired.", http.StatusBadRequest},
	CodeIllegalLocationConstraint:     {"IllegalLocationConstraintException", "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.", http.StatusBadRequest},
	CodeIncompleteBody:                {"IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.", http.StatusBadRequest},
	CodeInternalError:                 {"InternalError", "We encountered an internal error. Please try again.", http.StatusInternalServerError},
	CodeInvalidAccessKeyID:            {"InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", http.StatusForbidden},
	CodeInvalidArgument:               {"InvalidArgument", "Invalid Argument", http.StatusBadRequest},
	CodeInvalidBucketName:             {"InvalidBucketName", "The specified bucket is not valid.", http.StatusBadRequest},
	CodeInvalidDigest:                 {"InvalidDigest", "The Content-MD5 you specified is not valid.", http.StatusBadRequest},
	CodeInvalidLocationConstraint:     {"InvalidLocationConstraint", "The specified location-constraint is not valid", http.StatusBadRequest},
	CodeInvalidPart:                   {"InvalidPart", "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.", http.StatusBadRequest},
	CodeInvalidPartOrder:              {"InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.", http.StatusBadRequest},
	CodeInvalidRange:                  {"InvalidRange", "The requested range is not satisfiable", http.StatusRequestedRangeNotSatisfiable},
	CodeInvalidRequest:                {"InvalidRequest", "Invalid Request", http.StatusBadRequest},
	CodeInvalidStorageClass:           {"InvalidStorageClass", "The storage class you specified is not valid", http.StatusBadRequest},
	CodeInvalidURI:                    {"InvalidURI", "Couldn't parse the specified URI.", http.StatusBadRequest},
	CodeKeyTooLong:                    {"KeyTooLongError", "Your key is too long", http.StatusBadRequest},
	CodeMalformedXML:                  {"MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema", http.StatusBadRequest},
	CodeMaxMessageLengthExceeded:      {"MaxMessageLengthExceeded", "Your request was too big.", http.StatusBadRequest},
	CodeMetadataTooLarge:              {"MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.", http.StatusBadRequest},
	CodeMethodNotAllowed:              {"MethodNotAllowed", "The specified method is not allowed against this resource.", http.StatusMethodNotAllowed},
	CodeMissingContentLength:          {"MissingContentLength", "You must provide the Content-Length HTTP header.", http.StatusLengthRequired},
	CodeMissingRequestBody:            {"MissingRequestBodyError", "Request Body is empty", http.StatusBadRequest},
	CodeMissingSecurityHeader:         {"MissingSecurityHeader", "Your request is missing a required header.", http.StatusBadRequest},
	CodeNoSuchBucket:                  {"NoSuchBucket", "The specified bucket does not exist", http.StatusNotFound},
	CodeNoSuchKey:                     {"NoSuchKey", "The specified key does not exist.", http.StatusNotFound},
	CodeNoSuchUpload:                  {"NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", http.StatusNotFound},
	CodeNoSuchVersion:                 {"NoSuchVersion", "The specified version does not exist.", http.StatusNotFound},
	CodeNotImplemented:                {"NotImplemented", "A header you provided implies functionality that is not implemented", http.StatusNotImplemented},
	CodeNotModified:                   {"NotModified", "Not Modified", http.StatusNotModified},
	CodePreconditionFailed:            {"PreconditionFailed", "At least one of the pre-conditions you specified did not hold", http.StatusPreconditionFailed},
	CodeRequestTimeTooSkewed:          {"RequestTimeTooSkewed", "The difference between the request time and the current time is too large.", http.StatusForbidden},
	CodeRequestTimeout:                {"RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.", http.StatusBadRequest},
	CodeServiceUnavailable:            {"ServiceUnavailable", "Please reduce your request rate.", http.StatusServiceUnavailable},
	CodeSignatureDoesNotMatch:         {"SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.", http.StatusForbidden},
	CodeSlowDown:                      {"SlowDown", "Please reduce your request rate.", http.StatusServiceUnavailable},
	CodeUnexpectedContent:             {"UnexpectedContent", "This request does not support content", http.StatusBadRequest},
	CodeXAmzContentSHA256Mismatch:     {"XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.", http.StatusBadRequest},
	CodeInvalidChunkSizeError:         {"InvalidChunkSizeError", "Only the last chunk is allowed to have a size less than 8192 bytes", http.StatusBadRequest},

	CodeInvalidEncodingType:            {"InvalidArgument", "Invalid Encoding Method specified in Request", http.StatusBadRequest},
	CodeInvalidMaxKeys:                 {"InvalidArgument", "Argument maxKeys must be an integer between 0 and 2147483647", http.StatusBadRequest},
	CodeInvalidMaxUploads:              {"InvalidArgument", "Argument max-uploads must be an integer between 0 and 2147483647", http.StatusBadRequest},
	CodeInvalidMaxParts:                {"InvalidArgument", "Argument max-parts must be an integer between 0 and 2147483647", http.StatusBadRequest},
	CodeInvalidPartNumberMarker:        {"InvalidArgument", "Argument part-number-marker must be an integer between 0 and 2147483647", http.StatusBadRequest},
	CodeInvalidPartNumber:              {"InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", http.StatusBadRequest},
	CodeInvalidCopySource:              {"InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey", http.StatusBadRequest},
	CodeInvalidCopyDest:                {"InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.", http.StatusBadRequest},
	CodeUnsupportedSignature:           {"InvalidRequest", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.", http.StatusBadRequest},
	CodeRequestExpired:                 {"AccessDenied", "Request has expired", http.StatusForbidden},
	CodeRequestNotYetValid:             {"AccessDenied", "Request is not valid yet", http.StatusForbidden},
	CodeUserDeactivated:                {"AccessDenied", "Access Denied", http.StatusForbidden},
	CodeMissingDateHeader:              {"AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", http.StatusForbidden},
	CodeUnsignedHeaders:                {"AccessDenied", "There were headers present in the request which were not signed", http.StatusForbidden},
	CodeCredentialMalformed:            {"AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".", http.StatusBadRequest},
	CodePresignExpiresMalformed:        {"AuthorizationQueryParametersError", "X-Amz-Expires should be a number", http.StatusBadRequest},
	CodePresignExpiresTooLarge:         {"AuthorizationQueryParametersError", "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds", http.StatusBadRequest},
	CodePresignMissingParams:           {"AuthorizationQueryParametersError", "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.", http.StatusBadRequest},
	CodeSignatureDateMismatch:          {"SignatureDoesNotMatch", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP", http.StatusForbidden},
	CodeInvalidObjectKeyEmpty:          {"InvalidArgument", "Object key must not be empty", http.StatusBadRequest},
	CodeContentSHA256Invalid:           {"InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.", http.StatusBadRequest},
	CodeTrailerMalformed:               {"InvalidRequest", "The request contained trailing data that was not well-formed or did not conform to our published schema.", http.StatusBadRequest},
	CodeChecksumAlgorithmNotSupported:  {"InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]", http.StatusBadRequest},
	CodeChecksumMismatch:               {"BadDigest", "The checksum value that you specified did not match what we received.", http.StatusBadRequest},
	CodeClusterUnavailable:             {"ServiceUnavailable", "Service is unable to handle request.", http.StatusServiceUnavailable},
	CodeConditionalWriteNotImplemented: {"NotImplemented", "A header you provided implies functionality that is not implemented", http.StatusNotImplemented},
	CodeStorageFull:                    {"XS4StorageFull", "This node is at its free-space reserve and stores no new object data. Free space by deleting objects, or grow the disk; writes are accepted again once the free space is back above the reserve.", http.StatusInsufficientStorage},
}

// APIError returns the table row for c; an unknown code renders as
// InternalError, so a typo never leaks as a 200 or an empty status.
func (c ErrorCode) APIError() APIError {
	if e, ok := errorTable[c]; ok {
		return e
	}
	return errorTable[CodeInternalError]
}

// XML renders the S3 error document:
//
//	<?xml version="1.0" encoding="UTF-8"?>
//	<Error><Code>..</Code><Message>..</Message><Resource>..</Resource><RequestId>..</RequestId></Error>
//
// Every value is XML-escaped (characters XML 1.0 cannot carry become U+FFFD).
// A 304 and any HEAD response must go out without a body: the caller decides.
func (e APIError) XML(resource, requestID string) []byte {
	return renderErrorXML(e.Code, e.Description, nil, resource, requestID)
}

// ErrorField is an extra element S3 adds to some errors, such as
// <ActualObjectSize> on InvalidRange or <CalculatedDigest> on BadDigest.
type ErrorField struct {
	Name  string // a plain element name: letters and digits only
	Value string
}

// Error is what s3 code returns for a request that fails with an S3 error.
// Message, when set, replaces the table's description; Resource is the
// path (/bucket/key) put in <Resource>; Extra elements go after <Message>.
// Cause is for logs only and never reaches the client.
type Error struct {
	Code     ErrorCode
	Message  string
	Resource string
	Extra    []ErrorField
	Cause    error
}

// NewError returns an *Error for code with the table's message.
func NewError(code ErrorCode) *Error { return &Error{Code: code} }

// Errorf returns an *Error for code whose message is the formatted text.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithResource returns a copy of e with Resource set.
func (e *Error) WithResource(resource string) *Error {
	c := *e
	c.Resource = resource
	return &c
}

// WithCause returns a copy of e carrying cause for logs and errors.Is/As.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

// API returns the wire code, message and status, with Message applied.
func (e *Error) API() APIError {
	a := e.Code.APIError()
	if e.Message != "" {
		a.Description = e.Message
	}
	return a
}

// Status is the HTTP status to answer with.
func (e *Error) Status() int { return e.Code.APIError().HTTPStatus }

// Error implements error: "NoSuchKey: The specified key does not exist.".
func (e *Error) Error() string {
	a := e.API()
	s := a.Code + ": " + a.Description
	if e.Cause != nil {
		s += " (" + e.Cause.Error() + ")"
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is makes errors.Is(err, NewError(CodeNoSuchKey)) match on the table key.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// XML renders the error document; e.Resource wins over resource when set.
func (e *Error) XML(resource, requestID string) []byte {
	if e.Resource != "" {
		resource = e.Resource
	}
	a := e.API()
	return renderErrorXML(a.Code, a.Description, e.Extra, resource, requestID)
}

// AsError returns the *Error in err's chain, or an InternalError wrapping err
// (whose text is not sent to the client). AsError(nil) is nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternalError, Cause: err}
}

// IsCode reports whether err's chain holds an *Error with the given code.
func IsCode(err error, code ErrorCode) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

func renderErrorXML(code, message string, extra []ErrorField, resource, requestID string) []byte {
	var b bytes.Buffer
	b.Grow(len(xml.Header) + 128 + len(message) + len(resource))
	b.WriteString(xml.Header)
	b.WriteString("<Error>")
	writeElem(&b, "Code", code)
	writeElem(&b, "Message", message)
	for _, f := range extra {
		if validElemName(f.Name) {
			writeElem(&b, f.Name, f.Value)
		}
	}
	writeElem(&b, "Resource", resource)
	writeElem(&b, "RequestId", requestID)
	b.WriteString("</Error>")
	return b.Bytes()
}

func writeElem(b *bytes.Buffer, name, value string) {
	b.WriteByte('<')
	b.WriteString(name)
	b.WriteByte('>')
	_ = xml.EscapeText(b, []byte(value)) // bytes.Buffer never fails
	b.WriteString("</")
	b.WriteString(name)
	b.WriteByte('>')
}

func validElemName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
