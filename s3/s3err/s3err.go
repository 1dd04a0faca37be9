// Package s3err is the S3 error table: every error code S4 answers with,
// its HTTP status and S3's message (Code, APIError); the error value that
// S3 code returns (Error: a code, and optionally its own message, the
// resource, extra elements, and a cause that goes to the logs only); and
// the XML error document S3 sends:
//
//	<Error><Code>NoSuchKey</Code><Message>…</Message><Resource>…</Resource><RequestId>…</RequestId></Error>
//
// It is a package of its own because two packages produce S3 errors:
// package sig (a signature that does not match is SignatureDoesNotMatch, a
// wrong checksum BadDigest) and package s3, the operations, which also
// render them. It depends on nothing else of S4.
package s3err

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
)

// Code names one row of the S3 error table. Most values equal the wire
// code S3 sends (<Code>); a few are variants of one wire code with their own
// message (RequestExpired is AccessDenied with "Request has expired").
// Handlers pick the row; APIError gives what goes on the wire.
type Code string

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
	AccessDenied                   Code = "AccessDenied"
	AccessControlListNotSupported  Code = "AccessControlListNotSupported"
	AuthorizationHeaderMalformed   Code = "AuthorizationHeaderMalformed"
	AuthorizationQueryParameters   Code = "AuthorizationQueryParametersError"
	BadDigest                      Code = "BadDigest"
	BucketAlreadyExists            Code = "BucketAlreadyExists"
	BucketAlreadyOwnedByYou        Code = "BucketAlreadyOwnedByYou"
	BucketNotEmpty                 Code = "BucketNotEmpty"
	ConditionalRequestConflict     Code = "ConditionalRequestConflict"
	EntityTooLarge                 Code = "EntityTooLarge"
	EntityTooSmall                 Code = "EntityTooSmall"
	ExpiredToken                   Code = "ExpiredToken"
	IllegalLocationConstraint      Code = "IllegalLocationConstraintException"
	IllegalVersioningConfiguration Code = "IllegalVersioningConfigurationException"
	IncompleteBody                 Code = "IncompleteBody"
	InternalError                  Code = "InternalError"
	InvalidAccessKeyID             Code = "InvalidAccessKeyId"
	InvalidArgument                Code = "InvalidArgument"
	InvalidBucketName              Code = "InvalidBucketName"
	InvalidDigest                  Code = "InvalidDigest"
	InvalidLocationConstraint      Code = "InvalidLocationConstraint"
	InvalidPart                    Code = "InvalidPart"
	InvalidPartOrder               Code = "InvalidPartOrder"
	InvalidTag                     Code = "InvalidTag"
	InvalidRange                   Code = "InvalidRange"
	InvalidRequest                 Code = "InvalidRequest"
	InvalidStorageClass            Code = "InvalidStorageClass"
	InvalidURI                     Code = "InvalidURI"
	KeyTooLong                     Code = "KeyTooLongError"
	MalformedXML                   Code = "MalformedXML"
	MaxMessageLengthExceeded       Code = "MaxMessageLengthExceeded"
	MetadataTooLarge               Code = "MetadataTooLarge"
	MethodNotAllowed               Code = "MethodNotAllowed"
	MissingContentLength           Code = "MissingContentLength"
	MissingRequestBody             Code = "MissingRequestBodyError"
	MissingSecurityHeader          Code = "MissingSecurityHeader"
	NoSuchBucket                   Code = "NoSuchBucket"
	NoSuchKey                      Code = "NoSuchKey"
	NoSuchUpload                   Code = "NoSuchUpload"
	NoSuchTagSet                   Code = "NoSuchTagSet"
	NoSuchLifecycleConfiguration   Code = "NoSuchLifecycleConfiguration"
	NoSuchVersion                  Code = "NoSuchVersion"
	NotImplemented                 Code = "NotImplemented"
	NotModified                    Code = "NotModified"
	PreconditionFailed             Code = "PreconditionFailed"
	RequestTimeTooSkewed           Code = "RequestTimeTooSkewed"
	RequestTimeout                 Code = "RequestTimeout"
	ServiceUnavailable             Code = "ServiceUnavailable"
	SignatureDoesNotMatch          Code = "SignatureDoesNotMatch"
	SlowDown                       Code = "SlowDown"
	UnexpectedContent              Code = "UnexpectedContent"
	XAmzContentSHA256Mismatch      Code = "XAmzContentSHA256Mismatch"
	InvalidChunkSizeError          Code = "InvalidChunkSizeError"
	InvalidEncodingType            Code = "InvalidEncodingType"            // InvalidArgument
	InvalidMaxKeys                 Code = "InvalidMaxKeys"                 // InvalidArgument
	InvalidMaxUploads              Code = "InvalidMaxUploads"              // InvalidArgument
	InvalidMaxParts                Code = "InvalidMaxParts"                // InvalidArgument
	InvalidPartNumberMarker        Code = "InvalidPartNumberMarker"        // InvalidArgument
	InvalidPartNumber              Code = "InvalidPartNumber"              // InvalidArgument
	InvalidCopySource              Code = "InvalidCopySource"              // InvalidArgument
	InvalidCopyDest                Code = "InvalidCopyDest"                // InvalidRequest
	UnsupportedSignature           Code = "UnsupportedSignature"           // InvalidRequest
	RequestExpired                 Code = "RequestExpired"                 // AccessDenied
	RequestNotYetValid             Code = "RequestNotYetValid"             // AccessDenied
	UserDeactivated                Code = "UserDeactivated"                // AccessDenied
	MissingDateHeader              Code = "MissingDateHeader"              // AccessDenied
	UnsignedHeaders                Code = "UnsignedHeaders"                // AccessDenied
	CredentialMalformed            Code = "CredentialMalformed"            // AuthorizationQueryParametersError
	PresignExpiresMalformed        Code = "PresignExpiresMalformed"        // AuthorizationQueryParametersError
	PresignExpiresTooLarge         Code = "PresignExpiresTooLarge"         // AuthorizationQueryParametersError
	PresignMissingParams           Code = "PresignMissingParams"           // AuthorizationQueryParametersError
	SignatureDateMismatch          Code = "SignatureDateMismatch"          // SignatureDoesNotMatch
	InvalidObjectKeyEmpty          Code = "InvalidObjectKeyEmpty"          // InvalidArgument
	ContentSHA256Invalid           Code = "ContentSHA256Invalid"           // InvalidArgument
	TrailerMalformed               Code = "TrailerMalformed"               // InvalidRequest
	ChecksumAlgorithmNotSupported  Code = "ChecksumAlgorithmNotSupported"  // InvalidRequest
	ChecksumMismatch               Code = "ChecksumMismatch"               // BadDigest
	ClusterUnavailable             Code = "ClusterUnavailable"             // ServiceUnavailable
	ConditionalWriteNotImplemented Code = "ConditionalWriteNotImplemented" // NotImplemented
	PartNumberNotSatisfiable       Code = "PartNumberNotSatisfiable"       // InvalidPartNumber, 416
	// StorageFull is S4's own code: 507, the node is at its free-space
	// reserve (package disk) or its disk is full.
	StorageFull Code = "XS4StorageFull"
)

