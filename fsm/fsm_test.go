package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/keyring"
)

var testSealer = keyring.NewSealer([32]byte{1, 2, 3})

type harness struct {
	t   testing.TB
	f   *FSM
	idx uint64
}

func newHarness(t testing.TB) *harness { return &harness{t: t, f: New(testSealer)} }

// apply encodes and applies one event as Raft would and returns Apply's response.
func (h *harness) apply(mt MessageType, msg any) any {
	h.t.Helper()
	b, err := Encode(mt, msg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.idx++
	return h.f.Apply(&raft.Log{Index: h.idx, Term: 1, Type: raft.LogCommand, Data: b})
}

func (h *harness) mustApply(mt MessageType, msg any) {
	h.t.Helper()
	if resp := h.apply(mt, msg); resp != nil {
		h.t.Fatalf("apply %d: %v", mt, resp)
	}
}

func (h *harness) create(id, name string, role Role) {
	h.t.Helper()
	h.mustApply(MsgUserCreate, &UserCreate{ID: id, Username: name, PasswordHash: []byte("hash-" + id), Role: role, At: int64(h.idx)})
}

func (h *harness) issue(userID, ak, secret string) any {
	h.t.Helper()
	sealed, err := testSealer.Seal(secret, ak)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.apply(MsgCredentialIssue, &CredentialIssue{UserID: userID, AccessKey: ak, SealedSecret: sealed, At: 7})
}

func wantErr(t *testing.T, got any, want error) {
	t.Helper()
	err, _ := got.(error)
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestUserCreate(t *testing.T) {
	h := newHarness(t)
	h.create("u1", "alice", RoleWriter)
	u, ok := h.f.UserByID("u1")
	if !ok || u.Username != "alice" || u.Role != RoleWriter || !u.Active || u.Generation != 1 {
		t.Fatalf("user = %+v, %v", u, ok)
	}
	if byName, ok := h.f.UserByName("alice"); !ok || byName != u {
		t.Fatal("username index does not point at the user")
	}
	wantErr(t, h.apply(MsgUserCreate, &UserCreate{ID: "u2", Username: "alice", Role: RoleReader}), ErrUsernameTaken)
	wantErr(t, h.apply(MsgUserCreate, &UserCreate{ID: "u1", Username: "bob", Role: RoleReader}), ErrUserExists)
	wantErr(t, h.apply(MsgUserCreate, &UserCreate{ID: "u3", Username: "carol", Role: 9}), ErrInvalidEvent)
	if n := h.f.State().NumUsers(); n != 1 {
		t.Fatalf("%d users after rejected creates, want 1", n)
	}
	if h.f.AppliedIndex() != h.idx {
		t.Fatalf("applied index %d, want %d (rejected events still advance it)", h.f.AppliedIndex(), h.idx)
	}
}

func TestCredentialIssueReplacesPrevious(t *testing.T) {
	h := newHarness(t)
	h.create("u1", "alice", RoleWriter)
	if resp := h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "secret-one"); resp != nil {
		t.Fatal(resp)
	}
	p, ok := h.f.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1")
	if !ok || p.ID != "u1" || p.Secret() != "secret-one" || p.Role != RoleWriter {
		t.Fatalf("lookup = %+v, %v", p, ok)
	}
	if resp := h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA2", "secret-two"); resp != nil {
		t.Fatal(resp)
	}
	if _, ok := h.f.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); ok {
		t.Fatal("old access key still in the auth index after a new one was issued")
	}
	if p, ok := h.f.Lookup("S4AKAAAAAAAAAAAAAAAAAAA2"); !ok || p.Secret() != "secret-two" {
		t.Fatal("new access key missing")
	}
	if u, _ := h.f.UserByID("u1"); u.AccessKey != "S4AKAAAAAAAAAAAAAAAAAAA2" {
		t.Fatalf("user access key = %q", u.AccessKey)
	}
	if n := h.f.State().NumCredentials(); n != 1 {
		t.Fatalf("%d credentials, want 1", n)
	}
}

