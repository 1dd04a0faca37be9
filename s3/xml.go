package s3

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/s4/s4/s3/s3err"
)

// S3Namespace is the xmlns of every S3 response document except <Error>.
const S3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// xsiNamespace is the XML Schema instance namespace of xsi:type on <Grantee>.
const xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"

// S3TimeFormat is how S3 writes timestamps in XML bodies (LastModified,
// CreationDate, Initiated): UTC, milliseconds, a literal Z.
const S3TimeFormat = "2006-01-02T15:04:05.000Z"

// Body limits for request documents. Past a limit the decoder answers
// MaxMessageLengthExceeded without reading further.
//
// MaxXMLBodySize (1 MiB) bounds CreateBucketConfiguration and ACL bodies.
// DeleteObjects and CompleteMultipartUpload get more room, because their
// largest legal bodies exceed 1 MiB: 1000 keys of 1024 bytes are already
// 1,052,000 bytes of <Object><Key>…</Key></Object> before any escaping, and
// 10,000 parts with an ETag and one checksum each are about 1.25 MB (botocore
// adds <ChecksumCRC32> to every part when UploadPart returned one).
const (
	MaxXMLBodySize               = 1 << 20
	MaxDeleteObjectsBodySize     = 2 << 20
	MaxCompleteMultipartBodySize = 4 << 20
	MaxDeleteObjects             = 1000  // keys in one DeleteObjects
	MaxPartNumber                = 10000 // highest part number, and most parts
	maxXMLDepth                  = 16
)

// XMLTime is a time that marshals as S3TimeFormat in UTC; the zero time is
// omitted.
type XMLTime time.Time

// FormatS3Time formats t as S3 does in XML bodies.
func FormatS3Time(t time.Time) string { return t.UTC().Format(S3TimeFormat) }

// MarshalXML writes the element, or nothing for the zero time.
func (t XMLTime) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	tt := time.Time(t)
	if tt.IsZero() {
		return nil
	}
	return e.EncodeElement(FormatS3Time(tt), start)
}

// UnmarshalXML accepts RFC 3339 with or without fractional seconds.
func (t *XMLTime) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var s string
	if err := d.DecodeElement(&s, &start); err != nil {
		return err
	}
	tt, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*t = XMLTime(tt)
	return nil
}

// EncodeXMLResponse renders v with the XML declaration S3 sends first.
func EncodeXMLResponse(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := xml.NewEncoder(&b).Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ---- Response documents ----

// Owner is the canonical user shown as bucket/object owner.
type Owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName,omitempty"`
}

// ListAllMyBucketsResult answers ListBuckets (GET /).
type ListAllMyBucketsResult struct {
	XMLName           xml.Name     `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner             Owner        `xml:"Owner"`
	Buckets           []BucketInfo `xml:"Buckets>Bucket"`
	ContinuationToken string       `xml:"ContinuationToken,omitempty"`
	Prefix            string       `xml:"Prefix,omitempty"`
}

// BucketInfo is one <Bucket> of ListAllMyBucketsResult.
type BucketInfo struct {
	Name         string  `xml:"Name"`
	CreationDate XMLTime `xml:"CreationDate"`
	BucketRegion string  `xml:"BucketRegion,omitempty"`
}

// Object is one <Contents> of a listing.
type Object struct {
	Key               string   `xml:"Key"`
	LastModified      XMLTime  `xml:"LastModified"`
	ETag              string   `xml:"ETag"`
	ChecksumAlgorithm []string `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string   `xml:"ChecksumType,omitempty"`
	Size              int64    `xml:"Size"`
	StorageClass      string   `xml:"StorageClass"`
	Owner             *Owner   `xml:"Owner,omitempty"`
}

