package iam

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"
)

// st wraps a State for the tests: each transition must succeed (or fail
// with the error a test names) and replaces the state.
type st struct {
	t testing.TB
	s *State
}

func newSt(t testing.TB) *st { return &st{t: t, s: New()} }

func (x *st) ok(next *State, err error) *State {
	x.t.Helper()
	if err != nil {
		x.t.Fatal(err)
	}
	if next == nil {
		x.t.Fatal("a transition returned no state and no error")
	}
	x.s = next
	return next
}

func (x *st) create(id, name string, role Role) {
	x.t.Helper()
	x.ok(x.s.CreateUser(id, name, []byte("hash-"+id), role, false, 1))
}

func (x *st) issue(userID, ak, secret string) (dropped string) {
	x.t.Helper()
	next, dropped, err := x.s.IssueCredential(userID, ak, secret, 7)
	x.ok(next, err)
	return dropped
}

// refused checks that a transition failed with want and returned no state.
func refused(t *testing.T, next *State, err, want error) {
	t.Helper()
	if !errors.Is(err, want) || next != nil {
		t.Fatalf("got %v (state %v), want %v and no state", err, next != nil, want)
	}
}

func isInvalid(err error) error {
	if _, ok := errors.AsType[*InvalidError](err); ok {
		return errInvalidForTest
	}
	return err
}

var errInvalidForTest = errors.New("an InvalidError")

func TestCreateUser(t *testing.T) {
	x := newSt(t)
	x.create("u1", "alice", RoleWriter)
	u, ok := x.s.UserByID("u1")
	if !ok || u.Username != "alice" || u.Role != RoleWriter || !u.Active || u.Generation != 1 || u.CreatedAt != 1 || u.UpdatedAt != 1 {
		t.Fatalf("user = %+v, %v", u, ok)
	}
	if byName, ok := x.s.UserByName("alice"); !ok || byName != u {
		t.Fatal("username index does not point at the user")
	}
	next, err := x.s.CreateUser("u2", "alice", nil, RoleReader, false, 2)
	refused(t, next, err, ErrUsernameTaken)
	next, err = x.s.CreateUser("u1", "bob", nil, RoleReader, false, 2)
	refused(t, next, err, ErrUserExists)
	for _, bad := range []struct {
		id, name string
		role     Role
	}{{"u3", "carol", 9}, {"u3", "carol", 0}, {"", "carol", RoleReader}, {"u3", "", RoleReader}} {
		next, err = x.s.CreateUser(bad.id, bad.name, nil, bad.role, false, 2)
		refused(t, next, isInvalid(err), errInvalidForTest)
	}
	if n := x.s.NumUsers(); n != 1 {
		t.Fatalf("%d users after rejected creates, want 1", n)
	}
}

func TestIssueCredentialReplacesPrevious(t *testing.T) {
	x := newSt(t)
	x.create("u1", "alice", RoleWriter)
	if dropped := x.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "secret-one"); dropped != "" {
		t.Fatalf("first issue dropped %q", dropped)
	}
	p, ok := x.s.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1")
	if !ok || p.ID != "u1" || p.Secret() != "secret-one" || p.Role != RoleWriter || p.UpdatedAt != 7 {
		t.Fatalf("lookup = %+v, %v", p, ok)
	}
	if dropped := x.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA2", "secret-two"); dropped != "S4AKAAAAAAAAAAAAAAAAAAA1" {
		t.Fatalf("replacing issue dropped %q", dropped)
	}
	if _, ok := x.s.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); ok {
		t.Fatal("old access key still in the auth index after a new one was issued")
	}
	if p, ok := x.s.Lookup("S4AKAAAAAAAAAAAAAAAAAAA2"); !ok || p.Secret() != "secret-two" {
		t.Fatal("new access key missing")
	}
	if u, _ := x.s.UserByID("u1"); u.AccessKey != "S4AKAAAAAAAAAAAAAAAAAAA2" {
		t.Fatalf("user access key = %q", u.AccessKey)
	}
	if n := x.s.NumCredentials(); n != 1 {
		t.Fatalf("%d credentials, want 1", n)
	}
}

