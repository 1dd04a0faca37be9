package s3

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
)

// Bucket lifecycle configuration: Put/Get/DeleteBucketLifecycleConfiguration
// (PUT/GET/DELETE ?lifecycle). A configuration is an event through the log
// (fsm.BucketLifecycleSet) and lives next to the bucket's record
// (meta/lifecycle.go); the leader's evaluator applies it
// (node/lifecycle.go). S4 has one storage class, so Transition and
// NoncurrentVersionTransition are refused (InvalidStorageClass).

const (
	// maxLifecycleBodySize bounds a PutBucketLifecycleConfiguration body,
	// so that the event it becomes fits in one log entry
	// (fsm.MaxEventSize): the XML is always longer than its msgpack.
	maxLifecycleBodySize = 256 << 10
	maxRuleIDLen         = 255
	maxNewerNoncurrent   = 100
	maxFilterTags        = 10
	// lifecycleDateLayout is how GET writes an Expiration Date.
	lifecycleDateLayout = "2006-01-02T15:04:05.000Z"
)

// Requests (pointers tell an absent element from an empty one; numbers
// are parsed here, so that their errors are S3's).
type xmlLifecycleRequest struct {
	XMLName xml.Name         `xml:"LifecycleConfiguration"`
	Rules   []xmlLifecycleIn `xml:"Rule"`
}

type xmlLifecycleIn struct {
	ID                             *string          `xml:"ID"`
	Prefix                         *string          `xml:"Prefix"`
	Filter                         *xmlLCFilterIn   `xml:"Filter"`
	Status                         *string          `xml:"Status"`
	Expiration                     *xmlLCExpiration `xml:"Expiration"`
	NoncurrentVersionExpiration    *xmlLCNoncurrent `xml:"NoncurrentVersionExpiration"`
	AbortIncompleteMultipartUpload *xmlLCAbort      `xml:"AbortIncompleteMultipartUpload"`
	Transitions                    []struct{}       `xml:"Transition"`
	NoncurrentVersionTransitions   []struct{}       `xml:"NoncurrentVersionTransition"`
}

type xmlLCTagIn struct {
	Key   *string `xml:"Key"`
	Value *string `xml:"Value"`
}

type xmlLCFilterIn struct {
	Prefix                *string      `xml:"Prefix"`
	Tags                  []xmlLCTagIn `xml:"Tag"`
	ObjectSizeGreaterThan *string      `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *string      `xml:"ObjectSizeLessThan"`
	And                   *xmlLCAndIn  `xml:"And"`
}

type xmlLCAndIn struct {
	Prefix                *string      `xml:"Prefix"`
	Tags                  []xmlLCTagIn `xml:"Tag"`
	ObjectSizeGreaterThan *string      `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *string      `xml:"ObjectSizeLessThan"`
}

type xmlLCExpiration struct {
	Days                      *string `xml:"Days,omitempty"`
	Date                      *string `xml:"Date,omitempty"`
	ExpiredObjectDeleteMarker *string `xml:"ExpiredObjectDeleteMarker,omitempty"`
}

type xmlLCNoncurrent struct {
	NoncurrentDays          *string `xml:"NoncurrentDays,omitempty"`
	NewerNoncurrentVersions *string `xml:"NewerNoncurrentVersions,omitempty"`
}

type xmlLCAbort struct {
	DaysAfterInitiation *string `xml:"DaysAfterInitiation,omitempty"`
}

// LifecycleConfiguration is the document of GetBucketLifecycleConfiguration.
type LifecycleConfiguration struct {
	XMLName xml.Name          `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LifecycleConfiguration"`
	Rules   []xmlLifecycleOut `xml:"Rule"`
}

type xmlLifecycleOut struct {
	ID                             string           `xml:"ID"`
	Prefix                         *string          `xml:"Prefix"`
	Filter                         *xmlLCFilterOut  `xml:"Filter"`
	Status                         string           `xml:"Status"`
	Expiration                     *xmlLCExpiration `xml:"Expiration"`
	NoncurrentVersionExpiration    *xmlLCNoncurrent `xml:"NoncurrentVersionExpiration"`
	AbortIncompleteMultipartUpload *xmlLCAbort      `xml:"AbortIncompleteMultipartUpload"`
}

