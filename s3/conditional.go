package s3

import (
	"net/http"
	"strings"
	"time"

	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3/s3err"
)

// Preconditions are the raw conditional request headers of a GET or HEAD
// (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since), or the
// x-amz-copy-source-if-* headers of CopyObject / UploadPartCopy. Empty means
// absent.
type Preconditions struct {
	IfMatch           string
	IfNoneMatch       string
	IfModifiedSince   string
	IfUnmodifiedSince string
}

// Empty reports whether no conditional header was sent.
func (p Preconditions) Empty() bool {
	return p.IfMatch == "" && p.IfNoneMatch == "" && p.IfModifiedSince == "" && p.IfUnmodifiedSince == ""
}

// Evaluate checks the preconditions of a GET or HEAD against an existing
// object (a missing object is NoSuchKey before any precondition). It returns
// nil to serve the object, s3err.PreconditionFailed (412) or s3err.NotModified
// (304; the handler sends ETag/Last-Modified and no body).
//
// Order and precedence are RFC 9110 §13.2.2, which is what the GetObject
// reference describes for the combinations:
//  1. If-Match present and false → 412; If-Match true makes S3 ignore a
//     failing If-Unmodified-Since ("If-Match … true, and
//     If-Unmodified-Since … false; then, S3 returns 200 OK").
//  2. Otherwise If-Unmodified-Since false → 412.
//  3. If-None-Match present and false (an ETag matches, or "*") → 304; when
//     it is present and true, If-Modified-Since is ignored.
//  4. Otherwise If-Modified-Since false (not modified since) → 304.
//
// ETags compare with or without quotes; lists and "*" are honoured; W/ tags
// never match If-Match (strong comparison) but do match If-None-Match (weak
// comparison). Dates are compared at whole seconds, the precision of
// Last-Modified. A date that is not an HTTP-date (RFC 1123, RFC 850 or
// asctime, per net/http.ParseTime) makes its header ignored, as RFC 9110
// §13.1.3/§13.1.4 require.
func (p Preconditions) Evaluate(etag string, lastModified time.Time) error {
	return p.evaluate(etag, lastModified, s3err.NotModified)
}

// EvaluateCopySource checks x-amz-copy-source-if-* against the copy source.
// Same precedence as Evaluate, but every failure is 412 PreconditionFailed
// (the CopyObject reference: x-amz-copy-source-if-none-match false or
// x-amz-copy-source-if-modified-since false → "412 Precondition Failed").
func (p Preconditions) EvaluateCopySource(etag string, lastModified time.Time) error {
	return p.evaluate(etag, lastModified, s3err.PreconditionFailed)
}

func (p Preconditions) evaluate(etag string, lastModified time.Time, notModified s3err.Code) error {
	lm := lastModified.Truncate(time.Second)
	if p.IfMatch != "" {
		if !etagListMatches(p.IfMatch, etag, false) {
			return s3err.New(s3err.PreconditionFailed)
		}
	} else if t, ok := parseHTTPDate(p.IfUnmodifiedSince); ok && lm.After(t) {
		return s3err.New(s3err.PreconditionFailed)
	}
	if p.IfNoneMatch != "" {
		if etagListMatches(p.IfNoneMatch, etag, true) {
			return s3err.New(notModified)
		}
	} else if t, ok := parseHTTPDate(p.IfModifiedSince); ok && !lm.After(t) {
		return s3err.New(notModified)
	}
	return nil
}

// writeCondition parses the conditional-write headers of PutObject and
// CompleteMultipartUpload (S3 "conditional writes") into the condition the
// FSM checks when it applies the write, so that of two racing writes at
// most one passes: If-None-Match: * (the key must not exist, else 412);
// If-Match: * or a list of ETags (the key must exist, else 404 NoSuchKey,
// and have one of the ETags, else 412; weak ETags never match);
// If-None-Match with ETags (the key must not have one of them, else 412; a
// missing key passes). nil: no condition. DeleteObject takes If-Match
// alone.
func writeCondition(ifMatch, ifNoneMatch string) (*meta.WriteCondition, error) {
	var c meta.WriteCondition
	if v := strings.TrimSpace(ifNoneMatch); v != "" {
		tags, star := etagList(v)
		switch {
		case star:
			c.IfNoneMatch = true
		case len(tags) == 0:
			return nil, s3err.Errorf(s3err.InvalidArgument, "The If-None-Match header names no ETag.")
		default:
			c.NoneMatch = tags
		}
	}
	if v := strings.TrimSpace(ifMatch); v != "" {
		c.IfMatch = true
		tags, star := etagList(v) // weak tags keep "W/": never equal to a stored ETag
		if !star {
			if len(tags) == 0 {
				return nil, s3err.Errorf(s3err.InvalidArgument, "The If-Match header names no ETag.")
			}
			c.ETags = tags
		}
	}
	if !c.IfNoneMatch && !c.IfMatch && len(c.NoneMatch) == 0 {
		return nil, nil
	}
	return &c, nil
}

// TrimETag strips spaces and one pair of surrounding double quotes:
// `"abc"` → abc. Stored and compared ETags are unquoted; the wire form is
// QuoteETag.
func TrimETag(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}

// QuoteETag returns the wire form of an ETag: `"` + TrimETag(s) + `"`.
func QuoteETag(s string) string { return `"` + TrimETag(s) + `"` }

// etagListMatches reports whether the header (a comma-separated list of
// entity tags, or "*") matches etag. weak allows W/-prefixed tags.
func etagListMatches(header, etag string, weak bool) bool {
	tags, star := etagList(header)
	if star {
		return true
	}
	want := TrimETag(etag)
	for _, t := range tags {
		if w, ok := strings.CutPrefix(t, "W/"); ok {
			if !weak {
				continue
			}
			t = TrimETag(w)
		}
		if t == want {
			return true
		}
	}
	return false
}

// etagList parses an If-Match or If-None-Match list: star if it holds "*";
// tags the others in order, unquoted, weak ones as they came ("W/" and
// quotes kept).
func etagList(header string) (tags []string, star bool) {
	for _, item := range strings.Split(header, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "*":
			star = true
		case strings.HasPrefix(item, "W/"):
			tags = append(tags, item)
		case item != "":
			tags = append(tags, TrimETag(item))
		}
	}
	return tags, star
}

func parseHTTPDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
