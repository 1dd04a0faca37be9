package sig

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4signer "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	miniosigner "github.com/minio/minio-go/v7/pkg/signer"
)

// Credentials and time of the captures in shared/wire/aws-cli-requests.md
// (§4b: minio-go signed chunks at 20261128T094921Z).
const (
	chunkTAccessKey = "S4AK3TP6X1K4WZU8AJFHGK4M"
	chunkTSecret    = "alu2/uh8Sc9WwAt4dn91LckXJiy+jYOedxSXBGFM"
	chunkTRegion    = "us-east-1"
	chunkTSeed      = "9deb0e3e00000000000000000000000000000000000000000000000000f4ef00"
	chunkTWireBody  = "9\r\nhello s4\n\r\n0\r\nx-amz-checksum-crc32:HIHzPw==\r\n\r\n"
	chunkTHello     = "hello s4\n"
)

var chunkTTime = time.Date(2026, 11, 28, 9, 49, 21, 0, time.UTC)

// chunkTSigner computes chunk and trailer signatures from the AWS definition,
// independently of the decoder and of the SDKs.
type chunkTSigner struct {
	key            []byte
	amzDate, scope string
}

func chunkTHMAC(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

func newChunkTSigner(secret, region string, t time.Time) *chunkTSigner {
	date := t.UTC().Format("20060102")
	k := chunkTHMAC([]byte("AWS4"+secret), date)
	k = chunkTHMAC(k, region)
	k = chunkTHMAC(k, "s3")
	k = chunkTHMAC(k, "aws4_request")
	return &chunkTSigner{key: k, amzDate: t.UTC().Format("20060102T150405Z"), scope: date + "/" + region + "/s3/aws4_request"}
}

var chunkTEmptyHex = func() string { e := sha256.Sum256(nil); return hex.EncodeToString(e[:]) }()

func (s *chunkTSigner) chunk(prev string, sum []byte) string {
	return hex.EncodeToString(chunkTHMAC(s.key, "AWS4-HMAC-SHA256-PAYLOAD\n"+s.amzDate+"\n"+s.scope+"\n"+
		prev+"\n"+chunkTEmptyHex+"\n"+hex.EncodeToString(sum)))
}

func (s *chunkTSigner) trailer(prev string, sum []byte) string {
	return hex.EncodeToString(chunkTHMAC(s.key, "AWS4-HMAC-SHA256-TRAILER\n"+s.amzDate+"\n"+s.scope+"\n"+
		prev+"\n"+hex.EncodeToString(sum)))
}

var chunkTWireSigner = newChunkTSigner(chunkTSecret, chunkTRegion, chunkTTime)

// chunkTEnc encodes test bodies the way the SDKs do (TestChunkedSDKStreamSigner
// checks that the bytes are the same as aws-sdk-go-v2's).
type chunkTEnc struct {
	mode      ChunkedMode
	chunkSize int
	trailer   string // x-amz-trailer, "" for none
	value     string // trailer value; "" means the correct checksum
	quirk     bool   // minio-go's "\n\r\n" trailer line end
}

func (e chunkTEnc) encode(data []byte) []byte {
	var b bytes.Buffer
	signed := e.mode == ChunkedSigned || e.mode == ChunkedSignedTrailer
	prev := chunkTSeed
	writeChunk := func(p []byte) {
		b.WriteString(strconv.FormatInt(int64(len(p)), 16))
		if signed {
			sum := sha256.Sum256(p)
			prev = chunkTWireSigner.chunk(prev, sum[:])
			b.WriteString(";chunk-signature=" + prev)
		}
		b.WriteString("\r\n")
		if len(p) > 0 {
			b.Write(p)
			b.WriteString("\r\n")
		}
	}
	for p := data; len(p) > 0; {
		n := min(len(p), e.chunkSize)
		writeChunk(p[:n])
		p = p[n:]
	}
	writeChunk(nil)
	var signedLines string
	if e.trailer != "" {
		v := e.value
		if v == "" {
			alg, _ := ChecksumAlgorithmFromHeader(e.trailer)
			v = checksumTOf(alg, data)
		}
		line := e.trailer + ":" + v
		signedLines = line + "\n"
		if e.quirk {
			b.WriteString(line + "\n\r\n")
		} else {
			b.WriteString(line + "\r\n")
		}
	}
	if e.mode == ChunkedSignedTrailer {
		sum := sha256.Sum256([]byte(signedLines))
		b.WriteString("x-amz-trailer-signature:" + chunkTWireSigner.trailer(prev, sum[:]) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func (e chunkTEnc) config(decoded int64) ChunkedConfig {
	return chunkTConfig(e.mode, e.trailer, decoded)
}

func chunkTConfig(mode ChunkedMode, trailer string, decoded int64) ChunkedConfig {
	cfg := ChunkedConfig{Mode: mode, DecodedLength: decoded, Trailer: trailer}
	if mode == ChunkedSigned || mode == ChunkedSignedTrailer {
		cfg.SeedSignature = chunkTSeed
		cfg.SignChunk = chunkTWireSigner.chunk
		cfg.SignTrailer = chunkTWireSigner.trailer
	}
	return cfg
}

// chunkTDecode reads the whole payload with reads of bufSize bytes.
func chunkTDecode(body []byte, cfg ChunkedConfig, wrap func(io.Reader) io.Reader, bufSize int) ([]byte, *ChunkedReader, error) {
	var r io.Reader = bytes.NewReader(body)
	if wrap != nil {
		r = wrap(r)
	}
	cr := NewChunkedReader(r, cfg)
	var out []byte
	buf := make([]byte, bufSize)
	for zero := 0; zero < 1000; {
		n, err := cr.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, cr, nil
		}
		if err != nil {
			return out, cr, err
		}
		if n == 0 {
			zero++
		}
	}
	return out, cr, errors.New("no progress")
}

func chunkTRandom(n int, seed uint64) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// The exact bytes aws-cli sends over https (wire doc §4a) and minio-go's
// unsigned-trailer variant.
func TestChunkedWireDoc(t *testing.T) {
	cases := []struct {
		name, body, trailer string
		decoded             int64
		want, sum           string
		alg                 ChecksumAlgorithm
	}{
		{"botocore", chunkTWireBody, "x-amz-checksum-crc32", 9, chunkTHello, "HIHzPw==", ChecksumCRC32},
		{"botocore unknown length", chunkTWireBody, "x-amz-checksum-crc32", -1, chunkTHello, "HIHzPw==", ChecksumCRC32},
		{"botocore empty object", "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", "x-amz-checksum-crc32", 0, "", "AAAAAA==", ChecksumCRC32},
		{"minio-go unsigned trailer", "9\r\nhello s4\n\r\n0\r\nx-amz-checksum-crc32c:/QZYWQ==\n\r\n\r\n", "x-amz-checksum-crc32c", 9, chunkTHello, "/QZYWQ==", ChecksumCRC32C},
		{"no trailer", "9\r\nhello s4\n\r\n0\r\n\r\n", "", 9, chunkTHello, "", ChecksumNone},
		{"upper-case hex and trailer name", "9\r\nhello s4\n\r\n0\r\nX-Amz-Checksum-CRC32:HIHzPw==\r\n\r\n", "X-Amz-Checksum-Crc32", 9, chunkTHello, "HIHzPw==", ChecksumCRC32},
	}
	if len(chunkTWireBody) != 50 {
		t.Fatalf("wire body is %d bytes, the capture has 50", len(chunkTWireBody))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cr := NewChunkedReader(strings.NewReader(c.body), chunkTConfig(ChunkedUnsignedTrailer, c.trailer, c.decoded))
			if _, _, ok := cr.Checksum(); ok {
				t.Error("Checksum ok before EOF")
			}
			out, err := io.ReadAll(cr)
			if err != nil || string(out) != c.want {
				t.Fatalf("got %q, %v; want %q", out, err, c.want)
			}
			alg, v, ok := cr.Checksum()
			if ok != (c.sum != "") || v != c.sum || alg != c.alg {
				t.Errorf("Checksum() = %v %q %v, want %v %q", alg, v, ok, c.alg, c.sum)
			}
			if n, err := cr.Read(make([]byte, 10)); n != 0 || err != io.EOF {
				t.Errorf("Read after EOF = %d, %v", n, err)
			}
		})
	}
}

// The last chunk of the minio-go capture (§4b) checks chunkTSigner against
// real client output, and the decoder against it: with the first chunk's
// signature as the seed, the captured final chunk must verify.
func TestChunkedWireDocMinioFinalChunk(t *testing.T) {
	const (
		sig1     = "48952b7b82e930373ce0b75bd11e236c0c3fdd37cd720298baa783ba5dc6a68d"
		sigFinal = "9603490f1a367418900dba7966f6fd8999fc68749fbdc2de28a72336fee5c460"
	)
	empty := sha256.Sum256(nil)
	if got := chunkTWireSigner.chunk(sig1, empty[:]); got != sigFinal {
		t.Fatalf("test signer: final chunk signature %s, capture has %s", got, sigFinal)
	}
	cfg := chunkTConfig(ChunkedSigned, "", 0)
	cfg.SeedSignature = sig1
	body := "0;chunk-signature=" + sigFinal + "\r\n\r\n"
	if out, _, err := chunkTDecode([]byte(body), cfg, nil, 64); err != nil || len(out) != 0 {
		t.Fatalf("captured final chunk: %q, %v", out, err)
	}
	cfg.SeedSignature = sigFinal
	if _, _, err := chunkTDecode([]byte(body), cfg, nil, 64); !errors.Is(err, ErrChunkSignatureMismatch) {
		t.Fatalf("wrong seed: %v", err)
	}
}

func TestChunkedParseModeAndContentEncoding(t *testing.T) {
	for _, m := range []ChunkedMode{ChunkedSigned, ChunkedSignedTrailer, ChunkedUnsignedTrailer} {
		if got, ok := ParseChunkedMode(m.String()); !ok || got != m {
			t.Errorf("ParseChunkedMode(%q) = %v, %v", m.String(), got, ok)
		}
	}
	for _, v := range []string{"", "UNSIGNED-PAYLOAD", chunkTEmptyHex, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "streaming-unsigned-payload-trailer"} {
		if m, ok := ParseChunkedMode(v); ok {
			t.Errorf("ParseChunkedMode(%q) = %v", v, m)
		}
	}
	for in, want := range map[string]string{
		"aws-chunked": "", "gzip,aws-chunked": "gzip", "aws-chunked, gzip": "gzip",
		"gzip, AWS-Chunked ,br": "gzip,br", "gzip": "gzip", "": "",
	} {
		got, found := ChunkedStripContentEncoding(in)
		if got != want || found != strings.Contains(strings.ToLower(in), "aws-chunked") {
			t.Errorf("ChunkedStripContentEncoding(%q) = %q, %v", in, got, found)
		}
	}
}

// A 20 MiB single PUT from aws-cli over https: twenty 1 MiB chunks, 20971756
// bytes on the wire (wire doc §2), decoded through several read patterns.
func TestChunkedUnsignedTrailer20MiB(t *testing.T) {
	data := chunkTRandom(20<<20, 20)
	enc := chunkTEnc{mode: ChunkedUnsignedTrailer, chunkSize: 1 << 20, trailer: "x-amz-checksum-crc32"}
	body := enc.encode(data)
	if len(body) != 20971756 {
		t.Fatalf("encoded %d bytes, aws-cli sent 20971756", len(body))
	}
	want := sha256.Sum256(data)
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
		buf  int
	}{
		{"32KiB reads", nil, 32 << 10},
		{"1MiB+1 reads", nil, 1<<20 + 1},
		{"half reader, odd reads", iotest.HalfReader, 12345},
	}
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			out, cr, err := chunkTDecode(body, enc.config(int64(len(data))), r.wrap, r.buf)
			if err != nil || sha256.Sum256(out) != want {
				t.Fatalf("len %d, err %v", len(out), err)
			}
			if _, v, ok := cr.Checksum(); !ok || v != checksumTOf(ChecksumCRC32, data) {
				t.Errorf("Checksum() = %q, %v", v, ok)
			}
		})
	}
}