// CommonPrefix is one <CommonPrefixes> entry.
type CommonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// ListBucketResult answers ListObjects (v1). Marker and Prefix are always
// present; NextMarker is set by the handler only when a delimiter was given
// and the listing is truncated (without one, clients use the last Key).
// With EncodingType "url", Key, Prefix, Delimiter, Marker and NextMarker
// must already be URLEncodeKey'd.
type ListBucketResult struct {
	XMLName        xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name           string         `xml:"Name"`
	Prefix         string         `xml:"Prefix"`
	Marker         string         `xml:"Marker"`
	MaxKeys        int            `xml:"MaxKeys"`
	Delimiter      string         `xml:"Delimiter,omitempty"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	IsTruncated    bool           `xml:"IsTruncated"`
	NextMarker     string         `xml:"NextMarker,omitempty"`
	Contents       []Object       `xml:"Contents"`
	CommonPrefixes []CommonPrefix `xml:"CommonPrefixes"`
}

// ListBucketResultV2 answers ListObjectsV2 (list-type=2). With EncodingType
// "url", Key, Prefix, Delimiter and StartAfter must be URLEncodeKey'd.
type ListBucketResultV2 struct {
	XMLName               xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	KeyCount              int            `xml:"KeyCount"`
	MaxKeys               int            `xml:"MaxKeys"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	IsTruncated           bool           `xml:"IsTruncated"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	Contents              []Object       `xml:"Contents"`
	CommonPrefixes        []CommonPrefix `xml:"CommonPrefixes"`
}

// LocationConstraint answers GetBucketLocation; S3 sends it empty for
// us-east-1 (<LocationConstraint xmlns="…"></LocationConstraint>).
type LocationConstraint struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
	Location string   `xml:",chardata"`
}

// VersioningConfiguration answers GetBucketVersioning; an empty Status means
// "never enabled".
type VersioningConfiguration struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ VersioningConfiguration"`
	Status  string   `xml:"Status,omitempty"`
}

type xmlVersioningConfiguration struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	Status    *string  `xml:"Status"`
	MfaDelete *string  `xml:"MfaDelete"`
}

// DecodeVersioningConfiguration reads a PutBucketVersioning body and
// returns its Status: "Enabled" or "Suspended".
//
// Errors: MaxMessageLengthExceeded past MaxXMLBodySize; MalformedXML for
// an empty body, bad XML, a DTD, the wrong root or a Status or MfaDelete
// that is neither of its two values (S3 checks them against its schema);
// IllegalVersioningConfigurationException for a document without a
// Status, and for MfaDelete Enabled (S4 has no MFA devices).
func DecodeVersioningConfiguration(r io.Reader) (status string, err error) {
	var doc xmlVersioningConfiguration
	if err := decodeXMLBody(r, MaxXMLBodySize, &doc); err != nil {
		return "", err
	}
	if doc.MfaDelete != nil {
		switch strings.TrimSpace(*doc.MfaDelete) {
		case "Disabled":
		case "Enabled":
			return "", s3err.Errorf(s3err.IllegalVersioningConfiguration, "MFA delete is not supported.")
		default:
			return "", s3err.New(s3err.MalformedXML)
		}
	}
	if doc.Status == nil {
		return "", s3err.Errorf(s3err.IllegalVersioningConfiguration, "The Versioning element must be specified.")
	}
	switch st := strings.TrimSpace(*doc.Status); st {
	case "Enabled", "Suspended":
		return st, nil
	}
	return "", s3err.New(s3err.MalformedXML)
}

// InitiateMultipartUploadResult answers CreateMultipartUpload.
type InitiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ InitiateMultipartUploadResult"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

// Checksums are the optional x-amz-checksum-* values carried in bodies.
type Checksums struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
}

// CompleteMultipartUploadResult answers CompleteMultipartUpload. ETag is
// quoted like every ETag on the wire. A whole-object checksum of a
// multipart object is composite ("xxx-N"), which clients do not verify.
type CompleteMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CompleteMultipartUploadResult"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
	Checksums
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

// CopyObjectResult answers CopyObject.
type CopyObjectResult struct {
	XMLName      xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyObjectResult"`
	ETag         string   `xml:"ETag"`
	LastModified XMLTime  `xml:"LastModified"`
	Checksums
}

