package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"

	"github.com/s4/s4/iam"
	"github.com/s4/s4/meta"
)

func historyTypes(evs []meta.HistoryEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type.String())
	}
	return out
}

func accessKeys(l meta.AccessList) []string {
	var out []string
	for _, k := range l.Keys {
		out = append(out, fmt.Sprintf("%s %s %s %s %v", k.AccessKey, k.UserID, k.Username, k.Role, k.Active))
	}
	sort.Strings(out)
	return out
}

func verdict(t *testing.T, m *meta.Store, at int64, ak string) meta.KeyVerdict {
	t.Helper()
	v, err := m.KeyAccessAt(at, ak)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHistorySeedFlow: the seed's flow (create alice, issue, regenerate,
// revoke, issue, deactivate) is in the history with its actors and nodes,
// and the access questions answer right before the key, while it was
// valid, between regenerate and revoke, and after.
func TestHistorySeedFlow(t *testing.T) {
	h := newMetaHarness(t)
	m := h.f.Meta()
	sys := Origin{Node: "n1"}
	root := Origin{ActorID: "r", ActorName: "root", Node: "n2", Client: "127.0.0.1:40000"}
	const k1, k2, k3 = "S4AKAAAAAAAAAAAAAAAAAAA1", "S4AKAAAAAAAAAAAAAAAAAAA2", "S4AKAAAAAAAAAAAAAAAAAAA3"
	issue := func(ak, secret string, at int64) {
		sealed, _ := testSealer.Seal(secret, ak)
		h.mustApply(MsgCredentialIssue, &CredentialIssue{UserID: "a", AccessKey: ak, SealedSecret: sealed, At: at, Origin: root})
	}
	off := false
	h.mustApply(MsgUserCreate, &UserCreate{ID: "r", Username: "root", PasswordHash: []byte("root-password-hash"), Role: iam.RoleSuperUser, Root: true, At: 100, Origin: sys})
	h.mustApply(MsgUserCreate, &UserCreate{ID: "a", Username: "alice", PasswordHash: []byte("alice-password-hash"), Role: iam.RoleWriter, At: 200, Origin: root})
	issue(k1, "secret-number-one", 300)
	issue(k2, "secret-number-two", 400) // regenerate
	h.mustApply(MsgCredentialRevoke, &CredentialRevoke{UserID: "a", At: 500, Origin: root})
	issue(k3, "secret-number-three", 550)
	h.mustApply(MsgUserUpdate, &UserUpdate{ID: "a", Active: &off, PasswordHash: []byte("new-hash"), At: 600, Origin: root})
	// A refused event is not in the history.
	wantErr(t, h.apply(MsgUserDelete, &UserDelete{ID: "r", At: 700, Origin: root}), ErrRootImmutable)

	page := m.HistoryEvents(meta.HistoryQuery{})
	want := []string{"root_created", "user_created", "credential_issued", "credential_replaced", "credential_revoked", "credential_issued", "user_updated"}
	if got := historyTypes(page.Events); !reflect.DeepEqual(got, want) || page.More {
		t.Fatalf("history %v (more %v), want %v", got, page.More, want)
	}
	for i, e := range page.Events {
		if e.Index != uint64(i+1) || e.Time != []int64{100, 200, 300, 400, 500, 550, 600}[i] {
			t.Errorf("event %d: index %d time %d", i, e.Index, e.Time)
		}
		if i == 0 {
			if !e.System() || e.Node != "n1" || e.Client != "" || e.Username != "root" || e.Role != "SuperUser" {
				t.Errorf("root's creation: %+v", e)
			}
		} else if e.ActorID != "r" || e.ActorName != "root" || e.Node != "n2" || e.Client != "127.0.0.1:40000" || e.UserID != "a" || e.Username != "alice" {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	if e := page.Events[3]; e.AccessKey != k2 || e.Replaced != k1 {
		t.Errorf("regenerate: %+v", e)
	}
	if e := page.Events[4]; e.AccessKey != k2 {
		t.Errorf("revoke: %+v", e)
	}
	if e := page.Events[6]; e.Active == nil || *e.Active || !e.Password || e.RoleFrom != "" {
		t.Errorf("deactivation: %+v", e)
	}

	cases := []struct {
		at      int64
		keys    []string
		k       string
		valid   bool
		reason  string
		since   int64
		comment string
	}{
		{50, nil, k1, false, meta.ReasonNotIssuedYet, 300, "before everything"},
		{250, nil, k1, false, meta.ReasonNotIssuedYet, 300, "before the key"},
		{300, []string{k1 + " a alice Writer true"}, k1, true, "", 300, "at its issue"},
		{350, []string{k1 + " a alice Writer true"}, k1, true, "", 300, "while valid"},
		{450, []string{k2 + " a alice Writer true"}, k1, false, meta.ReasonReplaced, 400, "between regenerate and revoke"},
		{450, []string{k2 + " a alice Writer true"}, k2, true, "", 400, "the new key then"},
		{520, nil, k2, false, meta.ReasonRevoked, 500, "after the revoke"},
		{580, []string{k3 + " a alice Writer true"}, k3, true, "", 550, "the third key"},
		{650, []string{k3 + " a alice Writer false"}, k3, false, meta.ReasonUserInactive, 600, "after the deactivation"},
		{650, []string{k3 + " a alice Writer false"}, "S4AKAAAAAAAAAAAAAAAAAAA9", false, meta.ReasonUnknown, 0, "a key never issued"},
	}
	for _, c := range cases {
		l, err := m.AccessAt(c.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := accessKeys(l); !reflect.DeepEqual(got, c.keys) {
			t.Errorf("%s: access at %d: %v, want %v", c.comment, c.at, got, c.keys)
		}
		v := verdict(t, m, c.at, c.k)
		if v.Valid != c.valid || v.Reason != c.reason || v.Since != c.since {
			t.Errorf("%s: %s at %d: valid %v reason %q since %d, want %v %q %d", c.comment, c.k, c.at, v.Valid, v.Reason, v.Since, c.valid, c.reason, c.since)
		}
	}
	if v := verdict(t, m, 450, k1); v.UserID != "a" || v.Username != "alice" || v.IssuedAt != 300 {
		t.Errorf("replaced key's owner: %+v", v)
	}

	// Filters and paging.
	q := func(q meta.HistoryQuery) []string { return historyTypes(m.HistoryEvents(q).Events) }
	if got := q(meta.HistoryQuery{AccessKey: k2}); !reflect.DeepEqual(got, []string{"credential_replaced", "credential_revoked"}) {
		t.Errorf("access_key filter: %v", got)
	}
	if got := q(meta.HistoryQuery{User: "alice"}); len(got) != 6 || got[0] != "user_created" {
		t.Errorf("user filter by name: %v", got)
	}
	if got := q(meta.HistoryQuery{User: "r"}); !reflect.DeepEqual(got, []string{"root_created"}) {
		t.Errorf("user filter by ID: %v", got)
	}
	if got := q(meta.HistoryQuery{Actor: "system"}); !reflect.DeepEqual(got, []string{"root_created"}) {
		t.Errorf("actor filter: %v", got)
	}
	if got := q(meta.HistoryQuery{Actor: "root", Types: []meta.HistoryType{meta.HistCredentialIssued}}); len(got) != 2 {
		t.Errorf("actor and type: %v", got)
	}
	since, until := int64(300), int64(500)
	if got := q(meta.HistoryQuery{Since: &since, Until: &until}); !reflect.DeepEqual(got, want[2:5]) {
		t.Errorf("since/until: %v", got)
	}
	p1 := m.HistoryEvents(meta.HistoryQuery{Limit: 3})
	p2 := m.HistoryEvents(meta.HistoryQuery{Limit: 3, After: p1.Next})
	p3 := m.HistoryEvents(meta.HistoryQuery{Limit: 3, After: p2.Next})
	if !p1.More || !p2.More || p3.More || len(p3.Events) != 1 || p1.Next != 3 || p2.Next != 6 || p3.Events[0].Index != 7 {
		t.Errorf("pages: %+v %+v %+v", p1, p2, p3)
	}
	sparse := m.HistoryEvents(meta.HistoryQuery{Actor: "system", After: 1, ScanLimit: 2})
	if len(sparse.Events) != 0 || !sparse.More || sparse.Next != 3 {
		t.Errorf("scan limit: %+v", sparse)
	}

	// Nothing secret: no hash, no secret.
	dumped := metaDump(t, m)
	for _, s := range []string{"root-password-hash", "alice-password-hash", "new-hash", "secret-number-one", "secret-number-two", "secret-number-three"} {
		if strings.Contains(dumped, s) {
			t.Errorf("the metadata store holds %q", s)
		}
	}
}

// Old events (a log written before the history): version 1 bodies without
// Origin. They decode, and the history records them as the system's.
type oldUserCreate struct {
	ID           string
	Username     string
	PasswordHash []byte
	Role         iam.Role
	Root         bool
	At           int64
}

func oldEvent(t *testing.T, mt MessageType, body any) []byte {
	var buf bytes.Buffer
	buf.WriteByte(byte(mt))
	buf.WriteByte(1)
	if err := codec.NewEncoder(&buf, msgpackHandle).Encode(body); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestHistoryOfOldEvents(t *testing.T) {
	h := newMetaHarness(t)
	cmd := oldEvent(t, MsgUserCreate, &oldUserCreate{ID: "r", Username: "root", Role: iam.RoleSuperUser, Root: true, At: 5})
	if err := CheckEvent(cmd); err != nil {
		t.Fatal(err)
	}
	h.idx++
	if resp := h.f.Apply(&raft.Log{Index: h.idx, Type: raft.LogCommand, Data: cmd}); resp != nil {
		t.Fatal(resp)
	}
	evs := h.f.Meta().HistoryEvents(meta.HistoryQuery{}).Events
	if len(evs) != 1 || evs[0].Type != meta.HistRootCreated || !evs[0].System() || evs[0].Node != "" {
		t.Fatalf("history of an old event: %+v", evs)
	}
}

// TestHistoryBeginsWithTheFirstNewEvent: a store rebuilt from a snapshot
// of a release without the history (users, no history buckets) records
// nothing until an event that names its node, then begins with the state
// as it was (the baseline), and refuses questions before that.
func TestHistoryBeginsWithTheFirstNewEvent(t *testing.T) {
	old := newHarness(t) // no metadata store: the older release's snapshot has no history
	old.create("u1", "alice", iam.RoleWriter)
	old.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "secret-one")
	h := snapshotRoundTripMeta(t, old.f)
	m := h.f.Meta()
	h.idx = old.idx
	h.mustApply(MsgUserCreate, &UserCreate{ID: "u2", Username: "bob", Role: iam.RoleReader, At: 10}) // an old release's event
	if evs := m.HistoryEvents(meta.HistoryQuery{}).Events; len(evs) != 0 {
		t.Fatalf("recorded %v before the first event of this release", historyTypes(evs))
	}
	h.mustApply(MsgCredentialRevoke, &CredentialRevoke{UserID: "u1", At: 20, Origin: Origin{ActorID: "r", ActorName: "root", Node: "n1"}})
	evs := m.HistoryEvents(meta.HistoryQuery{}).Events
	if len(evs) != 1 || evs[0].AccessKey != "S4AKAAAAAAAAAAAAAAAAAAA1" {
		t.Fatalf("history %+v", evs)
	}
	if _, err := m.AccessAt(19); !errors.Is(err, meta.ErrHistoryBefore) {
		t.Fatalf("access before the history: %v", err)
	}
	if v := verdict(t, m, 20, "S4AKAAAAAAAAAAAAAAAAAAA1"); v.Reason != meta.ReasonRevoked || v.IssuedIndex != 0 || v.Username != "alice" {
		t.Fatalf("a key from the baseline: %+v", v)
	}
	h.issue("u2", "S4AKAAAAAAAAAAAAAAAAAAA2", "secret-two")
	if l, _ := m.AccessAt(20); !reflect.DeepEqual(accessKeys(l), []string{"S4AKAAAAAAAAAAAAAAAAAAA2 u2 bob Reader true"}) {
		t.Fatalf("keys at 20 (the issue's time, 7, is clamped to 20): %v", accessKeys(l))
	}
	if evs := m.HistoryEvents(meta.HistoryQuery{User: "bob"}).Events; len(evs) != 1 || evs[0].Type != meta.HistCredentialIssued {
		t.Fatalf("bob's events (from the baseline's name index): %v", historyTypes(evs))
	}
}

// snapshotRoundTripMeta snapshots f and restores it into a new FSM with a
// metadata store of its own.
func snapshotRoundTripMeta(t *testing.T, f *FSM) *harness {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sn := snap.(*snapshot)
	if err := writeSnapshot(&buf, &sn.view.iam, sn.view.index, testSealer, sn.meta); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	g := newMetaHarness(t)
	if err := g.f.Restore(io.NopCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	g.idx = f.AppliedIndex()
	return g
}

// A simple model of who may use which key: the accepted events replayed
// in log order, up to a time.
type modelUser struct {
	name, role string
	active     bool
	key        string
	since      int64
}

type modelLife struct {
	uid              string
	start, end       int64
	startIdx, endIdx uint64
	reason           string
	ended            bool
}

type model struct {
	users map[string]*modelUser
	lives map[string][]*modelLife
}

type modelEvent struct {
	idx  uint64
	time int64 // clamped: never before the previous accepted event's
	body any
}

func replay(evs []modelEvent, at int64) *model {
	m := &model{users: map[string]*modelUser{}, lives: map[string][]*modelLife{}}
	end := func(ak, reason string, e modelEvent) {
		l := m.lives[ak][len(m.lives[ak])-1]
		l.ended, l.end, l.endIdx, l.reason = true, e.time, e.idx, reason
	}
	for _, e := range evs {
		if e.time > at {
			break
		}
		switch ev := e.body.(type) {
		case *UserCreate:
			m.users[ev.ID] = &modelUser{name: ev.Username, role: ev.Role.String(), active: true, since: e.time}
		case *UserUpdate:
			u := m.users[ev.ID]
			if ev.Role != nil {
				u.role = ev.Role.String()
			}
			if ev.Active != nil && *ev.Active != u.active {
				u.active, u.since = *ev.Active, e.time
			}
		case *UserDelete:
			if u := m.users[ev.ID]; u.key != "" {
				end(u.key, meta.ReasonUserDeleted, e)
			}
			delete(m.users, ev.ID)
		case *CredentialIssue:
			u := m.users[ev.UserID]
			if u.key != "" {
				end(u.key, meta.ReasonReplaced, e)
			}
			u.key = ev.AccessKey
			m.lives[ev.AccessKey] = append(m.lives[ev.AccessKey], &modelLife{uid: ev.UserID, start: e.time, startIdx: e.idx})
		case *CredentialRevoke:
			if u := m.users[ev.UserID]; u.key != "" {
				end(u.key, meta.ReasonRevoked, e)
				u.key = ""
			}
		}
	}
	return m
}

func (m *model) keys() []string {
	var out []string
	for id, u := range m.users {
		if u.key != "" {
			out = append(out, fmt.Sprintf("%s %s %s %s %v", u.key, id, u.name, u.role, u.active))
		}
	}
	sort.Strings(out)
	return out
}

// verdict is the model's answer for ak, with full the model of the whole
// log (for a key issued later), and the index of the event that decided it
// (0 for none).
func (m *model) verdict(ak string, full *model) (valid bool, reason string, since int64, decidedBy uint64) {
	lives := m.lives[ak]
	if len(lives) == 0 {
		if fl := full.lives[ak]; len(fl) > 0 {
			return false, meta.ReasonNotIssuedYet, fl[0].start, fl[0].startIdx
		}
		return false, meta.ReasonUnknown, 0, 0
	}
	l := lives[len(lives)-1]
	if l.ended {
		return false, l.reason, l.end, l.endIdx
	}
	if u := m.users[l.uid]; !u.active {
		return false, meta.ReasonUserInactive, u.since, l.startIdx
	}
	return true, "", l.start, l.startIdx
}

// randomIAMLog builds n IAM events over small universes of users, names
// and keys (so that refusals, replacements, deletions and re-issued keys
// are common), with times that sometimes go backwards, as proposers'
// clocks may.
func randomIAMLog(t testing.TB, rng *rand.Rand, n int, t0 int64) []any {
	var out []any
	id := func() string { return fmt.Sprintf("u%d", rng.Intn(8)) }
	key := func() string { return fmt.Sprintf("S4AK%020d", rng.Intn(12)) }
	for i := 0; i < n; i++ {
		at := t0 + int64(i)*10 + int64(rng.Intn(41)-30)
		o := Origin{Node: fmt.Sprintf("n%d", 1+rng.Intn(3))}
		if rng.Intn(4) > 0 {
			o.ActorID, o.ActorName, o.Client = "r", "root", "10.0.0.1:1234"
		}
		switch rng.Intn(7) {
		case 0:
			out = append(out, &UserCreate{ID: id(), Username: fmt.Sprintf("n%d", rng.Intn(8)), PasswordHash: []byte{1}, Role: iam.Role(1 + rng.Intn(3)), Root: rng.Intn(12) == 0, At: at, Origin: o})
		case 1, 2:
			ev := &UserUpdate{ID: id(), At: at, Origin: o}
			if rng.Intn(2) == 0 {
				r := iam.Role(1 + rng.Intn(3))
				ev.Role = &r
			}
			if rng.Intn(3) > 0 {
				a := rng.Intn(2) == 0
				ev.Active = &a
			}
			if rng.Intn(3) == 0 {
				ev.PasswordHash = []byte{2}
			}
			out = append(out, ev)
		case 3:
			out = append(out, &UserDelete{ID: id(), At: at, Origin: o})
		case 4, 5:
			ak := key()
			sealed, _ := testSealer.Seal("s"+ak, ak)
			out = append(out, &CredentialIssue{UserID: id(), AccessKey: ak, SealedSecret: sealed, At: at, Origin: o})
		case 6:
			out = append(out, &CredentialRevoke{UserID: id(), At: at, Origin: o})
		}
	}
	return out
}

func typeOf(body any) MessageType {
	switch body.(type) {
	case *UserCreate:
		return MsgUserCreate
	case *UserUpdate:
		return MsgUserUpdate
	case *UserDelete:
		return MsgUserDelete
	case *CredentialIssue:
		return MsgCredentialIssue
	case *CredentialRevoke:
		return MsgCredentialRevoke
	case *HistoryPrune:
		return MsgHistoryPrune
	}
	panic(fmt.Sprintf("no type for %T", body))
}

func atOf(body any) int64 { return reflect.ValueOf(body).Elem().FieldByName("At").Int() }

// applyRandomly applies bodies in random batches and returns the accepted
// events with their clamped times.
func applyRandomly(t *testing.T, rng *rand.Rand, h *harness, bodies []any, clamp int64) ([]modelEvent, int64) {
	var logs []*raft.Log
	for _, b := range bodies {
		cmd, err := Encode(typeOf(b), b)
		if err != nil {
			t.Fatal(err)
		}
		h.idx++
		logs = append(logs, &raft.Log{Index: h.idx, Type: raft.LogCommand, Data: cmd})
	}
	var accepted []modelEvent
	for i := 0; i < len(logs); {
		n := min(len(logs)-i, 1+rng.Intn(8))
		for j, r := range h.f.ApplyBatch(logs[i : i+n]) {
			if r == nil {
				b := bodies[i+j]
				clamp = max(clamp, atOf(b))
				accepted = append(accepted, modelEvent{idx: logs[i+j].Index, time: clamp, body: b})
			}
		}
		i += n
	}
	return accepted, clamp
}

// checkModel compares the history's answers at times ts with the model's.
// Past a prune through index pruned, a key whose deciding event was
// pruned may be unknown.
func checkModel(t *testing.T, m *meta.Store, accepted []modelEvent, ts []int64, pruned uint64, what string) {
	t.Helper()
	full := replay(accepted, 1<<62)
	for _, at := range ts {
		mod := replay(accepted, at)
		l, err := m.AccessAt(at)
		if err != nil {
			t.Fatalf("%s: access at %d: %v", what, at, err)
		}
		if got, want := accessKeys(l), mod.keys(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: access at %d:\n%v\nwant\n%v", what, at, got, want)
		}
		for k := 0; k < 13; k++ {
			ak := fmt.Sprintf("S4AK%020d", k)
			valid, reason, since, by := mod.verdict(ak, full)
			v := verdict(t, m, at, ak)
			// Past a prune, a key whose life ended by then is unknown,
			// and so is one not issued yet (it may have had a life
			// before the floor).
			if pruned > 0 && v.Reason == meta.ReasonUnknown && (reason == meta.ReasonNotIssuedYet || by <= pruned && reason != "") {
				continue
			}
			if v.Valid != valid || v.Reason != reason || v.Since != since {
				t.Fatalf("%s: %s at %d: valid %v reason %q since %d; the model says %v %q %d", what, ak, at, v.Valid, v.Reason, v.Since, valid, reason, since)
			}
		}
	}
}

// TestHistoryAccessEqualsModel is the property test: for random IAM event
// sequences, the history's answer at a time T (every key valid, and each
// key's verdict) equals replaying the events up to T in the model; also
// after a snapshot restored into another store and the rest of the log
// applied, and after pruning, at every time the history still covers.
func TestHistoryAccessEqualsModel(t *testing.T) {
	defer func(old int) { pruneMax = old }(pruneMax)
	pruneMax = 17
	for seed := int64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewSource(seed))
		h := newMetaHarness(t)
		bodies := randomIAMLog(t, rng, 250, 1000)
		cut := rng.Intn(len(bodies))
		accepted, clamp := applyRandomly(t, rng, h, bodies[:cut], 0)

		// A snapshot here, restored elsewhere: both then take the rest.
		other := snapshotRoundTripMeta(t, h.f)
		if g, w := metaDump(t, other.f.Meta()), metaDump(t, h.f.Meta()); g != w {
			t.Fatalf("seed %d: the restored history differs", seed)
		}
		rest, _ := applyRandomly(t, rand.New(rand.NewSource(seed)), other, bodies[cut:], clamp)
		more, _ := applyRandomly(t, rng, h, bodies[cut:], clamp)
		accepted = append(accepted, more...)
		if len(rest) != len(more) {
			t.Fatalf("seed %d: %d vs %d accepted", seed, len(rest), len(more))
		}
		if g, w := metaDump(t, other.f.Meta()), metaDump(t, h.f.Meta()); g != w {
			t.Fatalf("seed %d: restore + replay differs from replay", seed)
		}

		var ts []int64
		for i := 0; i < 40; i++ {
			ts = append(ts, 900+int64(rng.Intn(2700)))
		}
		for _, e := range accepted[:min(len(accepted), 10)] {
			ts = append(ts, e.time, e.time-1)
		}
		checkModel(t, h.f.Meta(), accepted, ts, 0, fmt.Sprintf("seed %d", seed))

		// Prune up to a random time, in steps of pruneMax events.
		before := 1000 + int64(rng.Intn(2500))
		last := h.f.AppliedIndex()
		for {
			h.mustApply(MsgHistoryPrune, &HistoryPrune{Before: before, At: 5000, Origin: Origin{Node: "n1"}})
			evs := h.f.Meta().HistoryEvents(meta.HistoryQuery{After: h.idx - 1}).Events
			if len(evs) != 1 || evs[0].Type != meta.HistHistoryPruned || evs[0].Before != before {
				t.Fatalf("seed %d: the prune's own event: %+v", seed, evs)
			}
			if evs[0].Pruned == 0 {
				break
			}
			last = evs[0].Through
		}
		floor, ok := h.f.Meta().HistoryFloor()
		if first, _, _ := h.f.Meta().HistoryFirst(); ok && first <= last {
			t.Fatalf("seed %d: event %d kept after a prune through %d", seed, first, last)
		}
		var after []int64
		for _, at := range ts {
			if ok && at < floor {
				if _, err := h.f.Meta().AccessAt(at); !errors.Is(err, meta.ErrHistoryBefore) {
					t.Fatalf("seed %d: access at %d before the floor %d: %v", seed, at, floor, err)
				}
				continue
			}
			after = append(after, at)
		}
		prunedThrough := uint64(0)
		if ok {
			prunedThrough = last
		}
		checkModel(t, h.f.Meta(), accepted, after, prunedThrough, fmt.Sprintf("seed %d after pruning before %d", seed, before))
	}
}

// TestHistoryPrunedStoreIsSmall: after pruning all but the newest events,
// what remains of the older ones is only the states they left.
func TestHistoryPrunedStoreIsSmall(t *testing.T) {
	h := newMetaHarness(t)
	rng := rand.New(rand.NewSource(7))
	applyRandomly(t, rng, h, randomIAMLog(t, rng, 400, 1000), 0)
	h.mustApply(MsgHistoryPrune, &HistoryPrune{Before: 1 << 40, At: 1 << 40})
	evs := h.f.Meta().HistoryEvents(meta.HistoryQuery{}).Events
	if len(evs) != 1 || evs[0].Type != meta.HistHistoryPruned || evs[0].System() != true {
		t.Fatalf("after pruning everything: %v", historyTypes(evs))
	}
	// Every user still in the state answers for its key at the floor.
	floor, _ := h.f.Meta().HistoryFloor()
	l, err := h.f.Meta().AccessAt(floor)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	h.f.State().EachCredential(func(*iam.User) bool { n++; return true })
	if len(l.Keys) != n {
		t.Fatalf("%d keys at the floor, the state has %d", len(l.Keys), n)
	}
}

func TestHistoryNeedsNoMetaStore(t *testing.T) {
	h := newHarness(t)
	h.create("u1", "alice", iam.RoleWriter)
	h.mustApply(MsgHistoryPrune, &HistoryPrune{Before: 10})
}
