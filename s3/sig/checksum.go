package sig

// S3 "additional checksums" (x-amz-checksum-*), Content-MD5, and the one-pass
// hasher an upload streams through.
//
// S3 sends and expects every checksum as the base64 (standard alphabet, padded)
// of the big-endian digest: CRC32 of "hello s4\n" is "HIHzPw==", of the empty
// body "AAAAAA==". The hash.Hash values returned here already produce
// big-endian digests from Sum, so EncodeChecksum(h.Sum(nil)) is the header value.

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strings"
	"sync"
)

// Checksum errors. Handlers map them with errors.Is:
var (
	// ErrChecksumMismatch: the checksum the client sent (x-amz-checksum-* header
	// or aws-chunked trailer) differs from the one computed over the payload.
	// S3 answers 400 BadDigest ("The CRC32 you specified did not match the
	// calculated checksum."). XAmzContentSHA256Mismatch is a different error,
	// for a wrong hex x-amz-content-sha256, and is not produced here.
	ErrChecksumMismatch = errors.New("s3: checksum mismatch")

	// ErrChecksumInvalid: a checksum value is not the base64 of a digest of the
	// algorithm's size. S3 answers 400 InvalidRequest ("Value for
	// x-amz-checksum-crc32 header is invalid.").
	ErrChecksumInvalid = errors.New("s3: invalid checksum value")

	// ErrContentMD5Invalid: Content-MD5 is not the base64 of 16 bytes.
	// S3 answers 400 InvalidDigest.
	ErrContentMD5Invalid = errors.New("s3: invalid Content-MD5")

	// ErrContentMD5Mismatch: Content-MD5 differs from the MD5 of the payload.
	// S3 answers 400 BadDigest.
	ErrContentMD5Mismatch = errors.New("s3: Content-MD5 mismatch")
)

// ChecksumAlgorithm is one of the checksum algorithms S3 accepts in
// x-amz-checksum-*. The zero value, ChecksumNone, means no checksum.
type ChecksumAlgorithm uint8

// The supported algorithms. botocore without awscrt (aws-cli v1) only sends
// CRC32, SHA1 and SHA256; aws-cli v2 and the Go/Java SDKs also send CRC32C and
// CRC64NVME.
const (
	ChecksumNone ChecksumAlgorithm = iota
	ChecksumCRC32
	ChecksumCRC32C
	ChecksumCRC64NVME
	ChecksumSHA1
	ChecksumSHA256
)

var checksumInfo = [...]struct {
	name   string // x-amz-sdk-checksum-algorithm / x-amz-checksum-algorithm value
	header string // x-amz-checksum-* header and trailer name
	size   int    // digest size in bytes
}{
	ChecksumNone:      {"", "", 0},
	ChecksumCRC32:     {"CRC32", "x-amz-checksum-crc32", crc32.Size},
	ChecksumCRC32C:    {"CRC32C", "x-amz-checksum-crc32c", crc32.Size},
	ChecksumCRC64NVME: {"CRC64NVME", "x-amz-checksum-crc64nvme", crc64.Size},
	ChecksumSHA1:      {"SHA1", "x-amz-checksum-sha1", sha1.Size},
	ChecksumSHA256:    {"SHA256", "x-amz-checksum-sha256", sha256.Size},
}

func (a ChecksumAlgorithm) valid() bool {
	return a != ChecksumNone && int(a) < len(checksumInfo)
}

// String returns the algorithm name as S3 spells it ("CRC32", "CRC64NVME"),
// "" for ChecksumNone.
func (a ChecksumAlgorithm) String() string {
	if int(a) >= len(checksumInfo) {
		return fmt.Sprintf("ChecksumAlgorithm(%d)", uint8(a))
	}
	return checksumInfo[a].name
}

// HeaderName returns the lower-case header (and trailer) name that carries the
// checksum, e.g. "x-amz-checksum-crc32"; "" for ChecksumNone.
func (a ChecksumAlgorithm) HeaderName() string {
	if !a.valid() {
		return ""
	}
	return checksumInfo[a].header
}

// Size returns the digest size in bytes (4 for CRC32), 0 for ChecksumNone.
func (a ChecksumAlgorithm) Size() int {
	if !a.valid() {
		return 0
	}
	return checksumInfo[a].size
}

