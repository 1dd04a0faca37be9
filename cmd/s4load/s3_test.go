package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"4096", 4096}, {"4KiB", 4096}, {"4kib", 4096}, {"4k", 4096}, {"1MiB", 1 << 20},
		{"1 MiB", 1 << 20}, {"1m", 1 << 20}, {"2GiB", 2 << 30}, {"1MB", 1e6}, {"4KB", 4000}, {"12B", 12},
	} {
		if got, err := parseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "KiB", "-1", "1.5MiB", "4XB", "2000GiB"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tt := range []struct {
		in   int64
		want string
	}{{0, "0B"}, {100, "100B"}, {4096, "4KiB"}, {1 << 20, "1MiB"}, {1536, "1536B"}, {5 << 30, "5GiB"}, {1e6, "1000000B"}} {
		if got := formatSize(tt.in); got != tt.want {
			t.Errorf("formatSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestObjectIndex: together the workers read every object equally often.
func TestObjectIndex(t *testing.T) {
	for _, tc := range []struct{ workers, objects int }{{16, 64}, {3, 10}, {8, 5}, {1, 1}} {
		count := make([]int, tc.objects)
		for iter := range tc.objects {
			for w := range tc.workers {
				i := objectIndex(w, iter, tc.workers, tc.objects)
				if i < 0 || i >= tc.objects {
					t.Fatalf("%+v: index %d out of range", tc, i)
				}
				count[i]++
			}
		}
		for i, n := range count {
			if n != tc.workers {
				t.Errorf("%+v: object %d read %d times, want %d", tc, i, n, tc.workers)
			}
		}
	}
}

func TestStamp(t *testing.T) {
	b := randomBytes(64, 1)
	tail := bytes.Clone(b[24:])
	seen := map[string]bool{}
	for _, c := range []struct {
		nonce uint64
		w, i  int
	}{{1, 0, 0}, {1, 0, 1}, {1, 1, 0}, {2, 0, 0}} {
		stamp(b, c.nonce, c.w, c.i)
		if seen[string(b)] {
			t.Errorf("stamp %+v repeats an earlier body", c)
		}
		seen[string(b)] = true
	}
	if !bytes.Equal(b[24:], tail) {
		t.Error("stamp wrote past its 24 bytes")
	}
	small := []byte{9, 9, 9}
	stamp(small, 1, 0, 0) // shorter than a stamp: must not panic
	if bytes.Equal(randomBytes(32, 1), randomBytes(32, 2)) {
		t.Error("randomBytes ignores its seed")
	}
}

func TestSetPayload(t *testing.T) {
	rep := newReport(runResult{Elapsed: 2 * time.Second, Latencies: durs(1, 1, 1, 1)})
	rep.setPayload(1 << 20)
	if rep.MBPerS == nil || *rep.MBPerS != 2.097 {
		t.Fatalf("MB/s = %v, want 4 × 1 MiB / 2 s = 2.097", rep.MBPerS)
	}
	var b strings.Builder
	rep.writeText(&b)
	if !strings.Contains(b.String(), "2.10 MB/s") {
		t.Errorf("text report lacks MB/s:\n%s", b.String())
	}
}

// fakeS3 records the requests the SDK sends and answers like S3 would.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string][]byte
	hdrs    map[string]http.Header // last request header by method
	buckets int
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hdrs[r.Method] = r.Header.Clone()
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	switch {
	case len(parts) == 1 && r.Method == http.MethodPut:
		if f.buckets > 0 {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `<Error><Code>BucketAlreadyOwnedByYou</Code><Message>mine</Message></Error>`)
			return
		}
		f.buckets++
	case len(parts) == 1 && r.Method == http.MethodHead:
	case r.Method == http.MethodPut:
		body, err := decodeAWSChunked(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.objects[parts[1]] = body
		w.Header().Set("ETag", `"x"`)
	case r.Method == http.MethodGet:
		body, ok := f.objects[parts[1]]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `<Error><Code>NoSuchKey</Code><Message>no</Message></Error>`)
			return
		}
		w.Write(body)
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

// decodeAWSChunked reads an unsigned aws-chunked body: "<hex size>\r\n<data>\r\n"
// chunks, a zero-size one, then the trailer.
func decodeAWSChunked(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(r)
	var out []byte
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		hexSize, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(hexSize, 16, 32)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			_, err := io.Copy(io.Discard, br) // the trailer
			return out, err
		}
		chunk := make([]byte, n+2)
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, err
		}
		out = append(out, chunk[:n]...)
	}
}

// TestS3Scenarios runs each S3 scenario's setup and a few ops against a fake
// HTTPS endpoint: the bucket is created once, PUTs go the way users' SDKs
// send them (aws-chunked, CRC32 trailer, unsigned payload over TLS), and
// errors come back as HTTP statuses.
func TestS3Scenarios(t *testing.T) {
	f := &fakeS3{objects: map[string][]byte{}, hdrs: map[string]http.Header{}}
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // handshakes cut short by Close
	srv.StartTLS()
	defer srv.Close()
	hc := srv.Client()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	newLoad := func(kind s3Kind, size int) *s3Load {
		return &s3Load{kind: kind, client: newS3Client(srv.URL+"/", "AKID", "SECRET", hc), bucket: "bkt", size: size, objects: 4, setupC: 2, log: log}
	}

	put := newLoad(s3Put, 4096)
	if err := put.Setup(ctx, 2); err != nil {
		t.Fatal(err)
	}
	for iter := range 2 {
		for w := range 2 {
			if err := put.Op(ctx, w, iter); err != nil {
				t.Fatal(err)
			}
		}
	}
	h := f.hdrs[http.MethodPut]
	for k, want := range map[string]string{
		"X-Amz-Content-Sha256":         "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
		"Content-Encoding":             "aws-chunked",
		"X-Amz-Trailer":                "x-amz-checksum-crc32",
		"X-Amz-Decoded-Content-Length": "4096",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("PUT %s = %q, want %q", k, got, want)
		}
	}
	if f.buckets != 1 {
		t.Errorf("%d buckets created, want 1", f.buckets)
	}

	get := newLoad(s3Get, 1000)
	if err := get.Setup(ctx, 2); err != nil { // the bucket exists: BucketAlreadyOwnedByYou is fine
		t.Fatal(err)
	}
	if n := len(f.objects); n != 4+4 {
		t.Errorf("%d objects stored, want 4 PUTs + 4 uploads", n)
	}
	for iter := range 3 {
		if err := get.Op(ctx, 1, iter); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.hdrs[http.MethodGet].Get("X-Amz-Checksum-Mode"); got != "ENABLED" {
		t.Errorf("GET x-amz-checksum-mode = %q, want ENABLED", got)
	}
	get.objects = 5 // object 4 was never uploaded
	if err := get.Op(ctx, 0, 2); errorKey(err) != "HTTP 404" {
		t.Errorf("GET of a missing object: %v (%s), want HTTP 404", err, errorKey(err))
	}

	head := newLoad(s3HeadBucket, 0)
	if err := head.Setup(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := head.Op(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if head.opBytes() != 0 || get.opBytes() != 1000 {
		t.Errorf("opBytes: head %d get %d", head.opBytes(), get.opBytes())
	}
}
