package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// s3Kind is what one S3 op of a scenario does.
type s3Kind int

const (
	s3HeadBucket s3Kind = iota
	s3Get
	s3Put
)

// s3Load sends S3 requests with aws-sdk-go-v2 as a user would: path-style,
// us-east-1, flexible checksums on (PutObject bodies go as aws-chunked with a
// CRC32 trailer over HTTPS; GetObject asks for and checks the checksum). The
// SDK's retries are off so that every failure is counted, not hidden.
type s3Load struct {
	kind    s3Kind
	client  *s3.Client   // setup, and the ops of a one-endpoint run
	clients []*s3.Client // ops: worker w uses clients[w%len] (one per -endpoint)
	bucket  string
	// versioning: enable versioning on the bucket in setup.
	versioning bool
	size       int // object size (get, put)
	objects    int // s3-get: objects uploaded in Setup and read in turn
	setupC     int
	log        *slog.Logger

	workers int
	nonce   uint64   // makes this run's PUT bodies differ from earlier runs'
	bufs    [][]byte // s3-put: worker w's body, stamped before each PUT
}

// newS3Client builds the SDK client: what config.LoadDefaultConfig would give
// with static credentials, apart from the retryer.
func newS3Client(endpoint, accessKey, secretKey string, hc *http.Client) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(strings.TrimRight(endpoint, "/")),
		UsePathStyle:               true,
		Region:                     "us-east-1",
		Credentials:                aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")),
		HTTPClient:                 hc,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
		Retryer:                    aws.NopRetryer{},
	})
}

func (s *s3Load) details() string {
	switch s.kind {
	case s3HeadBucket:
		return "HeadBucket " + s.bucket
	case s3Get:
		return fmt.Sprintf("GetObject of %d objects of %s in %s, read in turn", s.objects, formatSize(int64(s.size)), s.bucket)
	default:
		return fmt.Sprintf("PutObject of %s (new key and content each) into %s", formatSize(int64(s.size)), s.bucket)
	}
}

// opBytes is the payload of one op, for MB/s.
func (s *s3Load) opBytes() int64 {
	if s.kind == s3HeadBucket {
		return 0
	}
	return int64(s.size)
}

func (s *s3Load) Setup(ctx context.Context, concurrency int) error {
	s.workers = concurrency
	s.nonce = uint64(time.Now().UnixNano())
	if err := s.ensureBucket(ctx); err != nil {
		return err
	}
	switch s.kind {
	case s3Get:
		if s.objects < 1 {
			return fmt.Errorf("-objects must be positive")
		}
		t0 := time.Now()
		if err := s.upload(ctx); err != nil {
			return err
		}
		s.log.Info("uploaded objects to read", "n", s.objects, "size", formatSize(int64(s.size)), "took", time.Since(t0).Round(time.Millisecond))
	case s3Put:
		s.bufs = make([][]byte, concurrency)
		for w := range s.bufs {
			s.bufs[w] = randomBytes(s.size, uint64(w))
		}
	}
	// Open one connection per worker before the clock starts.
	var wg sync.WaitGroup
	errs := make(chan error, concurrency)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return fmt.Errorf("warm-up HeadBucket %s: %w", s.bucket, err)
		}
	}
	return nil
}

// ensureBucket creates the bucket. S3 in us-east-1 answers 200 when the
// caller already owns it; BucketAlreadyOwnedByYou is accepted too.
func (s *s3Load) ensureBucket(ctx context.Context) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.bucket})
	var ae smithy.APIError
	if err != nil && errors.As(err, &ae) && ae.ErrorCode() == "BucketAlreadyOwnedByYou" {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", s.bucket, err)
	}
	if s.versioning {
		if _, err := s.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &s.bucket,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			return fmt.Errorf("enable versioning on %s: %w", s.bucket, err)
		}
	}
	s.log.Info("bucket ready", "bucket", s.bucket, "versioning", s.versioning)
	return nil
}

// upload writes the objects s3-get reads, setupC at a time.
func (s *s3Load) upload(ctx context.Context) error {
	return forEachParallel(ctx, s.setupC, s.objects, func(i int) error {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &s.bucket, Key: aws.String(s.getKey(i)),
			Body: bytes.NewReader(randomBytes(s.size, s.nonce+uint64(i))), ContentLength: aws.Int64(int64(s.size)),
		})
		if err != nil {
			return fmt.Errorf("upload %s: %w", s.getKey(i), err)
		}
		return nil
	})
}

func (s *s3Load) getKey(i int) string {
	return fmt.Sprintf("s4load/get-%s/%05d", formatSize(int64(s.size)), i)
}

func (s *s3Load) putKey(worker, iter int) string {
	return fmt.Sprintf("s4load/put-%s/%03d/%08d", formatSize(int64(s.size)), worker, iter)
}

// objectIndex is the object a worker's iter-th GET reads: the workers
// together go through all objects in turn.
func objectIndex(worker, iter, workers, objects int) int {
	return (iter*workers + worker) % objects
}

func (s *s3Load) Op(ctx context.Context, worker, iter int) error {
	c := s.client
	if len(s.clients) > 0 {
		c = s.clients[worker%len(s.clients)]
	}
	var err error
	switch s.kind {
	case s3HeadBucket:
		_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	case s3Get:
		err = s.get(ctx, c, s.getKey(objectIndex(worker, iter, s.workers, s.objects)))
	case s3Put:
		body := s.bufs[worker]
		stamp(body, s.nonce, worker, iter)
		_, err = c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &s.bucket, Key: aws.String(s.putKey(worker, iter)),
			Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		})
	}
	return sdkError(err)
}

func (s *s3Load) get(ctx context.Context, c *s3.Client, key string) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	n, err := io.Copy(io.Discard, out.Body) // checks the CRC32 at EOF
	if err != nil {
		return err
	}
	if n != int64(s.size) {
		return fmt.Errorf("GET %s: %d bytes, want %d", key, n, s.size)
	}
	return nil
}

// sdkError turns an HTTP error answer into a *statusError, so that the
// runner counts it by status.
func sdkError(err error) error {
	var re *awshttp.ResponseError
	if err != nil && errors.As(err, &re) {
		return &statusError{Code: re.HTTPStatusCode(), Body: err.Error()}
	}
	return err
}

// stamp writes nonce, worker and iter over the first bytes of b, so that
// every PUT stores new content, as real uploads do (before blob store
// format 3, blobs were named by their SHA-256 and equal bodies shared one).
func stamp(b []byte, nonce uint64, worker, iter int) {
	var s [24]byte
	binary.LittleEndian.PutUint64(s[0:], nonce)
	binary.LittleEndian.PutUint64(s[8:], uint64(worker))
	binary.LittleEndian.PutUint64(s[16:], uint64(iter))
	copy(b, s[:])
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24),
		byte(seed >> 32), byte(seed >> 40), byte(seed >> 48), byte(seed >> 56)})
	_, _ = r.Read(b)
	return b
}

// sizeUnits are the suffixes parseSize accepts, longest first.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// parseSize reads a byte count: "4096", "4KiB", "1MiB", "1MB" (10^6), "4k"
// (= KiB). Units are case-insensitive.
func parseSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("invalid size %q: want a byte count such as 4096, 4KiB or 1MiB", v)
	}
	return n * mult, nil
}

// formatSize writes n with the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
