package s3

import (
	"bytes"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
)

func tg(k, v string) meta.Tag { return meta.Tag{Key: k, Value: v} }

func TestParseTaggingHeader(t *testing.T) {
	cases := []struct {
		header string
		want   []meta.Tag
		code   s3err.Code
	}{
		{"", nil, ""},
		{"a=1", []meta.Tag{tg("a", "1")}, ""},
		{"b=2&a=1", []meta.Tag{tg("a", "1"), tg("b", "2")}, ""},
		{"k+ey=v%20alue&x=", []meta.Tag{tg("k ey", "v alue"), tg("x", "")}, ""},
		{"flag", []meta.Tag{tg("flag", "")}, ""},
		{"a=1&&b=2", []meta.Tag{tg("a", "1"), tg("b", "2")}, ""},
		{"%E2%9C%93=%E2%9C%93", []meta.Tag{tg("✓", "✓")}, ""},
		{"a=1&a=2", nil, s3err.InvalidArgument},
		{"a=%zz", nil, s3err.InvalidArgument},
		{"=v", nil, s3err.InvalidTag},
		{"aws:x=1", nil, s3err.InvalidTag},
		{"AWS:x=1", nil, s3err.InvalidTag},
		{"a=%FF", nil, s3err.InvalidTag},
		{"a=%00", nil, s3err.InvalidTag},
		{"a%0A=1", nil, s3err.InvalidTag},
		{strings.Repeat("k", 129) + "=v", nil, s3err.InvalidTag},
		{"k=" + strings.Repeat("v", 257), nil, s3err.InvalidTag},
		{"a&b&c&d&e&f&g&h&i&j", []meta.Tag{tg("a", ""), tg("b", ""), tg("c", ""), tg("d", ""), tg("e", ""), tg("f", ""), tg("g", ""), tg("h", ""), tg("i", ""), tg("j", "")}, ""},
		{"a&b&c&d&e&f&g&h&i&j&k", nil, s3err.InvalidTag},
	}
	for _, c := range cases {
		got, err := ParseTaggingHeader(c.header)
		xmlTestCheckCode(t, c.header, err, c.code)
		if err == nil && !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %v, want %v", c.header, got, c.want)
		}
	}
}

