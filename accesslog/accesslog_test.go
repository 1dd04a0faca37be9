package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLinesAreJSON(t *testing.T) {
	var out syncBuf
	l := New(&out, "n1")
	keys := []string{"plain", "quote\"back\\slash", "ctl\x00\x01\n\t\r", "utf8 ünïcødé ✓", "bad\xff\xfeutf8", "sep\u2028\u2029"}
	at := time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.UTC)
	for i, k := range keys {
		l.Log(&Entry{Time: at, RequestID: "R1", AccessKey: "S4AKAAAAAAAAAAAAAAAAAAAA", UserID: "u1", Operation: "GetObject",
			Bucket: "b", Key: k, Status: 200 + i, BytesIn: 1, BytesOut: 4096, Duration: 1500 * time.Microsecond, Remote: "127.0.0.1:5"})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Log(&Entry{Key: "after close"})
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	n := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", n, err, sc.Bytes())
		}
		var want string // as encoding/json renders it
		jb, _ := json.Marshal(keys[n])
		json.Unmarshal(jb, &want)
		if m["key"] != want || m["node"] != "n1" || m["status"] != float64(200+n) || m["duration_ms"] != 1.5 ||
			m["time"] != "2026-12-04T10:00:00.123456Z" || m["bytes_out"] != float64(4096) || m["error_code"] != "" {
			t.Errorf("line %d: %v", n, m)
		}
		if len(m) != 14 {
			t.Errorf("line %d has %d fields", n, len(m))
		}
		n++
	}
	if n != len(keys) {
		t.Fatalf("%d lines, want %d", n, len(keys))
	}
}

func TestFlushesWithoutClose(t *testing.T) {
	var out syncBuf
	l := New(&out, "n1")
	defer l.Close()
	l.Log(&Entry{Operation: "HeadBucket"})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "HeadBucket") {
		if time.Now().After(deadline) {
			t.Fatal("not flushed within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func BenchmarkLog(b *testing.B) {
	l := New(discard{}, "n1")
	defer l.Close()
	e := &Entry{Time: time.Now(), RequestID: "0123ABCD1f", AccessKey: "S4AKAAAAAAAAAAAAAAAAAAAA", UserID: "7d0b1a3e-7c1b-4e5e-9a43-0c3d9e6f1a2b",
		Operation: "GetObject", Bucket: "bench", Key: "objects/0001", Status: 200, BytesOut: 4096, Duration: time.Millisecond, Remote: "127.0.0.1:40000"}
	b.ReportAllocs()
	for b.Loop() {
		l.Log(e)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
