package s3

import (
	"errors"
	"strings"
	"testing"

	"github.com/s4/s4/s3/s3err"
)

func TestParseRange(t *testing.T) {
	const whole = -1 // marker: serve the whole object, 200
	const bad = -2   // marker: 416 InvalidRange
	cases := []struct {
		header        string
		size          int64
		start, length int64
	}{
		{"", 10, whole, 0},
		{"bytes=0-0", 10, 0, 1},
		{"bytes=0-9", 10, 0, 10},
		{"bytes=2-5", 10, 2, 4},
		{"bytes=2-100", 10, 2, 8},                  // end clipped
		{"bytes=2-99999999999999999999", 10, 2, 8}, // end overflows: clipped
		{"bytes=0-", 10, 0, 10},                    // 206 for the whole span, as S3
		{"bytes=9-", 10, 9, 1},
		{"bytes=-3", 10, 7, 3},
		{"bytes=-10", 10, 0, 10},
		{"bytes=-11", 10, 0, 10},                   // suffix longer than object
		{"bytes=-99999999999999999999", 10, 0, 10}, // and overflowing
		{"Bytes=1-2", 10, 1, 2},                    // unit is case-insensitive
		{" bytes = 1-2 ", 10, 1, 2},                // OWS tolerated
		{"bytes=0-8388607", 20971520, 0, 8388608},  // aws cli multipart GET
		{"bytes=16777216-", 20971520, 16777216, 4194304},
		{"bytes=10-", 10, bad, 0}, // first byte past the end
		{"bytes=10-20", 10, bad, 0},
		{"bytes=40-50", 11, bad, 0},                 // s3-tests invalid_range
		{"bytes=99999999999999999999-", 10, bad, 0}, // overflow = past the end
		{"bytes=99999999999999999999-99999999999999999999", 10, bad, 0},
		{"bytes=-0", 10, bad, 0},
		{"bytes=0-0", 0, bad, 0}, // nothing is satisfiable in an empty object
		{"bytes=0-", 0, bad, 0},
		{"bytes=-5", 0, bad, 0},
		{"bytes=5-2", 10, whole, 0}, // invalid spec: ignored
		{"bytes=99999999999999999999-5", 10, whole, 0},
		{"bytes=0-1,3-4", 10, whole, 0}, // multiple ranges: ignored, as S3
		{"bytes=0-1,", 10, whole, 0},
		{"bytes=", 10, whole, 0},
		{"bytes=-", 10, whole, 0},
		{"bytes=a-b", 10, whole, 0},
		{"bytes=+1-2", 10, whole, 0},
		{"bytes=1-+2", 10, whole, 0},
		{"bytes=0x1-2", 10, whole, 0},
		{"bytes=1 - 2", 10, whole, 0},
		{"bytes 0-1", 10, whole, 0},
		{"items=0-1", 10, whole, 0},
		{"0-1", 10, whole, 0},
		{"bytes=--1", 10, whole, 0},
		{"bytes=1-2-3", 10, whole, 0},
	}
	for _, c := range cases {
		start, length, partial, err := ParseRange(c.header, c.size)
		switch c.start {
		case whole:
			if err != nil || partial || start != 0 || length != c.size {
				t.Errorf("%q/%d: got %d,%d,%v,%v; want whole object", c.header, c.size, start, length, partial, err)
			}
		case bad:
			var e *s3err.Error
			if !errors.As(err, &e) || e.Code != s3err.InvalidRange || partial || e.Status() != 416 {
				t.Errorf("%q/%d: got %d,%d,%v,%v; want InvalidRange", c.header, c.size, start, length, partial, err)
			}
		default:
			if err != nil || !partial || start != c.start || length != c.length {
				t.Errorf("%q/%d: got %d,%d,%v,%v; want %d,%d", c.header, c.size, start, length, partial, err, c.start, c.length)
			}
		}
	}
}

