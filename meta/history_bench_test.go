package meta_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/iam"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/meta"
)

// BenchmarkHistoryMillion builds an IAM history of a million events (or
// S4_BENCH_HISTORY_EVENTS) the way a node does, through ApplyBatch in
// batches of 64 entries on a real meta.db, and then asks it the access
// questions at random times. Run it with -benchtime=1x:
//
//	go test -run xxx -bench HistoryMillion -benchtime=1x -timeout 30m ./meta
//
// The workload: 10,000 users (created first), then events one second
// apart: a credential issued (replacing the user's key, if any) 50 %,
// revoked 20 %, the user deactivated or reactivated 15 %, the role changed
// 15 %; every event from an admin through one of three nodes. It reports
// the history's bytes per event (meta.db's size over events), the apply
// rate, and p50/p99 of AccessAt (every key valid at T, encoded as JSON as
// the admin API answers it) and KeyAccessAt (one key's verdict) over 2,000
// random times.
func BenchmarkHistoryMillion(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("S4_BENCH_HISTORY_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	const users = 10_000
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		m, err := meta.Open(filepath.Join(dir, "meta.db"))
		if err != nil {
			b.Fatal(err)
		}
		sealer := keyring.NewSealer([32]byte{1, 2, 3})
		f := fsm.New(sealer)
		f.AttachMeta(m)

		rng := rand.New(rand.NewSource(1))
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		at := func(j int) int64 { return t0 + int64(j)*int64(time.Second) }
		origin := func() fsm.Origin {
			return fsm.Origin{ActorID: "root-id", ActorName: "root", Node: fmt.Sprintf("n%d", 1+rng.Intn(3)), Client: "127.0.0.1:40000"}
		}
		uid := func(u int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", u, u) }
		var keys []string // every access key issued, for the verdict questions
		event := func(j int) (fsm.MessageType, any) {
			if j < users {
				return fsm.MsgUserCreate, &fsm.UserCreate{ID: uid(j), Username: fmt.Sprintf("user_%d", j), PasswordHash: []byte("$argon2id$v=19$m=65536,t=1,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"), Role: iam.RoleWriter, At: at(j), Origin: origin()}
			}
			u := rng.Intn(users)
			switch r := rng.Intn(100); {
			case r < 50:
				ak := fmt.Sprintf("S4AK%020d", j)
				keys = append(keys, ak)
				sealed, _ := sealer.Seal("secretsecretsecretsecretsecretsecret1234", ak)
				return fsm.MsgCredentialIssue, &fsm.CredentialIssue{UserID: uid(u), AccessKey: ak, SealedSecret: sealed, At: at(j), Origin: origin()}
			case r < 70:
				return fsm.MsgCredentialRevoke, &fsm.CredentialRevoke{UserID: uid(u), At: at(j), Origin: origin()}
			case r < 85:
				a := rng.Intn(4) > 0
				return fsm.MsgUserUpdate, &fsm.UserUpdate{ID: uid(u), Active: &a, At: at(j), Origin: origin()}
			default:
				role := iam.Role(1 + rng.Intn(3))
				return fsm.MsgUserUpdate, &fsm.UserUpdate{ID: uid(u), Role: &role, At: at(j), Origin: origin()}
			}
		}

		b.ResetTimer()
		start := time.Now()
		batch := make([]*raft.Log, 0, 64)
		refused := 0
		flush := func() {
			for k, r := range f.ApplyBatch(batch) {
				if err, ok := r.(error); ok && err != nil {
					if batch[k].Index <= users || !errors.Is(err, fsm.ErrNoSuchUser) && !errors.Is(err, fsm.ErrInvalidEvent) {
						b.Fatalf("entry %d: %v", batch[k].Index, err)
					}
					refused++
				}
			}
			batch = batch[:0]
		}
		for j := 0; j < n; j++ {
			typ, body := event(j)
			cmd, err := fsm.Encode(typ, body)
			if err != nil {
				b.Fatal(err)
			}
			batch = append(batch, &raft.Log{Index: uint64(j + 1), Type: raft.LogCommand, Data: cmd})
			if len(batch) == cap(batch) {
				flush()
			}
		}
		flush()
		applyTime := time.Since(start)
		b.StopTimer()

		st, err := os.Stat(filepath.Join(dir, "meta.db"))
		if err != nil {
			b.Fatal(err)
		}
		page := m.HistoryEvents(meta.HistoryQuery{Limit: 1})
		if len(page.Events) == 0 {
			b.Fatal("the history is empty")
		}

		// The questions, at random times within the history, each asked
		// of the list's two implementations in turn (A/B on the same store
		// in one run): AccessAt, which looks the keys' owners up in key
		// order through one cursor, and AccessAtOneByOne, one seek per key
		// in the answer's order, as it was before.
		const asks = 2000
		var sorted, oneByOne, jsonTime, one []time.Duration
		maxKeys := 0
		for q := 0; q < asks; q++ {
			t := at(rng.Intn(n))
			ask := func(fn func(int64) (meta.AccessList, error), into *[]time.Duration) meta.AccessList {
				s := time.Now()
				l, err := fn(t)
				if err != nil {
					b.Fatal(err)
				}
				*into = append(*into, time.Since(s))
				return l
			}
			var l meta.AccessList
			if q%2 == 0 {
				l = ask(m.AccessAt, &sorted)
				ask(m.AccessAtOneByOne, &oneByOne)
			} else {
				ask(m.AccessAtOneByOne, &oneByOne)
				l = ask(m.AccessAt, &sorted)
			}
			maxKeys = max(maxKeys, len(l.Keys))
			s := time.Now()
			if _, err := json.Marshal(l); err != nil {
				b.Fatal(err)
			}
			jsonTime = append(jsonTime, time.Since(s))

			ak := keys[rng.Intn(len(keys))]
			s = time.Now()
			if _, err := m.KeyAccessAt(t, ak); err != nil {
				b.Fatal(err)
			}
			one = append(one, time.Since(s))
		}
		ms := func(d []time.Duration, p int) float64 {
			slices.Sort(d)
			return float64(d[len(d)*p/100]) / 1e6
		}
		b.ReportMetric(float64(n)/applyTime.Seconds(), "events/s")
		b.ReportMetric(float64(st.Size())/float64(n), "dbB/event")
		b.ReportMetric(float64(st.Size())/(1<<20), "dbMiB")
		b.ReportMetric(float64(maxKeys), "max-keys-at-T")
		b.ReportMetric(float64(refused)/float64(n), "refused/event")
		b.ReportMetric(ms(sorted, 50), "access-p50-ms")
		b.ReportMetric(ms(sorted, 99), "access-p99-ms")
		b.ReportMetric(ms(oneByOne, 50), "onebyone-p50-ms")
		b.ReportMetric(ms(oneByOne, 99), "onebyone-p99-ms")
		b.ReportMetric(ms(jsonTime, 50), "json-p50-ms")
		b.ReportMetric(ms(jsonTime, 99), "json-p99-ms")
		b.ReportMetric(ms(one, 50), "key-p50-ms")
		b.ReportMetric(ms(one, 99), "key-p99-ms")
		m.Close()
	}
}