// Small bodies in every mode through readers that return one byte at a time,
// half reads, and data with EOF.
func TestChunkedModesAndReaders(t *testing.T) {
	data := chunkTRandom(70000, 7)
	encs := []chunkTEnc{
		{mode: ChunkedSigned, chunkSize: 8192},
		{mode: ChunkedSigned, chunkSize: 64 << 10},
		{mode: ChunkedSignedTrailer, chunkSize: 64 << 10, trailer: "x-amz-checksum-crc32c", quirk: true},
		{mode: ChunkedSignedTrailer, chunkSize: 9000, trailer: "x-amz-checksum-sha256"},
		{mode: ChunkedSignedTrailer, chunkSize: 9000},
		{mode: ChunkedUnsignedTrailer, chunkSize: 1000, trailer: "x-amz-checksum-crc64nvme"},
		{mode: ChunkedUnsignedTrailer, chunkSize: 70000, trailer: "x-amz-checksum-sha1", quirk: true},
		{mode: ChunkedUnsignedTrailer, chunkSize: 3},
	}
	wraps := map[string]func(io.Reader) io.Reader{
		"plain": nil, "one byte": iotest.OneByteReader, "half": iotest.HalfReader, "data+EOF": iotest.DataErrReader,
	}
	for _, e := range encs {
		for _, n := range []int{0, 1, 9, len(data)} {
			body := e.encode(data[:n])
			for wname, wrap := range wraps {
				for _, decoded := range []int64{int64(n), -1} {
					name := fmt.Sprintf("%v/%d/%s/trailer=%q/quirk=%v/len=%d/decoded=%d", e.mode, e.chunkSize, wname, e.trailer, e.quirk, n, decoded)
					out, cr, err := chunkTDecode(body, e.config(decoded), wrap, 4096)
					if err != nil || !bytes.Equal(out, data[:n]) {
						t.Fatalf("%s: %d bytes, %v", name, len(out), err)
					}
					if alg, v, ok := cr.Checksum(); ok != (e.trailer != "") || (ok && (v != checksumTOf(alg, data[:n]) || alg.HeaderName() != e.trailer)) {
						t.Fatalf("%s: Checksum() = %v %q %v", name, alg, v, ok)
					}
				}
			}
		}
	}
}

