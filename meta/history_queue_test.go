package meta

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// iamStream makes n random IAM history records over a few users (create,
// issue, replace, revoke, (de)activate, delete), each with the subject's
// state after it, as package fsm would hand them over; times are one
// second apart from 1,000 s, but one in eight is a few seconds early (a
// proposer whose clock is behind: the history keeps its time at the
// previous event's).
func iamStream(rng *rand.Rand, n int) []*HistoryRecord {
	type user struct {
		HistoryUser
		exists bool
	}
	users := make([]user, 6)
	var out []*HistoryRecord
	keys := 0
	for len(out) < n {
		i := rng.Intn(len(users))
		u := &users[i]
		ev := HistoryEvent{At: int64(1000+len(out)) * int64(time.Second), ActorID: "r", ActorName: "root", Node: "n1", UserID: fmt.Sprintf("u%d", i)}
		if rng.Intn(8) == 0 {
			ev.At -= int64(1+rng.Intn(3)) * int64(time.Second)
		}
		deleted := false
		switch op := rng.Intn(10); {
		case !u.exists:
			u.HistoryUser = HistoryUser{ID: ev.UserID, Username: fmt.Sprintf("user%d-%d", i, len(out)), Role: "Writer", Active: true}
			u.exists = true
			ev.Type, ev.Role = HistUserCreated, "Writer"
		case op < 5:
			keys++
			ev.Type, ev.AccessKey = HistCredentialIssued, fmt.Sprintf("S4AK%020d", keys)
			if u.AccessKey != "" {
				ev.Type, ev.Replaced = HistCredentialReplaced, u.AccessKey
			}
			u.AccessKey = ev.AccessKey
		case op < 7:
			ev.Type, ev.AccessKey = HistCredentialRevoked, u.AccessKey
			u.AccessKey = ""
		case op < 9:
			a := !u.Active
			ev.Type, ev.Active = HistUserUpdated, &a
			u.Active = a
		default:
			ev.Type, ev.AccessKey = HistUserDeleted, u.AccessKey
			deleted = true
		}
		ev.Username = u.Username
		subj := u.HistoryUser
		if deleted {
			subj.Deleted, subj.AccessKey = true, ""
			u.exists, u.AccessKey = false, ""
		}
		out = append(out, &HistoryRecord{Event: ev, Subject: &subj})
	}
	return out
}

// appendStream applies recs to s as the FSM does, in batches of 1 to 8,
// from log index 1; after each batch, ask (if set) is called.
func appendStream(s *Store, rng *rand.Rand, recs []*HistoryRecord, ask func()) {
	appendFrom(s, rng, recs, 0, ask)
}

// appendFrom is appendStream of recs[from:], at log indexes from+1 on.
func appendFrom(s *Store, rng *rand.Rand, recs []*HistoryRecord, from int, ask func()) {
	for i := from; i < len(recs); {
		n := min(len(recs)-i, 1+rng.Intn(8))
		s.Batch(func() {
			for j := i; j < i+n; j++ {
				s.AppendHistory(uint64(j+1), recs[j])
			}
		})
		i += n
		if ask != nil {
			ask()
		}
	}
}

// historyDump is the content of the history's buckets, indexes included.
func historyDump(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	for _, e := range dumpOf(t, s) {
		if strings.HasPrefix(e.bucket, "h/") {
			fmt.Fprintf(&b, "%s %x %x\n", e.bucket, e.k, e.v)
		}
	}
	return b.String()
}