type xmlLCFilterOut struct {
	Prefix                *string      `xml:"Prefix"`
	Tag                   *TagXML      `xml:"Tag"`
	ObjectSizeGreaterThan *int64       `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *int64       `xml:"ObjectSizeLessThan"`
	And                   *xmlLCAndOut `xml:"And"`
}

type xmlLCAndOut struct {
	Prefix                *string  `xml:"Prefix"`
	Tags                  []TagXML `xml:"Tag"`
	ObjectSizeGreaterThan *int64   `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *int64   `xml:"ObjectSizeLessThan"`
}

// DecodeLifecycle reads a PutBucketLifecycleConfiguration body and returns
// the configuration, checked by S3's rules. Rules without an ID get a
// random one, as S3 gives them.
//
// Errors: MaxMessageLengthExceeded past 256 KiB; MalformedXML for bad XML,
// the wrong root, no rule, a rule without a valid Status, a Filter with
// more than one condition outside And, both a Filter and a Prefix, an
// Expiration with none or more than one of Days, Date and
// ExpiredObjectDeleteMarker, a number that is not one, a Tag without Key
// or Value; InvalidRequest for more than 1000 rules, a rule without an
// action, AbortIncompleteMultipartUpload or ExpiredObjectDeleteMarker with
// a tag or size filter; InvalidArgument for an ID over 255 characters or
// used twice, a Days, NoncurrentDays or DaysAfterInitiation below 1, a
// Date not at midnight UTC, NewerNoncurrentVersions outside 1..100, sizes
// out of range; InvalidTag for the filter's tags (CheckTags);
// InvalidStorageClass for a Transition.
func DecodeLifecycle(r io.Reader) (*meta.Lifecycle, error) {
	var doc xmlLifecycleRequest
	if err := decodeXMLBody(r, maxLifecycleBodySize, &doc); err != nil {
		return nil, err
	}
	if len(doc.Rules) == 0 {
		return nil, s3err.New(s3err.MalformedXML)
	}
	if len(doc.Rules) > meta.MaxLifecycleRules {
		return nil, s3err.Errorf(s3err.InvalidRequest, "The number of lifecycle rules must not exceed the allowed limit of %d rules", meta.MaxLifecycleRules)
	}
	lc := &meta.Lifecycle{Rules: make([]meta.LifecycleRule, 0, len(doc.Rules))}
	ids := make(map[string]bool, len(doc.Rules))
	for i := range doc.Rules {
		rule, err := decodeRule(&doc.Rules[i])
		if err != nil {
			return nil, err
		}
		if ids[rule.ID] {
			return nil, s3err.Errorf(s3err.InvalidArgument, "Rule ID must be unique. Found same ID for more than one rule")
		}
		ids[rule.ID] = true
		lc.Rules = append(lc.Rules, rule)
	}
	return lc, nil
}