// ParseChecksumAlgorithm parses the value of x-amz-sdk-checksum-algorithm or
// x-amz-checksum-algorithm ("CRC32", "crc64nvme", ...), case-insensitively.
func ParseChecksumAlgorithm(v string) (ChecksumAlgorithm, bool) {
	for a := ChecksumCRC32; int(a) < len(checksumInfo); a++ {
		if strings.EqualFold(v, checksumInfo[a].name) {
			return a, true
		}
	}
	return ChecksumNone, false
}

// ChecksumAlgorithmFromHeader maps a header or trailer name such as
// "X-Amz-Checksum-CRC32" to its algorithm, case-insensitively. Other
// x-amz-checksum-* headers (-mode, -type, -algorithm) are not algorithms and
// return false.
func ChecksumAlgorithmFromHeader(name string) (ChecksumAlgorithm, bool) {
	for a := ChecksumCRC32; int(a) < len(checksumInfo); a++ {
		if strings.EqualFold(name, checksumInfo[a].header) {
			return a, true
		}
	}
	return ChecksumNone, false
}

// NewChecksumHash returns a new hash for the algorithm whose Sum is the
// big-endian digest S3 encodes, or nil for ChecksumNone or an unknown value.
func NewChecksumHash(a ChecksumAlgorithm) hash.Hash {
	switch a {
	case ChecksumCRC32:
		return crc32.NewIEEE()
	case ChecksumCRC32C:
		return crc32.New(crc32cTable)
	case ChecksumCRC64NVME:
		return &crc64NVME{tab: crc64NVMETables()}
	case ChecksumSHA1:
		return sha1.New()
	case ChecksumSHA256:
		return sha256.New()
	}
	return nil
}

// EncodeChecksum returns the S3 wire form of a digest: standard padded base64.
func EncodeChecksum(sum []byte) string {
	return base64.StdEncoding.EncodeToString(sum)
}

// DecodeChecksum decodes a checksum value sent by a client and checks that it
// is exactly a digest of the algorithm's size. Errors wrap ErrChecksumInvalid.
func DecodeChecksum(a ChecksumAlgorithm, v string) ([]byte, error) {
	if !a.valid() {
		return nil, fmt.Errorf("%w: unknown algorithm %d", ErrChecksumInvalid, uint8(a))
	}
	if len(v) != base64.StdEncoding.EncodedLen(a.Size()) {
		return nil, fmt.Errorf("%w: %s value %q", ErrChecksumInvalid, a.HeaderName(), chunkQuote(v))
	}
	sum, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || len(sum) != a.Size() {
		return nil, fmt.Errorf("%w: %s value %q", ErrChecksumInvalid, a.HeaderName(), chunkQuote(v))
	}
	return sum, nil
}

// VerifyChecksum compares the value a client sent for algorithm a with the
// digest computed over the payload (h.Sum of NewChecksumHash(a)). It returns
// an error wrapping ErrChecksumInvalid for a malformed value and
// ErrChecksumMismatch for a wrong one.
func VerifyChecksum(a ChecksumAlgorithm, sent string, computed []byte) error {
	want, err := DecodeChecksum(a, sent)
	if err != nil {
		return err
	}
	if !bytes.Equal(want, computed) {
		return fmt.Errorf("%w: %s: client sent %s, computed %s",
			ErrChecksumMismatch, a.HeaderName(), sent, EncodeChecksum(computed))
	}
	return nil
}

// ParseContentMD5 decodes a Content-MD5 header. It fails with an error wrapping
// ErrContentMD5Invalid unless the value is the base64 of exactly 16 bytes, so a
// handler can reject the request (InvalidDigest) before reading the body.
func ParseContentMD5(v string) ([md5.Size]byte, error) {
	var sum [md5.Size]byte
	if len(v) != base64.StdEncoding.EncodedLen(md5.Size) {
		return sum, fmt.Errorf("%w: %q", ErrContentMD5Invalid, chunkQuote(v))
	}
	n, err := base64.StdEncoding.Strict().Decode(sum[:], []byte(v))
	if err != nil || n != md5.Size {
		return sum, fmt.Errorf("%w: %q", ErrContentMD5Invalid, chunkQuote(v))
	}
	return sum, nil
}

// VerifyContentMD5 checks a Content-MD5 header value against the MD5 of the
// (decoded) payload. Errors wrap ErrContentMD5Invalid or ErrContentMD5Mismatch.
func VerifyContentMD5(header string, sum [md5.Size]byte) error {
	want, err := ParseContentMD5(header)
	if err != nil {
		return err
	}
	if want != sum {
		return fmt.Errorf("%w: client sent %s, computed %s",
			ErrContentMD5Mismatch, header, EncodeChecksum(sum[:]))
	}
	return nil
}