// CopyPartResult answers UploadPartCopy.
type CopyPartResult struct {
	XMLName      xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyPartResult"`
	ETag         string   `xml:"ETag"`
	LastModified XMLTime  `xml:"LastModified"`
	Checksums
}

// Part is one <Part> of ListPartsResult.
type Part struct {
	PartNumber   int     `xml:"PartNumber"`
	LastModified XMLTime `xml:"LastModified"`
	ETag         string  `xml:"ETag"`
	Size         int64   `xml:"Size"`
	Checksums
}

// ListPartsResult answers ListParts.
type ListPartsResult struct {
	XMLName              xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListPartsResult"`
	Bucket               string   `xml:"Bucket"`
	Key                  string   `xml:"Key"`
	UploadID             string   `xml:"UploadId"`
	PartNumberMarker     int      `xml:"PartNumberMarker"`
	NextPartNumberMarker int      `xml:"NextPartNumberMarker"`
	MaxParts             int      `xml:"MaxParts"`
	IsTruncated          bool     `xml:"IsTruncated"`
	Parts                []Part   `xml:"Part"`
	Initiator            Owner    `xml:"Initiator"`
	Owner                Owner    `xml:"Owner"`
	StorageClass         string   `xml:"StorageClass"`
	ChecksumAlgorithm    string   `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType         string   `xml:"ChecksumType,omitempty"`
}

// Upload is one <Upload> of ListMultipartUploadsResult.
type Upload struct {
	Key               string  `xml:"Key"`
	UploadID          string  `xml:"UploadId"`
	Initiator         Owner   `xml:"Initiator"`
	Owner             Owner   `xml:"Owner"`
	StorageClass      string  `xml:"StorageClass"`
	Initiated         XMLTime `xml:"Initiated"`
	ChecksumAlgorithm string  `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string  `xml:"ChecksumType,omitempty"`
}

// ListMultipartUploadsResult answers ListMultipartUploads.
type ListMultipartUploadsResult struct {
	XMLName            xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListMultipartUploadsResult"`
	Bucket             string         `xml:"Bucket"`
	KeyMarker          string         `xml:"KeyMarker"`
	UploadIDMarker     string         `xml:"UploadIdMarker"`
	NextKeyMarker      string         `xml:"NextKeyMarker"`
	NextUploadIDMarker string         `xml:"NextUploadIdMarker"`
	Prefix             string         `xml:"Prefix"`
	Delimiter          string         `xml:"Delimiter,omitempty"`
	MaxUploads         int            `xml:"MaxUploads"`
	EncodingType       string         `xml:"EncodingType,omitempty"`
	IsTruncated        bool           `xml:"IsTruncated"`
	Uploads            []Upload       `xml:"Upload"`
	CommonPrefixes     []CommonPrefix `xml:"CommonPrefixes"`
}

// DeletedObject is one <Deleted> of DeleteResult.
type DeletedObject struct {
	Key                   string `xml:"Key"`
	VersionID             string `xml:"VersionId,omitempty"`
	DeleteMarker          bool   `xml:"DeleteMarker,omitempty"`
	DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
}

// DeleteError is one <Error> of DeleteResult.
type DeleteError struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
}

// NewDeleteError fills a DeleteError from an *Error's wire code and message.
func NewDeleteError(key, versionID string, err *s3err.Error) DeleteError {
	a := err.API()
	return DeleteError{Key: key, VersionID: versionID, Code: a.Code, Message: a.Description}
}

// DeleteResult answers DeleteObjects. In quiet mode the handler leaves
// Deleted empty and reports only errors.
type DeleteResult struct {
	XMLName xml.Name        `xml:"http://s3.amazonaws.com/doc/2006-03-01/ DeleteResult"`
	Deleted []DeletedObject `xml:"Deleted"`
	Errors  []DeleteError   `xml:"Error"`
}

