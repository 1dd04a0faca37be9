package iam

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"unsafe"
)

// ops is what the tests need of index and keyIndex.
type ops struct {
	get     func(string) *User
	len     func() int
	each    func(func(*User) bool)
	with    func(*User) ops
	without func(string) ops
}

func indexOps(x index) ops {
	return ops{x.get, x.len, x.each,
		func(u *User) ops { return indexOps(x.with(u)) },
		func(k string) ops { return indexOps(x.without(k)) }}
}

func keyIndexOps(x keyIndex) ops {
	return ops{x.get, x.len, x.each,
		func(u *User) ops { return keyIndexOps(x.with(u)) },
		func(k string) ops { return keyIndexOps(x.without(k)) }}
}

// TestIndexAgainstMap drives both index shapes and a Go map with the same
// random operations and checks them, and that a version taken midway never
// changes; then it checks the bulk-built indexes the same way.
func TestIndexAgainstMap(t *testing.T) {
	for _, f := range []field{byName, byAccessKey} {
		t.Run(f.String(), func(t *testing.T) { testIndexAgainstMap(t, f) })
	}
}

func testIndexAgainstMap(t *testing.T, f field) {
	rng := rand.New(rand.NewSource(1))
	newUser := func(k string, gen int) *User {
		if f == byName {
			return &User{Username: k, Generation: uint64(gen)}
		}
		return &User{AccessKey: k, Generation: uint64(gen)}
	}
	build := func(users []*User) (ops, error) {
		if f == byName {
			x, err := buildIndex(f, users)
			return indexOps(x), err
		}
		x, err := buildKeyIndex(users)
		return keyIndexOps(x), err
	}
	x, _ := build(nil)
	ref := map[string]*User{}
	var midX ops
	var midRef map[string]*User
	key := func(n int) string { return fmt.Sprintf("S4AK%020d", n) } // the auth index needs 24 bytes
	for i := 0; i < 100000; i++ {
		k := key(rng.Intn(20000))
		if rng.Intn(3) == 0 {
			x = x.without(k)
			delete(ref, k)
		} else {
			u := newUser(k, i)
			x = x.with(u)
			ref[k] = u
		}
		if i == 50000 {
			midX, midRef = x, map[string]*User{}
			for k, v := range ref {
				midRef[k] = v
			}
		}
	}
	check := func(name string, x ops, ref map[string]*User) {
		t.Helper()
		if x.len() != len(ref) {
			t.Fatalf("%s: len %d, want %d", name, x.len(), len(ref))
		}
		n := 0
		x.each(func(u *User) bool {
			n++
			if ref[f.of(u)] != u {
				t.Fatalf("%s: each gave %s=%d, not in the map", name, f.of(u), u.Generation)
			}
			return true
		})
		if n != len(ref) {
			t.Fatalf("%s: each saw %d, want %d", name, n, len(ref))
		}
		for i := 0; i < 20000; i++ {
			k := key(i)
			if got, want := x.get(k), ref[k]; got != want {
				t.Fatalf("%s: get %s = %v, want %v", name, k, got, want)
			}
		}
	}
	check("current", x, ref)
	check("midway", midX, midRef)

	var all []*User
	for _, u := range ref {
		all = append(all, u)
	}
	built, err := build(all)
	if err != nil {
		t.Fatal(err)
	}
	check("built", built, ref)
	// A built index takes writes like any other, without disturbing itself.
	after := built.with(newUser(key(-1), 0)).without(key(1))
	check("built", built, ref)
	if after.get(key(-1)) == nil || after.get(key(1)) != nil || after.len() != built.len()+1-btoi(ref[key(1)] != nil) {
		t.Fatal("write to a built index")
	}
	if _, err := build(append(all, newUser(f.of(all[0]), 0))); err == nil {
		t.Fatal("built an index with a duplicate key")
	}
}

func TestStateBuilderRejectsDuplicates(t *testing.T) {
	for _, users := range [][2]User{
		{{ID: "a", Username: "x"}, {ID: "a", Username: "y"}},
		{{ID: "a", Username: "x"}, {ID: "b", Username: "x"}},
		{{ID: "a", Username: "x", AccessKey: "S4AKAAAAAAAAAAAAAAAAAAA1"}, {ID: "b", Username: "y", AccessKey: "S4AKAAAAAAAAAAAAAAAAAAA1"}},
	} {
		b := NewBuilder()
		b.Add(&users[0], "")
		b.Add(&users[1], "")
		if _, err := b.State(); !errors.Is(err, errDuplicate) {
			t.Fatalf("%v: err %v", users, err)
		}
	}
}