// MultiHasher is an io.Writer that computes, in one pass, the MD5 (for the
// ETag), the SHA-256 (to verify a signed payload hash and to address the blob)
// and optionally one S3 checksum of everything written to it. Write never
// fails and does not allocate. It is not safe for concurrent use.
type MultiHasher struct {
	md5    hash.Hash
	sha256 hash.Hash
	sum    hash.Hash // nil without a checksum
	alg    ChecksumAlgorithm
	n      int64
}

// NewMultiHasher returns a MultiHasher computing MD5, SHA-256 and, unless alg
// is ChecksumNone, the checksum alg.
func NewMultiHasher(alg ChecksumAlgorithm) *MultiHasher {
	m := &MultiHasher{md5: md5.New(), sha256: sha256.New()}
	if alg.valid() {
		m.alg, m.sum = alg, NewChecksumHash(alg)
	}
	return m
}

// Write adds p to every digest. It always returns len(p), nil.
func (m *MultiHasher) Write(p []byte) (int, error) {
	m.md5.Write(p)
	m.sha256.Write(p)
	if m.sum != nil {
		m.sum.Write(p)
	}
	m.n += int64(len(p))
	return len(p), nil
}

// Len returns the number of bytes written.
func (m *MultiHasher) Len() int64 { return m.n }

// MD5 returns the MD5 digest; its hex form is the ETag of a single-part object.
func (m *MultiHasher) MD5() [md5.Size]byte {
	var s [md5.Size]byte
	m.md5.Sum(s[:0])
	return s
}

// SHA256 returns the SHA-256 digest.
func (m *MultiHasher) SHA256() [sha256.Size]byte {
	var s [sha256.Size]byte
	m.sha256.Sum(s[:0])
	return s
}

// Checksum returns the algorithm and the raw digest of the optional checksum,
// or ChecksumNone and nil. Encode it with EncodeChecksum, or compare it with a
// client's value with VerifyChecksum.
func (m *MultiHasher) Checksum() (ChecksumAlgorithm, []byte) {
	if m.sum == nil {
		return ChecksumNone, nil
	}
	return m.alg, m.sum.Sum(nil)
}

// Reset clears all digests and the length.
func (m *MultiHasher) Reset() {
	m.md5.Reset()
	m.sha256.Reset()
	if m.sum != nil {
		m.sum.Reset()
	}
	m.n = 0
}

var crc32cTable = crc32.MakeTable(crc32.Castagnoli)

// CRC-64/NVME: reflected polynomial 0x9A6C9329AC4BC9B5, init and xorout all
// ones, the same conventions as hash/crc64. hash/crc64 keeps slicing tables
// only for its ISO and ECMA polynomials: with any other table it goes byte by
// byte below 2 KiB and rebuilds a 16 KiB slicing table on every larger Write
// (measured here: 4x slower on 1 KiB writes, 1.8x on 4 KiB). So the
// slicing-by-8 tables are built once and the update loop is hash/crc64's.
const crc64NVMEPoly = 0x9A6C9329AC4BC9B5

var crc64NVMETables = sync.OnceValue(func() *[8][256]uint64 {
	t := new([8][256]uint64)
	t[0] = *crc64.MakeTable(crc64NVMEPoly)
	for i := range 256 {
		crc := t[0][i]
		for j := 1; j < 8; j++ {
			crc = t[0][crc&0xff] ^ crc>>8
			t[j][i] = crc
		}
	}
	return t
})

type crc64NVME struct {
	crc uint64
	tab *[8][256]uint64
}

func (d *crc64NVME) Size() int      { return crc64.Size }
func (d *crc64NVME) BlockSize() int { return 1 }
func (d *crc64NVME) Reset()         { d.crc = 0 }
func (d *crc64NVME) Sum64() uint64  { return d.crc }
func (d *crc64NVME) Sum(in []byte) []byte {
	return binary.BigEndian.AppendUint64(in, d.crc)
}

func (d *crc64NVME) Write(p []byte) (int, error) {
	n, t := len(p), d.tab
	crc := ^d.crc
	for len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint64(p)
		crc = t[7][crc&0xff] ^ t[6][crc>>8&0xff] ^ t[5][crc>>16&0xff] ^ t[4][crc>>24&0xff] ^
			t[3][crc>>32&0xff] ^ t[2][crc>>40&0xff] ^ t[1][crc>>48&0xff] ^ t[0][crc>>56]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	d.crc = ^crc
	return n, nil
}

var _ hash.Hash64 = (*crc64NVME)(nil)