func decodeRule(in *xmlLifecycleIn) (meta.LifecycleRule, error) {
	var out meta.LifecycleRule
	malformed := s3err.New(s3err.MalformedXML)
	if in.ID != nil {
		if !utf8.ValidString(*in.ID) {
			return out, s3err.Errorf(s3err.InvalidArgument, "The ID is not valid UTF-8")
		}
		if utf8.RuneCountInString(*in.ID) > maxRuleIDLen {
			return out, s3err.Errorf(s3err.InvalidArgument, "ID length should not exceed allowed limit of %d", maxRuleIDLen)
		}
		out.ID = *in.ID
	}
	if out.ID == "" {
		out.ID = newRuleID()
	}
	if in.Status == nil || (*in.Status != "Enabled" && *in.Status != "Disabled") {
		return out, malformed
	}
	out.Enabled = *in.Status == "Enabled"
	if len(in.Transitions) > 0 || len(in.NoncurrentVersionTransitions) > 0 {
		return out, s3err.Errorf(s3err.InvalidStorageClass, "The storage class you specified is not valid: S4 has one storage class (STANDARD), so lifecycle transitions are not supported")
	}
	if err := decodeFilter(in, &out); err != nil {
		return out, err
	}
	if in.Expiration == nil && in.NoncurrentVersionExpiration == nil && in.AbortIncompleteMultipartUpload == nil {
		return out, s3err.Errorf(s3err.InvalidRequest, "At least one action needs to be specified in a rule")
	}
	hasTagOrSize := len(out.Tags) > 0 || out.SizeGreaterThan != nil || out.SizeLessThan > 0
	if e := in.Expiration; e != nil {
		n := 0
		for _, p := range []*string{e.Days, e.Date, e.ExpiredObjectDeleteMarker} {
			if p != nil {
				n++
			}
		}
		if n != 1 {
			return out, malformed
		}
		switch {
		case e.Days != nil:
			d, err := lifecycleDays(*e.Days)
			if err != nil {
				return out, err
			}
			if d < 1 {
				return out, s3err.Errorf(s3err.InvalidArgument, "'Days' for Expiration action must be a positive integer")
			}
			out.ExpirationDays = d
		case e.Date != nil:
			t, err := parseLifecycleDate(*e.Date)
			if err != nil {
				return out, err
			}
			out.ExpirationDate = &t
		default:
			v := strings.TrimSpace(*e.ExpiredObjectDeleteMarker)
			if v != "true" && v != "false" {
				return out, malformed
			}
			if hasTagOrSize {
				return out, s3err.Errorf(s3err.InvalidRequest, "ExpiredObjectDeleteMarker cannot be specified with object tags or an object size filter")
			}
			b := v == "true"
			out.ExpiredObjectDeleteMarker = &b
		}
	}
	if nc := in.NoncurrentVersionExpiration; nc != nil {
		if nc.NoncurrentDays == nil {
			return out, malformed
		}
		d, err := lifecycleDays(*nc.NoncurrentDays)
		if err != nil {
			return out, err
		}
		if d < 1 {
			return out, s3err.Errorf(s3err.InvalidArgument, "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer")
		}
		out.NoncurrentDays = d
		if nc.NewerNoncurrentVersions != nil {
			n, err := lifecycleDays(*nc.NewerNoncurrentVersions)
			if err != nil {
				return out, err
			}
			if n < 1 || n > maxNewerNoncurrent {
				return out, s3err.Errorf(s3err.InvalidArgument, "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive integer up to %d", maxNewerNoncurrent)
			}
			out.NewerNoncurrentVersions = n
		}
	}
	if a := in.AbortIncompleteMultipartUpload; a != nil {
		if a.DaysAfterInitiation == nil {
			return out, malformed
		}
		d, err := lifecycleDays(*a.DaysAfterInitiation)
		if err != nil {
			return out, err
		}
		if d < 1 {
			return out, s3err.Errorf(s3err.InvalidArgument, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
		}
		if len(out.Tags) > 0 {
			return out, s3err.Errorf(s3err.InvalidRequest, "AbortIncompleteMultipartUpload cannot be specified with Tags.")
		}
		if out.SizeGreaterThan != nil || out.SizeLessThan > 0 {
			return out, s3err.Errorf(s3err.InvalidRequest, "AbortIncompleteMultipartUpload cannot be specified with an object size filter.")
		}
		out.AbortDays = d
	}
	return out, nil
}

// decodeFilter reads the rule's filter: the legacy <Prefix>, or <Filter>
// with at most one of Prefix, Tag, ObjectSizeGreaterThan,
// ObjectSizeLessThan and And; no filter at all selects every object.
func decodeFilter(in *xmlLifecycleIn, out *meta.LifecycleRule) error {
	malformed := s3err.New(s3err.MalformedXML)
	if in.Filter != nil && in.Prefix != nil {
		return malformed
	}
	if in.Filter == nil {
		out.FilterKind = meta.FilterPrefixLegacy
		if in.Prefix != nil {
			out.Prefix = *in.Prefix
		} else {
			out.FilterKind = meta.FilterEmpty
		}
		return checkPrefix(out.Prefix)
	}
	f := in.Filter
	n := len(f.Tags)
	for _, p := range []*string{f.Prefix, f.ObjectSizeGreaterThan, f.ObjectSizeLessThan} {
		if p != nil {
			n++
		}
	}
	if f.And != nil {
		n++
	}
	switch {
	case n == 0:
		out.FilterKind = meta.FilterEmpty
		return nil
	case n > 1:
		return malformed
	case f.Prefix != nil:
		out.FilterKind, out.Prefix = meta.FilterPrefix, *f.Prefix
		return checkPrefix(out.Prefix)
	case len(f.Tags) == 1:
		out.FilterKind = meta.FilterTag
		tags, err := filterTags(f.Tags)
		out.Tags = tags
		return err
	case f.ObjectSizeGreaterThan != nil:
		out.FilterKind = meta.FilterSizeGreater
		return sizeFilter(f.ObjectSizeGreaterThan, nil, out)
	case f.ObjectSizeLessThan != nil:
		out.FilterKind = meta.FilterSizeLess
		return sizeFilter(nil, f.ObjectSizeLessThan, out)
	}
	a := f.And
	out.FilterKind = meta.FilterAnd
	if a.Prefix != nil {
		out.Prefix = *a.Prefix
		if err := checkPrefix(out.Prefix); err != nil {
			return err
		}
	}
	if len(a.Tags) > maxFilterTags {
		return s3err.Errorf(s3err.InvalidArgument, "A Filter may contain at most %d Tags", maxFilterTags)
	}
	tags, err := filterTags(a.Tags)
	if err != nil {
		return err
	}
	out.Tags = tags
	return sizeFilter(a.ObjectSizeGreaterThan, a.ObjectSizeLessThan, out)
}

func checkPrefix(p string) error {
	if len(p) > MaxKeyLength || !utf8.ValidString(p) {
		return s3err.Errorf(s3err.InvalidArgument, "The prefix is longer than %d bytes or not valid UTF-8", MaxKeyLength)
	}
	return nil
}

func filterTags(in []xmlLCTagIn) ([]meta.Tag, error) {
	tags := make([]meta.Tag, 0, len(in))
	for _, t := range in {
		if t.Key == nil || t.Value == nil {
			return nil, s3err.New(s3err.MalformedXML)
		}
		tags = append(tags, meta.Tag{Key: *t.Key, Value: *t.Value})
	}
	return CheckTags(tags, maxFilterTags)
}

func sizeFilter(gt, lt *string, out *meta.LifecycleRule) error {
	if gt != nil {
		v, err := strconv.ParseInt(strings.TrimSpace(*gt), 10, 64)
		if err != nil {
			return s3err.New(s3err.MalformedXML)
		}
		if v < 0 {
			return s3err.Errorf(s3err.InvalidArgument, "ObjectSizeGreaterThan must be a non-negative integer")
		}
		out.SizeGreaterThan = &v
	}
	if lt != nil {
		v, err := strconv.ParseInt(strings.TrimSpace(*lt), 10, 64)
		if err != nil {
			return s3err.New(s3err.MalformedXML)
		}
		if v < 1 {
			return s3err.Errorf(s3err.InvalidArgument, "ObjectSizeLessThan must be a positive integer")
		}
		out.SizeLessThan = v
	}
	if out.SizeGreaterThan != nil && out.SizeLessThan > 0 && *out.SizeGreaterThan >= out.SizeLessThan {
		return s3err.Errorf(s3err.InvalidArgument, "ObjectSizeGreaterThan must be less than ObjectSizeLessThan")
	}
	return nil
}

// lifecycleDays parses a count of days (or versions): an integer, else
// MalformedXML (S3's schema types them as integers).
func lifecycleDays(s string) (int, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, s3err.New(s3err.MalformedXML)
	}
	return int(v), nil
}