func openWithIdle(t *testing.T, idle time.Duration) *Store {
	t.Helper()
	defer func(old time.Duration) { histIdle = old }(histIdle)
	histIdle = idle
	s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// answers asks s access questions at 30 times over the stream, about
// every key at some of them, and for one user's events, as JSON.
func answers(t *testing.T, s *Store, recs []*HistoryRecord) string {
	t.Helper()
	var keys []string
	for _, r := range recs {
		if k := r.Event.AccessKey; k != "" && len(keys) < 400 {
			keys = append(keys, k)
		}
	}
	var out []any
	for i := 0; i < 30; i++ {
		at := recs[i*len(recs)/30].Event.At
		l, err := s.AccessAt(at)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, at, l)
		for j, k := range keys {
			if (i+j)%6 != 0 {
				continue
			}
			v, err := s.KeyAccessAt(at, k)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
	}
	out = append(out, s.HistoryEvents(HistoryQuery{User: "u1"}), s.HistoryEvents(HistoryQuery{AccessKey: keys[len(keys)/2]}))
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// same fails with the first difference of two answers.
func same(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Fatalf("%s: answers differ at byte %d: ...%s... vs ...%s...", what, i, got[max(0, i-200):min(len(got), i+200)], want[max(0, i-200):min(len(want), i+200)])
}

// TestHistoryIndexesBehindTheApply: the apply leaves an event's indexes
// pending (h/pending), and a question builds them first, so that its
// answer includes every event applied before it; the history built that
// way, all at once after the stream, is byte for byte the one built
// after every batch.
func TestHistoryIndexesBehindTheApply(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		recs := iamStream(rand.New(rand.NewSource(seed)), 700)
		eager := openWithIdle(t, time.Hour)
		appendStream(eager, rand.New(rand.NewSource(seed)), recs, func() {
			eager.historyCurrent()
			if n := eager.pendingHistory(); n != 0 {
				t.Fatalf("seed %d: %d events pending after a question", seed, n)
			}
		})
		lazy := openWithIdle(t, time.Hour)
		appendStream(lazy, rand.New(rand.NewSource(seed)), recs, nil)
		// The queue was written once histGroup records waited (the rest
		// is still queued), and none of what was written is indexed.
		if n := lazy.pendingHistory(); n < 2*histGroup || n > uint64(len(recs)) {
			t.Fatalf("seed %d: %d events pending, want %d to %d", seed, n, 2*histGroup, len(recs))
		}
		a := answers(t, lazy, recs)
		if n := lazy.pendingHistory(); n != 0 {
			t.Fatalf("seed %d: %d events pending after the questions", seed, n)
		}
		checkTimes(t, lazy, recs)
		same(t, fmt.Sprintf("seed %d", seed), a, answers(t, eager, recs))
		if g, w := historyDump(t, lazy), historyDump(t, eager); g != w {
			t.Fatalf("seed %d: the history built behind differs from the one built at once", seed)
		}
	}
}

// checkTimes checks every event's history time: its proposer's, or the
// previous event's when that is later.
func checkTimes(t *testing.T, s *Store, recs []*HistoryRecord) {
	t.Helper()
	var evs []HistoryEvent
	for after := uint64(0); ; {
		p := s.HistoryEvents(HistoryQuery{After: after, Limit: 1000})
		evs = append(evs, p.Events...)
		if !p.More {
			break
		}
		after = p.Next
	}
	if len(evs) != len(recs) {
		t.Fatalf("%d events in the history, want %d", len(evs), len(recs))
	}
	want := int64(0)
	for i, r := range recs {
		want = max(want, r.Event.At)
		if evs[i].Time != want {
			t.Fatalf("event %d: time %d, want %d", evs[i].Index, evs[i].Time, want)
		}
	}
}

// TestHistoryIndexesWhenIdle: a store that applies nothing builds the
// pending indexes on its own, without a question.
func TestHistoryIndexesWhenIdle(t *testing.T) {
	defer func(old int) { histIdleChunk = old }(histIdleChunk)
	histIdleChunk = 100 // several transactions
	s := openWithIdle(t, 10*time.Millisecond)
	recs := iamStream(rand.New(rand.NewSource(7)), 600)
	appendStream(s, rand.New(rand.NewSource(7)), recs, nil)
	s.FlushHistory() // the queue written, the indexes not built
	deadline := time.Now().Add(10 * time.Second)
	for s.pendingHistory() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d events still pending after 10 s idle", s.pendingHistory())
		}
		time.Sleep(5 * time.Millisecond)
	}
	eager := openWithIdle(t, time.Hour)
	appendStream(eager, rand.New(rand.NewSource(7)), recs, eager.historyCurrent)
	if g, w := historyDump(t, s), historyDump(t, eager); g != w {
		t.Fatal("the history built while idle differs from the one built at once")
	}
}

