package s3

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/s4/s4/s3/s3err"
)

var xmlTestTime = time.Date(2026, 11, 28, 9, 42, 40, 123456789, time.FixedZone("X", 3600))

func xmlTestEncode(t *testing.T, v any) string {
	t.Helper()
	b, err := EncodeXMLResponse(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestXMLGoldenListBucketsV2(t *testing.T) {
	got := xmlTestEncode(t, ListBucketResultV2{
		Name: "bkt", Prefix: "a/", KeyCount: 2, MaxKeys: 1000, Delimiter: "/",
		EncodingType: "url", IsTruncated: true, NextContinuationToken: "tok",
		Contents: []Object{{
			Key: URLEncodeKey("a/x y+z.txt"), LastModified: XMLTime(xmlTestTime),
			ETag: QuoteETag("9b2cf535f27731c974343645a3985328"), Size: 9, StorageClass: "STANDARD",
		}},
		CommonPrefixes: []CommonPrefix{{Prefix: "a/sub/"}},
	})
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
		`<Name>bkt</Name><Prefix>a/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>` +
		`<Delimiter>/</Delimiter><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>` +
		`<NextContinuationToken>tok</NextContinuationToken>` +
		`<Contents><Key>a/x%20y%2Bz.txt</Key><LastModified>2026-11-28T08:42:40.123Z</LastModified>` +
		`<ETag>&#34;9b2cf535f27731c974343645a3985328&#34;</ETag><Size>9</Size><StorageClass>STANDARD</StorageClass></Contents>` +
		`<CommonPrefixes><Prefix>a/sub/</Prefix></CommonPrefixes></ListBucketResult>`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestXMLGoldenListAllMyBuckets(t *testing.T) {
	got := xmlTestEncode(t, ListAllMyBucketsResult{
		Owner:   Owner{ID: "u1", DisplayName: "alice"},
		Buckets: []BucketInfo{{Name: "b1", CreationDate: XMLTime(xmlTestTime)}},
	})
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
		`<Owner><ID>u1</ID><DisplayName>alice</DisplayName></Owner>` +
		`<Buckets><Bucket><Name>b1</Name><CreationDate>2026-11-28T08:42:40.123Z</CreationDate></Bucket></Buckets>` +
		`</ListAllMyBucketsResult>`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// No buckets still yields an (empty) <Buckets>, which clients expect.
	if got := xmlTestEncode(t, ListAllMyBucketsResult{Owner: Owner{ID: "u1"}}); !strings.Contains(got, "<Buckets></Buckets>") {
		t.Fatalf("empty listing: %s", got)
	}
}

func TestXMLGoldenAccessControlPolicy(t *testing.T) {
	got := xmlTestEncode(t, OwnerFullControlPolicy(Owner{ID: "u1", DisplayName: "alice"}))
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
		`<Owner><ID>u1</ID><DisplayName>alice</DisplayName></Owner><AccessControlList>` +
		`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">` +
		`<ID>u1</ID><DisplayName>alice</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>` +
		`</AccessControlList></AccessControlPolicy>`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// What we render, we accept back.
	p, err := DecodeAccessControlPolicy(strings.NewReader(got), "u1")
	if err != nil || p.Grants[0].Grantee.Type != "CanonicalUser" {
		t.Fatalf("round trip: %+v %v", p, err)
	}
}

func TestXMLGoldenSmallDocs(t *testing.T) {
	hdr := `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	ns := ` xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`
	cases := []struct {
		v    any
		want string
	}{
		{LocationConstraint{}, `<LocationConstraint` + ns + `></LocationConstraint>`},
		{LocationConstraint{Location: "eu-central-1"}, `<LocationConstraint` + ns + `>eu-central-1</LocationConstraint>`},
		{VersioningConfiguration{}, `<VersioningConfiguration` + ns + `></VersioningConfiguration>`},
		{InitiateMultipartUploadResult{Bucket: "b", Key: "k", UploadID: "u"},
			`<InitiateMultipartUploadResult` + ns + `><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId></InitiateMultipartUploadResult>`},
		{CompleteMultipartUploadResult{Location: "/b/k", Bucket: "b", Key: "k", ETag: `"e-2"`},
			`<CompleteMultipartUploadResult` + ns + `><Location>/b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag>&#34;e-2&#34;</ETag></CompleteMultipartUploadResult>`},
		{CopyObjectResult{ETag: `"e"`, LastModified: XMLTime(xmlTestTime), Checksums: Checksums{ChecksumCRC32: "HIHzPw=="}},
			`<CopyObjectResult` + ns + `><ETag>&#34;e&#34;</ETag><LastModified>2026-11-28T08:42:40.123Z</LastModified><ChecksumCRC32>HIHzPw==</ChecksumCRC32></CopyObjectResult>`},
		{CopyPartResult{ETag: `"e"`, LastModified: XMLTime(xmlTestTime)},
			`<CopyPartResult` + ns + `><ETag>&#34;e&#34;</ETag><LastModified>2026-11-28T08:42:40.123Z</LastModified></CopyPartResult>`},
		{DeleteResult{
			Deleted: []DeletedObject{{Key: "a"}},
			Errors:  []DeleteError{NewDeleteError("b", "", s3err.New(s3err.AccessDenied))},
		}, `<DeleteResult` + ns + `><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>`},
		{DeleteResult{}, `<DeleteResult` + ns + `></DeleteResult>`},
		{ListBucketResult{Name: "b", MaxKeys: 1000, Contents: []Object{{Key: "k", Size: 0, StorageClass: "STANDARD", Owner: &Owner{ID: "u"}}}},
			`<ListBucketResult` + ns + `><Name>b</Name><Prefix></Prefix><Marker></Marker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>` +
				`<Contents><Key>k</Key><ETag></ETag><Size>0</Size><StorageClass>STANDARD</StorageClass><Owner><ID>u</ID></Owner></Contents></ListBucketResult>`},
		{ListVersionsResult{Name: "b", MaxKeys: 1000, Versions: []ObjectVersion{{Key: "k", VersionID: "null", IsLatest: true, LastModified: XMLTime(xmlTestTime), ETag: `"e"`, Size: new(int64(3)), StorageClass: "STANDARD"}}},
			`<ListVersionsResult` + ns + `><Name>b</Name><Prefix></Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>` +
				`<Version><Key>k</Key><VersionId>null</VersionId><IsLatest>true</IsLatest><LastModified>2026-11-28T08:42:40.123Z</LastModified><ETag>&#34;e&#34;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Version></ListVersionsResult>`},
	}
	for i, c := range cases {
		if got := xmlTestEncode(t, c.v); got != hdr+c.want {
			t.Errorf("case %d (%T):\ngot  %s\nwant %s", i, c.v, got, hdr+c.want)
		}
	}
}

// The remaining response types must at least render and parse back with
// their element names intact.
func TestXMLListPartsAndUploadsRoundTrip(t *testing.T) {
	lp := ListPartsResult{
		Bucket: "b", Key: "k", UploadID: "u", MaxParts: 1000, IsTruncated: true, NextPartNumberMarker: 2,
		Parts:     []Part{{PartNumber: 1, LastModified: XMLTime(xmlTestTime), ETag: `"e"`, Size: 5 << 20, Checksums: Checksums{ChecksumCRC32: "AAAAAA=="}}},
		Initiator: Owner{ID: "u1"}, Owner: Owner{ID: "u1"}, StorageClass: "STANDARD",
	}
	s := xmlTestEncode(t, lp)
	for _, want := range []string{"<UploadId>u</UploadId>", "<NextPartNumberMarker>2</NextPartNumberMarker>",
		"<Part><PartNumber>1</PartNumber><LastModified>2026-11-28T08:42:40.123Z</LastModified>",
		"<Size>5242880</Size><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>", "<Initiator><ID>u1</ID></Initiator>"} {
		if !strings.Contains(s, want) {
			t.Errorf("ListPartsResult lacks %s:\n%s", want, s)
		}
	}
	var back ListPartsResult
	if err := xml.Unmarshal([]byte(s), &back); err != nil || back.Parts[0].Size != 5<<20 ||
		!time.Time(back.Parts[0].LastModified).Equal(xmlTestTime.Truncate(time.Millisecond)) {
		t.Fatalf("round trip %+v %v", back, err)
	}
	lu := ListMultipartUploadsResult{Bucket: "b", MaxUploads: 1000,
		Uploads: []Upload{{Key: "k", UploadID: "u", Initiated: XMLTime(xmlTestTime), StorageClass: "STANDARD"}}}
	s = xmlTestEncode(t, lu)
	for _, want := range []string{"<ListMultipartUploadsResult xmlns=", "<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>",
		"<Upload><Key>k</Key><UploadId>u</UploadId>", "<Initiated>2026-11-28T08:42:40.123Z</Initiated>"} {
		if !strings.Contains(s, want) {
			t.Errorf("ListMultipartUploadsResult lacks %s:\n%s", want, s)
		}
	}
}

func TestDecodeCompleteMultipartUpload(t *testing.T) {
	botocore := `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"7929fff6d79868e8e07ffcf1e31820a4"</ETag><PartNumber>1</PartNumber></Part><Part><ETag>"a"</ETag><PartNumber>2</PartNumber><ChecksumCRC32>WGLR+Q==</ChecksumCRC32></Part></CompleteMultipartUpload>`
	parts, err := DecodeCompleteMultipartUpload(strings.NewReader(botocore))
	if err != nil {
		t.Fatal(err)
	}
	want := []CompletedPart{{PartNumber: 1, ETag: "7929fff6d79868e8e07ffcf1e31820a4"}, {PartNumber: 2, ETag: "a", Checksums: Checksums{ChecksumCRC32: "WGLR+Q=="}}}
	if fmt.Sprint(parts) != fmt.Sprint(want) {
		t.Fatalf("got %+v want %+v", parts, want)
	}

	wrap := func(inner string) string { return "<CompleteMultipartUpload>" + inner + "</CompleteMultipartUpload>" }
	part := func(n, etag string) string {
		return "<Part><PartNumber>" + n + "</PartNumber><ETag>" + etag + "</ETag></Part>"
	}
	cases := []struct {
		name string
		body string
		code s3err.Code // "" = ok
	}{
		{"quot entity and no namespace", wrap(part("1", "&quot;abc&quot;")), ""},
		{"unquoted etag, spaces", wrap(part(" 3 ", " abc ")), ""},
		{"xml decl and comment", `<?xml version="1.0" encoding="UTF-8"?><!-- hi -->` + wrap(part("1", "e")), ""},
		{"utf-8 BOM", "\xef\xbb\xbf" + wrap(part("1", "e")), ""},
		{"unknown elements ignored", wrap(`<Foo>bar</Foo>` + part("1", "e")), ""},
		{"empty body", "", s3err.MalformedXML},
		{"whitespace body", "  \n", s3err.MalformedXML},
		{"no parts", wrap(""), s3err.MalformedXML},
		{"wrong root", "<Delete>" + part("1", "e") + "</Delete>", s3err.MalformedXML},
		{"not xml", "hello", s3err.MalformedXML},
		{"truncated", "<CompleteMultipartUpload><Part>", s3err.MalformedXML},
		{"mismatched tags", "<CompleteMultipartUpload><Part></Prt></CompleteMultipartUpload>", s3err.MalformedXML},
		{"two roots", wrap(part("1", "e")) + wrap(part("2", "e")), s3err.MalformedXML},
		{"trailing text", wrap(part("1", "e")) + "junk", s3err.MalformedXML},
		{"doctype", `<!DOCTYPE x [<!ENTITY a "b">]>` + wrap(part("1", "&a;")), s3err.MalformedXML},
		{"external entity", `<!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]>` + wrap(part("1", "&a;")), s3err.MalformedXML},
		{"undeclared entity", wrap(part("1", "&a;")), s3err.MalformedXML},
		{"stylesheet PI", `<?xml-stylesheet href="x"?>` + wrap(part("1", "e")), s3err.MalformedXML},
		{"latin1 charset", `<?xml version="1.0" encoding="ISO-8859-1"?>` + wrap(part("1", "e")), s3err.MalformedXML},
		{"missing etag", wrap("<Part><PartNumber>1</PartNumber></Part>"), s3err.MalformedXML},
		{"empty etag", wrap(part("1", `""`)), s3err.MalformedXML},
		{"missing number", wrap("<Part><ETag>e</ETag></Part>"), s3err.MalformedXML},
		{"non-numeric number", wrap(part("one", "e")), s3err.MalformedXML},
		{"negative number", wrap(part("-1", "e")), s3err.MalformedXML},
		{"huge number", wrap(part("99999999999999999999", "e")), s3err.MalformedXML},
		{"zero", wrap(part("0", "e")), s3err.InvalidPartNumber},
		{"10001", wrap(part("10001", "e")), s3err.InvalidPartNumber},
		{"10000 ok", wrap(part("10000", "e")), ""},
		{"descending", wrap(part("2", "e") + part("1", "e")), s3err.InvalidPartOrder},
		{"duplicate", wrap(part("1", "e") + part("1", "e")), s3err.InvalidPartOrder},
		{"gap ok", wrap(part("1", "e") + part("5", "e")), ""},
		{"too deep", wrap(strings.Repeat("<a>", 20) + strings.Repeat("</a>", 20) + part("1", "e")), s3err.MalformedXML},
		{"too big", wrap(strings.Repeat(" ", MaxCompleteMultipartBodySize) + part("1", "e")), s3err.MaxMessageLengthExceeded},
	}
	for _, c := range cases {
		_, err := DecodeCompleteMultipartUpload(strings.NewReader(c.body))
		xmlTestCheckCode(t, c.name, err, c.code)
	}
}

func xmlTestCheckCode(t *testing.T, name string, err error, want s3err.Code) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("%s: unexpected error %v", name, err)
		}
		return
	}
	var e *s3err.Error
	if !errors.As(err, &e) || e.Code != want {
		t.Errorf("%s: got %v, want %s", name, err, want)
	}
}

