package sig

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/s4/s4/s3/s3err"
)

// The dummy credential of shared/wire/aws-cli-requests.md, whose captures are
// signed with it.
const (
	testAccessKey = "S4AK3TP6X1K4WZU8AJFHGK4M"
	testSecret    = "alu2/uh8Sc9WwAt4dn91LckXJiy+jYOedxSXBGFM"
)

// parseWire parses raw HTTP/1.1 request bytes with fasthttp, as the server does.
func parseWire(t testing.TB, raw string) *fasthttp.Request {
	t.Helper()
	req := new(fasthttp.Request)
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("fasthttp cannot parse the request: %v\n%s", err, raw)
	}
	return req
}

// wireOf serialises a net/http request the way a Go client sends it.
func wireOf(t testing.TB, r *http.Request) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// signedRequestOf takes from a fasthttp request what the handler will pass.
func signedRequestOf(req *fasthttp.Request, now time.Time) *SignedRequest {
	return &SignedRequest{
		Method:   req.Header.Method(),
		RawPath:  req.URI().PathOriginal(),
		RawQuery: req.URI().QueryString(),
		Header:   &req.Header,
		Now:      now,
	}
}

// authenticate runs parse then verify, as the handler will (with the index
// lookup replaced by the given secret).
func authenticate(v *Verifier, req *fasthttp.Request, now time.Time, secret string) (RequestAuth, V4Result, error) {
	sr := signedRequestOf(req, now)
	a, err := ParseRequestAuth(sr)
	if err != nil {
		return a, V4Result{}, err
	}
	switch {
	case a.Kind.IsV4():
		res, err := v.VerifyV4(sr, &a, secret)
		return a, res, err
	case a.Kind == AuthAnonymous:
		return a, V4Result{}, nil
	default:
		return a, V4Result{}, v.VerifyV2(sr, &a, secret)
	}
}

func authenticateWire(t testing.TB, v *Verifier, raw string, now time.Time, secret string) (RequestAuth, V4Result, error) {
	t.Helper()
	return authenticate(v, parseWire(t, raw), now, secret)
}

// errCode is the table code of err ("" for nil, "?" for an error that is not *Error).
func errCode(err error) s3err.Code {
	if err == nil {
		return ""
	}
	var e *s3err.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "?"
}

// errExtra returns the named extra element of err.
func errExtra(err error, name string) string {
	var e *s3err.Error
	if errors.As(err, &e) {
		for _, f := range e.Extra {
			if f.Name == name {
				return f.Value
			}
		}
	}
	return ""
}

func mustTime(t testing.TB, amzDate string) time.Time {
	t.Helper()
	tm, ok := parseAmzDate(amzDate)
	if !ok {
		t.Fatalf("bad date %q", amzDate)
	}
	return tm
}

func wantCode(t testing.TB, err error, want s3err.Code) {
	t.Helper()
	if got := errCode(err); got != want {
		t.Fatalf("error = %v (code %q), want code %q", err, got, want)
	}
}
