package sig

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The typical authenticated request: an SDK GetObject with four signed headers
// (host;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date) and x-id in the query.
const benchTarget = "/bkt/photos/2026/11/img_0042.jpg?x-id=GetObject"

var benchHeader = http.Header{"X-Amz-Checksum-Mode": {"ENABLED"}}

func benchGET(tb testing.TB) (*fasthttp.Request, time.Time) {
	at := mustTime(tb, "20261128T094250Z")
	return parseWire(tb, sdkSign(tb, http.MethodGet, benchTarget, benchHeader, emptyHash, at)), at
}

// verifyGET is the handler's per-request authentication work.
func verifyGET(v *Verifier, req *fasthttp.Request, now time.Time) error {
	sr := SignedRequest{
		Method:   req.Header.Method(),
		RawPath:  req.URI().PathOriginal(),
		RawQuery: req.URI().QueryString(),
		Header:   &req.Header,
		Now:      now,
	}
	a, err := ParseRequestAuth(&sr)
	if err != nil {
		return err
	}
	_, err = v.VerifyV4(&sr, &a, testSecret)
	return err
}

// BenchmarkVerifyV4GET and BenchmarkSDKSignGET measure the same request: the server's
// parse+verify against aws-sdk-go-v2 signing it (signer reused, so its key cache is
// warm as ours is).
func BenchmarkVerifyV4GET(b *testing.B) {
	req, at := benchGET(b)
	v := NewVerifier(VerifierConfig{})
	if err := verifyGET(v, req, at); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := verifyGET(v, req, at); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSDKSignGET(b *testing.B) {
	at := mustTime(b, "20261128T094250Z")
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:9000"+benchTarget, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header = benchHeader.Clone()
	req.Header.Set("X-Amz-Content-Sha256", emptyHash)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := sdkSigner.SignHTTP(ctx, sdkCreds, req, emptyHash, "s3", "us-east-1", at); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifyV4Allocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	req, at := benchGET(t)
	v := NewVerifier(VerifierConfig{})
	if err := verifyGET(v, req, at); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = verifyGET(v, req, at) }); n > 2 {
		t.Fatalf("%v allocations per verification, want ≤ 2", n)
	}
}