// TestPackedUser checks that packing keeps every field, and that the packed
// user is independent of the memory it was packed from.
func TestPackedUser(t *testing.T) {
	if size := unsafe.Sizeof(User{}); size > 112 {
		t.Fatalf("User is %d bytes, want at most 112", size)
	}
	hash := []byte("argon2id-hash")
	for _, secret := range []string{"", "the-secret", strings.Repeat("s", 40), strings.Repeat("s", 41)} {
		for _, ak := range []string{"", "S4AKAAAAAAAAAAAAAAAAAAA1"} {
			secret := []byte(secret)
			u := &User{ID: "id-1", Username: "alice", PasswordHash: hash, AccessKey: ak, Generation: 3}
			u.setSecret(unsafe.String(unsafe.SliceData(secret), len(secret)))
			var a arena
			for _, a := range []*arena{nil, &a} {
				want := *u
				v := u.packed(a)
				if u.ID != want.ID || u.AccessKey != want.AccessKey || u.secret != want.secret || &u.PasswordHash[0] != &hash[0] {
					t.Fatal("packing changed the original")
				}
				wantSecret := string(secret)
				for i := range hash {
					hash[i]++
				}
				for i := range secret {
					secret[i]++
				}
				if v.ID != "id-1" || v.Username != "alice" || string(v.PasswordHash) != "argon2id-hash" || v.Generation != 3 ||
					v.AccessKey != ak || v.Secret() != wantSecret || cap(v.PasswordHash) != len(v.PasswordHash) {
					t.Fatalf("packed: %+v secret %q", v, v.Secret())
				}
				for i := range hash {
					hash[i]--
				}
				for i := range secret {
					secret[i]--
				}
			}
		}
	}
	if v := (&User{}).packed(nil); v.Secret() != "" || v.PasswordHash != nil {
		t.Fatal("packing an empty user")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestIndexTagCollisions checks keys that share a leaf and a tag, which a
// few hundred thousand keys are sure to produce.
func TestIndexTagCollisions(t *testing.T) {
	type pos struct {
		leaf int
		tag  uint16
	}
	seen := map[pos]string{}
	var pairs [][2]string
	var users []*User
	for n := 0; n < 300000; n++ {
		k := fmt.Sprintf("S4AK%020d", n)
		users = append(users, &User{Username: k, AccessKey: k})
		b, tag := slot(k)
		if other, ok := seen[pos{b, tag}]; ok {
			pairs = append(pairs, [2]string{other, k})
		}
		seen[pos{b, tag}] = k
	}
	if len(pairs) < 10 {
		t.Fatalf("only %d collisions", len(pairs))
	}
	x, err := buildIndex(byName, users)
	if err != nil {
		t.Fatal(err)
	}
	y, err := buildKeyIndex(users)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []ops{indexOps(x), keyIndexOps(y)} {
		for _, p := range pairs {
			a, b := x.get(p[0]), x.get(p[1])
			if a == nil || b == nil || a.AccessKey != p[0] || b.AccessKey != p[1] {
				t.Fatalf("get %v: %v %v", p, a, b)
			}
			z := x.without(p[0])
			if z.get(p[0]) != nil || z.get(p[1]) != b || z.len() != x.len()-1 {
				t.Fatalf("without %s", p[0])
			}
			u := &User{Username: p[1], AccessKey: p[1], Generation: 9}
			z = z.with(u)
			if z.get(p[1]) != u || z.len() != x.len()-1 || x.get(p[1]) != b {
				t.Fatalf("replace %s", p[1])
			}
		}
	}
}

func TestLanes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 100000; i++ {
		var v uint64
		var want uint32
		for l := 0; l < 4; l++ {
			lane := uint64(rng.Intn(4)) // small values: zeros and near-zeros
			if rng.Intn(2) == 0 {
				lane = uint64(rng.Intn(1 << 16))
			}
			v |= lane << (16 * l)
			if lane == 0 {
				want |= 1 << l
			}
		}
		if got := lanes(v); got != want {
			t.Fatalf("lanes(%016x) = %04b, want %04b", v, got, want)
		}
	}
}
