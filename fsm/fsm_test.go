package fsm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/iam"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/meta"
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

func (h *harness) create(id, name string, role iam.Role) {
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

func newMetaHarness(t *testing.T) *harness {
	h := newHarness(t)
	m, err := meta.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	h.f.AttachMeta(m)
	return h
}

func blobOf(s string) meta.BlobPart {
	return meta.BlobPart{ID: sha256.Sum256([]byte(s)), Size: int64(len(s))}
}

func objOf(parts ...string) meta.ObjectMeta {
	o := meta.ObjectMeta{ETag: `"e"`, Owner: "u1"}
	for _, p := range parts {
		o.Parts = append(o.Parts, blobOf(p))
		o.Size += int64(len(p))
	}
	return o
}

// TestIAMEvents: each IAM event reaches its transition, the store's
// verdicts come back as fsm's errors (an invalid argument as
// ErrInvalidEvent), a refused event still advances the applied and auth
// indexes, and a secret that does not unseal is refused after, never
// before, the checks of the user and the key.
func TestIAMEvents(t *testing.T) {
	h := newHarness(t)
	h.create("u1", "alice", iam.RoleWriter)
	if u, ok := h.f.UserByID("u1"); !ok || u.Username != "alice" || u.Role != iam.RoleWriter || !u.Active || u.Generation != 1 {
		t.Fatalf("user = %+v, %v", u, ok)
	}
	if u, ok := h.f.UserByName("alice"); !ok || u.ID != "u1" {
		t.Fatal("username index")
	}
	wantErr(t, h.apply(MsgUserCreate, &UserCreate{ID: "u2", Username: "alice", Role: iam.RoleReader}), ErrUsernameTaken)
	wantErr(t, h.apply(MsgUserCreate, &UserCreate{ID: "u1", Username: "bob", Role: iam.RoleReader}), ErrUserExists)
	resp := h.apply(MsgUserCreate, &UserCreate{ID: "u3", Username: "carol", Role: 9})
	wantErr(t, resp, ErrInvalidEvent)
	if msg := fmt.Sprint(resp); msg != "invalid event: user create needs id, username and a role" {
		t.Fatalf("invalid create: %q", msg)
	}
	if n := h.f.State().NumUsers(); n != 1 {
		t.Fatalf("%d users after rejected creates, want 1", n)
	}
	if h.f.AppliedIndex() != h.idx || h.f.AuthIndex() != h.idx {
		t.Fatalf("applied %d auth %d, want %d (rejected events still advance them)", h.f.AppliedIndex(), h.f.AuthIndex(), h.idx)
	}

	off, bad := false, iam.Role(0)
	h.mustApply(MsgUserUpdate, &UserUpdate{ID: "u1", Active: &off, At: 99})
	if u, _ := h.f.UserByID("u1"); u.Active || u.Generation != 2 || u.UpdatedAt != 99 {
		t.Fatalf("after update: %+v", u)
	}
	wantErr(t, h.apply(MsgUserUpdate, &UserUpdate{ID: "u1", Role: &bad}), ErrInvalidEvent)
	wantErr(t, h.apply(MsgUserUpdate, &UserUpdate{ID: "zz", Active: &off}), ErrNoSuchUser)

	h.create("u2", "bob", iam.RoleWriter)
	if resp := h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "secret-one"); resp != nil {
		t.Fatal(resp)
	}
	if p, ok := h.f.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); !ok || p.ID != "u1" || p.Secret() != "secret-one" {
		t.Fatalf("lookup = %+v, %v", p, ok)
	}
	wantErr(t, h.issue("nobody", "S4AKAAAAAAAAAAAAAAAAAAA2", "s"), ErrNoSuchUser)
	wantErr(t, h.issue("u2", "S4AKAAAAAAAAAAAAAAAAAAA1", "other"), ErrAccessKeyTaken)
	resp = h.issue("u2", "short", "s")
	wantErr(t, resp, ErrInvalidEvent)
	if msg := fmt.Sprint(resp); msg != "invalid event: access key must be 24 characters" {
		t.Fatalf("short key: %q", msg)
	}
	// Sealed for another access key: the AAD does not match.
	sealed, _ := testSealer.Seal("s", "S4AKAAAAAAAAAAAAAAAAAAA9")
	unsealable := func(userID, ak string) any {
		return h.apply(MsgCredentialIssue, &CredentialIssue{UserID: userID, AccessKey: ak, SealedSecret: sealed})
	}
	wantErr(t, unsealable("u2", "S4AKAAAAAAAAAAAAAAAAAAA8"), ErrSecretUnsealing)
	wantErr(t, unsealable("nobody", "S4AKAAAAAAAAAAAAAAAAAAA8"), ErrNoSuchUser)
	wantErr(t, unsealable("u2", "S4AKAAAAAAAAAAAAAAAAAAA1"), ErrAccessKeyTaken)
	wantErr(t, unsealable("u2", "short"), ErrInvalidEvent)
	if _, ok := h.f.Lookup("S4AKAAAAAAAAAAAAAAAAAAA8"); ok {
		t.Fatal("a credential that did not unseal reached the auth index")
	}

	h.mustApply(MsgCredentialRevoke, &CredentialRevoke{UserID: "u1"})
	h.mustApply(MsgCredentialRevoke, &CredentialRevoke{UserID: "u1"}) // a no-op, not an error
	wantErr(t, h.apply(MsgCredentialRevoke, &CredentialRevoke{UserID: "nobody"}), ErrNoSuchUser)
	if _, ok := h.f.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); ok {
		t.Fatal("revoked key still accepted")
	}
	h.mustApply(MsgUserDelete, &UserDelete{ID: "u1"})
	wantErr(t, h.apply(MsgUserDelete, &UserDelete{ID: "u1"}), ErrNoSuchUser)
	h.mustApply(MsgUserCreate, &UserCreate{ID: "r", Username: "root", Role: iam.RoleSuperUser, Root: true})
	wantErr(t, h.apply(MsgUserDelete, &UserDelete{ID: "r"}), ErrRootImmutable)
	if n := h.f.State().NumUsers(); n != 2 || len(h.f.Users()) != 2 {
		t.Fatalf("%d users, want 2", n)
	}
}