// ObjectVersion is one <Version> of ListVersionsResult, or, with
// DeleteMarker, one <DeleteMarker> (no ETag, Size or StorageClass): one
// list keeps S3's order, key by key, newest first.
type ObjectVersion struct {
	DeleteMarker bool    `xml:"-"`
	Key          string  `xml:"Key"`
	VersionID    string  `xml:"VersionId"`
	IsLatest     bool    `xml:"IsLatest"`
	LastModified XMLTime `xml:"LastModified"`
	ETag         string  `xml:"ETag,omitempty"`
	Size         *int64  `xml:"Size,omitempty"`
	Owner        *Owner  `xml:"Owner,omitempty"`
	StorageClass string  `xml:"StorageClass,omitempty"`
}

// MarshalXML writes a delete marker as <DeleteMarker>.
func (v ObjectVersion) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if v.DeleteMarker {
		start.Name.Local = "DeleteMarker"
	}
	type plain ObjectVersion // without this method
	return e.EncodeElement(plain(v), start)
}

// ListVersionsResult answers ListObjectVersions.
type ListVersionsResult struct {
	XMLName             xml.Name        `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListVersionsResult"`
	Name                string          `xml:"Name"`
	Prefix              string          `xml:"Prefix"`
	KeyMarker           string          `xml:"KeyMarker"`
	VersionIDMarker     string          `xml:"VersionIdMarker"`
	NextKeyMarker       string          `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string          `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int             `xml:"MaxKeys"`
	Delimiter           string          `xml:"Delimiter,omitempty"`
	EncodingType        string          `xml:"EncodingType,omitempty"`
	IsTruncated         bool            `xml:"IsTruncated"`
	Versions            []ObjectVersion `xml:"Version"` // and DeleteMarker
	CommonPrefixes      []CommonPrefix  `xml:"CommonPrefixes"`
}

// Grantee is the <Grantee> of a grant. It marshals as S3 writes it:
// <Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
// xsi:type="CanonicalUser">; Type defaults to CanonicalUser.
type Grantee struct {
	Type        string
	ID          string
	DisplayName string
	URI         string
	Email       string
}

type xmlGranteeBody struct {
	ID          string `xml:"ID,omitempty"`
	DisplayName string `xml:"DisplayName,omitempty"`
	URI         string `xml:"URI,omitempty"`
	Email       string `xml:"EmailAddress,omitempty"`
}

// MarshalXML writes the xsi attributes literally (encoding/xml would invent
// its own prefix for a namespaced attribute).
func (g Grantee) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	typ := g.Type
	if typ == "" {
		typ = "CanonicalUser"
	}
	start.Attr = []xml.Attr{
		{Name: xml.Name{Local: "xmlns:xsi"}, Value: xsiNamespace},
		{Name: xml.Name{Local: "xsi:type"}, Value: typ},
	}
	return e.EncodeElement(xmlGranteeBody{ID: g.ID, DisplayName: g.DisplayName, URI: g.URI, Email: g.Email}, start)
}

// Grant is one <Grant>.
type Grant struct {
	Grantee    Grantee `xml:"Grantee"`
	Permission string  `xml:"Permission"`
}

// AccessControlPolicy answers Get{Bucket,Object}Acl and is the body of
// Put*Acl. S4 has no ACLs (roles decide access, docs/DESIGN.md "Roles"): reads
// always show the owner with FULL_CONTROL, as S3 does for a bucket whose
// Object Ownership is "bucket owner enforced".
type AccessControlPolicy struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ AccessControlPolicy"`
	Owner   Owner    `xml:"Owner"`
	Grants  []Grant  `xml:"AccessControlList>Grant"`
}

// OwnerFullControlPolicy is the only ACL S4 has: owner FULL_CONTROL.
func OwnerFullControlPolicy(owner Owner) AccessControlPolicy {
	return AccessControlPolicy{
		Owner: owner,
		Grants: []Grant{{
			Grantee: Grantee{
				Type:        "CanonicalUser",
				ID:          owner.ID,
				DisplayName: owner.DisplayName,
			},
			Permission: "FULL_CONTROL",
		}},
	}
}