// TestHistoryPendingBounded: under a stream that never lets the store be
// idle and asks nothing, no more than histPendingMax events (plus the
// group being written) wait for their indexes.
func TestHistoryPendingBounded(t *testing.T) {
	defer func(old uint64) { histPendingMax = old }(histPendingMax)
	histPendingMax = 300
	s := openWithIdle(t, time.Hour)
	recs := iamStream(rand.New(rand.NewSource(3)), 3000)
	most := uint64(0)
	appendStream(s, rand.New(rand.NewSource(3)), recs, func() { most = max(most, s.pendingHistory()) })
	if most > histPendingMax || most < histPendingMax-histGroup {
		t.Fatalf("at most %d events pending, want between %d and %d", most, histPendingMax-histGroup, histPendingMax)
	}
	eager := openWithIdle(t, time.Hour)
	appendStream(eager, rand.New(rand.NewSource(3)), recs, eager.historyCurrent)
	same(t, "bounded", answers(t, s, recs), answers(t, eager, recs))
}

// TestHistorySnapshotCarriesPending: a snapshot taken while indexes are
// pending holds them pending; the store restored from it builds them and
// answers as the store it came from, and both go on alike.
func TestHistorySnapshotCarriesPending(t *testing.T) {
	recs := iamStream(rand.New(rand.NewSource(11)), 900)
	s := openWithIdle(t, time.Hour)
	appendStream(s, rand.New(rand.NewSource(11)), recs[:500], nil)
	d := dumpOf(t, s) // the snapshot writes the queue
	pending := 0
	for _, e := range d {
		if e.bucket == string(bktHistPending) && e.k != "" {
			pending++
		}
	}
	if pending != 500 {
		t.Fatalf("the snapshot holds %d pending events, want 500", pending)
	}
	other := openWithIdle(t, time.Hour)
	if err := restoreFrom(other, d); err != nil {
		t.Fatal(err)
	}
	if n := other.pendingHistory(); n != 500 {
		t.Fatalf("restored: %d pending, want 500", n)
	}
	appendFrom(s, rand.New(rand.NewSource(12)), recs, 500, nil)
	appendFrom(other, rand.New(rand.NewSource(12)), recs, 500, nil)
	same(t, "restored", answers(t, other, recs), answers(t, s, recs))
	if g, w := historyDump(t, other), historyDump(t, s); g != w {
		t.Fatal("the restored store's history differs")
	}
}

// TestPendingRecordRoundTrip: the h/pending record keeps the subject.
func TestPendingRecordRoundTrip(t *testing.T) {
	for _, subj := range []*HistoryUser{nil, {ID: "u1"}, {ID: "u2", Username: "alice", Role: "Reader", Active: true, Deleted: true, AccessKey: "S4AKX"}} {
		if got := decodePending(encodePending(subj)); !reflect.DeepEqual(got, subj) {
			t.Fatalf("%+v came back as %+v", subj, got)
		}
	}
}

// histOp is an event or a prune for TestHistoryBehindWithPrunes.
type histOp struct {
	rec        *HistoryRecord
	prune      bool
	before, at int64
}

// histOps is a stream of n IAM events that begins on a state with a user
// and a key (a baseline, later revoked), with a prune of the events older
// than 60 events back every 97 events.
func histOps(seed int64, n int) []histOp {
	recs := iamStream(rand.New(rand.NewSource(seed)), n)
	recs[0].Baseline = func(add func(HistoryUser)) {
		add(HistoryUser{ID: "ub", Username: "base", Role: "Writer", Active: true, AccessKey: "S4AKBASE0"})
	}
	var ops []histOp
	for i, r := range recs {
		if i == 30 {
			ops = append(ops, histOp{rec: &HistoryRecord{
				Event:   HistoryEvent{Type: HistCredentialRevoked, At: r.Event.At, UserID: "ub", Username: "base", AccessKey: "S4AKBASE0", Node: "n1", ActorID: "r"},
				Subject: &HistoryUser{ID: "ub", Username: "base", Role: "Writer", Active: true}}})
		}
		if i%97 == 96 {
			ops = append(ops, histOp{prune: true, before: recs[i-60].Event.At, at: r.Event.At})
		}
		ops = append(ops, histOp{rec: r})
	}
	return ops
}