// TestMetaEvents: each metadata event reaches its write operation, and the
// store's verdicts come back as fsm's errors (an invalid argument as
// ErrInvalidEvent); the applied index moves, the auth index does not.
func TestMetaEvents(t *testing.T) {
	h := newMetaHarness(t)
	h.create("u1", "alice", iam.RoleWriter)
	auth := h.f.AuthIndex()
	m := h.f.Meta()
	h.mustApply(MsgBucketCreate, &BucketCreate{Name: "b", Owner: "u1", At: 5})
	wantErr(t, h.apply(MsgBucketCreate, &BucketCreate{Name: "b", Owner: "u1"}), ErrBucketOwnedByYou)
	wantErr(t, h.apply(MsgBucketCreate, &BucketCreate{Name: "b", Owner: "u2"}), ErrBucketExists)
	resp := h.apply(MsgBucketCreate, &BucketCreate{Owner: "u1"})
	wantErr(t, resp, ErrInvalidEvent)
	if msg := fmt.Sprint(resp); msg != "invalid event: bucket name of 0 bytes" {
		t.Fatalf("empty bucket name: %q", msg)
	}
	h.mustApply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: objOf("x"), If: &meta.WriteCondition{IfNoneMatch: true}})
	wantErr(t, h.apply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: objOf("y"), If: &meta.WriteCondition{IfNoneMatch: true}}), ErrPreconditionFailed)
	wantErr(t, h.apply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k2", Object: objOf("y"), If: &meta.WriteCondition{IfMatch: true}}), ErrNoSuchKey)
	wantErr(t, h.apply(MsgObjectPut, &ObjectPut{Bucket: "nope", Key: "k", Object: objOf("x")}), ErrNoSuchBucket)
	short := objOf("x")
	short.Size++ // more bytes than its blob has: refused, the object stays
	wantErr(t, h.apply(MsgObjectPut, &ObjectPut{Bucket: "b", Key: "k", Object: short}), ErrInvalidEvent)
	if o, ok := m.Object("b", "k"); !ok || o.Parts[0] != blobOf("x") {
		t.Fatalf("object = %+v %v", o, ok)
	}
	wantErr(t, h.apply(MsgBucketDelete, &BucketDelete{Name: "b"}), ErrBucketNotEmpty)
	h.mustApply(MsgUploadCreate, &UploadCreate{Bucket: "b", Key: "mp", UploadID: "up", At: 6})
	wantErr(t, h.apply(MsgUploadCreate, &UploadCreate{Bucket: "b", Key: "mp", UploadID: "up"}), ErrInvalidEvent)
	wantErr(t, h.apply(MsgPartPut, &PartPut{UploadID: "up", PartNumber: 0}), ErrInvalidEvent)
	wantErr(t, h.apply(MsgPartPut, &PartPut{UploadID: "nope", PartNumber: 1}), ErrNoSuchUpload)
	h.mustApply(MsgPartPut, &PartPut{UploadID: "up", PartNumber: 1, Part: meta.PartMeta{ETag: `"p1"`, Size: 2, Blob: blobOf("p1")}})
	h.mustApply(MsgPartPut, &PartPut{UploadID: "up", PartNumber: 2, Part: meta.PartMeta{ETag: `"p2"`, Size: 2, Blob: blobOf("p2")}})
	wantErr(t, h.apply(MsgUploadComplete, &UploadComplete{UploadID: "up", Parts: []meta.CompletePart{{PartNumber: 2, ETag: `"p2"`}, {PartNumber: 1, ETag: `"p1"`}}}), ErrInvalidPartOrder)
	wantErr(t, h.apply(MsgUploadComplete, &UploadComplete{UploadID: "up", Parts: []meta.CompletePart{{PartNumber: 3, ETag: `"p3"`}}}), ErrInvalidPart)
	wantErr(t, h.apply(MsgUploadComplete, &UploadComplete{UploadID: "up", Parts: []meta.CompletePart{{PartNumber: 1, ETag: `"p1"`}, {PartNumber: 2, ETag: `"p2"`}}}), ErrEntityTooSmall)
	h.mustApply(MsgUploadComplete, &UploadComplete{UploadID: "up", At: 7, Parts: []meta.CompletePart{{PartNumber: 1, ETag: `"p1"`}}})
	if o, ok := m.Object("b", "mp"); !ok || o.LastModified != 7 || o.Size != 2 {
		t.Fatalf("completed object = %+v %v", o, ok)
	}
	wantErr(t, h.apply(MsgUploadAbort, &UploadAbort{UploadID: "up"}), ErrNoSuchUpload)
	h.mustApply(MsgObjectDelete, &ObjectDelete{Bucket: "b", Keys: []string{"k", "mp", "missing"}})
	h.mustApply(MsgBucketDelete, &BucketDelete{Name: "b"})
	wantErr(t, h.apply(MsgBucketDelete, &BucketDelete{Name: "b"}), ErrNoSuchBucket)
	if len(m.Buckets()) != 0 || len(m.Garbage(10)) != 3 {
		t.Fatalf("buckets %v, garbage %d", m.Buckets(), len(m.Garbage(10)))
	}
	if h.f.AppliedIndex() != h.idx || h.f.AuthIndex() != auth {
		t.Fatalf("applied %d auth %d, want %d and %d", h.f.AppliedIndex(), h.f.AuthIndex(), h.idx, auth)
	}
	// Without a metadata store, a metadata event is a bug: it panics.
	defer func() {
		if recover() == nil {
			t.Fatal("a metadata event applied without a store")
		}
	}()
	newHarness(t).apply(MsgBucketCreate, &BucketCreate{Name: "b", Owner: "u1"})
}

