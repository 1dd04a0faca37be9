package s3

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
)

// Object and bucket tagging: Put/Get/DeleteObjectTagging,
// Put/Get/DeleteBucketTagging, x-amz-tagging on PutObject, CopyObject
// (x-amz-tagging-directive) and CreateMultipartUpload, and
// x-amz-tagging-count on GetObject and HeadObject. A tag change is an
// event through the log (fsm.ObjectTagsSet, fsm.BucketTagsSet).

// S3's tagging limits.
const (
	MaxObjectTags  = 10
	MaxBucketTags  = 50
	MaxTagKeyLen   = 128 // Unicode characters
	MaxTagValueLen = 256
	// maxTaggingBodySize bounds a Put*Tagging body: 50 tags at their
	// longest, escaped, are well under it.
	maxTaggingBodySize = 256 << 10
)

// TagXML is one <Tag> of a <TagSet>.
type TagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// Tagging is the document of Get*Tagging.
type Tagging struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ Tagging"`
	TagSet  struct {
		Tags []TagXML `xml:"Tag"`
	} `xml:"TagSet"`
}

func taggingDoc(tags []meta.Tag) *Tagging {
	var d Tagging
	for _, t := range tags {
		d.TagSet.Tags = append(d.TagSet.Tags, TagXML(t))
	}
	return &d
}

type xmlTagRequest struct {
	XMLName xml.Name `xml:"Tagging"`
	TagSet  *struct {
		Tags []struct {
			Key   *string `xml:"Key"`
			Value *string `xml:"Value"`
		} `xml:"Tag"`
	} `xml:"TagSet"`
}

// DecodeTagging reads a Put*Tagging body and returns its tags, checked
// against S3's limits with at most maxTags of them (CheckTags), sorted by
// key.
//
// Errors: MaxMessageLengthExceeded past 256 KiB; MalformedXML for bad XML,
// a DTD, the wrong root, no <TagSet>, a <Tag> without <Key> or <Value>;
// InvalidTag for what CheckTags refuses.
func DecodeTagging(r io.Reader, maxTags int) ([]meta.Tag, error) {
	var doc xmlTagRequest
	if err := decodeXMLBody(r, maxTaggingBodySize, &doc); err != nil {
		return nil, err
	}
	if doc.TagSet == nil {
		return nil, s3err.New(s3err.MalformedXML)
	}
	tags := make([]meta.Tag, 0, len(doc.TagSet.Tags))
	for _, t := range doc.TagSet.Tags {
		if t.Key == nil || t.Value == nil {
			return nil, s3err.New(s3err.MalformedXML)
		}
		tags = append(tags, meta.Tag{Key: *t.Key, Value: *t.Value})
	}
	return CheckTags(tags, maxTags)
}

// ParseTaggingHeader parses x-amz-tagging: URL query encoding of the tags
// ("k1=v1&k2=v2"; a key without "=" has an empty value; "" has no tags),
// checked as CheckTags checks them with at most MaxObjectTags, sorted by
// key. A header that does not decode, or names a key twice, is
// InvalidArgument, as S3 answers.
func ParseTaggingHeader(h string) ([]meta.Tag, error) {
	if h == "" {
		return nil, nil
	}
	bad := s3err.Errorf(s3err.InvalidArgument, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
	var tags []meta.Tag
	for _, pair := range strings.Split(h, "&") {
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, bad
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, bad
		}
		if key == "" && value == "" && !strings.Contains(pair, "=") {
			continue // "a=1&&b=2"
		}
		tags = append(tags, meta.Tag{Key: key, Value: value})
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if seen[t.Key] {
			return nil, bad
		}
		seen[t.Key] = true
	}
	return CheckTags(tags, MaxObjectTags)
}

// CheckTags checks tags against S3's rules and returns them sorted by key
// (nil for none): at most maxTags tags, each key once, keys of 1 to 128
// and values of at most 256 Unicode characters, valid UTF-8 without
// control characters (which no XML answer could carry back), and no key
// in the "aws:" prefix, which S3 keeps for itself. Errors are InvalidTag.
func CheckTags(tags []meta.Tag, maxTags int) ([]meta.Tag, error) {
	if len(tags) > maxTags {
		if maxTags == MaxBucketTags {
			return nil, s3err.Errorf(s3err.InvalidTag, "Bucket tag count cannot be greater than %d", maxTags)
		}
		return nil, s3err.Errorf(s3err.InvalidTag, "Object tags cannot be greater than %d", maxTags)
	}
	if len(tags) == 0 {
		return nil, nil
	}
	for _, t := range tags {
		switch {
		case !utf8.ValidString(t.Key) || t.Key == "" || strings.ContainsFunc(t.Key, unicode.IsControl):
			return nil, s3err.Errorf(s3err.InvalidTag, "The TagKey you have provided is invalid")
		case utf8.RuneCountInString(t.Key) > MaxTagKeyLen:
			return nil, s3err.Errorf(s3err.InvalidTag, "The TagKey you have provided is too long, max %d", MaxTagKeyLen)
		case !utf8.ValidString(t.Value) || strings.ContainsFunc(t.Value, unicode.IsControl):
			return nil, s3err.Errorf(s3err.InvalidTag, "The TagValue you have provided is invalid")
		case utf8.RuneCountInString(t.Value) > MaxTagValueLen:
			return nil, s3err.Errorf(s3err.InvalidTag, "The TagValue you have provided is too long, max %d", MaxTagValueLen)
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return nil, s3err.Errorf(s3err.InvalidTag, "Your TagKey cannot be prefixed with aws:")
		}
	}
	out := slices.Clone(tags)
	slices.SortFunc(out, func(a, b meta.Tag) int { return strings.Compare(a.Key, b.Key) })
	for i := 1; i < len(out); i++ {
		if out[i].Key == out[i-1].Key {
			return nil, s3err.Errorf(s3err.InvalidTag, "Cannot provide multiple Tags with the same key")
		}
	}
	return out, nil
}