func TestIssueCredentialRejects(t *testing.T) {
	x := newSt(t)
	x.create("u1", "alice", RoleWriter)
	x.create("u2", "bob", RoleWriter)
	check := func(userID, ak string, want error) {
		t.Helper()
		if err := isInvalid(x.s.CheckCredential(userID, ak)); !errors.Is(err, want) {
			t.Fatalf("CheckCredential(%s, %s) = %v, want %v", userID, ak, err, want)
		}
		next, dropped, err := x.s.IssueCredential(userID, ak, "s", 1)
		refused(t, next, isInvalid(err), want)
		if dropped != "" {
			t.Fatalf("a refused issue dropped %q", dropped)
		}
	}
	check("nobody", "S4AKAAAAAAAAAAAAAAAAAAA1", ErrNoSuchUser)
	check("nobody", "short", ErrNoSuchUser) // the user is checked first
	check("u1", "short", errInvalidForTest)
	x.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "s")
	check("u2", "S4AKAAAAAAAAAAAAAAAAAAA1", ErrAccessKeyTaken)
	check("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", ErrAccessKeyTaken) // even its own key
	if err := x.s.CheckCredential("u2", "S4AKAAAAAAAAAAAAAAAAAAA2"); err != nil {
		t.Fatal(err)
	}
}

func TestRevokeCredential(t *testing.T) {
	x := newSt(t)
	x.create("u1", "alice", RoleWriter)
	x.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "s")
	next, dropped, err := x.s.RevokeCredential("u1", 9)
	x.ok(next, err)
	if dropped != "S4AKAAAAAAAAAAAAAAAAAAA1" {
		t.Fatalf("revoke dropped %q", dropped)
	}
	if _, ok := x.s.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); ok {
		t.Fatal("revoked key still accepted")
	}
	if u, _ := x.s.UserByID("u1"); u.AccessKey != "" || u.Secret() != "" || u.UpdatedAt != 9 {
		t.Fatalf("user keeps credential after revoke: %+v", u)
	}
	// A repeated revoke is a no-op, not an error: retries are harmless.
	before := x.s
	next, dropped, err = x.s.RevokeCredential("u1", 10)
	if err != nil || next != before || dropped != "" {
		t.Fatalf("repeated revoke: %v, same state %v, dropped %q", err, next == before, dropped)
	}
	next, _, err = x.s.RevokeCredential("nobody", 10)
	refused(t, next, err, ErrNoSuchUser)
}

func TestUpdateUserDeactivateAndGeneration(t *testing.T) {
	x := newSt(t)
	x.create("u1", "alice", RoleWriter)
	x.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "s")
	off := false
	x.ok(x.s.UpdateUser("u1", nil, nil, &off, 99))
	p, ok := x.s.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1")
	if !ok || p.Active {
		t.Fatalf("deactivated user's principal = %+v, %v; want present and inactive", p, ok)
	}
	if p.Generation != 2 || p.UpdatedAt != 99 {
		t.Fatalf("generation %d updated %d, want 2 and 99", p.Generation, p.UpdatedAt)
	}
	// No change: the same state, no new generation.
	before := x.s
	if next, err := x.s.UpdateUser("u1", nil, nil, &off, 100); err != nil || next != before {
		t.Fatalf("no-op update: %v, same state %v", err, next == before)
	}
	reader := RoleReader
	x.ok(x.s.UpdateUser("u1", []byte("new"), &reader, nil, 101))
	u, _ := x.s.UserByID("u1")
	if u.Role != RoleReader || string(u.PasswordHash) != "new" || u.Generation != 3 {
		t.Fatalf("after update: %+v", u)
	}
	if p, _ := x.s.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); p.Role != RoleReader {
		t.Fatal("auth index did not see the role change")
	}
	bad := Role(0)
	next, err := x.s.UpdateUser("u1", nil, &bad, nil, 102)
	refused(t, next, isInvalid(err), errInvalidForTest)
	next, err = x.s.UpdateUser("zz", nil, nil, &off, 102)
	refused(t, next, err, ErrNoSuchUser)
}

func TestDeleteUserRemovesKey(t *testing.T) {
	x := newSt(t)
	x.create("u1", "alice", RoleWriter)
	x.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "s")
	next, dropped, err := x.s.DeleteUser("u1")
	x.ok(next, err)
	if dropped != "S4AKAAAAAAAAAAAAAAAAAAA1" {
		t.Fatalf("delete dropped %q", dropped)
	}
	if _, ok := x.s.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); ok {
		t.Fatal("deleted user's key still in the auth index")
	}
	if _, ok := x.s.UserByName("alice"); ok {
		t.Fatal("deleted user's name still indexed")
	}
	// The name is free again.
	x.create("u2", "alice", RoleReader)
	next, _, err = x.s.DeleteUser("u1")
	refused(t, next, err, ErrNoSuchUser)
}