// applyOps applies ops as the FSM does (a prune and its own event in the
// entry's batch), in batches of 1 to 8; after each batch, after (if set)
// is called with the last op's position.
func applyOps(s *Store, rng *rand.Rand, ops []histOp, after func(j int)) {
	for i := 0; i < len(ops); {
		n := min(len(ops)-i, 1+rng.Intn(8))
		s.Batch(func() {
			for j := i; j < i+n; j++ {
				o, idx := ops[j], uint64(j+1)
				if o.prune {
					np, th := s.PruneHistory(o.before, 40)
					s.AppendHistory(idx, &HistoryRecord{Event: HistoryEvent{Type: HistHistoryPruned, At: o.at, Before: o.before, Pruned: np, Through: th, Node: "n1"}})
				} else {
					s.AppendHistory(idx, o.rec)
				}
			}
		})
		i += n
		if after != nil {
			after(i - 1)
		}
	}
}

// TestHistoryBehindWithPrunes: with a baseline and prunes among the
// events, the history built behind the apply (left to the end, or built
// by the idle builder in chunks of 3 while questions run all the time on
// another goroutine and a snapshot is restored halfway) is byte for byte
// the one built after every batch, and a question about a user always
// includes the user's event applied just before it.
func TestHistoryBehindWithPrunes(t *testing.T) {
	defer func(old int) { histIdleChunk = old }(histIdleChunk)
	for seed := int64(1); seed <= 3; seed++ {
		ops := histOps(seed, 1500)
		eager := openWithIdle(t, time.Hour)
		applyOps(eager, rand.New(rand.NewSource(seed)), ops, func(int) { eager.historyCurrent() })
		want := historyDump(t, eager)
		if p := eager.HistoryEvents(HistoryQuery{Types: []HistoryType{HistHistoryPruned}, Limit: 100}); len(p.Events) == 0 || p.Events[0].Pruned == 0 {
			t.Fatalf("seed %d: no prune removed anything: %+v", seed, p.Events)
		}

		lazy := openWithIdle(t, time.Hour)
		applyOps(lazy, rand.New(rand.NewSource(seed)), ops, nil)
		lazy.historyCurrent()
		if historyDump(t, lazy) != want {
			t.Fatalf("seed %d: the history built at the end differs", seed)
		}

		histIdleChunk = 3
		busy := openWithIdle(t, time.Millisecond)
		stop, asked := make(chan struct{}), make(chan int)
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					asked <- n
					return
				default:
				}
				busy.AccessAt(2000 * int64(time.Second))
				n++
			}
		}()
		restored := false
		applyOps(busy, rand.New(rand.NewSource(seed)), ops, func(j int) {
			if !restored && j > len(ops)/2 {
				restored = true
				if err := restoreFrom(busy, dumpOf(t, busy)); err != nil {
					t.Fatal(err)
				}
			}
			if o := ops[j]; j%3 == 0 && !o.prune && o.rec.Event.UserID != "" {
				p := busy.HistoryEvents(HistoryQuery{User: o.rec.Event.UserID, After: uint64(j)})
				if len(p.Events) == 0 || p.Events[len(p.Events)-1].Index != uint64(j+1) {
					t.Fatalf("seed %d: event %d missing from the user's events: %+v", seed, j+1, p.Events)
				}
			}
		})
		close(stop)
		t.Logf("seed %d: %d questions meanwhile", seed, <-asked)
		busy.historyCurrent()
		if historyDump(t, busy) != want {
			t.Fatalf("seed %d: the history built while busy differs", seed)
		}
	}
}
