package s3

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/s4/s4/s3/s3err"
)

// MaxKeyLength is S3's limit on an object key, in bytes of UTF-8.
const MaxKeyLength = 1024

// ValidBucketName applies the S3 general purpose bucket naming rules (S3 user
// guide, "General purpose bucket naming rules"): 3 to 63 characters of
// lowercase letters, digits, '.' and '-'; a letter or digit first and last;
// no two adjacent periods; not formatted as an IPv4 address; not starting
// with "xn--", "sthree-" or "amzn-s3-demo-"; not ending with "-s3alias",
// "--ol-s3", ".mrap", "--x-s3" or "--table-s3".
func ValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(name)-1 {
				return false
			}
			if c == '.' && name[i-1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return !looksLikeIPv4(name)
}

// looksLikeIPv4 reports four dot-separated runs of digits ("192.168.5.4",
// but also "999.1.1.1"): S3 refuses anything formatted as an IP address.
func looksLikeIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// ValidObjectKey checks an object key: 1 to 1024 bytes of valid UTF-8.
// Anything else is allowed, "../", control characters and leading '/'
// included: keys are data, never paths (docs/DESIGN.md "Bad input").
//
// Errors: KeyTooLongError past 1024 bytes; InvalidURI ("Couldn't parse the
// specified URI.") for invalid UTF-8, which is what S3 answers for such a
// key in a request path; InvalidArgument for an empty key.
func ValidObjectKey(key string) error {
	switch {
	case key == "":
		return s3err.New(s3err.InvalidObjectKeyEmpty)
	case len(key) > MaxKeyLength:
		return s3err.New(s3err.KeyTooLong)
	case !utf8.ValidString(key):
		return s3err.New(s3err.InvalidURI)
	}
	return nil
}

// URLEncodeKey encodes a key, prefix, delimiter or marker for a listing
// answered with encoding-type=url: every byte but A-Z a-z 0-9 - _ . ~ and
// '/' becomes %XX (uppercase hex), a space included (%20).
//
// Why %20 and not S3's '+': botocore decodes these fields with
// unquote_plus (botocore/handlers.py decode_list_object → unquote_str), the
// Go and Java SDKs with a plain percent-decoder. %20 decodes to a space
// under both; '+' would become a literal plus under the latter. A literal
// '+' must always be %2B, or botocore turns it into a space.
func URLEncodeKey(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !keyUnreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexUpper = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keyUnreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return string(b)
}

func keyUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '/'
}

// MultipartETag is the ETag of a completed multipart upload, unquoted: the
// hex MD5 of the concatenated binary MD5s of the parts, "-", the part count
// ("9b2cf535f27731c974343645a3985328-3"). Use QuoteETag on the wire.
func MultipartETag(partMD5s [][]byte) string {
	h := md5.New()
	for _, m := range partMD5s {
		h.Write(m)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(partMD5s))
}

// CheckCannedACL accepts the x-amz-acl values that mean "owner only":
// absent, "private" and "bucket-owner-full-control". Any other canned ACL
// fails with 400 AccessControlListNotSupported, which is what S3 answers
// when ACLs are disabled (Object Ownership "bucket owner enforced"). The
// handler must reject any x-amz-grant-* header the same way.
func CheckCannedACL(v string) error {
	switch strings.TrimSpace(v) {
	case "", "private", "bucket-owner-full-control":
		return nil
	}
	return s3err.New(s3err.AccessControlListNotSupported)
}