// Bodies whose chunk signatures come from aws-sdk-go-v2's StreamSigner (the
// event-stream signer; with empty headers its string to sign is the
// aws-chunked one) decode with the test signer's SignChunk: the decoder's
// contract matches the SDK. The bytes also equal chunkTEnc's, which the
// tamper tests below rely on.
func TestChunkedSDKStreamSigner(t *testing.T) {
	data := chunkTRandom(3<<20+17, 3)
	creds := aws.Credentials{AccessKeyID: chunkTAccessKey, SecretAccessKey: chunkTSecret}
	for _, c := range []struct {
		mode      ChunkedMode
		n, chunk  int
		trailer   string
		withQuirk bool
	}{
		{ChunkedSigned, 0, 64 << 10, "", false},
		{ChunkedSigned, 9, 64 << 10, "", false},
		{ChunkedSigned, 200 << 10, 64 << 10, "", false},
		{ChunkedSigned, len(data), 1 << 20, "", false},
		{ChunkedSignedTrailer, 9, 64 << 10, "x-amz-checksum-crc32c", false},
		{ChunkedSignedTrailer, len(data), 1 << 20, "x-amz-checksum-crc32", false},
		{ChunkedSignedTrailer, 100000, 8 << 10, "x-amz-checksum-crc64nvme", true},
	} {
		name := fmt.Sprintf("%v/%d/%d/%s", c.mode, c.n, c.chunk, c.trailer)
		payload := data[:c.n]
		seed, _ := hex.DecodeString(chunkTSeed)
		ss := v4signer.NewStreamSigner(creds, "s3", chunkTRegion, seed)
		var b bytes.Buffer
		var prev string
		for p, last := payload, false; !last; {
			n := min(len(p), c.chunk)
			last = n == 0
			sig, err := ss.GetSignature(context.Background(), nil, p[:n], chunkTTime)
			if err != nil {
				t.Fatal(err)
			}
			prev = hex.EncodeToString(sig)
			fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", n, prev)
			if n > 0 {
				b.Write(p[:n])
				b.WriteString("\r\n")
			}
			p = p[n:]
		}
		if c.mode == ChunkedSignedTrailer {
			alg, _ := ChecksumAlgorithmFromHeader(c.trailer)
			line := c.trailer + ":" + checksumTOf(alg, payload)
			sum := sha256.Sum256([]byte(line + "\n"))
			end := "\r\n"
			if c.withQuirk {
				end = "\n\r\n"
			}
			b.WriteString(line + end + "x-amz-trailer-signature:" + chunkTWireSigner.trailer(prev, sum[:]) + "\r\n")
		}
		b.WriteString("\r\n")
		enc := chunkTEnc{mode: c.mode, chunkSize: c.chunk, trailer: c.trailer, quirk: c.withQuirk}
		if !bytes.Equal(b.Bytes(), enc.encode(payload)) {
			t.Fatalf("%s: SDK-signed body differs from the test encoder's", name)
		}
		out, cr, err := chunkTDecode(b.Bytes(), enc.config(int64(c.n)), nil, 32<<10)
		if err != nil || !bytes.Equal(out, payload) {
			t.Fatalf("%s: %d bytes, %v", name, len(out), err)
		}
		if _, _, ok := cr.Checksum(); ok != (c.trailer != "") {
			t.Errorf("%s: Checksum ok = %v", name, ok)
		}
	}
}

// aws-sdk-go-v2's real PutObject over https with a checksum: the body of a
// seekable (known-length) stream is one chunk of the whole payload, an
// unseekable stream comes in 64 KiB chunks without
// x-amz-decoded-content-length. Both decode, streamed, with the trailer
// checksum verified.
func TestChunkedAWSSDKGoV2PutObject(t *testing.T) {
	data := chunkTRandom(3<<20+5, 21)
	type result struct {
		err       error
		firstLine string
		sum       [32]byte
		alg       ChecksumAlgorithm
		value     string
		decoded   string
	}
	results := make(chan result, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var res result
		mode, ok := ParseChunkedMode(r.Header.Get("X-Amz-Content-Sha256"))
		if _, found := ChunkedStripContentEncoding(r.Header.Get("Content-Encoding")); !ok || !found {
			res.err = fmt.Errorf("not aws-chunked: %q %q", r.Header.Get("X-Amz-Content-Sha256"), r.Header.Get("Content-Encoding"))
		} else {
			res.decoded = r.Header.Get("X-Amz-Decoded-Content-Length")
			decoded := int64(-1)
			if res.decoded != "" {
				decoded, _ = strconv.ParseInt(res.decoded, 10, 64)
			}
			first := &chunkTPrefix{max: 32}
			cr := NewChunkedReader(io.TeeReader(r.Body, first), ChunkedConfig{Mode: mode, DecodedLength: decoded, Trailer: r.Header.Get("X-Amz-Trailer")})
			h := sha256.New()
			_, res.err = io.Copy(h, cr)
			h.Sum(res.sum[:0])
			res.alg, res.value, _ = cr.Checksum()
			res.firstLine, _, _ = strings.Cut(string(first.b), "\r\n")
		}
		results <- res
		if res.err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("ETag", `"x"`)
	}))
	defer srv.Close()
	client := awss3.New(awss3.Options{
		HTTPClient: srv.Client(), BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Region: chunkTRegion, RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: chunkTAccessKey, SecretAccessKey: chunkTSecret}, nil
		}),
	})
	for _, c := range []struct {
		alg       s3types.ChecksumAlgorithm
		want      ChecksumAlgorithm
		seekable  bool
		firstLine string
		decoded   string
	}{
		{s3types.ChecksumAlgorithmCrc32, ChecksumCRC32, true, strconv.FormatInt(int64(len(data)), 16), strconv.Itoa(len(data))},
		{s3types.ChecksumAlgorithmCrc64nvme, ChecksumCRC64NVME, true, strconv.FormatInt(int64(len(data)), 16), strconv.Itoa(len(data))},
		{s3types.ChecksumAlgorithmCrc32c, ChecksumCRC32C, false, "10000", ""},
		{s3types.ChecksumAlgorithmSha256, ChecksumSHA256, false, "10000", ""},
	} {
		var body io.Reader = bytes.NewReader(data)
		if !c.seekable {
			body = struct{ io.Reader }{body}
		}
		_, err := client.PutObject(context.Background(), &awss3.PutObjectInput{
			Bucket: aws.String("bkt"), Key: aws.String("k"), Body: body, ChecksumAlgorithm: c.alg,
		})
		var res result
		select {
		case res = <-results:
		case <-time.After(time.Minute):
			t.Fatalf("%v: no request reached the server (client error %v)", c.alg, err)
		}
		if err != nil || res.err != nil {
			t.Fatalf("%v seekable=%v: client %v, server %v", c.alg, c.seekable, err, res.err)
		}
		if res.sum != sha256.Sum256(data) || res.alg != c.want || res.value != checksumTOf(c.want, data) {
			t.Errorf("%v seekable=%v: payload or checksum wrong: %v %q", c.alg, c.seekable, res.alg, res.value)
		}
		if res.firstLine != c.firstLine || res.decoded != c.decoded {
			t.Errorf("%v seekable=%v: first chunk %q, decoded length %q; want %q, %q", c.alg, c.seekable, res.firstLine, res.decoded, c.firstLine, c.decoded)
		}
	}
}