func TestCredentialIssueRejects(t *testing.T) {
	h := newHarness(t)
	h.create("u1", "alice", RoleWriter)
	h.create("u2", "bob", RoleWriter)
	wantErr(t, h.issue("nobody", "S4AKAAAAAAAAAAAAAAAAAAA1", "s"), ErrNoSuchUser)
	if resp := h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "s"); resp != nil {
		t.Fatal(resp)
	}
	wantErr(t, h.issue("u2", "S4AKAAAAAAAAAAAAAAAAAAA1", "other"), ErrAccessKeyTaken)
	// Sealed for another access key: the AAD does not match.
	sealed, _ := testSealer.Seal("s", "S4AKAAAAAAAAAAAAAAAAAAA9")
	wantErr(t, h.apply(MsgCredentialIssue, &CredentialIssue{UserID: "u2", AccessKey: "S4AKAAAAAAAAAAAAAAAAAAA8", SealedSecret: sealed}), ErrSecretUnsealing)
	if _, ok := h.f.Lookup("S4AKAAAAAAAAAAAAAAAAAAA8"); ok {
		t.Fatal("a credential that did not unseal reached the auth index")
	}
}

func TestCredentialRevoke(t *testing.T) {
	h := newHarness(t)
	h.create("u1", "alice", RoleWriter)
	h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "s")
	h.mustApply(MsgCredentialRevoke, &CredentialRevoke{UserID: "u1"})
	if _, ok := h.f.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); ok {
		t.Fatal("revoked key still accepted")
	}
	if u, _ := h.f.UserByID("u1"); u.AccessKey != "" || u.Secret() != "" {
		t.Fatalf("user keeps credential after revoke: %q", u.AccessKey)
	}
	// A repeated revoke is a no-op, not an error: retries are harmless.
	h.mustApply(MsgCredentialRevoke, &CredentialRevoke{UserID: "u1"})
	wantErr(t, h.apply(MsgCredentialRevoke, &CredentialRevoke{UserID: "nobody"}), ErrNoSuchUser)
}

func TestUserUpdateDeactivateAndGeneration(t *testing.T) {
	h := newHarness(t)
	h.create("u1", "alice", RoleWriter)
	h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "s")
	off := false
	h.mustApply(MsgUserUpdate, &UserUpdate{ID: "u1", Active: &off, At: 99})
	p, ok := h.f.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1")
	if !ok || p.Active {
		t.Fatalf("deactivated user's principal = %+v, %v; want present and inactive", p, ok)
	}
	if p.Generation != 2 || p.UpdatedAt != 99 {
		t.Fatalf("generation %d updated %d, want 2 and 99", p.Generation, p.UpdatedAt)
	}
	// No change: no new generation.
	h.mustApply(MsgUserUpdate, &UserUpdate{ID: "u1", Active: &off})
	if u, _ := h.f.UserByID("u1"); u.Generation != 2 {
		t.Fatalf("no-op update moved the generation to %d", u.Generation)
	}
	reader := RoleReader
	h.mustApply(MsgUserUpdate, &UserUpdate{ID: "u1", Role: &reader, PasswordHash: []byte("new")})
	u, _ := h.f.UserByID("u1")
	if u.Role != RoleReader || string(u.PasswordHash) != "new" || u.Generation != 3 {
		t.Fatalf("after update: %+v", u)
	}
	if p, _ := h.f.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); p.Role != RoleReader {
		t.Fatal("auth index did not see the role change")
	}
	bad := Role(0)
	wantErr(t, h.apply(MsgUserUpdate, &UserUpdate{ID: "u1", Role: &bad}), ErrInvalidEvent)
	wantErr(t, h.apply(MsgUserUpdate, &UserUpdate{ID: "zz", Active: &off}), ErrNoSuchUser)
}

func TestUserDeleteRemovesKey(t *testing.T) {
	h := newHarness(t)
	h.create("u1", "alice", RoleWriter)
	h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "s")
	h.mustApply(MsgUserDelete, &UserDelete{ID: "u1"})
	if _, ok := h.f.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); ok {
		t.Fatal("deleted user's key still in the auth index")
	}
	if _, ok := h.f.UserByName("alice"); ok {
		t.Fatal("deleted user's name still indexed")
	}
	// The name is free again.
	h.create("u2", "alice", RoleReader)
	wantErr(t, h.apply(MsgUserDelete, &UserDelete{ID: "u1"}), ErrNoSuchUser)
}