// parseLifecycleDate parses an Expiration Date: ISO 8601 (2026-12-31,
// 2026-12-31T00:00:00Z, with fractions or an offset), which must be at
// midnight UTC. It returns Unix seconds.
func parseLifecycleDate(s string) (int64, error) {
	s = strings.TrimSpace(s)
	var t time.Time
	var err error
	if len(s) == len("2006-01-02") {
		t, err = time.Parse("2006-01-02", s)
	} else {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	if err != nil {
		return 0, s3err.Errorf(s3err.InvalidArgument, "'Date' must be at midnight GMT")
	}
	t = t.UTC()
	if t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 || t.Year() < 1970 || t.Year() > 9999 {
		return 0, s3err.Errorf(s3err.InvalidArgument, "'Date' must be at midnight GMT")
	}
	return t.Unix(), nil
}

var ruleIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRuleID is the ID of a rule sent without one (S3 makes one up too).
func newRuleID() string {
	var b [20]byte
	rand.Read(b[:])
	return ruleIDEncoding.EncodeToString(b[:])
}

// LifecycleDoc is the GetBucketLifecycleConfiguration document of lc: each
// rule's filter in the form it was given.
func LifecycleDoc(lc *meta.Lifecycle) *LifecycleConfiguration {
	doc := &LifecycleConfiguration{}
	for i := range lc.Rules {
		r := &lc.Rules[i]
		o := xmlLifecycleOut{ID: r.ID, Status: "Disabled"}
		if r.Enabled {
			o.Status = "Enabled"
		}
		prefix := r.Prefix
		var lt *int64
		if r.SizeLessThan > 0 {
			v := r.SizeLessThan
			lt = &v
		}
		switch r.FilterKind {
		case meta.FilterPrefixLegacy:
			o.Prefix = &prefix
		case meta.FilterEmpty:
			o.Filter = &xmlLCFilterOut{}
		case meta.FilterPrefix:
			o.Filter = &xmlLCFilterOut{Prefix: &prefix}
		case meta.FilterTag:
			if len(r.Tags) == 1 {
				t := TagXML(r.Tags[0])
				o.Filter = &xmlLCFilterOut{Tag: &t}
			}
		case meta.FilterSizeGreater:
			o.Filter = &xmlLCFilterOut{ObjectSizeGreaterThan: r.SizeGreaterThan}
		case meta.FilterSizeLess:
			o.Filter = &xmlLCFilterOut{ObjectSizeLessThan: lt}
		default:
			a := &xmlLCAndOut{ObjectSizeGreaterThan: r.SizeGreaterThan, ObjectSizeLessThan: lt}
			if r.Prefix != "" {
				a.Prefix = &prefix
			}
			for _, t := range r.Tags {
				a.Tags = append(a.Tags, TagXML(t))
			}
			o.Filter = &xmlLCFilterOut{And: a}
		}
		switch {
		case r.ExpirationDays > 0:
			d := strconv.Itoa(r.ExpirationDays)
			o.Expiration = &xmlLCExpiration{Days: &d}
		case r.ExpirationDate != nil:
			d := time.Unix(*r.ExpirationDate, 0).UTC().Format(lifecycleDateLayout)
			o.Expiration = &xmlLCExpiration{Date: &d}
		case r.ExpiredObjectDeleteMarker != nil:
			d := strconv.FormatBool(*r.ExpiredObjectDeleteMarker)
			o.Expiration = &xmlLCExpiration{ExpiredObjectDeleteMarker: &d}
		}
		if r.NoncurrentDays > 0 {
			d := strconv.Itoa(r.NoncurrentDays)
			o.NoncurrentVersionExpiration = &xmlLCNoncurrent{NoncurrentDays: &d}
			if r.NewerNoncurrentVersions > 0 {
				n := strconv.Itoa(r.NewerNoncurrentVersions)
				o.NoncurrentVersionExpiration.NewerNoncurrentVersions = &n
			}
		}
		if r.AbortDays > 0 {
			d := strconv.Itoa(r.AbortDays)
			o.AbortIncompleteMultipartUpload = &xmlLCAbort{DaysAfterInitiation: &d}
		}
		doc.Rules = append(doc.Rules, o)
	}
	return doc
}

func (h *Handler) getBucketLifecycle(r *request) error {
	if _, err := h.bucket(r); err != nil {
		return err
	}
	lc := h.meta.BucketLifecycle(r.bucket)
	if lc == nil {
		return s3err.New(s3err.NoSuchLifecycleConfiguration)
	}
	return writeXML(r, fasthttp.StatusOK, LifecycleDoc(lc))
}

func (h *Handler) putBucketLifecycle(r *request) error {
	if _, err := h.bucket(r); err != nil {
		return err
	}
	body, integrity, err := h.readSmallBodyChecked(r, maxLifecycleBodySize)
	if err != nil {
		return err
	}
	if !integrity { // S3 requires Content-MD5 or a checksum for this call
		return s3err.Errorf(s3err.InvalidRequest, "Missing required header for this request: Content-MD5 OR x-amz-checksum-*")
	}
	lc, err := DecodeLifecycle(bytes.NewReader(body))
	if err != nil {
		return err
	}
	if err := h.propose(r, fsm.MsgBucketLifecycleSet, &fsm.BucketLifecycleSet{Bucket: r.bucket, Lifecycle: lc}); err != nil {
		return err
	}
	r.ctx.SetStatusCode(fasthttp.StatusOK)
	return nil
}

func (h *Handler) deleteBucketLifecycle(r *request) error {
	if _, err := h.bucket(r); err != nil {
		return err
	}
	if err := h.propose(r, fsm.MsgBucketLifecycleSet, &fsm.BucketLifecycleSet{Bucket: r.bucket}); err != nil {
		return err
	}
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}
