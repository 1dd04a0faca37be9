package s3

import (
	"strconv"
	"strings"

	"github.com/s4/s4/s3/s3err"
)

// ParseRange interprets a GET/HEAD Range header for an object of size bytes.
//
// It returns partial=true with the byte span to send (206, Content-Range
// from ContentRange) for one satisfiable "bytes=a-b", "bytes=a-" or
// "bytes=-n"; an end past the object is clipped to size-1 and a suffix
// longer than the object means the whole object, as RFC 9110 §14.1.2 says.
//
// It returns partial=false, start=0, length=size and no error (serve the
// whole object with 200) when the header is empty, malformed (a unit other
// than bytes, missing '=', a non-digit, b < a), or lists several ranges.
// S3 does this: the GetObject reference says "Amazon S3 doesn't support
// retrieving multiple ranges of data per GET request", and S3 (like MinIO,
// which copies it) ignores a Range it cannot parse instead of failing;
// RFC 9110 §14.2 lets a server ignore Range. Answering NotImplemented
// instead would break clients that send multi-range optimistically.
//
// It returns an *s3err.Error with s3err.InvalidRange (416) when the single range is
// syntactically valid but unsatisfiable: first byte at or past size (so any
// range of an empty object), or a zero-length suffix "bytes=-0". The caller
// then sends Content-Range: UnsatisfiedContentRange(size). The error carries
// <RangeRequested> and <ActualObjectSize>, as S3's does. A first-byte
// position too large for int64 counts as past the end, not as malformed.
func ParseRange(header string, size int64) (start, length int64, partial bool, err error) {
	if size < 0 {
		size = 0
	}
	whole := func() (int64, int64, bool, error) { return 0, size, false, nil }
	unit, spec, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return whole()
	}
	if strings.Contains(spec, ",") {
		return whole() // multiple ranges (or an empty list member): ignored
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return whole()
	}
	unsatisfiable := func() (int64, int64, bool, error) {
		return 0, 0, false, &s3err.Error{Code: s3err.InvalidRange, Extra: []s3err.Field{
			{Name: "RangeRequested", Value: strings.TrimSpace(header)},
			{Name: "ActualObjectSize", Value: strconv.FormatInt(size, 10)},
		}}
	}
	if first == "" {
		// Suffix range: the last n bytes.
		n, overflow, ok := parseRangeInt(last)
		if !ok {
			return whole()
		}
		if !overflow && n == 0 || size == 0 {
			return unsatisfiable()
		}
		if overflow || n >= size {
			return 0, size, true, nil
		}
		return size - n, n, true, nil
	}
	a, aOverflow, ok := parseRangeInt(first)
	if !ok {
		return whole()
	}
	if last == "" {
		if aOverflow || a >= size {
			return unsatisfiable()
		}
		return a, size - a, true, nil
	}
	b, bOverflow, ok := parseRangeInt(last)
	if !ok {
		return whole()
	}
	if aOverflow || bOverflow {
		if cmpDigits(last, first) < 0 {
			return whole() // b < a: an invalid range-spec
		}
	} else if b < a {
		return whole()
	}
	if aOverflow {
		return unsatisfiable() // a is past any real object
	}
	if a >= size {
		return unsatisfiable()
	}
	if bOverflow || b >= size {
		b = size - 1
	}
	return a, b - a + 1, true, nil
}

// parseRangeInt parses a non-empty run of ASCII digits. overflow reports a
// value too large for int64 (still a syntactically valid position).
func parseRangeInt(s string) (n int64, overflow, ok bool) {
	if s == "" {
		return 0, false, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, true, true // only ErrRange is possible here
	}
	return n, false, true
}

// cmpDigits compares two digit strings as numbers of any size.
func cmpDigits(x, y string) int {
	x = strings.TrimLeft(x, "0")
	y = strings.TrimLeft(y, "0")
	if len(x) != len(y) {
		if len(x) < len(y) {
			return -1
		}
		return 1
	}
	return strings.Compare(x, y)
}

// ContentRange is the Content-Range value of a 206: "bytes start-end/size".
func ContentRange(start, length, size int64) string {
	return "bytes " + strconv.FormatInt(start, 10) + "-" +
		strconv.FormatInt(start+length-1, 10) + "/" + strconv.FormatInt(size, 10)
}

// UnsatisfiedContentRange is the Content-Range value of a 416: "bytes */size".
func UnsatisfiedContentRange(size int64) string {
	return "bytes */" + strconv.FormatInt(size, 10)
}

// ParseCopySourceRange parses x-amz-copy-source-range, which unlike Range
// must be exactly bytes=first-last with both offsets given and last inside
// the source object: anything else is refused (AWS does not clip it).
func ParseCopySourceRange(v string, size int64) (start, length int64, err error) {
	spec, ok := strings.CutPrefix(v, "bytes=")
	first, last, ok2 := strings.Cut(spec, "-")
	a, ofa, oka := parseRangeInt(first)
	b, ofb, okb := parseRangeInt(last)
	if !ok || !ok2 || !oka || !okb || a > b && !ofa && !ofb {
		return 0, 0, s3err.Errorf(s3err.InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	}
	if ofa || ofb || b >= size {
		return 0, 0, s3err.Errorf(s3err.InvalidArgument, "Range specified is not valid for source object of size: %d", size)
	}
	return a, b - a + 1, nil
}