func TestRootIsImmutable(t *testing.T) {
	h := newHarness(t)
	h.mustApply(MsgUserCreate, &UserCreate{ID: "r", Username: "root", Role: RoleSuperUser, Root: true})
	off, writer := false, RoleWriter
	wantErr(t, h.apply(MsgUserDelete, &UserDelete{ID: "r"}), ErrRootImmutable)
	wantErr(t, h.apply(MsgUserUpdate, &UserUpdate{ID: "r", Active: &off}), ErrRootImmutable)
	wantErr(t, h.apply(MsgUserUpdate, &UserUpdate{ID: "r", Role: &writer}), ErrRootImmutable)
	// A password change is allowed.
	h.mustApply(MsgUserUpdate, &UserUpdate{ID: "r", PasswordHash: []byte("x")})
	if u, _ := h.f.UserByID("r"); !u.Active || u.Role != RoleSuperUser {
		t.Fatalf("root changed: %+v", u)
	}
}

func TestUnknownEventPanicsUnlessIgnorable(t *testing.T) {
	h := newHarness(t)
	h.idx++
	if resp := h.f.Apply(&raft.Log{Index: h.idx, Data: []byte{byte(IgnoreUnknownTypeFlag | 77), 1, 0xc0}}); resp != nil {
		t.Fatalf("ignorable unknown event: %v", resp)
	}
	if h.f.AppliedIndex() != h.idx {
		t.Fatal("ignored event did not advance the applied index")
	}
	for _, data := range [][]byte{{77, 1, 0xc0}, {}, {byte(MsgUserCreate), 1, 0xff, 0x00}, {byte(MsgUserCreate), 99, 0x80}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Apply(%x) did not panic", data)
				}
			}()
			h.f.Apply(&raft.Log{Index: 100, Data: data})
		}()
	}
}

func TestReadersKeepTheirState(t *testing.T) {
	h := newHarness(t)
	h.create("u1", "alice", RoleWriter)
	h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "s")
	before := h.f.State()
	h.mustApply(MsgCredentialRevoke, &CredentialRevoke{UserID: "u1"})
	if _, ok := before.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); !ok {
		t.Fatal("an older State value changed under its reader")
	}
	if _, ok := h.f.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); ok {
		t.Fatal("current state still has the key")
	}
}

// dump renders a state canonically, secrets included, for equality checks.
func dump(s *State) string {
	var b bytes.Buffer
	for _, u := range s.Users() {
		fmt.Fprintf(&b, "%s %s %x %v %v %v %d %d %d %s %s\n", u.ID, u.Username, u.PasswordHash, u.Role, u.Active,
			u.Root, u.CreatedAt, u.UpdatedAt, u.Generation, u.AccessKey, u.Secret())
	}
	var keys []string
	s.keys.each(func(u *User) bool { keys = append(keys, u.AccessKey+"->"+u.ID); return true })
	sort.Strings(keys)
	fmt.Fprintf(&b, "keys %v\nnames %d index %d\n", keys, s.names.len(), s.index)
	return b.String()
}

func snapshotRoundTrip(t testing.TB, f *FSM) *FSM {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, snap.(*snapshot).state, testSealer, snap.(*snapshot).meta); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	g := New(testSealer)
	if err := g.Restore(io.NopCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestSnapshotRestoreEqualsReplay applies random event sequences and checks
// that restoring a snapshot taken at any point, then replaying the rest of
// the log, gives exactly the state that replaying the whole log gives.
func TestSnapshotRestoreEqualsReplay(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewSource(seed))
		log := randomLog(t, rng, 300)
		cut := rng.Intn(len(log))

		full := New(testSealer)
		for i, data := range log {
			full.Apply(&raft.Log{Index: uint64(i + 1), Data: data})
		}
		part := New(testSealer)
		for i, data := range log[:cut] {
			part.Apply(&raft.Log{Index: uint64(i + 1), Data: data})
		}
		restored := snapshotRoundTrip(t, part)
		if got, want := dump(restored.State()), dump(part.State()); got != want {
			t.Fatalf("seed %d: restore differs from the snapshotted state:\n%s\nwant\n%s", seed, got, want)
		}
		for i := cut; i < len(log); i++ {
			restored.Apply(&raft.Log{Index: uint64(i + 1), Data: log[i]})
		}
		if got, want := dump(restored.State()), dump(full.State()); got != want {
			t.Fatalf("seed %d cut %d: restore+replay differs from replay:\n%s\nwant\n%s", seed, cut, got, want)
		}
		// Every credential in the index resolves and belongs to its user.
		full.State().keys.each(func(u *User) bool {
			if v, ok := full.UserByID(u.ID); !ok || v.AccessKey != u.AccessKey {
				t.Fatalf("seed %d: index entry %s for %s disagrees with the user table", seed, u.AccessKey, u.ID)
			}
			return true
		})
	}
}

