package s3

import (
	"crypto/md5"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/s4/s4/s3/s3err"
)

func TestValidBucketName(t *testing.T) {
	good := []string{"abc", "my-bucket", "my.bucket.name", "a1b2", "123", "1.2.3", "1.2.3.4.5", "a-b.c-d",
		"a-.b", strings.Repeat("a", 63), "xn-a", "s3alias", "bucket-s3alia", "amzn-s3-demo", "sthree"}
	bad := []string{"", "ab", strings.Repeat("a", 64), "ABC", "my_bucket", "my bucket", "-abc", "abc-", ".abc",
		"abc.", "a..b", "192.168.5.4", "999.999.999.999", "xn--abc", "sthree-abc", "sthree-configurator",
		"amzn-s3-demo-bucket", "abc-s3alias", "abc--ol-s3", "abc.mrap", "abc--x-s3", "abc--table-s3",
		"ab\x00", "héllo", "abc/def"}
	for _, n := range good {
		if !ValidBucketName(n) {
			t.Errorf("%q rejected", n)
		}
	}
	for _, n := range bad {
		if ValidBucketName(n) {
			t.Errorf("%q accepted", n)
		}
	}
}

func TestValidObjectKey(t *testing.T) {
	cases := []struct {
		key  string
		code s3err.Code
	}{
		{"a", ""},
		{"../../etc/passwd", ""},
		{"/leading/slash", ""},
		{"dir with space/a+b=c~d%e ü&x.txt", ""},
		{"ctl\x01\x00chars", ""},
		{strings.Repeat("k", 1024), ""},
		{strings.Repeat("ü", 512), ""}, // 1024 bytes
		{"", s3err.InvalidObjectKeyEmpty},
		{strings.Repeat("k", 1025), s3err.KeyTooLong},
		{strings.Repeat("ü", 513), s3err.KeyTooLong},
		{"bad\xffutf8", s3err.InvalidURI},
		{"\xed\xa0\x80", s3err.InvalidURI}, // a surrogate
	}
	for _, c := range cases {
		xmlTestCheckCode(t, c.key, ValidObjectKey(c.key), c.code)
	}
}

func TestURLEncodeKey(t *testing.T) {
	cases := map[string]string{
		"":                          "",
		"plain/key-1_2.~txt":        "plain/key-1_2.~txt",
		"a b":                       "a%20b",
		"a+b":                       "a%2Bb",
		"dir with space/a+b=c%d ü&": "dir%20with%20space/a%2Bb%3Dc%25d%20%C3%BC%26",
		"ctl\x01\n\x00":             "ctl%01%0A%00",
		"*?#[]":                     "%2A%3F%23%5B%5D",
	}
	for in, want := range cases {
		got := URLEncodeKey(in)
		if got != want {
			t.Errorf("URLEncodeKey(%q) = %q, want %q", in, got, want)
		}
		// Both decoders clients use give the key back: Go/Java-style
		// percent-decoding and botocore's unquote_plus (QueryUnescape).
		if d, err := url.PathUnescape(got); err != nil || d != in {
			t.Errorf("PathUnescape(%q) = %q, %v", got, d, err)
		}
		if d, err := url.QueryUnescape(got); err != nil || d != in {
			t.Errorf("QueryUnescape(%q) = %q, %v", got, d, err)
		}
	}
}

func TestMultipartETag(t *testing.T) {
	p1 := md5.Sum([]byte("part one"))
	p2 := md5.Sum([]byte("part two"))
	all := md5.Sum(append(p1[:], p2[:]...))
	want := hex.EncodeToString(all[:]) + "-2"
	if got := MultipartETag([][]byte{p1[:], p2[:]}); got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	// A known value: the parts of a 20 MiB aws cli upload are 8+8+4 MiB of
	// zeros here; the form is 32 hex digits, '-', the count.
	z8 := md5.Sum(make([]byte, 8<<20))
	z4 := md5.Sum(make([]byte, 4<<20))
	got := MultipartETag([][]byte{z8[:], z8[:], z4[:]})
	if len(got) != 34 || !strings.HasSuffix(got, "-3") {
		t.Fatalf("form %q", got)
	}
	if QuoteETag(got) != `"`+got+`"` {
		t.Fatal("quote")
	}
}

func TestCheckCannedACL(t *testing.T) {
	for _, v := range []string{"", "private", "bucket-owner-full-control", " private "} {
		if err := CheckCannedACL(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range []string{"public-read", "public-read-write", "authenticated-read", "log-delivery-write", "bogus"} {
		xmlTestCheckCode(t, v, CheckCannedACL(v), s3err.AccessControlListNotSupported)
	}
}

func FuzzParseVersionID(f *testing.F) {
	for _, s := range []string{"null", "", "0123456789abcdef0123456789abcdef", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "a/b", "\x00", strings.Repeat("a", 1025)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseVersionID(s)
		if err != nil {
			if !s3err.IsCode(err, s3err.InvalidArgument) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if id != s || s == "" || len(s) > 1024 || strings.ContainsAny(s, "/?&%+ \x00") {
			t.Fatalf("%q accepted as %q", s, id)
		}
	})
}
