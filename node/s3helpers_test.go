package node

// What the tests that use the S3 API through a real node share: an S3 env
// (a node with users whose credentials come from the admin API), and short
// names for the client helpers of package internal/s3test, which the S3
// handler's own tests (package s3) use too.

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s4/s4/internal/s3test"
)

// s3User is a user with an issued S3 credential.
type s3User = s3test.User

// s3Env is one node with a Reader, a Writer and a SuperUser, each with a
// credential, and an HTTP client that trusts the node's certificate.
type s3Env struct {
	n        *Node
	admin    *client
	endpoint string
	http     *http.Client
	tls      *tls.Config // trusts the node's certificate
	reader   s3User
	writer   s3User
	super    s3User
}

func newS3Env(t *testing.T) *s3Env {
	t.Helper()
	return newS3EnvWith(t, testConfig(t.TempDir()))
}

// newS3EnvWith is newS3Env on a node with configuration cfg.
func newS3EnvWith(t *testing.T, cfg Config) *s3Env {
	t.Helper()
	n := mustOpen(t, cfg)
	c := newClient(t, n)
	c.login("root", rootPassword)
	e := &s3Env{n: n, admin: c, endpoint: c.base, http: s3HTTPClient(t, n)}
	e.tls = e.http.Transport.(*http.Transport).TLSClientConfig
	e.reader = e.newUser(t, "reader", "Reader")
	e.writer = e.newUser(t, "writer", "Writer")
	e.super = e.newUser(t, "super", "SuperUser")
	return e
}

// nodeS3Env is an s3Env for one more node of a cluster (no users of its own).
func nodeS3Env(t *testing.T, n *Node) *s3Env {
	t.Helper()
	return &s3Env{n: n, endpoint: newClient(t, n).base, http: s3HTTPClient(t, n)}
}

func s3HTTPClient(t *testing.T, n *Node) *http.Client {
	t.Helper()
	return s3test.HTTPClient(t, nodeCertPool(t, n))
}

// adminAs returns the env's admin client reporting failures to t (a
// subtest's t must not be failed through its parent).
func (e *s3Env) adminAs(t *testing.T) *client {
	c := *e.admin
	c.t = t
	return &c
}

func (e *s3Env) newUser(t *testing.T, name, role string) s3User {
	t.Helper()
	c := e.adminAs(t)
	var u userJSON
	if code := c.do("POST", "/api/admin/users", map[string]string{"username": name, "password": name + "-password", "role": role}, &u); code != 201 {
		t.Fatalf("create user %s: %d", name, code)
	}
	su := s3User{ID: u.ID, Name: name}
	su.AccessKey, su.SecretKey = e.issue(t, u.ID)
	return su
}

func (e *s3Env) issue(t *testing.T, id string) (ak, sk string) {
	t.Helper()
	var cr credJSON
	if code := e.adminAs(t).do("POST", "/api/admin/users/"+id+"/credentials", nil, &cr); code != 201 {
		t.Fatalf("issue credential: %d", code)
	}
	return cr.AccessKey, cr.SecretKey
}

// s3 is the env's node as an S3 endpoint.
func (e *s3Env) s3() *s3test.Client {
	return &s3test.Client{Endpoint: e.endpoint, HTTP: e.http, TLS: e.tls}
}

// sdk returns an aws-sdk-go-v2 client for a key pair (s3test.Client.SDK).
func (e *s3Env) sdk(ak, sk string, opts ...func(*s3.Options)) *s3.Client {
	return e.s3().SDK(ak, sk, opts...)
}

func (e *s3Env) sdkFor(u s3User) *s3.Client { return e.s3().SDKFor(u) }

var bg = context.Background()

func apiCode(err error) (string, int) { return s3test.APICode(err) }

func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	s3test.WantCode(t, err, code, status)
}

func must[T any](t *testing.T) func(T, error) T { return s3test.Must[T](t) }

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	return s3test.ReadAll(t, rc)
}

func randReader(seed uint64, size int64) io.Reader { return s3test.RandReader(seed, size) }

func randBytes(seed uint64, size int) []byte { return s3test.RandBytes(seed, size) }

func keysOf(objs []types.Object) []string { return s3test.KeysOf(objs) }

func putString(t *testing.T, c *s3.Client, bucket, key, body string) *s3.PutObjectOutput {
	t.Helper()
	return s3test.PutString(t, c, bucket, key, body)
}

func getString(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	return s3test.GetString(t, c, bucket, key)
}

func mkBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	s3test.MkBucket(t, c, name)
}

// blobsOf returns the IDs of the blobs that the current version of
// bucket/key references in n's metadata (none for an inline object).
// Blobs are named by random IDs, so a test learns them from the metadata,
// as the nodes do.
func blobsOf(t *testing.T, n *Node, bucket, key string) [][32]byte {
	t.Helper()
	o, ok := n.FSM().Meta().Object(bucket, key)
	if !ok {
		t.Fatalf("%s has no object %s/%s", n.ID(), bucket, key)
	}
	var ids [][32]byte
	for _, p := range o.Parts {
		ids = append(ids, p.ID)
	}
	return ids
}

// blobOf is blobsOf for an object of one blob.
func blobOf(t *testing.T, n *Node, bucket, key string) [32]byte {
	t.Helper()
	ids := blobsOf(t, n, bucket, key)
	if len(ids) != 1 {
		t.Fatalf("%s/%s on %s references %d blobs, want 1", bucket, key, n.ID(), len(ids))
	}
	return ids[0]
}

// partBlob returns the ID of the blob of part number of upload id in n's
// metadata.
func partBlob(t *testing.T, n *Node, id string, number int) [32]byte {
	t.Helper()
	parts, _ := n.FSM().Meta().Parts(id, number-1, 1)
	if len(parts) != 1 || parts[0].Number != number || parts[0].Part.Inline != nil {
		t.Fatalf("%s: upload %s has no blob part %d", n.ID(), id, number)
	}
	return parts[0].Part.Blob.ID
}
