package sig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"testing"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/minio/minio-go/v7/pkg/signer"
)

// The S3 chunk string to sign is the event-stream one with empty chunk headers, so
// aws-sdk-go-v2's StreamSigner is an independent implementation to compare with.
func TestChunkSignatureMatchesSDK(t *testing.T) {
	at := mustTime(t, "20261128T094921Z")
	seed := Signature(sha256.Sum256([]byte("seed")))
	sdk := v4.NewStreamSigner(sdkCreds, "s3", "us-east-1", seed[:])
	key := DeriveSigningKey(testSecret, "20261128", "us-east-1", "s3")
	prev := seed
	for _, chunk := range [][]byte{[]byte("hello s4\n"), bytes.Repeat([]byte{0xa5}, 65536), nil} {
		want, err := sdk.GetSignature(context.Background(), nil, chunk, at)
		if err != nil {
			t.Fatal(err)
		}
		got := ChunkSignature(&key, "20261128T094921Z", "20261128/us-east-1/s3/aws4_request", prev, sha256.Sum256(chunk))
		if !bytes.Equal(got[:], want) {
			t.Fatalf("chunk %d bytes: %s, SDK %x", len(chunk), got, want)
		}
		prev = got
	}
}

// sha256Hasher adapts crypto/sha256 to the md5simd.Hasher minio-go's signer wants.
type sha256Hasher struct{ hash.Hash }

func (sha256Hasher) Close() {}

// minio-go's streaming signer produces a whole signed aws-chunked request (seed
// signature in the Authorization header, chunk signatures, optionally a signed
// trailer). The request goes over the wire into fasthttp, is verified here, and its
// body decodes with ChunkedReader wired to V4Result.SignChunk/SignTrailer.
func TestMinioStreamingRoundTrip(t *testing.T) {
	at := mustTime(t, "20261128T094921Z")
	for _, c := range []struct {
		name    string
		size    int
		trailer bool
	}{
		{"small", 9, false},
		{"empty", 0, false},
		{"three chunks", 150 << 10, false},
		{"small with trailer", 9, true},
		{"three chunks with trailer", 150 << 10, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := bytes.Repeat([]byte("hello s4\n"), c.size/9+1)[:c.size]
			req, err := http.NewRequest(http.MethodPut, "http://127.0.0.1:18080/bkt/dir%20x/obj", bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if c.trailer {
				var crc [4]byte
				binary.BigEndian.PutUint32(crc[:], crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
				req.Trailer = http.Header{"x-amz-checksum-crc32c": {base64.StdEncoding.EncodeToString(crc[:])}}
			}
			req = signer.StreamingSignV4(req, testAccessKey, testSecret, "", "us-east-1", int64(len(data)), at, sha256Hasher{sha256.New()})
			wire := parseWire(t, wireOf(t, req))

			_, res, err := authenticate(NewVerifier(VerifierConfig{}), wire, at, testSecret)
			if err != nil {
				t.Fatal(err)
			}
			want := ChunkedSigned
			if c.trailer {
				want = ChunkedSignedTrailer
			}
			if res.Payload != PayloadChunked || res.Chunked != want {
				t.Fatalf("payload %v/%v", res.Payload, res.Chunked)
			}
			body := wire.Body()
			decode := func(body []byte) ([]byte, error) {
				decodedLen, _ := strconv.ParseInt(string(wire.Header.Peek("X-Amz-Decoded-Content-Length")), 10, 64)
				return io.ReadAll(NewChunkedReader(bytes.NewReader(body), ChunkedConfig{
					Mode:          res.Chunked,
					DecodedLength: decodedLen,
					Trailer:       string(wire.Header.Peek("X-Amz-Trailer")),
					SeedSignature: res.Signature.String(),
					SignChunk:     res.SignChunk,
					SignTrailer:   res.SignTrailer,
				}))
			}
			got, err := decode(body)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("decode: %v, %d bytes of %d", err, len(got), len(data))
			}
			if len(data) > 0 {
				// One flipped payload byte breaks its chunk's signature.
				bad := bytes.Clone(body)
				bad[bytes.Index(bad, []byte("\r\n"))+2] ^= 1
				if _, err := decode(bad); !errors.Is(err, ErrChunkSignatureMismatch) {
					t.Fatalf("tampered chunk: %v", err)
				}
			}
		})
	}
}

func TestTrailerSignature(t *testing.T) {
	// Recomputed independently from the formula in the wire doc (§4b).
	key := DeriveSigningKey(testSecret, "20261128", "us-east-1", "s3")
	prev := Signature(sha256.Sum256([]byte("last chunk")))
	trailer := sha256.Sum256([]byte("x-amz-checksum-crc32c:/QZYWQ==\n"))
	sts := "AWS4-HMAC-SHA256-TRAILER\n20261128T094921Z\n20261128/us-east-1/s3/aws4_request\n" + prev.String() + "\n" + Signature(trailer).String()
	want := Signature(hmacSHA256(key[:], sts))
	if got := TrailerSignature(&key, "20261128T094921Z", "20261128/us-east-1/s3/aws4_request", prev, trailer); !got.Equal(want) {
		t.Fatalf("trailer signature %s, want %s", got, want)
	}
	res := V4Result{SigningKey: key, Scope: "20261128/us-east-1/s3/aws4_request", Time: mustTime(t, "20261128T094921Z")}
	if got := res.SignTrailer(prev.String(), trailer[:]); got != want.String() {
		t.Fatalf("SignTrailer %s", got)
	}
	if res.SignTrailer("not hex", trailer[:]) != "" || res.SignChunk(prev.String(), trailer[:5]) != "" {
		t.Fatal("malformed input must give no signature")
	}
}
