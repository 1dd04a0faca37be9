package s3_test

// A property test of versioning: random sequences of versioned PUT,
// DELETE, DELETE of a version, CopyObject and changes of the bucket's
// versioning state on two keys give the same ListObjectVersions, and the
// same GET of the latest and of each version, as a small model of S3's
// rules.

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s4/s4/internal/s3test"
)

// modelVersion is one version of a key in the model.
type modelVersion struct {
	id     string
	data   string
	marker bool
}

// model is S3's rules for one bucket: each key's versions, newest first.
type verModel struct {
	state string // "", "Enabled", "Suspended"
	keys  map[string][]modelVersion
}

// dropNull removes the null version of key.
func (m *verModel) dropNull(key string) {
	m.keys[key] = slices.DeleteFunc(m.keys[key], func(v modelVersion) bool { return v.id == "null" })
}

// write adds a version (a PUT, a copy, a delete marker) whose ID the
// server answered (id) or, unversioned or suspended, the null version.
func (m *verModel) write(key string, v modelVersion) {
	if m.state != "Enabled" {
		v.id = "null"
		m.dropNull(key)
	}
	m.keys[key] = append([]modelVersion{v}, m.keys[key]...)
}

func (m *verModel) del(key, markerID string) {
	if m.state == "" {
		m.keys[key] = nil
		return
	}
	m.write(key, modelVersion{id: markerID, marker: true})
}

func (m *verModel) delVersion(key, id string) {
	m.keys[key] = slices.DeleteFunc(m.keys[key], func(v modelVersion) bool { return v.id == id })
}

// listing is the model's ListObjectVersions: "key id[:m][*]".
func (m *verModel) listing() []string {
	var out []string
	for _, k := range []string{"a", "b"} {
		for i, v := range m.keys[k] {
			out = append(out, listed(k, v.id, v.marker, i == 0))
		}
	}
	return out
}

func listed(key, id string, marker, latest bool) string {
	s := key + " " + id
	if marker {
		s += ":m"
	}
	if latest {
		s += "*"
	}
	return s
}

// rawVersions is ListObjectVersions as the XML has it, in its order.
func rawVersions(t *testing.T, e *env, bucket string) []string {
	t.Helper()
	resp, body := e.Signed(t, e.reader, "GET", "/"+bucket+"?versions", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("ListObjectVersions: %d %s", resp.StatusCode, body)
	}
	var out []string
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok && (se.Name.Local == "Version" || se.Name.Local == "DeleteMarker") {
			var v struct {
				Key       string
				VersionID string `xml:"VersionId"`
				IsLatest  bool
			}
			if err := d.DecodeElement(&v, &se); err != nil {
				t.Fatal(err)
			}
			out = append(out, listed(v.Key, v.VersionID, se.Name.Local == "DeleteMarker", v.IsLatest))
		}
	}
}

func TestVersioningModel(t *testing.T) {
	e := newEnv(t)
	w, rd := e.SDKFor(e.writer), e.SDKFor(e.reader)
	for seed := range uint64(6) {
		bucket := fmt.Sprintf("model-%d", seed)
		s3test.MkBucket(t, w, bucket)
		b := aws.String(bucket)
		rng := rand.New(rand.NewPCG(seed, 12))
		m := &verModel{keys: map[string][]modelVersion{}}
		var trace []string
		for step := range 100 {
			key := []string{"a", "b"}[rng.IntN(2)]
			switch op := rng.IntN(10); {
			case op < 4: // PUT
				data := fmt.Sprintf("%d-%d", seed, step)
				out := s3test.PutString(t, w, bucket, key, data)
				trace = append(trace, "put "+key)
				m.write(key, modelVersion{id: aws.ToString(out.VersionId), data: data})
			case op < 6: // DELETE
				out := s3test.Must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String(key)}))
				trace = append(trace, "delete "+key)
				m.del(key, aws.ToString(out.VersionId))
			case op < 8: // DELETE a version (sometimes one that is gone)
				vs := m.keys[key]
				id := "0123456789abcdef0123456789abcdef"
				if len(vs) > 0 && rng.IntN(5) > 0 {
					id = vs[rng.IntN(len(vs))].id
				}
				s3test.Must[*s3.DeleteObjectOutput](t)(w.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: b, Key: aws.String(key), VersionId: aws.String(id)}))
				trace = append(trace, "delete "+key+" "+id)
				m.delVersion(key, id)
			case op < 9: // copy a version that is not a delete marker to the other key
				var src []modelVersion
				for _, v := range m.keys[key] {
					if !v.marker {
						src = append(src, v)
					}
				}
				if len(src) == 0 {
					continue
				}
				v := src[rng.IntN(len(src))]
				dst := map[string]string{"a": "b", "b": "a"}[key]
				out := s3test.Must[*s3.CopyObjectOutput](t)(w.CopyObject(bg, &s3.CopyObjectInput{Bucket: b, Key: aws.String(dst),
					CopySource: aws.String(bucket + "/" + key + "?versionId=" + v.id)}))
				trace = append(trace, "copy "+key+" "+v.id+" to "+dst)
				m.write(dst, modelVersion{id: aws.ToString(out.VersionId), data: v.data})
			default: // enable or suspend
				st := []types.BucketVersioningStatus{types.BucketVersioningStatusEnabled, types.BucketVersioningStatusSuspended}[rng.IntN(2)]
				setVersioning(t, w, bucket, st)
				trace = append(trace, "versioning "+string(st))
				m.state = string(st)
			}
			if got, want := rawVersions(t, e, bucket), m.listing(); !slices.Equal(got, want) {
				t.Fatalf("seed %d after %q:\nlisted %q\nmodel  %q", seed, trace, got, want)
			}
			for _, k := range []string{"a", "b"} {
				vs := m.keys[k]
				got, err := getVersion(t, rd, bucket, k, "")
				switch {
				case len(vs) == 0 || vs[0].marker:
					s3test.WantCode(t, err, "NoSuchKey", 404)
				case err != nil || got != vs[0].data:
					t.Fatalf("seed %d after %q: GET %s: %q %v, want %q", seed, trace, k, got, err, vs[0].data)
				}
				for _, v := range vs {
					if v.marker {
						continue
					}
					if got, err := getVersion(t, rd, bucket, k, v.id); err != nil || got != v.data {
						t.Fatalf("seed %d after %q: GET %s %s: %q %v, want %q", seed, trace, k, v.id, got, err, v.data)
					}
				}
			}
		}
	}
}
