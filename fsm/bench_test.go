package fsm

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/iam"
)

// buildState makes n users, each with a credential, shaped like real ones
// (UUID ids, 59-byte argon2id encodings, 24+40 character keys). It builds
// through stateBuilder, the bulk path of Restore.
func buildState(n int) (*iam.State, []string) {
	b := iam.NewBuilder()
	keys := make([]string, n)
	hash := []byte(strings.Repeat("h", 59))
	for i := 0; i < n; i++ {
		ak := fmt.Sprintf("S4AK%020d", i)
		u := &iam.User{
			ID:           fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i),
			Username:     fmt.Sprintf("user_%d", i),
			PasswordHash: append([]byte(nil), hash...),
			Role:         iam.RoleWriter,
			Active:       true,
			CreatedAt:    int64(i),
			UpdatedAt:    int64(i),
			Generation:   1,
			AccessKey:    ak,
		}
		b.Add(u, fmt.Sprintf("%040d", i))
		keys[i] = ak
	}
	s, err := b.State()
	if err != nil {
		panic(err)
	}
	return s, keys
}

var sink *iam.User

// BenchmarkLookup1M is the per-request auth check against a million keys.
func BenchmarkLookup1M(b *testing.B) {
	s, keys := buildState(1_000_000)
	f := New(testSealer)
	f.view.Store(&view{iam: *s})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u, _ := f.Lookup(keys[i%len(keys)])
		sink = u
	}
}

// BenchmarkLookup1MDuringApply measures the same lookups, in parallel, while
// another goroutine applies credential issue/revoke events as fast as it can.
func BenchmarkLookup1MDuringApply(b *testing.B) {
	s, keys := buildState(1_000_000)
	f := New(testSealer)
	f.view.Store(&view{iam: *s})
	sealed, _ := testSealer.Seal("x", "S4AKzzzzzzzzzzzzzzzzzzzz")
	issue, _ := Encode(MsgCredentialIssue, &CredentialIssue{UserID: "00000007-0000-4000-8000-000000000007", AccessKey: "S4AKzzzzzzzzzzzzzzzzzzzz", SealedSecret: sealed})
	revoke, _ := Encode(MsgCredentialRevoke, &CredentialRevoke{UserID: "00000007-0000-4000-8000-000000000007"})
	stop := make(chan struct{})
	done := make(chan struct{})
	var applied atomic.Int64
	go func() {
		defer close(done)
		for idx := uint64(1); ; idx++ {
			select {
			case <-stop:
				return
			default:
			}
			data := issue
			if idx%2 == 0 {
				data = revoke
			}
			f.Apply(&raft.Log{Index: idx, Data: data})
			applied.Add(1)
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			u, _ := f.Lookup(keys[i%uint64(len(keys))])
			if u == nil && i%uint64(len(keys)) != 7 {
				b.Error("lost a key")
			}
		}
	})
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(applied.Load())/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkApplyCredentialIssue is the FSM's own cost per issue event at 1M
// users. Every event succeeds and replaces the user's previous key: users
// 0..1023 alternate between two keys each, so the index loses one key and
// gains one per event.
func BenchmarkApplyCredentialIssue(b *testing.B) {
	s, _ := buildState(1_000_000)
	f := New(testSealer)
	f.view.Store(&view{iam: *s})
	logs := make([][]byte, 2048)
	for i := range logs {
		ak := fmt.Sprintf("S4AKnew%d%016d", i/1024, i%1024)
		sealed, _ := testSealer.Seal("secretsecretsecretsecretsecretsecret1234", ak)
		logs[i], _ = Encode(MsgCredentialIssue, &CredentialIssue{UserID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i%1024, i%1024), AccessKey: ak, SealedSecret: sealed})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if resp := f.Apply(&raft.Log{Index: uint64(i + 1), Data: logs[i%len(logs)]}); resp != nil {
			b.Fatal(resp)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRestore1M restores a snapshot of a million users with a
// credential each (b.N is irrelevant; run -benchtime=1x).
func BenchmarkRestore1M(b *testing.B) {
	s, _ := buildState(1_000_000)
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, s, 0, testSealer, nil); err != nil {
		b.Fatal(err)
	}
	s = nil
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := New(testSealer)
		if err := f.Restore(io.NopCloser(bytes.NewReader(buf.Bytes()))); err != nil {
			b.Fatal(err)
		}
		if f.State().NumCredentials() != 1_000_000 {
			b.Fatal("lost credentials")
		}
	}
	b.ReportMetric(float64(buf.Len())/(1<<20), "MiB-snapshot")
}

// BenchmarkHeapMillionCredentials reports the live heap of a state holding a
// million users with one credential each (b.N is irrelevant; run -benchtime=1x).
func BenchmarkHeapMillionCredentials(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, keys := buildState(1_000_000)
		keys = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB-heap")
		runtime.KeepAlive(s)
		_ = keys
	}
}
