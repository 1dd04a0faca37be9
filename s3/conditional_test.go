package s3

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
)

func TestPreconditionsEvaluate(t *testing.T) {
	const etag = "7929fff6d79868e8e07ffcf1e31820a4"
	lm := time.Date(2026, 11, 28, 9, 42, 40, 500_000_000, time.UTC) // sub-second part is not on the wire
	at := func(d time.Duration) string { return lm.Truncate(time.Second).Add(d).Format(http.TimeFormat) }
	cases := []struct {
		name    string
		p       Preconditions
		get     s3err.Code // "" = 200
		copySrc s3err.Code
	}{
		{"none", Preconditions{}, "", ""},
		{"if-match quoted", Preconditions{IfMatch: `"` + etag + `"`}, "", ""},
		{"if-match unquoted", Preconditions{IfMatch: etag}, "", ""},
		{"if-match star", Preconditions{IfMatch: "*"}, "", ""},
		{"if-match list", Preconditions{IfMatch: `"x", "` + etag + `"`}, "", ""},
		{"if-match miss", Preconditions{IfMatch: `"x"`}, s3err.PreconditionFailed, s3err.PreconditionFailed},
		{"if-match weak never matches", Preconditions{IfMatch: `W/"` + etag + `"`}, s3err.PreconditionFailed, s3err.PreconditionFailed},
		{"if-none-match hit", Preconditions{IfNoneMatch: `"` + etag + `"`}, s3err.NotModified, s3err.PreconditionFailed},
		{"if-none-match weak hit", Preconditions{IfNoneMatch: `W/"` + etag + `"`}, s3err.NotModified, s3err.PreconditionFailed},
		{"if-none-match star", Preconditions{IfNoneMatch: "*"}, s3err.NotModified, s3err.PreconditionFailed},
		{"if-none-match miss", Preconditions{IfNoneMatch: `"x","y"`}, "", ""},
		{"ims older", Preconditions{IfModifiedSince: at(-time.Hour)}, "", ""},
		{"ims same second", Preconditions{IfModifiedSince: at(0)}, s3err.NotModified, s3err.PreconditionFailed},
		{"ims later", Preconditions{IfModifiedSince: at(time.Hour)}, s3err.NotModified, s3err.PreconditionFailed},
		{"ims invalid ignored", Preconditions{IfModifiedSince: "yesterday"}, "", ""},
		{"ims rfc850", Preconditions{IfModifiedSince: lm.Add(time.Hour).Format(time.RFC850)}, s3err.NotModified, s3err.PreconditionFailed},
		{"ims asctime", Preconditions{IfModifiedSince: lm.Add(time.Hour).Format(time.ANSIC)}, s3err.NotModified, s3err.PreconditionFailed},
		{"ius older", Preconditions{IfUnmodifiedSince: at(-time.Second)}, s3err.PreconditionFailed, s3err.PreconditionFailed},
		{"ius same second", Preconditions{IfUnmodifiedSince: at(0)}, "", ""},
		{"ius 2100", Preconditions{IfUnmodifiedSince: "Fri, 29 Oct 2100 19:43:31 GMT"}, "", ""},
		{"ius 1994", Preconditions{IfUnmodifiedSince: "Sat, 29 Oct 1994 19:43:31 GMT"}, s3err.PreconditionFailed, s3err.PreconditionFailed},
		{"ius invalid ignored", Preconditions{IfUnmodifiedSince: "garbage"}, "", ""},
		// S3 GetObject: If-Match true + If-Unmodified-Since false → 200.
		{"if-match wins over ius", Preconditions{IfMatch: etag, IfUnmodifiedSince: at(-time.Hour)}, "", ""},
		{"if-match fails first", Preconditions{IfMatch: "x", IfNoneMatch: etag}, s3err.PreconditionFailed, s3err.PreconditionFailed},
		// S3 GetObject: If-None-Match false + If-Modified-Since true → 304.
		{"inm false beats ims true", Preconditions{IfNoneMatch: etag, IfModifiedSince: at(-time.Hour)}, s3err.NotModified, s3err.PreconditionFailed},
		// RFC 9110: If-None-Match present and true → If-Modified-Since ignored.
		{"inm true ignores ims", Preconditions{IfNoneMatch: "x", IfModifiedSince: at(time.Hour)}, "", ""},
		{"ius fail before inm", Preconditions{IfUnmodifiedSince: at(-time.Hour), IfNoneMatch: etag}, s3err.PreconditionFailed, s3err.PreconditionFailed},
		{"all pass", Preconditions{IfMatch: etag, IfUnmodifiedSince: at(0), IfNoneMatch: "x", IfModifiedSince: at(-time.Hour)}, "", ""},
	}
	for _, c := range cases {
		xmlTestCheckCode(t, c.name+" (GET)", c.p.Evaluate(`"`+etag+`"`, lm), c.get)
		xmlTestCheckCode(t, c.name+" (copy)", c.p.EvaluateCopySource(etag, lm), c.copySrc)
	}
	if !(Preconditions{}).Empty() || (Preconditions{IfMatch: "x"}).Empty() {
		t.Fatal("Empty")
	}
}

func TestWriteCondition(t *testing.T) {
	cases := []struct {
		name                 string
		ifMatch, ifNoneMatch string
		want                 *meta.WriteCondition
		code                 s3err.Code
	}{
		{"unconditional", "", "", nil, ""},
		{"create only", "", "*", &meta.WriteCondition{IfNoneMatch: true}, ""},
		{"create only, spaces", "", " * ", &meta.WriteCondition{IfNoneMatch: true}, ""},
		{"if-none-match etag", "", `"e"`, &meta.WriteCondition{NoneMatch: []string{"e"}}, ""},
		{"if-none-match list, weak", "", `"e", W/"f"`, &meta.WriteCondition{NoneMatch: []string{"e", `W/"f"`}}, ""},
		{"if-none-match star in a list", "", `"e", *`, &meta.WriteCondition{IfNoneMatch: true}, ""},
		{"if-none-match empty list", "", ", ,", nil, s3err.InvalidArgument},
		{"if-match one", `"e"`, "", &meta.WriteCondition{IfMatch: true, ETags: []string{"e"}}, ""},
		{"if-match list", `"e", "f"`, "", &meta.WriteCondition{IfMatch: true, ETags: []string{"e", "f"}}, ""},
		{"if-match star", "*", "", &meta.WriteCondition{IfMatch: true}, ""},
		{"if-match star in a list", `"e", *`, "", &meta.WriteCondition{IfMatch: true}, ""},
		{"if-match weak", `W/"e"`, "", &meta.WriteCondition{IfMatch: true, ETags: []string{`W/"e"`}}, ""},
		{"if-match empty list", ", ,", "", nil, s3err.InvalidArgument},
		{"both", `"e"`, "*", &meta.WriteCondition{IfNoneMatch: true, IfMatch: true, ETags: []string{"e"}}, ""},
	}
	for _, c := range cases {
		got, err := writeCondition(c.ifMatch, c.ifNoneMatch)
		xmlTestCheckCode(t, c.name, err, c.code)
		if err == nil && !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestETagQuoting(t *testing.T) {
	for in, want := range map[string]string{`"abc"`: "abc", "abc": "abc", ` "abc" `: "abc", `"`: `"`, `""`: "", `"a-2"`: "a-2"} {
		if got := TrimETag(in); got != want {
			t.Errorf("TrimETag(%q) = %q, want %q", in, got, want)
		}
	}
	if QuoteETag("abc") != `"abc"` || QuoteETag(`"abc"`) != `"abc"` {
		t.Fatal("QuoteETag")
	}
}