func TestDecodeTagging(t *testing.T) {
	wrap := func(tags string) string {
		return `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>` + tags + `</TagSet></Tagging>`
	}
	tag := func(k, v string) string { return "<Tag><Key>" + k + "</Key><Value>" + v + "</Value></Tag>" }
	cases := []struct {
		name, body string
		max        int
		want       []meta.Tag
		code       s3err.Code
	}{
		{"empty set", wrap(""), MaxObjectTags, nil, ""},
		{"two, sorted", wrap(tag("z", "1") + tag("a", "")), MaxObjectTags, []meta.Tag{tg("a", ""), tg("z", "1")}, ""},
		{"escaped", wrap(tag("a&amp;b", "&lt;x&gt;")), MaxObjectTags, []meta.Tag{tg("a&b", "<x>")}, ""},
		{"no namespace", "<Tagging><TagSet>" + tag("a", "b") + "</TagSet></Tagging>", MaxObjectTags, []meta.Tag{tg("a", "b")}, ""},
		{"empty value element", wrap("<Tag><Key>a</Key><Value/></Tag>"), MaxObjectTags, []meta.Tag{tg("a", "")}, ""},
		{"no value", wrap("<Tag><Key>a</Key></Tag>"), MaxObjectTags, nil, s3err.MalformedXML},
		{"no key", wrap("<Tag><Value>a</Value></Tag>"), MaxObjectTags, nil, s3err.MalformedXML},
		{"no tag set", "<Tagging/>", MaxObjectTags, nil, s3err.MalformedXML},
		{"wrong root", "<Tags><TagSet/></Tags>", MaxObjectTags, nil, s3err.MalformedXML},
		{"empty body", "", MaxObjectTags, nil, s3err.MalformedXML},
		{"dtd", `<!DOCTYPE x [<!ENTITY e "v">]>` + wrap(tag("a", "&e;")), MaxObjectTags, nil, s3err.MalformedXML},
		{"duplicate", wrap(tag("a", "1") + tag("a", "2")), MaxObjectTags, nil, s3err.InvalidTag},
		{"11 object tags", wrap(strings.Repeat(tag("a", "1"), 11)), MaxObjectTags, nil, s3err.InvalidTag},
		{"too big", wrap(strings.Repeat(tag("a", "1"), 20000)), MaxBucketTags, nil, s3err.MaxMessageLengthExceeded},
	}
	for _, c := range cases {
		got, err := DecodeTagging(strings.NewReader(c.body), c.max)
		xmlTestCheckCode(t, c.name, err, c.code)
		if err == nil && !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	var fifty strings.Builder
	for i := range 50 {
		fifty.WriteString(tag(strings.Repeat("k", i+1), "v"))
	}
	if got, err := DecodeTagging(strings.NewReader(wrap(fifty.String())), MaxBucketTags); err != nil || len(got) != 50 {
		t.Errorf("50 bucket tags: %d, %v", len(got), err)
	}
	if _, err := DecodeTagging(strings.NewReader(wrap(fifty.String()+tag("x", "y"))), MaxBucketTags); !s3err.IsCode(err, s3err.InvalidTag) {
		t.Errorf("51 bucket tags: %v", err)
	}
}

// checkTagsAccepted fails t unless tags are what CheckTags accepts: at most
// max, sorted, each key once, within S3's lengths, no "aws:" keys.
func checkTagsAccepted(t *testing.T, tags []meta.Tag, max int) {
	t.Helper()
	if len(tags) > max {
		t.Fatalf("%d tags accepted, max %d", len(tags), max)
	}
	for i, tg := range tags {
		if tg.Key == "" || !utf8.ValidString(tg.Key) || !utf8.ValidString(tg.Value) ||
			strings.ContainsFunc(tg.Key+tg.Value, unicode.IsControl) ||
			utf8.RuneCountInString(tg.Key) > MaxTagKeyLen || utf8.RuneCountInString(tg.Value) > MaxTagValueLen ||
			strings.HasPrefix(strings.ToLower(tg.Key), "aws:") {
			t.Fatalf("tag %q accepted", tg)
		}
		if i > 0 && tags[i-1].Key >= tg.Key {
			t.Fatalf("tags not sorted or a key twice: %q", tags)
		}
	}
}

func tagFuzzErr(t *testing.T, err error, codes ...s3err.Code) {
	t.Helper()
	var e *s3err.Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *Error: %v", err)
	}
	if !slices.Contains(codes, e.Code) {
		t.Fatalf("unexpected code %s", e.Code)
	}
}

// FuzzTagging: the tagging XML body and the x-amz-tagging header never
// panic, refuse with S3 errors only, accept only tag sets within S3's
// limits, and what they accept comes back the same after encoding it again
// (the Get*Tagging document, the header's URL encoding).
func FuzzTagging(f *testing.F) {
	f.Add([]byte(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>`), "a=1&b=2")
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>a</Key><Value/></Tag><Tag><Key>a</Key><Value>x</Value></Tag></TagSet></Tagging>`), "a=1&a=2")
	f.Add([]byte(`<Tagging><TagSet/></Tagging>`), "%E2%9C%93=x&flag&&aws:k=v")
	f.Add([]byte(`<!DOCTYPE a><Tagging/>`), "k+ey=%zz")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		for _, max := range []int{MaxObjectTags, MaxBucketTags} {
			tags, err := DecodeTagging(bytes.NewReader(body), max)
			if err != nil {
				tagFuzzErr(t, err, s3err.MalformedXML, s3err.MaxMessageLengthExceeded, s3err.InvalidTag)
				continue
			}
			checkTagsAccepted(t, tags, max)
			doc, err := EncodeXMLResponse(taggingDoc(tags))
			if err != nil {
				t.Fatalf("encode %q: %v", tags, err)
			}
			again, err := DecodeTagging(bytes.NewReader(doc), max)
			if err != nil || !reflect.DeepEqual(again, tags) {
				t.Fatalf("round trip of %q: %q, %v", tags, again, err)
			}
		}
		tags, err := ParseTaggingHeader(header)
		if err != nil {
			tagFuzzErr(t, err, s3err.InvalidArgument, s3err.InvalidTag)
			return
		}
		checkTagsAccepted(t, tags, MaxObjectTags)
		var pairs []string
		for _, tg := range tags {
			pairs = append(pairs, url.QueryEscape(tg.Key)+"="+url.QueryEscape(tg.Value))
		}
		again, err := ParseTaggingHeader(strings.Join(pairs, "&"))
		if err != nil || !reflect.DeepEqual(again, tags) {
			t.Fatalf("round trip of %q: %q, %v", tags, again, err)
		}
	})
}