// ---- Request documents ----

// CompletedPart is one <Part> of a CompleteMultipartUpload body. ETag is
// stored without surrounding quotes (clients send "…", &quot;…&quot; or
// bare hex); compare with TrimETag'd stored ETags.
type CompletedPart struct {
	PartNumber int
	ETag       string
	Checksums
}

// ObjectIdentifier is one <Object> of a DeleteObjects body. Key is returned
// as sent: the handler validates it with ValidObjectKey and reports a bad
// one as a per-key <Error>, as S3 does, rather than failing the batch.
type ObjectIdentifier struct {
	Key       string
	VersionID string
	ETag      string // a conditional delete's (S3's <ETag>): "" for none
}

type xmlCompletedPart struct {
	PartNumber *string `xml:"PartNumber"`
	ETag       *string `xml:"ETag"`
	Checksums
}

type xmlCompleteMultipartUpload struct {
	XMLName xml.Name           `xml:"CompleteMultipartUpload"`
	Parts   []xmlCompletedPart `xml:"Part"`
}

// DecodeCompleteMultipartUpload reads a CompleteMultipartUpload body.
//
// Errors: MaxMessageLengthExceeded past MaxCompleteMultipartBodySize;
// MalformedXML for bad XML, a DTD, the wrong root, no parts, more than
// 10,000 parts, a missing or empty ETag, or a PartNumber that is not an
// integer; InvalidPartNumber (InvalidArgument) for a number outside
// 1..10000; InvalidPartOrder when numbers are not strictly ascending
// (S3: "The list of parts was not in ascending order").
func DecodeCompleteMultipartUpload(r io.Reader) ([]CompletedPart, error) {
	var doc xmlCompleteMultipartUpload
	if err := decodeXMLBody(r, MaxCompleteMultipartBodySize, &doc); err != nil {
		return nil, err
	}
	if len(doc.Parts) == 0 || len(doc.Parts) > MaxPartNumber {
		return nil, s3err.New(s3err.MalformedXML)
	}
	parts := make([]CompletedPart, 0, len(doc.Parts))
	prev := 0
	for _, p := range doc.Parts {
		if p.PartNumber == nil || p.ETag == nil {
			return nil, s3err.New(s3err.MalformedXML)
		}
		n, ok := parseDecimal(strings.TrimSpace(*p.PartNumber))
		if !ok {
			return nil, s3err.New(s3err.MalformedXML)
		}
		if n < 1 || n > MaxPartNumber {
			return nil, s3err.New(s3err.InvalidPartNumber)
		}
		if n <= prev {
			return nil, s3err.New(s3err.InvalidPartOrder)
		}
		prev = n
		etag := TrimETag(*p.ETag)
		if etag == "" {
			return nil, s3err.New(s3err.MalformedXML)
		}
		cs := p.Checksums
		cs.ChecksumCRC32 = strings.TrimSpace(cs.ChecksumCRC32)
		cs.ChecksumCRC32C = strings.TrimSpace(cs.ChecksumCRC32C)
		cs.ChecksumCRC64NVME = strings.TrimSpace(cs.ChecksumCRC64NVME)
		cs.ChecksumSHA1 = strings.TrimSpace(cs.ChecksumSHA1)
		cs.ChecksumSHA256 = strings.TrimSpace(cs.ChecksumSHA256)
		parts = append(parts, CompletedPart{PartNumber: n, ETag: etag, Checksums: cs})
	}
	return parts, nil
}

type xmlObjectIdentifier struct {
	Key       *string `xml:"Key"`
	VersionID string  `xml:"VersionId"`
	ETag      string  `xml:"ETag"`
}

type xmlDelete struct {
	XMLName xml.Name              `xml:"Delete"`
	Quiet   string                `xml:"Quiet"`
	Objects []xmlObjectIdentifier `xml:"Object"`
}