func TestInvalidRangeErrorBody(t *testing.T) {
	_, _, _, err := ParseRange("bytes=40-50", 11)
	body := string(s3err.As(err).XML("/b/k", "r"))
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>InvalidRange</Code><Message>The requested range is not satisfiable</Message>` +
		`<RangeRequested>bytes=40-50</RangeRequested><ActualObjectSize>11</ActualObjectSize>` +
		`<Resource>/b/k</Resource><RequestId>r</RequestId></Error>`
	if body != want {
		t.Fatalf("got\n%s\nwant\n%s", body, want)
	}
}

func TestContentRange(t *testing.T) {
	if got := ContentRange(0, 8388608, 20971520); got != "bytes 0-8388607/20971520" {
		t.Fatal(got)
	}
	if got := ContentRange(9, 1, 10); got != "bytes 9-9/10" {
		t.Fatal(got)
	}
	if got := UnsatisfiedContentRange(11); got != "bytes */11" {
		t.Fatal(got)
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"", "bytes=0-0", "bytes=2-", "bytes=-3", "bytes=0-1,2-3", "bytes=5-2", "bytes=-0",
		"bytes=99999999999999999999-", "bytes=1-99999999999999999999"} {
		f.Add(s, int64(10))
	}
	f.Add("bytes=0-", int64(0))
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		if cs, cn, err := ParseCopySourceRange(header, size); err == nil {
			if cs < 0 || cn < 1 || cs+cn > size {
				t.Fatalf("copy source %q/%d: bad span %d,%d", header, size, cs, cn)
			}
		} else if s3err.As(err).Code != s3err.InvalidArgument {
			t.Fatalf("copy source %q/%d: bad error %v", header, size, err)
		}
		start, length, partial, err := ParseRange(header, size)
		if err != nil {
			var e *s3err.Error
			if !errors.As(err, &e) || e.Code != s3err.InvalidRange || partial {
				t.Fatalf("%q/%d: bad error %v partial=%v", header, size, err, partial)
			}
			return
		}
		if !partial {
			if start != 0 || length != size {
				t.Fatalf("%q/%d: not partial but %d,%d", header, size, start, length)
			}
			return
		}
		if start < 0 || start >= size || length < 1 || length > size-start {
			t.Fatalf("%q/%d: bad span %d,%d", header, size, start, length)
		}
		_ = ContentRange(start, length, size)
	})
}

func TestParseCopySourceRange(t *testing.T) {
	for _, c := range []struct {
		v           string
		size        int64
		start, n    int64
		ok, invalid bool // invalid: malformed (not past the end)
	}{
		{"bytes=0-9", 100, 0, 10, true, false},
		{"bytes=90-99", 100, 90, 10, true, false},
		{"bytes=5-5", 100, 5, 1, true, false},
		{"bytes=90-100", 100, 0, 0, false, false}, // past the end: refused, not clipped
		{"bytes=100-100", 100, 0, 0, false, false},
		{"bytes=0-99999999999999999999", 100, 0, 0, false, false},
		{"bytes=0-0", 0, 0, 0, false, false},
		{"bytes=-10", 100, 0, 0, false, true},
		{"bytes=10-", 100, 0, 0, false, true},
		{"bytes=9-3", 100, 0, 0, false, true},
		{"bytes=0-1,3-4", 100, 0, 0, false, true},
		{"items=0-9", 100, 0, 0, false, true},
		{"bytes= 0-9", 100, 0, 0, false, true},
		{"", 100, 0, 0, false, true},
	} {
		start, n, err := ParseCopySourceRange(c.v, c.size)
		if c.ok {
			if err != nil || start != c.start || n != c.n {
				t.Errorf("%q size %d = %d,%d,%v; want %d,%d", c.v, c.size, start, n, err, c.start, c.n)
			}
			continue
		}
		e := s3err.As(err)
		if err == nil || e.Code != s3err.InvalidArgument {
			t.Errorf("%q size %d = %d,%d,%v; want InvalidArgument", c.v, c.size, start, n, err)
		} else if past := strings.Contains(e.Message, "not valid for source object"); past == c.invalid {
			t.Errorf("%q size %d: message %q", c.v, c.size, e.Message)
		}
	}
}