// randomLog builds n encoded events over a small universe of ids, names and
// keys so that conflicts, replacements and deletes happen often.
func randomLog(t testing.TB, rng *rand.Rand, n int) [][]byte {
	var out [][]byte
	enc := func(mt MessageType, msg any) {
		b, err := Encode(mt, msg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	id := func() string { return fmt.Sprintf("u%d", rng.Intn(12)) }
	for i := 0; i < n; i++ {
		at := int64(i)
		switch rng.Intn(6) {
		case 0:
			enc(MsgUserCreate, &UserCreate{ID: id(), Username: fmt.Sprintf("n%d", rng.Intn(12)), PasswordHash: []byte{byte(i)}, Role: Role(1 + rng.Intn(3)), Root: rng.Intn(10) == 0, At: at})
		case 1:
			ev := &UserUpdate{ID: id(), At: at}
			if rng.Intn(2) == 0 {
				r := Role(rng.Intn(4))
				ev.Role = &r
			}
			if rng.Intn(2) == 0 {
				a := rng.Intn(2) == 0
				ev.Active = &a
			}
			if rng.Intn(3) == 0 {
				ev.PasswordHash = []byte{byte(i), 1}
			}
			enc(MsgUserUpdate, ev)
		case 2:
			enc(MsgUserDelete, &UserDelete{ID: id(), At: at})
		case 3, 4:
			ak := fmt.Sprintf("S4AK%020d", rng.Intn(30))
			if rng.Intn(20) == 0 {
				ak = "short"
			}
			secret := fmt.Sprintf("secret%d", i)
			sealed, _ := testSealer.Seal(secret, ak)
			enc(MsgCredentialIssue, &CredentialIssue{UserID: id(), AccessKey: ak, SealedSecret: sealed, At: at})
		case 5:
			enc(MsgCredentialRevoke, &CredentialRevoke{UserID: id(), At: at})
		}
	}
	return out
}

func TestRestoreRejectsGarbageAndKeepsState(t *testing.T) {
	h := newHarness(t)
	h.create("u1", "alice", RoleWriter)
	for _, in := range [][]byte{nil, []byte("garbage"), {0x85}} {
		if err := h.f.Restore(io.NopCloser(bytes.NewReader(in))); err == nil {
			t.Fatalf("Restore(%q) succeeded", in)
		}
	}
	if _, ok := h.f.UserByID("u1"); !ok {
		t.Fatal("a failed restore changed the state")
	}
}

func TestSnapshotHasNoPlaintextSecret(t *testing.T) {
	h := newHarness(t)
	h.create("u1", "alice", RoleWriter)
	const secret = "VerySecretValueThatMustNotAppear00000000"
	h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", secret)
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, h.f.State(), testSealer, nil); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte(secret)) {
		t.Fatal("snapshot contains the plaintext secret")
	}
}

func TestCredentialDroppedHook(t *testing.T) {
	h := newHarness(t)
	var dropped []string
	h.f.OnCredentialDropped(func(ak string) { dropped = append(dropped, ak) })
	h.create("u1", "alice", RoleWriter)
	h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "s")
	h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA2", "s") // replaces key 1
	h.mustApply(MsgCredentialRevoke, &CredentialRevoke{UserID: "u1"})
	h.mustApply(MsgCredentialRevoke, &CredentialRevoke{UserID: "u1"}) // nothing left to drop
	h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA3", "s")
	h.mustApply(MsgUserDelete, &UserDelete{ID: "u1"})
	want := []string{"S4AKAAAAAAAAAAAAAAAAAAA1", "S4AKAAAAAAAAAAAAAAAAAAA2", "S4AKAAAAAAAAAAAAAAAAAAA3"}
	if fmt.Sprint(dropped) != fmt.Sprint(want) {
		t.Fatalf("dropped %v, want %v", dropped, want)
	}
}