// DecodeDeleteObjects reads a DeleteObjects (POST ?delete) body.
//
// Errors: MaxMessageLengthExceeded past MaxDeleteObjectsBodySize;
// MalformedXML for bad XML, a DTD, the wrong root, no <Object>, more than
// 1000 (the DeleteObjects reference: "up to 1,000 keys"), an <Object>
// without <Key>, or a <Quiet> that is not true/false.
func DecodeDeleteObjects(r io.Reader) (quiet bool, objects []ObjectIdentifier, err error) {
	var doc xmlDelete
	if err := decodeXMLBody(r, MaxDeleteObjectsBodySize, &doc); err != nil {
		return false, nil, err
	}
	switch strings.TrimSpace(doc.Quiet) {
	case "", "false", "False", "FALSE":
	case "true", "True", "TRUE":
		quiet = true
	default:
		return false, nil, s3err.New(s3err.MalformedXML)
	}
	if len(doc.Objects) == 0 || len(doc.Objects) > MaxDeleteObjects {
		return false, nil, s3err.New(s3err.MalformedXML)
	}
	objects = make([]ObjectIdentifier, 0, len(doc.Objects))
	for _, o := range doc.Objects {
		if o.Key == nil {
			return false, nil, s3err.New(s3err.MalformedXML)
		}
		objects = append(objects, ObjectIdentifier{Key: *o.Key, VersionID: strings.TrimSpace(o.VersionID), ETag: strings.TrimSpace(o.ETag)})
	}
	return quiet, objects, nil
}

type xmlCreateBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string   `xml:"LocationConstraint"`
}

// DecodeCreateBucketConfiguration reads a CreateBucket body. An empty (or
// all-whitespace) body is legal and means the default region, returned as
// "". Whether the location suits this endpoint is the handler's call
// (S3 answers IllegalLocationConstraintException or
// InvalidLocationConstraint). Errors: MaxMessageLengthExceeded past
// MaxXMLBodySize, MalformedXML otherwise.
func DecodeCreateBucketConfiguration(r io.Reader) (location string, err error) {
	body, err := readLimited(r, MaxXMLBodySize)
	if err != nil {
		return "", err
	}
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	var doc xmlCreateBucketConfiguration
	if err := unmarshalChecked(body, &doc); err != nil {
		return "", err
	}
	return strings.TrimSpace(doc.LocationConstraint), nil
}

type xmlGrantee struct {
	Attrs       []xml.Attr `xml:",any,attr"`
	ID          string     `xml:"ID"`
	DisplayName string     `xml:"DisplayName"`
	URI         string     `xml:"URI"`
	Email       string     `xml:"EmailAddress"`
}

type xmlGrant struct {
	Grantee    *xmlGrantee `xml:"Grantee"`
	Permission string      `xml:"Permission"`
}

type xmlAccessControlPolicy struct {
	XMLName xml.Name   `xml:"AccessControlPolicy"`
	Owner   *Owner     `xml:"Owner"`
	Grants  []xmlGrant `xml:"AccessControlList>Grant"`
}