// TestEventError: only the stores' InvalidErrors become ErrInvalidEvent.
func TestEventError(t *testing.T) {
	if eventError(nil) != nil {
		t.Fatal("nil became an error")
	}
	for _, err := range []error{ErrNoSuchUser, ErrNoSuchBucket, fmt.Errorf("%w (If-Match)", ErrNoSuchKey)} {
		if got := eventError(err); got != err {
			t.Fatalf("%v became %v", err, got)
		}
	}
	for _, err := range []error{&iam.InvalidError{Reason: "r"}, &meta.InvalidError{Reason: "r"}} {
		if got := eventError(err); !errors.Is(got, ErrInvalidEvent) || got.Error() != "invalid event: r" {
			t.Fatalf("%v became %v", err, got)
		}
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

// dump renders the FSM's state canonically, secrets included, for
// equality checks.
func dump(f *FSM) string {
	var b bytes.Buffer
	s := f.State()
	for _, u := range s.Users() {
		fmt.Fprintf(&b, "%s %s %x %v %v %v %d %d %d %s %s\n", u.ID, u.Username, u.PasswordHash, u.Role, u.Active,
			u.Root, u.CreatedAt, u.UpdatedAt, u.Generation, u.AccessKey, u.Secret())
	}
	var keys []string
	s.EachCredential(func(u *iam.User) bool { keys = append(keys, u.AccessKey+"->"+u.ID); return true })
	sort.Strings(keys)
	names := 0
	for _, u := range s.Users() {
		if v, ok := s.UserByName(u.Username); ok && v == u {
			names++
		}
	}
	fmt.Fprintf(&b, "keys %v\nnames %d index %d\n", keys, names, f.AppliedIndex())
	return b.String()
}

func snapshotRoundTrip(t testing.TB, f *FSM) *FSM {
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
		if got, want := dump(restored), dump(part); got != want {
			t.Fatalf("seed %d: restore differs from the snapshotted state:\n%s\nwant\n%s", seed, got, want)
		}
		for i := cut; i < len(log); i++ {
			restored.Apply(&raft.Log{Index: uint64(i + 1), Data: log[i]})
		}
		if got, want := dump(restored), dump(full); got != want {
			t.Fatalf("seed %d cut %d: restore+replay differs from replay:\n%s\nwant\n%s", seed, cut, got, want)
		}
		// Every credential in the index resolves and belongs to its user.
		full.State().EachCredential(func(u *iam.User) bool {
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
			enc(MsgUserCreate, &UserCreate{ID: id(), Username: fmt.Sprintf("n%d", rng.Intn(12)), PasswordHash: []byte{byte(i)}, Role: iam.Role(1 + rng.Intn(3)), Root: rng.Intn(10) == 0, At: at})
		case 1:
			ev := &UserUpdate{ID: id(), At: at}
			if rng.Intn(2) == 0 {
				r := iam.Role(rng.Intn(4))
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
	h.create("u1", "alice", iam.RoleWriter)
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
	h.create("u1", "alice", iam.RoleWriter)
	const secret = "VerySecretValueThatMustNotAppear00000000"
	h.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", secret)
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, h.f.State(), h.f.AppliedIndex(), testSealer, nil); err != nil {
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
	h.create("u1", "alice", iam.RoleWriter)
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