// setTaggingCount sends x-amz-tagging-count for an object with tags.
func setTaggingCount(r *request, obj *meta.ObjectMeta) {
	if len(obj.Tags) > 0 {
		r.ctx.Response.Header.Set("x-amz-tagging-count", strconv.Itoa(len(obj.Tags)))
	}
}

// copyTags picks the tags of a CopyObject's new object:
// x-amz-tagging-directive COPY (the default) keeps the source's, REPLACE
// takes x-amz-tagging (none if absent).
func copyTags(r *request, src []meta.Tag) ([]meta.Tag, error) {
	switch strings.ToUpper(r.header("X-Amz-Tagging-Directive")) {
	case "", "COPY":
		return src, nil
	case "REPLACE":
		return ParseTaggingHeader(r.header("X-Amz-Tagging"))
	}
	return nil, s3err.Errorf(s3err.InvalidArgument, "Unknown tag directive.")
}

func (h *Handler) getObjectTagging(r *request) error {
	obj, err := h.object(r, false)
	if err != nil {
		return err
	}
	return writeXML(r, fasthttp.StatusOK, taggingDoc(obj.Tags))
}

func (h *Handler) putObjectTagging(r *request) error {
	obj, err := h.object(r, false)
	if err != nil {
		return err
	}
	tags, err := h.readTagging(r, MaxObjectTags)
	if err != nil {
		return err
	}
	if err := h.propose(r, fsm.MsgObjectTagsSet, &fsm.ObjectTagsSet{Bucket: r.bucket, Key: r.key, Tags: tags, VersionID: taggedVersion(r, &obj)}); err != nil {
		return err
	}
	r.ctx.SetStatusCode(fasthttp.StatusOK)
	return nil
}

func (h *Handler) deleteObjectTagging(r *request) error {
	obj, err := h.object(r, false)
	if err != nil {
		return err
	}
	if err := h.propose(r, fsm.MsgObjectTagsSet, &fsm.ObjectTagsSet{Bucket: r.bucket, Key: r.key, VersionID: taggedVersion(r, &obj)}); err != nil {
		return err
	}
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// taggedVersion is the version whose tags a request changes: the one its
// versionId names, "" (the latest) without one.
func taggedVersion(r *request, obj *meta.ObjectMeta) string {
	if _, ok := r.query["versionId"]; ok {
		return meta.VersionIDOf(obj)
	}
	return ""
}

func (h *Handler) getBucketTagging(r *request) error {
	b, err := h.bucket(r)
	if err != nil {
		return err
	}
	if len(b.Tags) == 0 {
		return s3err.New(s3err.NoSuchTagSet)
	}
	return writeXML(r, fasthttp.StatusOK, taggingDoc(b.Tags))
}

func (h *Handler) putBucketTagging(r *request) error {
	if _, err := h.bucket(r); err != nil {
		return err
	}
	tags, err := h.readTagging(r, MaxBucketTags)
	if err != nil {
		return err
	}
	if err := h.propose(r, fsm.MsgBucketTagsSet, &fsm.BucketTagsSet{Bucket: r.bucket, Tags: tags}); err != nil {
		return err
	}
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

func (h *Handler) deleteBucketTagging(r *request) error {
	if _, err := h.bucket(r); err != nil {
		return err
	}
	if err := h.propose(r, fsm.MsgBucketTagsSet, &fsm.BucketTagsSet{Bucket: r.bucket}); err != nil {
		return err
	}
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// readTagging reads and decodes a Put*Tagging body (verified as signed).
func (h *Handler) readTagging(r *request, maxTags int) ([]meta.Tag, error) {
	body, err := h.readSmallBody(r, maxTaggingBodySize)
	if err != nil {
		return nil, err
	}
	return DecodeTagging(bytes.NewReader(body), maxTags)
}