// errorTable maps every Code to what S3 sends. Statuses and codes follow
// the Amazon S3 API reference "List of error codes"; UserDeactivated is
// S4's (docs/DESIGN.md "Roles": a deactivated user gets AccessDenied), and so is
// StorageFull (507 Insufficient Storage, from WebDAV, which S3 never
// sends: SDKs do not retry it, and its message says what to do).
var errorTable = map[Code]APIError{
	AccessDenied:                   {"AccessDenied", "Access Denied", http.StatusForbidden},
	AccessControlListNotSupported:  {"AccessControlListNotSupported", "The bucket does not allow ACLs", http.StatusBadRequest},
	AuthorizationHeaderMalformed:   {"AuthorizationHeaderMalformed", "The authorization header you provided is invalid.", http.StatusBadRequest},
	AuthorizationQueryParameters:   {"AuthorizationQueryParametersError", "Error parsing the query-string authentication parameters.", http.StatusBadRequest},
	BadDigest:                      {"BadDigest", "The Content-MD5 you specified did not match what we received.", http.StatusBadRequest},
	BucketAlreadyExists:            {"BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.", http.StatusConflict},
	BucketAlreadyOwnedByYou:        {"BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", http.StatusConflict},
	BucketNotEmpty:                 {"BucketNotEmpty", "The bucket you tried to delete is not empty", http.StatusConflict},
	ConditionalRequestConflict:     {"ConditionalRequestConflict", "A conflicting conditional operation is currently in progress against this resource. Please try again.", http.StatusConflict},
	EntityTooLarge:                 {"EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", http.StatusBadRequest},
	EntityTooSmall:                 {"EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.", http.StatusBadRequest},
	ExpiredToken:                   {"ExpiredToken", "The provided token has expired.", http.StatusBadRequest},
	IllegalLocationConstraint:      {"IllegalLocationConstraintException", "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.", http.StatusBadRequest},
	IllegalVersioningConfiguration: {"IllegalVersioningConfigurationException", "The versioning configuration specified in the request is invalid.", http.StatusBadRequest},
	IncompleteBody:                 {"IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.", http.StatusBadRequest},
	InternalError:                  {"InternalError", "We encountered an internal error. Please try again.", http.StatusInternalServerError},
	InvalidAccessKeyID:             {"InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", http.StatusForbidden},
	InvalidArgument:                {"InvalidArgument", "Invalid Argument", http.StatusBadRequest},
	InvalidBucketName:              {"InvalidBucketName", "The specified bucket is not valid.", http.StatusBadRequest},
	InvalidDigest:                  {"InvalidDigest", "The Content-MD5 you specified is not valid.", http.StatusBadRequest},
	InvalidLocationConstraint:      {"InvalidLocationConstraint", "The specified location-constraint is not valid", http.StatusBadRequest},
	InvalidPart:                    {"InvalidPart", "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.", http.StatusBadRequest},
	InvalidPartOrder:               {"InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.", http.StatusBadRequest},
	InvalidTag:                     {"InvalidTag", "The tag provided was not a valid tag.", http.StatusBadRequest},
	InvalidRange:                   {"InvalidRange", "The requested range is not satisfiable", http.StatusRequestedRangeNotSatisfiable},
	InvalidRequest:                 {"InvalidRequest", "Invalid Request", http.StatusBadRequest},
	InvalidStorageClass:            {"InvalidStorageClass", "The storage class you specified is not valid", http.StatusBadRequest},
	InvalidURI:                     {"InvalidURI", "Couldn't parse the specified URI.", http.StatusBadRequest},
	KeyTooLong:                     {"KeyTooLongError", "Your key is too long", http.StatusBadRequest},
	MalformedXML:                   {"MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema", http.StatusBadRequest},
	MaxMessageLengthExceeded:       {"MaxMessageLengthExceeded", "Your request was too big.", http.StatusBadRequest},
	MetadataTooLarge:               {"MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.", http.StatusBadRequest},
	MethodNotAllowed:               {"MethodNotAllowed", "The specified method is not allowed against this resource.", http.StatusMethodNotAllowed},
	MissingContentLength:           {"MissingContentLength", "You must provide the Content-Length HTTP header.", http.StatusLengthRequired},
	MissingRequestBody:             {"MissingRequestBodyError", "Request Body is empty", http.StatusBadRequest},
	MissingSecurityHeader:          {"MissingSecurityHeader", "Your request is missing a required header.", http.StatusBadRequest},
	NoSuchBucket:                   {"NoSuchBucket", "The specified bucket does not exist", http.StatusNotFound},
	NoSuchKey:                      {"NoSuchKey", "The specified key does not exist.", http.StatusNotFound},
	NoSuchUpload:                   {"NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", http.StatusNotFound},
	NoSuchTagSet:                   {"NoSuchTagSet", "The TagSet does not exist", http.StatusNotFound},
	NoSuchLifecycleConfiguration:   {"NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", http.StatusNotFound},
	NoSuchVersion:                  {"NoSuchVersion", "The specified version does not exist.", http.StatusNotFound},
	NotImplemented:                 {"NotImplemented", "A header you provided implies functionality that is not implemented", http.StatusNotImplemented},
	NotModified:                    {"NotModified", "Not Modified", http.StatusNotModified},
	PreconditionFailed:             {"PreconditionFailed", "At least one of the pre-conditions you specified did not hold", http.StatusPreconditionFailed},
	RequestTimeTooSkewed:           {"RequestTimeTooSkewed", "The difference between the request time and the current time is too large.", http.StatusForbidden},
	RequestTimeout:                 {"RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.", http.StatusBadRequest},
	ServiceUnavailable:             {"ServiceUnavailable", "Please reduce your request rate.", http.StatusServiceUnavailable},
	SignatureDoesNotMatch:          {"SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.", http.StatusForbidden},
	SlowDown:                       {"SlowDown", "Please reduce your request rate.", http.StatusServiceUnavailable},
	UnexpectedContent:              {"UnexpectedContent", "This request does not support content", http.StatusBadRequest},
	XAmzContentSHA256Mismatch:      {"XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.", http.StatusBadRequest},
	InvalidChunkSizeError:          {"InvalidChunkSizeError", "Only the last chunk is allowed to have a size less than 8192 bytes", http.StatusBadRequest},

	InvalidEncodingType:            {"InvalidArgument", "Invalid Encoding Method specified in Request", http.StatusBadRequest},
	InvalidMaxKeys:                 {"InvalidArgument", "Argument maxKeys must be an integer between 0 and 2147483647", http.StatusBadRequest},
	InvalidMaxUploads:              {"InvalidArgument", "Argument max-uploads must be an integer between 0 and 2147483647", http.StatusBadRequest},
	InvalidMaxParts:                {"InvalidArgument", "Argument max-parts must be an integer between 0 and 2147483647", http.StatusBadRequest},
	InvalidPartNumberMarker:        {"InvalidArgument", "Argument part-number-marker must be an integer between 0 and 2147483647", http.StatusBadRequest},
	InvalidPartNumber:              {"InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", http.StatusBadRequest},
	InvalidCopySource:              {"InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey", http.StatusBadRequest},
	InvalidCopyDest:                {"InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.", http.StatusBadRequest},
	UnsupportedSignature:           {"InvalidRequest", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.", http.StatusBadRequest},
	RequestExpired:                 {"AccessDenied", "Request has expired", http.StatusForbidden},
	RequestNotYetValid:             {"AccessDenied", "Request is not valid yet", http.StatusForbidden},
	UserDeactivated:                {"AccessDenied", "Access Denied", http.StatusForbidden},
	MissingDateHeader:              {"AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", http.StatusForbidden},
	UnsignedHeaders:                {"AccessDenied", "There were headers present in the request which were not signed", http.StatusForbidden},
	CredentialMalformed:            {"AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".", http.StatusBadRequest},
	PresignExpiresMalformed:        {"AuthorizationQueryParametersError", "X-Amz-Expires should be a number", http.StatusBadRequest},
	PresignExpiresTooLarge:         {"AuthorizationQueryParametersError", "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds", http.StatusBadRequest},
	PresignMissingParams:           {"AuthorizationQueryParametersError", "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.", http.StatusBadRequest},
	SignatureDateMismatch:          {"SignatureDoesNotMatch", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP", http.StatusForbidden},
	InvalidObjectKeyEmpty:          {"InvalidArgument", "Object key must not be empty", http.StatusBadRequest},
	ContentSHA256Invalid:           {"InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.", http.StatusBadRequest},
	TrailerMalformed:               {"InvalidRequest", "The request contained trailing data that was not well-formed or did not conform to our published schema.", http.StatusBadRequest},
	ChecksumAlgorithmNotSupported:  {"InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]", http.StatusBadRequest},
	ChecksumMismatch:               {"BadDigest", "The checksum value that you specified did not match what we received.", http.StatusBadRequest},
	ClusterUnavailable:             {"ServiceUnavailable", "Service is unable to handle request.", http.StatusServiceUnavailable},
	ConditionalWriteNotImplemented: {"NotImplemented", "A header you provided implies functionality that is not implemented", http.StatusNotImplemented},
	PartNumberNotSatisfiable:       {"InvalidPartNumber", "The requested partnumber is not satisfiable", http.StatusRequestedRangeNotSatisfiable},
	StorageFull:                    {"XS4StorageFull", "This node is at its free-space reserve and stores no new object data. Free space by deleting objects, or grow the disk; writes are accepted again once the free space is back above the reserve.", http.StatusInsufficientStorage},
}

// APIError returns the table row for c; an unknown code renders as
// InternalError, so a typo never leaks as a 200 or an empty status.
func (c Code) APIError() APIError {
	if e, ok := errorTable[c]; ok {
		return e
	}
	return errorTable[InternalError]
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

// Field is an extra element S3 adds to some errors, such as
// <ActualObjectSize> on InvalidRange or <CalculatedDigest> on BadDigest.
type Field struct {
	Name  string // a plain element name: letters and digits only
	Value string
}

// Error is what S3 code (packages s3 and sig) returns for a request that
// fails with an S3 error.
// Message, when set, replaces the table's description; Resource is the
// path (/bucket/key) put in <Resource>; Extra elements go after <Message>.
// Cause is for logs only and never reaches the client.
type Error struct {
	Code     Code
	Message  string
	Resource string
	Extra    []Field
	Cause    error
}

// New returns an *Error for code with the table's message.
func New(code Code) *Error { return &Error{Code: code} }

// Errorf returns an *Error for code whose message is the formatted text.
func Errorf(code Code, format string, args ...any) *Error {
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

// Is makes errors.Is(err, New(NoSuchKey)) match on the table key.
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

// As returns the *Error in err's chain, or an InternalError wrapping err
// (whose text is not sent to the client). As(nil) is nil.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: InternalError, Cause: err}
}

// IsCode reports whether err's chain holds an *Error with the given code.
func IsCode(err error, code Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

func renderErrorXML(code, message string, extra []Field, resource, requestID string) []byte {
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