// chunkTPrefix keeps the first max bytes written to it.
type chunkTPrefix struct {
	b   []byte
	max int
}

func (p *chunkTPrefix) Write(b []byte) (int, error) {
	if n := p.max - len(p.b); n > 0 {
		p.b = append(p.b, b[:min(n, len(b))]...)
	}
	return len(b), nil
}

type chunkTSHA256Hasher struct{ hash.Hash }

func (chunkTSHA256Hasher) Close() {}

// Bodies produced by minio-go's own streaming signers (signed, signed with a
// trailer, unsigned with a trailer), including its "\n\r\n" trailer quirk.
func TestChunkedMinioGoSigner(t *testing.T) {
	data := chunkTRandom(200<<10+5, 11)
	crc := checksumTOf(ChecksumCRC32C, data)
	for _, c := range []struct {
		name    string
		trailer bool
		signed  bool
	}{
		{"signed", false, true},
		{"signed trailer", true, true},
		{"unsigned trailer", true, false},
	} {
		req, err := http.NewRequest(http.MethodPut, "http://127.0.0.1:18080/bkt/obj", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if c.trailer {
			req.Trailer = http.Header{"X-Amz-Checksum-Crc32c": {crc}}
		}
		if c.signed {
			req = miniosigner.StreamingSignV4(req, chunkTAccessKey, chunkTSecret, "", chunkTRegion, int64(len(data)), chunkTTime, chunkTSHA256Hasher{sha256.New()})
		} else {
			req = miniosigner.StreamingUnsignedV4(req, "", int64(len(data)), chunkTTime)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatal(err)
		}
		// The signed variant sets the streaming headers itself; for the
		// unsigned one minio-go's caller does, so they are filled in here.
		mode, trailer, decoded := ChunkedUnsignedTrailer, "x-amz-checksum-crc32c", int64(len(data))
		if c.signed {
			var ok bool
			if mode, ok = ParseChunkedMode(req.Header.Get("X-Amz-Content-Sha256")); !ok {
				t.Fatalf("%s: x-amz-content-sha256 %q", c.name, req.Header.Get("X-Amz-Content-Sha256"))
			}
			trailer = req.Header.Get("X-Amz-Trailer")
			decoded, _ = strconv.ParseInt(req.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		}
		cfg := chunkTConfig(mode, trailer, decoded)
		if c.signed {
			_, seed, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
			cfg.SeedSignature = seed
		}
		if int64(len(body)) != req.ContentLength {
			t.Fatalf("%s: body %d bytes, Content-Length %d", c.name, len(body), req.ContentLength)
		}
		out, cr, err := chunkTDecode(body, cfg, nil, 32<<10)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("%s (%v): %d bytes, %v", c.name, mode, len(out), err)
		}
		if _, v, ok := cr.Checksum(); ok != c.trailer || (ok && v != crc) {
			t.Errorf("%s: Checksum() = %q %v", c.name, v, ok)
		}
		if c.signed { // a flipped payload byte must fail the chunk signature
			i := bytes.Index(body, data[100:116]) + 3
			body[i] ^= 1
			if _, _, err := chunkTDecode(body, cfg, nil, 32<<10); !errors.Is(err, ErrChunkSignatureMismatch) {
				t.Errorf("%s: tampered: %v", c.name, err)
			}
		}
	}
}

func TestChunkedTampered(t *testing.T) {
	data := chunkTRandom(100000, 5)
	unsigned := chunkTEnc{mode: ChunkedUnsignedTrailer, chunkSize: 16 << 10, trailer: "x-amz-checksum-crc32"}
	signed := chunkTEnc{mode: ChunkedSigned, chunkSize: 16 << 10}
	signedTr := chunkTEnc{mode: ChunkedSignedTrailer, chunkSize: 16 << 10, trailer: "x-amz-checksum-sha256"}
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 0x20; return b }
	flipHex := func(b []byte, i int) []byte { b = bytes.Clone(b); chunkTFlipHex(b, i); return b }
	dataAt := func(b []byte, off int) int { return bytes.Index(b, data[off:off+32]) }
	wrongCRC := checksumTOf(ChecksumCRC32, data[1:])
	wrongSHA := checksumTOf(ChecksumSHA256, data[1:])
	cases := []struct {
		name string
		enc  chunkTEnc
		mut  func([]byte) []byte
		want error
	}{
		{"unsigned: data byte", unsigned, func(b []byte) []byte { return flip(b, dataAt(b, 50000)) }, ErrChecksumMismatch},
		{"unsigned: last data byte", unsigned, func(b []byte) []byte { return flip(b, dataAt(b, len(data)-32)+31) }, ErrChecksumMismatch},
		{"unsigned: checksum value", unsigned.with(wrongCRC), nil, ErrChecksumMismatch},
		{"unsigned: checksum of other algorithm", unsigned.with(checksumTOf(ChecksumCRC32C, data)), nil, ErrChecksumMismatch},
		{"unsigned: checksum not base64", unsigned.with("HIHzPw=!"), nil, ErrChecksumInvalid},
		{"unsigned: checksum too long", unsigned.with(checksumTOf(ChecksumCRC64NVME, data)), nil, ErrChecksumInvalid},
		{"unsigned: empty checksum", unsigned.with(" "), nil, ErrChecksumInvalid},
		{"signed: data byte", signed, func(b []byte) []byte { return flip(b, dataAt(b, 50000)) }, ErrChunkSignatureMismatch},
		{"signed: final chunk signature", signed, func(b []byte) []byte { return flipHex(b, len(b)-5) }, ErrChunkSignatureMismatch},
		{"signed: upper-case signature", signed, func(b []byte) []byte {
			i := bytes.Index(b, []byte("signature=")) + 10
			j := i + bytes.IndexAny(b[i:], "abcdef")
			return flip(b, j)
		}, ErrChunkSignatureMismatch},
		{"signed trailer: data byte", signedTr, func(b []byte) []byte { return flip(b, dataAt(b, 99000)) }, ErrChunkSignatureMismatch},
		{"signed trailer: checksum value", signedTr, func(b []byte) []byte {
			return bytes.Replace(b, []byte(checksumTOf(ChecksumSHA256, data)), []byte(wrongSHA), 1)
		}, ErrChunkSignatureMismatch},
		{"signed trailer: trailer signature", signedTr, func(b []byte) []byte { return flipHex(b, len(b)-5) }, ErrChunkSignatureMismatch},
		{"signed trailer: signed wrong checksum", signedTr.with(wrongSHA), nil, ErrChecksumMismatch},
	}
	for _, c := range cases {
		body := c.enc.encode(data)
		if c.mut != nil {
			body = c.mut(body)
		}
		out, _, err := chunkTDecode(body, c.enc.config(int64(len(data))), nil, 8192)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		if len(out) > len(data) {
			t.Errorf("%s: %d bytes out of %d", c.name, len(out), len(data))
		}
	}
}

