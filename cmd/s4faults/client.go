package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// requestTimeout bounds every S3 and admin request of the workload: longer
// than the longest pause, so that a request sent to a stopped node is
// answered after SIGCONT, which is when a node that believes it still
// leads would answer it wrongly.
const requestTimeout = 10 * time.Second

// newHTTPClient trusts the cluster's shared certificate and talks to the
// nodes directly (never through a proxy).
func newHTTPClient(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	tr := &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: requestTimeout,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr}, nil
}

// newS3 is an aws-sdk-go-v2 client of one node with one key pair:
// path-style, no retries (every failure is recorded, not hidden).
func newS3(endpoint string, hc *http.Client, accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Region:                     "us-east-1",
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:                 hc,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		Retryer:                    aws.NopRetryer{},
	})
}

// sdkStatus is the HTTP status of an SDK error (0: no answer) and a short
// description.
func sdkStatus(err error) (int, string) {
	if err == nil {
		return 200, ""
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode(), shorten(err.Error())
	}
	return 0, shorten(err.Error())
}

func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// admin calls the admin API of the nodes with one session token (valid on
// every node: they share the JWT key).
type admin struct {
	hc    *http.Client
	bases []string // https://127.0.0.1:port of n1..n3 (index 0 is n1)
	token string
}

// adminAnswer is one admin response.
type adminAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends one request to node (1..3). A transport error (no answer) is
// returned as the error; an answer, whatever its status, is not.
func (a *admin) do(ctx context.Context, node int, method, path string, in any) (adminAnswer, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return adminAnswer{}, err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.bases[node-1]+path, body)
	if err != nil {
		return adminAnswer{}, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return adminAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return adminAnswer{}, err
	}
	return adminAnswer{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// must sends a request and decodes a want answer into out.
func (a *admin) must(ctx context.Context, node int, method, path string, in any, want int, out any) error {
	ans, err := a.do(ctx, node, method, path, in)
	if err != nil {
		return fmt.Errorf("%s %s on %s: %w", method, path, nodeName(node), err)
	}
	if ans.Status != want {
		return fmt.Errorf("%s %s on %s: %d %s", method, path, nodeName(node), ans.Status, strings.TrimSpace(string(ans.Body)))
	}
	if out != nil {
		return json.Unmarshal(ans.Body, out)
	}
	return nil
}

func (a *admin) login(ctx context.Context, node int, user, password string) error {
	var out struct {
		Token string `json:"token"`
	}
	if err := a.must(ctx, node, "POST", "/api/admin/login", map[string]string{"username": user, "password": password}, 200, &out); err != nil {
		return err
	}
	a.token = out.Token
	return nil
}

// user is an admin API user.
type user struct {
	ID       string `json:"id"`
	Username string `json:"username"`
}

// keyPair is an issued S3 credential.
type keyPair struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// health is GET /health/ready of one node.
type health struct {
	Ready   bool
	Status  string `json:"status"`
	Role    string `json:"role"`
	Leader  string `json:"leader"`
	Applied uint64 `json:"applied_index"`
}

// ready asks node for its readiness with a short timeout.
func (a *admin) ready(ctx context.Context, node int) (health, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", a.bases[node-1]+"/health/ready", nil)
	if err != nil {
		return health{}, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return health{}, err
	}
	defer resp.Body.Close()
	var h health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return health{}, err
	}
	h.Ready = resp.StatusCode == 200
	return h, nil
}

func jsonInto(b []byte, out any) error { return json.Unmarshal(b, out) }