// DecodeAccessControlPolicy reads a Put{Bucket,Object}Acl body and checks
// that it grants exactly what S4 has: one grant of FULL_CONTROL to the
// CanonicalUser ownerID (owner, if given, must be ownerID too).
//
// S4 has no ACLs. It behaves like an S3 bucket with Object Ownership "bucket
// owner enforced" (S3 user guide, "Troubleshooting" for Object Ownership):
// PUTs that carry an owner-full-control ACL succeed, any other ACL fails
// with 400 AccessControlListNotSupported. Errors: MaxMessageLengthExceeded,
// MalformedXML (bad XML, or a <Grant> without <Grantee>), and
// AccessControlListNotSupported for any other policy.
func DecodeAccessControlPolicy(r io.Reader, ownerID string) (*AccessControlPolicy, error) {
	var doc xmlAccessControlPolicy
	if err := decodeXMLBody(r, MaxXMLBodySize, &doc); err != nil {
		return nil, err
	}
	p := &AccessControlPolicy{}
	if doc.Owner != nil {
		p.Owner = Owner{ID: strings.TrimSpace(doc.Owner.ID), DisplayName: strings.TrimSpace(doc.Owner.DisplayName)}
		if p.Owner.ID != "" && p.Owner.ID != ownerID {
			return nil, s3err.New(s3err.AccessControlListNotSupported)
		}
	}
	for _, g := range doc.Grants {
		if g.Grantee == nil {
			return nil, s3err.New(s3err.MalformedXML)
		}
		gt := Grantee{
			ID:          strings.TrimSpace(g.Grantee.ID),
			DisplayName: strings.TrimSpace(g.Grantee.DisplayName),
			URI:         strings.TrimSpace(g.Grantee.URI),
			Email:       strings.TrimSpace(g.Grantee.Email),
		}
		for _, a := range g.Grantee.Attrs {
			if a.Name.Local == "type" && (a.Name.Space == xsiNamespace || a.Name.Space == "xsi") {
				gt.Type = strings.TrimSpace(a.Value)
			}
		}
		p.Grants = append(p.Grants, Grant{Grantee: gt, Permission: strings.TrimSpace(g.Permission)})
	}
	if len(p.Grants) != 1 {
		return nil, s3err.New(s3err.AccessControlListNotSupported)
	}
	g := p.Grants[0]
	if g.Permission != "FULL_CONTROL" || g.Grantee.ID != ownerID ||
		(g.Grantee.Type != "" && g.Grantee.Type != "CanonicalUser") ||
		g.Grantee.URI != "" || g.Grantee.Email != "" {
		return nil, s3err.New(s3err.AccessControlListNotSupported)
	}
	return p, nil
}

// ---- Hardened decoding ----

var utf8BOM = []byte("\xef\xbb\xbf")

// readLimited reads all of r, failing with MaxMessageLengthExceeded once
// more than limit bytes arrive (it reads at most limit+1 bytes).
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	if r == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		var e *s3err.Error
		if errors.As(err, &e) {
			return nil, err // e.g. BadDigest/IncompleteBody from a body reader
		}
		return nil, s3err.New(s3err.IncompleteBody).WithCause(err)
	}
	if int64(len(body)) > limit {
		return nil, s3err.New(s3err.MaxMessageLengthExceeded)
	}
	return body, nil
}

func decodeXMLBody(r io.Reader, limit int64, v any) error {
	body, err := readLimited(r, limit)
	if err != nil {
		return err
	}
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(bytes.TrimSpace(body)) == 0 {
		return s3err.New(s3err.MalformedXML)
	}
	return unmarshalChecked(body, v)
}

// unmarshalChecked first walks the tokens of body: it must be well-formed,
// hold exactly one root element no deeper than maxXMLDepth, and carry no
// DTD/directive (so no entity can be declared; encoding/xml never expands
// external entities and, in strict mode, rejects undeclared ones). Then it
// unmarshals. Every failure is MalformedXML.
func unmarshalChecked(body []byte, v any) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s3err.New(s3err.MalformedXML).WithCause(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return s3err.New(s3err.MalformedXML)
				}
			}
			depth++
			if depth > maxXMLDepth {
				return s3err.New(s3err.MalformedXML)
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			return s3err.New(s3err.MalformedXML)
		case xml.ProcInst:
			if t.Target != "xml" {
				return s3err.New(s3err.MalformedXML)
			}
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) != 0 {
				return s3err.New(s3err.MalformedXML)
			}
		}
	}
	if roots != 1 || depth != 0 {
		return s3err.New(s3err.MalformedXML)
	}
	// RawToken does not match end tags to start tags; Unmarshal does.
	if err := xml.Unmarshal(body, v); err != nil {
		return s3err.New(s3err.MalformedXML).WithCause(err)
	}
	return nil
}

// parseDecimal parses 1 to 9 ASCII digits; anything else is rejected, so no
// sign, space, or overflow gets through.
func parseDecimal(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