func (e chunkTEnc) with(value string) chunkTEnc { e.value = value; return e }

// A wrong signature on chunk k stops the stream at chunk k: chunks before it
// are delivered (verified), no byte after chunk k is.
func TestChunkedWrongSignatureOnChunkK(t *testing.T) {
	const chunk, chunks = 10000, 5
	data := chunkTRandom(chunk*chunks, 9)
	for _, mode := range []ChunkedMode{ChunkedSigned, ChunkedSignedTrailer} {
		enc := chunkTEnc{mode: mode, chunkSize: chunk}
		if mode == ChunkedSignedTrailer {
			enc.trailer = "x-amz-checksum-crc32"
		}
		body := enc.encode(data)
		for k := 0; k <= chunks; k++ { // k == chunks is the final, empty chunk
			tampered := bytes.Clone(body)
			at := 0
			for range k + 1 {
				at += bytes.Index(tampered[at:], []byte(";chunk-signature=")) + 1
			}
			at += len("chunk-signature=") + 10
			chunkTFlipHex(tampered, at)
			out, _, err := chunkTDecode(tampered, enc.config(int64(len(data))), nil, 3000)
			if !errors.Is(err, ErrChunkSignatureMismatch) {
				t.Fatalf("%v chunk %d: err %v", mode, k, err)
			}
			if len(out) < k*chunk || len(out) > (k+1)*chunk || !bytes.Equal(out, data[:len(out)]) {
				t.Fatalf("%v chunk %d: %d bytes delivered", mode, k, len(out))
			}
		}
	}
}

// chunkTFlipHex changes the hex digit b[i] into another hex digit.
func chunkTFlipHex(b []byte, i int) {
	if b[i] == '0' {
		b[i] = '1'
	} else {
		b[i] = '0'
	}
}

// Every proper prefix of a valid body fails with ErrChunkIncompleteBody and
// never yields bytes that are not a prefix of the payload.
func TestChunkedTruncatedEverywhere(t *testing.T) {
	data := []byte(chunkTHello)
	for _, e := range []chunkTEnc{
		{mode: ChunkedUnsignedTrailer, chunkSize: 4, trailer: "x-amz-checksum-crc32"},
		{mode: ChunkedUnsignedTrailer, chunkSize: 4, trailer: "x-amz-checksum-crc32", quirk: true},
		{mode: ChunkedUnsignedTrailer, chunkSize: 4},
		{mode: ChunkedSigned, chunkSize: 4},
		{mode: ChunkedSignedTrailer, chunkSize: 4, trailer: "x-amz-checksum-crc32c"},
		{mode: ChunkedSignedTrailer, chunkSize: 4, trailer: "x-amz-checksum-crc32c", quirk: true},
	} {
		body := e.encode(data)
		for _, decoded := range []int64{int64(len(data)), -1} {
			if out, _, err := chunkTDecode(body, e.config(decoded), nil, 5); err != nil || !bytes.Equal(out, data) {
				t.Fatalf("%+v: full body: %q, %v", e, out, err)
			}
			for i := range len(body) {
				for _, wrap := range []func(io.Reader) io.Reader{nil, iotest.OneByteReader} {
					out, _, err := chunkTDecode(body[:i], e.config(decoded), wrap, 5)
					if !errors.Is(err, ErrChunkIncompleteBody) {
						t.Fatalf("%+v decoded=%d: cut at %d/%d (%q): err %v", e, decoded, i, len(body), body[i:], err)
					}
					if !bytes.HasPrefix(data, out) {
						t.Fatalf("%+v: cut at %d: delivered %q", e, i, out)
					}
				}
			}
		}
	}
}