func TestRootIsImmutable(t *testing.T) {
	x := newSt(t)
	x.ok(x.s.CreateUser("r", "root", nil, RoleSuperUser, true, 1))
	off, writer := false, RoleWriter
	next, _, err := x.s.DeleteUser("r")
	refused(t, next, err, ErrRootImmutable)
	next, err = x.s.UpdateUser("r", nil, nil, &off, 2)
	refused(t, next, err, ErrRootImmutable)
	next, err = x.s.UpdateUser("r", nil, &writer, nil, 2)
	refused(t, next, err, ErrRootImmutable)
	// A password change is allowed.
	x.ok(x.s.UpdateUser("r", []byte("x"), nil, nil, 3))
	if u, _ := x.s.UserByID("r"); !u.Active || u.Role != RoleSuperUser || string(u.PasswordHash) != "x" {
		t.Fatalf("root changed: %+v", u)
	}
}

func TestReadersKeepTheirState(t *testing.T) {
	x := newSt(t)
	x.create("u1", "alice", RoleWriter)
	x.issue("u1", "S4AKAAAAAAAAAAAAAAAAAAA1", "s")
	before := x.s
	next, _, err := x.s.RevokeCredential("u1", 2)
	x.ok(next, err)
	if _, ok := before.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); !ok {
		t.Fatal("an older State value changed under its reader")
	}
	if _, ok := x.s.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); ok {
		t.Fatal("current state still has the key")
	}
	copied := *before // a copy is the same value
	if u, ok := copied.Lookup("S4AKAAAAAAAAAAAAAAAAAAA1"); !ok || u.ID != "u1" {
		t.Fatal("a copied State lost its key")
	}
}

func TestRoles(t *testing.T) {
	for _, r := range []Role{RoleReader, RoleWriter, RoleSuperUser} {
		if got, ok := ParseRole(r.String()); !ok || got != r || !r.Valid() {
			t.Errorf("%v: ParseRole = %v, %v", r, got, ok)
		}
	}
	for _, s := range []string{"", "reader", "Admin", "Role(4)"} {
		if _, ok := ParseRole(s); ok {
			t.Errorf("ParseRole(%q) accepted", s)
		}
	}
	if Role(0).Valid() || Role(4).Valid() || Role(4).String() != "Role(4)" {
		t.Error("invalid roles")
	}
}

// TestRandomTransitionsKeepIndexes drives the transitions at random over a
// small universe of ids, names and keys (so that most of them conflict)
// and checks after each that the three indexes agree with each other, and
// that a refused transition returned no state.
func TestRandomTransitionsKeepIndexes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	s := New()
	id := func() string { return fmt.Sprintf("u%d", rng.Intn(12)) }
	refusedN := 0
	for i := range 3000 {
		at := int64(i)
		var next *State
		var err error
		switch rng.Intn(6) {
		case 0:
			next, err = s.CreateUser(id(), fmt.Sprintf("n%d", rng.Intn(12)), []byte{byte(i)}, Role(1+rng.Intn(3)), rng.Intn(10) == 0, at)
		case 1:
			r, a := Role(rng.Intn(4)), rng.Intn(2) == 0
			next, err = s.UpdateUser(id(), nil, &r, &a, at)
		case 2:
			next, _, err = s.DeleteUser(id())
		case 3, 4:
			next, _, err = s.IssueCredential(id(), fmt.Sprintf("S4AK%020d", rng.Intn(30)), fmt.Sprint("secret", i), at)
		case 5:
			next, _, err = s.RevokeCredential(id(), at)
		}
		if err != nil {
			if next != nil {
				t.Fatalf("step %d: %v with a state", i, err)
			}
			refusedN++
			continue
		}
		s = next
		if s.names.len() != s.users.len() {
			t.Fatalf("step %d: %d names, %d users", i, s.names.len(), s.users.len())
		}
		withKey := 0
		s.users.each(func(u *User) bool {
			if v, ok := s.UserByName(u.Username); !ok || v != u {
				t.Fatalf("step %d: name %s does not lead to its user", i, u.Username)
			}
			if u.AccessKey != "" {
				withKey++
				if v, ok := s.Lookup(u.AccessKey); !ok || v != u || v.Secret() == "" {
					t.Fatalf("step %d: key %s does not lead to its user", i, u.AccessKey)
				}
			}
			return true
		})
		if withKey != s.NumCredentials() {
			t.Fatalf("step %d: %d users with a key, %d keys", i, withKey, s.NumCredentials())
		}
	}
	if refusedN == 0 || refusedN == 3000 {
		t.Fatalf("%d of 3000 refused: the test does not exercise both paths", refusedN)
	}
}