func TestDecodeCompleteMultipartUploadMaxParts(t *testing.T) {
	// The largest legal body botocore can send: 10,000 parts with a CRC32
	// each. It exceeds 1 MiB and must still be accepted.
	var b strings.Builder
	b.WriteString(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	for i := 1; i <= MaxPartNumber; i++ {
		fmt.Fprintf(&b, `<Part><ETag>"7929fff6d79868e8e07ffcf1e31820a4"</ETag><PartNumber>%d</PartNumber><ChecksumCRC32>WGLR+Q==</ChecksumCRC32></Part>`, i)
	}
	b.WriteString(`</CompleteMultipartUpload>`)
	if b.Len() <= MaxXMLBodySize {
		t.Fatalf("test body only %d bytes", b.Len())
	}
	parts, err := DecodeCompleteMultipartUpload(strings.NewReader(b.String()))
	if err != nil || len(parts) != MaxPartNumber {
		t.Fatalf("got %d parts, %v", len(parts), err)
	}
}

func TestDecodeDeleteObjects(t *testing.T) {
	cli := `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a/f1.txt</Key></Object><Object><Key>a/f2.txt</Key><VersionId>null</VersionId></Object><Quiet>false</Quiet></Delete>`
	quiet, objs, err := DecodeDeleteObjects(strings.NewReader(cli))
	if err != nil || quiet || len(objs) != 2 || objs[0] != (ObjectIdentifier{Key: "a/f1.txt"}) ||
		objs[1] != (ObjectIdentifier{Key: "a/f2.txt", VersionID: "null"}) {
		t.Fatalf("got %v %+v %v", quiet, objs, err)
	}
	quiet, objs, err = DecodeDeleteObjects(strings.NewReader(`<Delete><Quiet>true</Quiet><Object><Key> sp &amp; ace </Key></Object></Delete>`))
	if err != nil || !quiet || objs[0].Key != " sp & ace " {
		t.Fatalf("quiet: %v %+v %v", quiet, objs, err)
	}
	// An empty key is returned, for a per-key error in DeleteResult.
	if _, objs, err = DecodeDeleteObjects(strings.NewReader(`<Delete><Object><Key></Key></Object></Delete>`)); err != nil || objs[0].Key != "" {
		t.Fatalf("empty key: %+v %v", objs, err)
	}

	obj := func(k string) string { return "<Object><Key>" + k + "</Key></Object>" }
	cases := []struct {
		name string
		body string
		code s3err.Code
	}{
		{"empty", "", s3err.MalformedXML},
		{"no objects", "<Delete><Quiet>true</Quiet></Delete>", s3err.MalformedXML},
		{"object without key", "<Delete><Object><VersionId>null</VersionId></Object></Delete>", s3err.MalformedXML},
		{"bad quiet", "<Delete><Quiet>yes</Quiet>" + obj("a") + "</Delete>", s3err.MalformedXML},
		{"wrong root", "<CompleteMultipartUpload>" + obj("a") + "</CompleteMultipartUpload>", s3err.MalformedXML},
		{"1000 ok", "<Delete>" + strings.Repeat(obj("a"), 1000) + "</Delete>", ""},
		{"1001", "<Delete>" + strings.Repeat(obj("a"), 1001) + "</Delete>", s3err.MalformedXML},
		{"1000 longest keys", "<Delete>" + strings.Repeat(obj(strings.Repeat("k", 1024)), 1000) + "</Delete>", ""},
		{"too big", "<Delete>" + strings.Repeat(obj("a"), 2<<20/20) + "</Delete>", s3err.MaxMessageLengthExceeded},
		{"doctype", `<!DOCTYPE Delete>` + "<Delete>" + obj("a") + "</Delete>", s3err.MalformedXML},
		{"invalid utf8", "<Delete>" + obj("\xff") + "</Delete>", s3err.MalformedXML},
	}
	for _, c := range cases {
		_, _, err := DecodeDeleteObjects(strings.NewReader(c.body))
		xmlTestCheckCode(t, c.name, err, c.code)
	}
}

func TestDecodeCreateBucketConfiguration(t *testing.T) {
	cases := []struct {
		name, body, loc string
		code            s3err.Code
	}{
		{"empty", "", "", ""},
		{"whitespace", " \r\n", "", ""},
		{"cli", `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-central-1</LocationConstraint></CreateBucketConfiguration>`, "eu-central-1", ""},
		{"no constraint", `<CreateBucketConfiguration/>`, "", ""},
		{"spaces", `<CreateBucketConfiguration><LocationConstraint> us-west-2 </LocationConstraint></CreateBucketConfiguration>`, "us-west-2", ""},
		{"garbage", "hello", "", s3err.MalformedXML},
		{"wrong root", `<LocationConstraint>x</LocationConstraint>`, "", s3err.MalformedXML},
		{"billion laughs", `<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><CreateBucketConfiguration><LocationConstraint>&b;</LocationConstraint></CreateBucketConfiguration>`, "", s3err.MalformedXML},
		{"too big", `<CreateBucketConfiguration>` + strings.Repeat(" ", MaxXMLBodySize) + `</CreateBucketConfiguration>`, "", s3err.MaxMessageLengthExceeded},
	}
	for _, c := range cases {
		loc, err := DecodeCreateBucketConfiguration(strings.NewReader(c.body))
		xmlTestCheckCode(t, c.name, err, c.code)
		if err == nil && loc != c.loc {
			t.Errorf("%s: location %q want %q", c.name, loc, c.loc)
		}
	}
	if loc, err := DecodeCreateBucketConfiguration(nil); loc != "" || err != nil {
		t.Errorf("nil reader: %q %v", loc, err)
	}
}

type xmlTestFailingReader struct{}

func (xmlTestFailingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestDecodeReadErrors(t *testing.T) {
	_, err := DecodeCreateBucketConfiguration(xmlTestFailingReader{})
	xmlTestCheckCode(t, "io error", err, s3err.IncompleteBody)
	// An *Error from the body reader (a checksum check, say) passes through.
	r := io.MultiReader(strings.NewReader("<Delete>"), xmlTestErrReader{s3err.New(s3err.BadDigest)})
	_, _, err = DecodeDeleteObjects(r)
	xmlTestCheckCode(t, "s3 error", err, s3err.BadDigest)
}

type xmlTestErrReader struct{ err error }

func (r xmlTestErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestDecodeAccessControlPolicy(t *testing.T) {
	grant := func(typ, id, perm string) string {
		return `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="` + typ + `"><ID>` + id +
			`</ID></Grantee><Permission>` + perm + `</Permission></Grant>`
	}
	acp := func(owner, grants string) string {
		return `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>` + owner +
			`</ID></Owner><AccessControlList>` + grants + `</AccessControlList></AccessControlPolicy>`
	}
	cases := []struct {
		name, body string
		code       s3err.Code
	}{
		{"owner full control", acp("u1", grant("CanonicalUser", "u1", "FULL_CONTROL")), ""},
		{"other owner", acp("u2", grant("CanonicalUser", "u1", "FULL_CONTROL")), s3err.AccessControlListNotSupported},
		{"read only", acp("u1", grant("CanonicalUser", "u1", "READ")), s3err.AccessControlListNotSupported},
		{"grant to other", acp("u1", grant("CanonicalUser", "u2", "FULL_CONTROL")), s3err.AccessControlListNotSupported},
		{"public read", acp("u1", grant("CanonicalUser", "u1", "FULL_CONTROL")+
			`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>`),
			s3err.AccessControlListNotSupported},
		{"group type", acp("u1", grant("Group", "u1", "FULL_CONTROL")), s3err.AccessControlListNotSupported},
		{"no grants", acp("u1", ""), s3err.AccessControlListNotSupported},
		{"grant without grantee", acp("u1", "<Grant><Permission>READ</Permission></Grant>"), s3err.MalformedXML},
		{"malformed", "<AccessControlPolicy>", s3err.MalformedXML},
	}
	for _, c := range cases {
		_, err := DecodeAccessControlPolicy(strings.NewReader(c.body), "u1")
		xmlTestCheckCode(t, c.name, err, c.code)
	}
}

func TestXMLTime(t *testing.T) {
	if got := FormatS3Time(xmlTestTime); got != "2026-11-28T08:42:40.123Z" {
		t.Fatal(got)
	}
	type doc struct {
		XMLName xml.Name `xml:"D"`
		T       XMLTime  `xml:"T"`
	}
	b, _ := xml.Marshal(doc{})
	if string(b) != "<D></D>" {
		t.Fatalf("zero time not omitted: %s", b)
	}
	var d doc
	if err := xml.Unmarshal([]byte("<D><T>not a time</T></D>"), &d); err == nil {
		t.Fatal("bad time accepted")
	}
	if err := xml.Unmarshal([]byte("<D><T>2026-11-28T08:42:40Z</T></D>"), &d); err != nil ||
		!time.Time(d.T).Equal(time.Date(2026, 11, 28, 8, 42, 40, 0, time.UTC)) {
		t.Fatalf("%v %v", d, err)
	}
}

func xmlTestFuzzSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

func xmlTestFuzzErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *s3err.Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *Error: %v", err)
	}
	switch e.Code {
	case s3err.MalformedXML, s3err.MaxMessageLengthExceeded, s3err.InvalidPartNumber, s3err.InvalidPartOrder:
	default:
		t.Fatalf("unexpected code %s", e.Code)
	}
}

func FuzzDecodeCompleteMultipartUpload(f *testing.F) {
	xmlTestFuzzSeeds(f,
		`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"7929fff6d79868e8e07ffcf1e31820a4"</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`,
		`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part><Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>`,
		`<!DOCTYPE x [<!ENTITY a "b">]><CompleteMultipartUpload/>`)
	f.Fuzz(func(t *testing.T, body []byte) {
		parts, err := DecodeCompleteMultipartUpload(bytes.NewReader(body))
		xmlTestFuzzErr(t, err)
		if err != nil {
			return
		}
		if len(parts) == 0 {
			t.Fatal("no parts and no error")
		}
		prev := 0
		for _, p := range parts {
			if p.PartNumber <= prev || p.PartNumber > MaxPartNumber || p.ETag == "" {
				t.Fatalf("bad part %+v after %d", p, prev)
			}
			prev = p.PartNumber
		}
	})
}

func FuzzDecodeDeleteObjects(f *testing.F) {
	xmlTestFuzzSeeds(f,
		`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a/f1.txt</Key></Object><Object><Key>a/f2.txt</Key></Object><Quiet>false</Quiet></Delete>`,
		`<Delete><Quiet>true</Quiet><Object><Key>k</Key><VersionId>null</VersionId></Object></Delete>`,
		`<Delete><Object></Object></Delete>`,
		`<Delete><Object><Key>k</Key><ETag>"9a0364b9e99bb480dd25e1f0284c8555"</ETag></Object></Delete>`)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, objs, err := DecodeDeleteObjects(bytes.NewReader(body))
		xmlTestFuzzErr(t, err)
		if err == nil && (len(objs) == 0 || len(objs) > MaxDeleteObjects) {
			t.Fatalf("%d objects", len(objs))
		}
	})
}

func FuzzDecodeCreateBucketConfiguration(f *testing.F) {
	xmlTestFuzzSeeds(f, "",
		`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-central-1</LocationConstraint></CreateBucketConfiguration>`,
		`<CreateBucketConfiguration/>`)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := DecodeCreateBucketConfiguration(bytes.NewReader(body))
		xmlTestFuzzErr(t, err)
	})
}

func FuzzDecodeVersioningConfiguration(f *testing.F) {
	xmlTestFuzzSeeds(f, "",
		`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`,
		`<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>`,
		`<VersioningConfiguration/>`)
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := DecodeVersioningConfiguration(bytes.NewReader(body))
		if err != nil {
			var e *s3err.Error
			if !errors.As(err, &e) {
				t.Fatalf("not an S3 error: %v", err)
			}
			switch e.Code {
			case s3err.MalformedXML, s3err.MaxMessageLengthExceeded, s3err.IllegalVersioningConfiguration:
			default:
				t.Fatalf("unexpected code %s", e.Code)
			}
			return
		}
		if st != "Enabled" && st != "Suspended" {
			t.Fatalf("status %q", st)
		}
	})
}