func TestChunkedMalformed(t *testing.T) {
	const trailer = "x-amz-checksum-crc32:HIHzPw==\r\n\r\n"
	signedBody := string(chunkTEnc{mode: ChunkedSigned, chunkSize: 4}.encode([]byte(chunkTHello)))
	signedTrBody := string(chunkTEnc{mode: ChunkedSignedTrailer, chunkSize: 4, trailer: "x-amz-checksum-crc32"}.encode([]byte(chunkTHello)))
	trailerSigLine := signedTrBody[strings.Index(signedTrBody, "x-amz-trailer-signature"):]
	crc32Trailer := "x-amz-checksum-crc32"
	sigAt := strings.Index(signedBody, "=") + 1
	cases := []struct {
		name    string
		mode    ChunkedMode
		trailer string
		decoded int64
		max     int64
		body    string
		want    error
	}{
		{"non-hex size", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "g\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"empty size", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"0x prefix", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "0x9\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"sign", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "+9\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"negative", ChunkedUnsignedTrailer, crc32Trailer, -1, 0, "-9\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"space after size", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9 \r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"space before size", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, " 9\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"chunk over the default 5 GiB cap", ChunkedUnsignedTrailer, crc32Trailer, -1, 0, "140000001\r\nhello", ErrChunkMalformed},
		{"chunk at the default cap", ChunkedUnsignedTrailer, crc32Trailer, -1, 0, "140000000\r\nhello", ErrChunkIncompleteBody},
		{"chunk over a configured cap", ChunkedUnsignedTrailer, crc32Trailer, 9, 8, "9\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"size overflows int64", ChunkedUnsignedTrailer, crc32Trailer, -1, 0, "10000000000000009\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"bare LF after size", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"bare LF after data", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\r\nhello s4\n\n0\r\n" + trailer, ErrChunkMalformed},
		{"no CRLF after data", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\r\nhello s4\n0\r\n" + trailer, ErrChunkMalformed},
		{"data longer than size", ChunkedUnsignedTrailer, crc32Trailer, -1, 0, "8\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"data shorter than size", ChunkedUnsignedTrailer, crc32Trailer, -1, 0, "a\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"missing final chunk", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\r\nhello s4\n\r\n", ErrChunkIncompleteBody},
		{"missing final CRLF", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\r\nhello s4\n\r\n0\r\nx-amz-checksum-crc32:HIHzPw==\r\n", ErrChunkIncompleteBody},
		{"empty body", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "", ErrChunkIncompleteBody},
		{"garbage after trailer", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, chunkTWireBody + "x", ErrChunkMalformed},
		{"extra CRLF after trailer", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, chunkTWireBody + "\r\n", ErrChunkMalformed},
		{"second body after the end", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, chunkTWireBody + chunkTWireBody, ErrChunkMalformed},
		{"undeclared trailer", ChunkedUnsignedTrailer, "", 9, 0, chunkTWireBody, ErrChunkMalformed},
		{"declared trailer missing", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\r\nhello s4\n\r\n0\r\n\r\n", ErrChunkMalformed},
		{"other trailer than declared", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\r\nhello s4\n\r\n0\r\nx-amz-checksum-crc32c:/QZYWQ==\r\n\r\n", ErrChunkMalformed},
		{"repeated trailer", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\r\nhello s4\n\r\n0\r\n" + "x-amz-checksum-crc32:HIHzPw==\r\n" + trailer, ErrChunkMalformed},
		{"trailer without colon", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\r\nhello s4\n\r\n0\r\nx-amz-checksum-crc32\r\n\r\n", ErrChunkMalformed},
		{"space after trailer colon", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\r\nhello s4\n\r\n0\r\nx-amz-checksum-crc32: HIHzPw==\r\n\r\n", ErrChecksumInvalid},
		{"bare LF trailer line", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\r\nhello s4\n\r\n0\r\nx-amz-checksum-crc32:HIHzPw==\n\n", ErrChunkMalformed},
		{"bare LF empty line", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\r\nhello s4\n\r\n0\r\nx-amz-checksum-crc32:HIHzPw==\r\n\n", ErrChunkMalformed},
		{"trailer signature in unsigned mode", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9\r\nhello s4\n\r\n0\r\nx-amz-checksum-crc32:HIHzPw==\r\n" + trailerSigLine, ErrChunkMalformed},
		{"chunk-signature in unsigned mode", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9;chunk-signature=" + strings.Repeat("0", 64) + "\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"empty extension in unsigned mode", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, "9;\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"line too long", ChunkedUnsignedTrailer, crc32Trailer, 9, 0, strings.Repeat("0", 300) + "9\r\nhello s4\n\r\n0\r\n" + trailer, ErrChunkMalformed},
		{"no newline in 20 KiB", ChunkedUnsignedTrailer, crc32Trailer, -1, 0, strings.Repeat("0", 20<<10), ErrChunkMalformed},
		{"more than decoded length", ChunkedUnsignedTrailer, crc32Trailer, 8, 0, chunkTWireBody, ErrChunkMalformed},
		{"less than decoded length", ChunkedUnsignedTrailer, crc32Trailer, 10, 0, chunkTWireBody, ErrChunkIncompleteBody},
		{"unsupported trailer", ChunkedUnsignedTrailer, "x-amz-checksum-sha512", 9, 0, chunkTWireBody, ErrChunkMalformed},
		{"two trailers declared", ChunkedUnsignedTrailer, "x-amz-checksum-crc32,x-amz-checksum-crc32c", 9, 0, chunkTWireBody, ErrChunkMalformed},
		{"signed: no chunk-signature", ChunkedSigned, "", 9, 0, "9\r\nhello s4\n\r\n0\r\n\r\n", ErrChunkMalformed},
		{"signed: short signature", ChunkedSigned, "", 9, 0, signedBody[:sigAt] + signedBody[sigAt+2:], ErrChunkMalformed},
		{"signed: non-hex signature", ChunkedSigned, "", 9, 0, chunkTReplaceSig(signedBody, 0, "g"), ErrChunkMalformed},
		{"signed: other extension", ChunkedSigned, "", 9, 0, strings.Replace(signedBody, "chunk-signature=", "chunk-signatur=", 1), ErrChunkMalformed},
		{"signed: extra extension", ChunkedSigned, "", 9, 0, strings.Replace(signedBody, "\r\nhell", ";x=y\r\nhell", 1), ErrChunkMalformed},
		{"signed: trailer line", ChunkedSigned, "", 9, 0, strings.TrimSuffix(signedBody, "\r\n") + trailer, ErrChunkMalformed},
		{"signed: trailer declared", ChunkedSigned, crc32Trailer, 9, 0, signedBody, ErrChunkMalformed},
		{"signed: missing final CRLF", ChunkedSigned, "", 9, 0, strings.TrimSuffix(signedBody, "\r\n"), ErrChunkIncompleteBody},
		{"signed trailer: missing trailer signature", ChunkedSignedTrailer, crc32Trailer, 9, 0, strings.Replace(signedTrBody, trailerSigLine, "\r\n", 1), ErrChunkMalformed},
		{"signed trailer: trailer after signature", ChunkedSignedTrailer, crc32Trailer, 9, 0, strings.Replace(signedTrBody, "x-amz-checksum-crc32:HIHzPw==\r\n"+trailerSigLine, strings.TrimSuffix(trailerSigLine, "\r\n")+trailer, 1), ErrChunkMalformed},
		{"signed trailer: short trailer signature", ChunkedSignedTrailer, crc32Trailer, 9, 0, strings.Replace(signedTrBody, trailerSigLine, trailerSigLine[:40]+"\r\n\r\n", 1), ErrChunkMalformed},
		{"signed trailer: repeated trailer signature", ChunkedSignedTrailer, crc32Trailer, 9, 0, strings.TrimSuffix(signedTrBody, "\r\n") + trailerSigLine, ErrChunkMalformed},
	}
	for _, c := range cases {
		cfg := chunkTConfig(c.mode, c.trailer, c.decoded)
		cfg.MaxChunkSize = c.max
		out, _, err := chunkTDecode([]byte(c.body), cfg, nil, 4096)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		if !(bytes.HasPrefix([]byte(chunkTHello), out) || bytes.Contains([]byte(c.body), out)) || len(out) > 10 {
			t.Errorf("%s: delivered %q", c.name, out)
		}
	}
}

// chunkTReplaceSig replaces the first character of the n-th chunk signature.
func chunkTReplaceSig(body string, n int, c string) string {
	at := 0
	for range n + 1 {
		at += strings.Index(body[at:], "chunk-signature=") + len("chunk-signature=")
	}
	return body[:at] + c + body[at+1:]
}

// With x-amz-decoded-content-length known, a chunk that would exceed it is
// refused before any of its bytes are returned.
func TestChunkedDecodedLengthNoOverread(t *testing.T) {
	out, _, err := chunkTDecode([]byte(chunkTWireBody), chunkTConfig(ChunkedUnsignedTrailer, "x-amz-checksum-crc32", 5), nil, 100)
	if !errors.Is(err, ErrChunkMalformed) || len(out) != 0 {
		t.Fatalf("got %q, %v", out, err)
	}
}

func TestChunkedConfigErrors(t *testing.T) {
	noSign := chunkTConfig(ChunkedSigned, "", 9)
	noSign.SignChunk = nil
	noSeed := chunkTConfig(ChunkedSignedTrailer, "", 9)
	noSeed.SeedSignature = ""
	noTrailerSign := chunkTConfig(ChunkedSignedTrailer, "", 9)
	noTrailerSign.SignTrailer = nil
	for name, cfg := range map[string]ChunkedConfig{
		"zero mode": {DecodedLength: -1}, "unknown mode": {Mode: 9}, "no SignChunk": noSign,
		"no seed": noSeed, "no SignTrailer": noTrailerSign,
	} {
		cr := NewChunkedReader(strings.NewReader(chunkTWireBody), cfg)
		n, err := cr.Read(make([]byte, 10))
		if n != 0 || err == nil || err == io.EOF {
			t.Errorf("%s: Read = %d, %v", name, n, err)
		}
		for _, e := range []error{ErrChunkMalformed, ErrChunkIncompleteBody, ErrChunkSignatureMismatch, ErrChecksumMismatch} {
			if errors.Is(err, e) {
				t.Errorf("%s: a server-side config error must not look like a client error: %v", name, err)
			}
		}
		if _, err2 := cr.Read(make([]byte, 10)); err2 != err {
			t.Errorf("%s: error not sticky: %v then %v", name, err, err2)
		}
	}
}

// Errors other than the body's end are passed on, not disguised as
// IncompleteBody, and are sticky.
func TestChunkedUnderlyingError(t *testing.T) {
	body := chunkTEnc{mode: ChunkedUnsignedTrailer, chunkSize: 10, trailer: "x-amz-checksum-crc32"}.encode(chunkTRandom(100000, 1))
	cr := NewChunkedReader(iotest.TimeoutReader(bytes.NewReader(body)), chunkTConfig(ChunkedUnsignedTrailer, "x-amz-checksum-crc32", 100000))
	_, err := io.Copy(io.Discard, cr)
	if !errors.Is(err, iotest.ErrTimeout) || errors.Is(err, ErrChunkIncompleteBody) {
		t.Fatalf("got %v", err)
	}
	if _, err2 := cr.Read(make([]byte, 1)); err2 != err {
		t.Fatalf("not sticky: %v", err2)
	}
	cr = NewChunkedReader(io.MultiReader(bytes.NewReader(body[:30]), iotest.ErrReader(io.ErrUnexpectedEOF)), chunkTConfig(ChunkedUnsignedTrailer, "x-amz-checksum-crc32", 100000))
	if _, err := io.Copy(io.Discard, cr); !errors.Is(err, ErrChunkIncompleteBody) {
		t.Fatalf("ErrUnexpectedEOF from the body: %v", err)
	}
	if n, err := NewChunkedReader(bytes.NewReader(body), chunkTConfig(ChunkedUnsignedTrailer, "", -1)).Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}
}

// Allocations do not grow with the payload: decoding 1 MiB and 16 MiB costs
// the same.
func TestChunkedConstantAllocations(t *testing.T) {
	enc := chunkTEnc{mode: ChunkedUnsignedTrailer, chunkSize: 1 << 20, trailer: "x-amz-checksum-crc32"}
	buf := make([]byte, 64<<10)
	allocs := func(n int) float64 {
		data := chunkTRandom(n, uint64(n))
		body := enc.encode(data)
		cfg := enc.config(int64(n))
		br := bytes.NewReader(body)
		return testing.AllocsPerRun(2, func() {
			br.Reset(body)
			cr := NewChunkedReader(br, cfg)
			for {
				if _, err := cr.Read(buf); err != nil {
					if err != io.EOF {
						t.Fatal(err)
					}
					break
				}
			}
		})
	}
	small, large := allocs(1<<20), allocs(16<<20)
	if small != large || small > 10 {
		t.Fatalf("allocations: %v for 1 MiB, %v for 16 MiB", small, large)
	}
}

// chunkTRefDecode is an independent whole-buffer implementation of the
// grammar in chunked.go (same strictness and limits), for the fuzz test.
func chunkTRefDecode(body []byte, cfg ChunkedConfig) (out []byte, value string, ok bool) {
	signed := cfg.Mode == ChunkedSigned || cfg.Mode == ChunkedSignedTrailer
	var alg ChecksumAlgorithm
	if cfg.Trailer != "" {
		if cfg.Mode == ChunkedSigned {
			return nil, "", false
		}
		if alg, ok = ChecksumAlgorithmFromHeader(cfg.Trailer); !ok {
			return nil, "", false
		}
	}
	line := func(trailer bool) (string, bool) {
		i := bytes.IndexByte(body, '\n')
		if i < 0 || i+1 > 256 {
			return "", false
		}
		if i > 0 && body[i-1] == '\r' {
			l := string(body[:i-1])
			body = body[i+1:]
			return l, true
		}
		if trailer && i > 0 && len(body) >= i+3 && body[i+1] == '\r' && body[i+2] == '\n' {
			l := string(body[:i])
			body = body[i+3:]
			return l, true
		}
		return "", false
	}
	prev := cfg.SeedSignature
	for {
		l, ok := line(false)
		if !ok {
			return nil, "", false
		}
		sizeStr, ext, hasExt := strings.Cut(l, ";")
		size, err := strconv.ParseUint(sizeStr, 16, 64)
		if err != nil || size > uint64(cfg.MaxChunkSize) {
			return nil, "", false
		}
		var sig string
		if signed {
			if sig, ok = strings.CutPrefix(ext, "chunk-signature="); !hasExt || !ok {
				return nil, "", false
			}
		} else if hasExt {
			return nil, "", false
		}
		var data []byte
		if size > 0 {
			if uint64(len(body)) < size+2 || string(body[size:size+2]) != "\r\n" {
				return nil, "", false
			}
			data = body[:size]
			body = body[size+2:]
		}
		if signed {
			sum := sha256.Sum256(data)
			if want := cfg.SignChunk(prev, sum[:]); sig != want {
				return nil, "", false
			}
			prev = sig
		}
		if size == 0 {
			break
		}
		out = append(out, data...)
		if cfg.DecodedLength >= 0 && int64(len(out)) > cfg.DecodedLength {
			return nil, "", false
		}
	}
	if cfg.DecodedLength >= 0 && int64(len(out)) != cfg.DecodedLength {
		return nil, "", false
	}
	var signedLines, trailerSig string
	var gotValue, gotSig bool
	for {
		l, ok := line(true)
		if !ok {
			return nil, "", false
		}
		if l == "" {
			break
		}
		name, val, colon := strings.Cut(l, ":")
		switch {
		case cfg.Mode == ChunkedSigned || gotSig || !colon:
			return nil, "", false
		case cfg.Mode == ChunkedSignedTrailer && strings.EqualFold(name, "x-amz-trailer-signature"):
			trailerSig, gotSig = val, true
		case alg != ChecksumNone && !gotValue && strings.EqualFold(name, alg.HeaderName()):
			value, gotValue = val, true
			signedLines += l + "\n"
		default:
			return nil, "", false
		}
	}
	if len(body) != 0 || (alg != ChecksumNone && !gotValue) || (cfg.Mode == ChunkedSignedTrailer && !gotSig) {
		return nil, "", false
	}
	if cfg.Mode == ChunkedSignedTrailer {
		sum := sha256.Sum256([]byte(signedLines))
		if trailerSig != cfg.SignTrailer(prev, sum[:]) {
			return nil, "", false
		}
	}
	if gotValue && value != checksumTOf(alg, out) { // strict padded base64 is canonical
		return nil, "", false
	}
	return out, value, true
}

var (
	chunkTFuzzModes    = [4]ChunkedMode{ChunkedUnsignedTrailer, ChunkedSigned, ChunkedSignedTrailer, ChunkedUnsignedTrailer}
	chunkTFuzzTrailers = [8]string{"", "x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256", "", "x-amz-checksum-sha512"}
	chunkTFuzzReaders  = [4]func(io.Reader) io.Reader{nil, iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader}
)

// chunkTFuzzFlags packs a fuzz case: bits 0-1 the mode, 2-4 the trailer, 5-6
// the reader.
func chunkTFuzzFlags(mode ChunkedMode, trailer string, reader int) uint8 {
	m := map[ChunkedMode]uint8{ChunkedUnsignedTrailer: 0, ChunkedSigned: 1, ChunkedSignedTrailer: 2}[mode]
	for i, tr := range chunkTFuzzTrailers {
		if tr == trailer {
			return m | uint8(i)<<2 | uint8(reader)<<5
		}
	}
	panic(trailer)
}

// FuzzChunkedReader decodes arbitrary bodies in every mode: it must never
// panic, never return more bytes than the body holds (or than the declared
// length), and either fail with one of the documented errors or return
// exactly what the independent reference decoder returns.
func FuzzChunkedReader(f *testing.F) {
	hello := []byte(chunkTHello)
	f.Add([]byte(chunkTWireBody), chunkTFuzzFlags(ChunkedUnsignedTrailer, "x-amz-checksum-crc32", 0), int64(9), uint16(4))
	f.Add([]byte("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), chunkTFuzzFlags(ChunkedUnsignedTrailer, "x-amz-checksum-crc32", 1), int64(0), uint16(100))
	f.Add(chunkTEnc{mode: ChunkedSigned, chunkSize: 4}.encode(hello), chunkTFuzzFlags(ChunkedSigned, "", 2), int64(9), uint16(3))
	f.Add(chunkTEnc{mode: ChunkedSignedTrailer, chunkSize: 5, trailer: "x-amz-checksum-crc32c", quirk: true}.encode(hello), chunkTFuzzFlags(ChunkedSignedTrailer, "x-amz-checksum-crc32c", 3), int64(-1), uint16(7))
	f.Fuzz(func(t *testing.T, body []byte, flags uint8, declared int64, readSize uint16) {
		cfg := chunkTConfig(chunkTFuzzModes[flags&3], chunkTFuzzTrailers[flags>>2&7], declared)
		cfg.MaxChunkSize = 4096
		out, cr, err := chunkTDecode(body, cfg, chunkTFuzzReaders[flags>>5&3], 1+int(readSize))
		if len(out) > len(body) || (declared >= 0 && int64(len(out)) > declared) {
			t.Fatalf("%d bytes out of a %d byte body (declared %d)", len(out), len(body), declared)
		}
		ref, refValue, refOK := chunkTRefDecode(body, cfg)
		if err != nil {
			if refOK {
				t.Fatalf("rejected a valid body: %v", err)
			}
			for _, e := range []error{ErrChunkMalformed, ErrChunkIncompleteBody, ErrChunkSignatureMismatch, ErrChecksumMismatch, ErrChecksumInvalid} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("undocumented error %v", err)
		}
		if !refOK {
			t.Fatalf("accepted an invalid body, returned %q", out)
		}
		if !bytes.Equal(out, ref) {
			t.Fatalf("decoded %q, reference %q", out, ref)
		}
		if _, v, ok := cr.Checksum(); ok != (refValue != "") || v != refValue {
			t.Fatalf("Checksum() = %q, %v; trailer had %q", v, ok, refValue)
		}
	})
}

func chunkTBenchmark(b *testing.B, enc chunkTEnc, size int) {
	data := chunkTRandom(size, 64)
	body := enc.encode(data)
	cfg := enc.config(int64(size))
	buf := make([]byte, 256<<10)
	br := bytes.NewReader(body)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(body)
		cr := NewChunkedReader(br, cfg)
		for {
			if _, err := cr.Read(buf); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

// aws-cli over https: 1 MiB chunks, CRC32 trailer.
func BenchmarkChunkedReaderUnsignedTrailer64MiB(b *testing.B) {
	chunkTBenchmark(b, chunkTEnc{mode: ChunkedUnsignedTrailer, chunkSize: 1 << 20, trailer: "x-amz-checksum-crc32"}, 64<<20)
}

// aws-cli v2 default: CRC64NVME trailer.
func BenchmarkChunkedReaderUnsignedTrailerCRC64NVME64MiB(b *testing.B) {
	chunkTBenchmark(b, chunkTEnc{mode: ChunkedUnsignedTrailer, chunkSize: 1 << 20, trailer: "x-amz-checksum-crc64nvme"}, 64<<20)
}

// minio-go over http: 64 KiB signed chunks (SHA-256 per chunk).
func BenchmarkChunkedReaderSigned64MiB(b *testing.B) {
	chunkTBenchmark(b, chunkTEnc{mode: ChunkedSigned, chunkSize: 64 << 10}, 64<<20)
}
