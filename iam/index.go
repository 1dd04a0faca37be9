package iam

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
	"slices"
	"unsafe"
)

// The State's three indexes (users by ID, by username, and the auth index by
// access key) are immutable hash tries: a write returns a new index that
// shares everything it did not touch, so a reader holding a State is never
// disturbed and a snapshot is a pointer copy.
//
// A key's 64-bit hash picks one of 8,192 leaves through three small arrays
// (32, 32 and 8 wide) and gives a 16-bit tag; a leaf holds its entries in
// tag order in exactly-sized arrays. A write copies the three arrays on the
// path and the one leaf it touches: at a million entries, leaves of ~120, so
// about 2 KiB, a microsecond, and little garbage for the collector (which,
// with a few hundred MB of live users to mark, costs more than the copying).
// Leaves grow with the index: writes slow down linearly, lookups hardly.
//
// The two leaf shapes trade memory against misses:
//   - index (by ID, by username) stores only the user pointers, 8 bytes an
//     entry; a probe hashes the key of the user it points at, so a lookup
//     dereferences a handful of users. The transitions and the admin API
//     use it.
//   - keyIndex (the per-request auth check) stores tags and pointers in
//     128-byte groups, ~12 bytes an entry, laid out so that a lookup reads
//     one group and dereferences only the user it returns.

const (
	leafBits         = 13
	numLeaves        = 1 << leafBits
	fan1, fan2, fan3 = 32, 32, numLeaves / (32 * 32)
)

var indexSeed = maphash.MakeSeed()

// slot hashes k into its leaf number and its tag.
func slot(k string) (leaf int, tag uint16) {
	h := maphash.String(indexSeed, k)
	return int(h >> (64 - leafBits)), uint16(h >> (64 - leafBits - 16))
}

func tagOf(k string) uint16 { _, tag := slot(k); return tag }

// trie is the three levels of arrays over leaves of type L.
type trie[L any] struct {
	root *[fan1]*[fan2]*[fan3]L
	n    int // entries
}

func split(b int) (i, j, k int) { return b / (fan2 * fan3), b / fan3 % fan2, b % fan3 }

func (t *trie[L]) len() int { return t.n }

// leaf returns leaf b, or nil if it is empty.
func (t *trie[L]) leaf(b int) *L {
	i, j, k := split(b)
	if t.root == nil || t.root[i] == nil || t.root[i][j] == nil {
		return nil
	}
	return &t.root[i][j][k]
}

// mutable gives t fresh arrays on the path to leaf b, sharing everything
// else, and returns that leaf for the caller to replace (never to modify:
// the old leaf belongs to older versions too).
func (t *trie[L]) mutable(b int) *L {
	i, j, k := split(b)
	r := new([fan1]*[fan2]*[fan3]L)
	if t.root != nil {
		*r = *t.root
	}
	m := new([fan2]*[fan3]L)
	if r[i] != nil {
		*m = *r[i]
	}
	l := new([fan3]L)
	if m[j] != nil {
		*l = *m[j]
	}
	r[i], m[j], t.root = m, l, r
	return &l[k]
}

// fill returns leaf b of a trie nobody else can see yet, to set in place.
func (t *trie[L]) fill(b int) *L {
	i, j, k := split(b)
	if t.root == nil {
		t.root = new([fan1]*[fan2]*[fan3]L)
	}
	if t.root[i] == nil {
		t.root[i] = new([fan2]*[fan3]L)
	}
	if t.root[i][j] == nil {
		t.root[i][j] = new([fan3]L)
	}
	return &t.root[i][j][k]
}

// leaves calls fn with every leaf until fn returns false.
func (t *trie[L]) leaves(fn func(*L) bool) {
	if t.root == nil {
		return
	}
	for _, m := range t.root {
		if m == nil {
			continue
		}
		for _, l := range m {
			if l == nil {
				continue
			}
			for k := range l {
				if !fn(&l[k]) {
					return
				}
			}
		}
	}
}

// field names the User field an index is keyed by.
type field uint8

const (
	byID field = iota
	byName
	byAccessKey
)

func (f field) of(u *User) string {
	switch f {
	case byID:
		return u.ID
	case byName:
		return u.Username
	}
	return u.AccessKey
}

func (f field) String() string { return [...]string{"id", "username", "access key"}[f] }

// index maps the ID or the username to the user. A leaf is a []*User sorted
// by the tag of the user's key.
type index struct {
	trie[[]*User]
	field field
}

// locate returns the position of key k (tag tag) in l and true, or where it
// would be inserted and false. It interpolates on the tags of the users it
// probes, which takes about log log len(l) probes.
func (x *index) locate(l []*User, k string, tag uint16) (int, bool) {
	// Entries before lo have tags < tag, from hi on ≥ tag; those in
	// between have tags in [tlo, thi], and tlo ≤ tag ≤ thi.
	lo, hi, tlo, thi := 0, len(l), 0, 1<<16-1
	for lo < hi {
		p := lo + int(uint64(int(tag)-tlo)*uint64(hi-lo)/uint64(thi-tlo+1))
		if t := int(tagOf(x.field.of(l[p]))); t < int(tag) {
			lo, tlo = p+1, t
		} else {
			hi, thi = p, t
		}
	}
	for p := lo; p < len(l); p++ {
		switch key := x.field.of(l[p]); {
		case key == k:
			return p, true
		case tagOf(key) != tag:
			return lo, false
		}
	}
	return lo, false
}

// get returns the user whose key is k, or nil.
func (x *index) get(k string) *User {
	b, tag := slot(k)
	if l := x.leaf(b); l != nil {
		if p, ok := x.locate(*l, k, tag); ok {
			return (*l)[p]
		}
	}
	return nil
}

// with returns an index in which u replaces the user with the same key, or
// is added.
func (x index) with(u *User) index {
	k := x.field.of(u)
	b, tag := slot(k)
	l := x.mutable(b)
	p, found := x.locate(*l, k, tag)
	if found {
		*l = splice(*l, p, 1, u)
	} else {
		*l = splice(*l, p, 0, u)
		x.n++
	}
	return x
}

// without returns an index without key k.
func (x index) without(k string) index {
	b, tag := slot(k)
	l := x.leaf(b)
	if l == nil {
		return x
	}
	p, found := x.locate(*l, k, tag)
	if !found {
		return x
	}
	*x.mutable(b) = splice(*l, p, 1, nil)
	x.n--
	return x
}

// splice returns a copy of l with drop entries at p replaced by u (if not nil).
func splice(l []*User, p, drop int, u *User) []*User {
	n := len(l) - drop
	if u != nil {
		n++
	}
	if n == 0 {
		return nil
	}
	out := make([]*User, 0, n)
	out = append(out, l[:p]...)
	if u != nil {
		out = append(out, u)
	}
	return append(out, l[p+drop:]...)
}

// each calls fn for every user until fn returns false. The order depends on
// the process's hash seed: never let it affect state.
func (x *index) each(fn func(*User) bool) {
	x.leaves(func(l *[]*User) bool {
		for _, u := range *l {
			if !fn(u) {
				return false
			}
		}
		return true
	})
}

// groupSize entries make a group: 128 bytes, two adjacent cache lines that
// the CPU fetches together.
const groupSize = 12

type group struct {
	tags  [groupSize / 4]uint64 // slot s's tag is 16 bits of tags[s/4]
	_     uint64                // pads the group to 128 bytes, line-aligned
	users [groupSize]*User      // nil: a free slot
}

var _ [128 - unsafe.Sizeof(group{})]struct{}

func (g *group) tag(s int) uint16 { return uint16(g.tags[s/4] >> (16 * (s % 4))) }

func (g *group) set(s int, tag uint16, u *User) {
	g.tags[s/4] |= uint64(tag) << (16 * (s % 4))
	g.users[s] = u
}

// lanes returns a bit for each zero 16-bit lane of v. keyIndex.get uses it
// to match a tag against a group's twelve at once, in a handful of
// instructions and no branch: a mispredicted branch on the freshly missed
// line, or a long instruction sequence, would keep the CPU from running
// ahead into the next request's lookup.
func lanes(v uint64) uint32 {
	const low = 0x7fff_7fff_7fff_7fff
	z := ^((v&low + low) | v | low) // the top bit of each zero lane
	// Gather bits 15, 31, 47 and 63 into bits 48..51.
	return uint32(z >> 15 * (1<<48 | 1<<33 | 1<<18 | 1<<3) >> 48)
}

// keyLeaf holds its entries in tag order, with gaps, so that an entry sits
// in its home group (tag×homes>>16) or, when that is full, in a later one:
// each entry goes to the first free slot at or after the start of its home
// group. With groups 90% full on average, ~90% of the keys sit at home, so a
// lookup reads one group and takes no branch it cannot predict.
type keyLeaf struct {
	groups []group
	homes  int
}

// loadPercent is how full groups are on average (see keyLeaf).
const loadPercent = 90

func home(tag uint16, homes int) int { return int(uint64(tag) * uint64(homes) >> 16) }

// entries appends l's entries, in tag order, to es.
func (l *keyLeaf) entries(es []entry) []entry {
	for g := range l.groups {
		for s, u := range l.groups[g].users {
			if u != nil {
				es = append(es, entry{l.groups[g].tag(s), u})
			}
		}
	}
	return es
}

// keyLayout returns how many home groups a leaf of es (in tag order) has,
// and how many groups it needs.
func keyLayout(es []entry) (homes, groups int) {
	homes = (len(es)*100 + groupSize*loadPercent - 1) / (groupSize * loadPercent)
	last := -1
	for _, e := range es {
		last = max(home(e.tag, homes)*groupSize, last+1)
	}
	return homes, last/groupSize + 1
}

// layoutKeyLeaf places es (in tag order) as keyLeaf describes, into groups
// of the size keyLayout gave (nil: a new array).
func layoutKeyLeaf(es []entry, groups []group) keyLeaf {
	homes, n := keyLayout(es)
	if n == 0 {
		return keyLeaf{}
	}
	if groups == nil {
		groups = make([]group, n)
	}
	last := -1
	for _, e := range es {
		last = max(home(e.tag, homes)*groupSize, last+1)
		groups[last/groupSize].set(last%groupSize, e.tag, e.user)
	}
	return keyLeaf{groups, homes}
}

// keyIndex is the auth index: access key (of accessKeyLen bytes) to user.
type keyIndex struct{ trie[keyLeaf] }

// get returns the user owning access key k, or nil.
func (x *keyIndex) get(k string) *User {
	if len(k) != accessKeyLen {
		return nil
	}
	b, tag := slot(k)
	l := x.leaf(b)
	if l == nil {
		return nil
	}
	p := uint64(tag) * 0x0001_0001_0001_0001
	for g := home(tag, l.homes); g < len(l.groups); g++ {
		grp := &l.groups[g]
		// Load the group's second cache line now, in parallel with the
		// first, rather than after the match picked a slot on it.
		last := grp.users[groupSize-1]
		m := lanes(grp.tags[0]^p) | lanes(grp.tags[1]^p)<<4 | lanes(grp.tags[2]^p)<<8 // slots with tag
		for ; m != 0; m &= m - 1 {
			if u := grp.users[bits.TrailingZeros32(m)]; u != nil && equalKeys(u.AccessKey, k) {
				return u
			}
		}
		// k can be further on only if this group is full up to its end
		// with tags not above k's.
		if last == nil || grp.tag(groupSize-1) > tag {
			return nil
		}
	}
	return nil
}

// equalKeys compares two access keys of accessKeyLen bytes with three word
// loads rather than a call to memequal.
func equalKeys(a, b string) bool {
	x := unsafe.Slice(unsafe.StringData(a), accessKeyLen)
	y := unsafe.Slice(unsafe.StringData(b), accessKeyLen)
	le := binary.LittleEndian
	return le.Uint64(x)^le.Uint64(y)|le.Uint64(x[8:])^le.Uint64(y[8:])|le.Uint64(x[16:])^le.Uint64(y[16:]) == 0
}

// with returns an index in which u replaces the user with the same access
// key, or is added. The key must have accessKeyLen bytes.
func (x keyIndex) with(u *User) keyIndex {
	if len(u.AccessKey) != accessKeyLen {
		panic(fmt.Sprintf("iam: access key of %d bytes in the auth index", len(u.AccessKey)))
	}
	b, tag := slot(u.AccessKey)
	l := x.mutable(b)
	var buf [256]entry
	es := l.entries(buf[:0])
	p, found := len(es), false
	for q, e := range es {
		if e.tag == tag && e.user.AccessKey == u.AccessKey {
			p, found = q, true
			break
		}
		if e.tag > tag {
			p = q
			break
		}
	}
	if found {
		es[p].user = u
	} else {
		es = slices.Insert(es, p, entry{tag, u})
		x.n++
	}
	*l = layoutKeyLeaf(es, nil)
	return x
}

// without returns an index without access key k.
func (x keyIndex) without(k string) keyIndex {
	if x.get(k) == nil {
		return x
	}
	b, tag := slot(k)
	l := x.mutable(b)
	var buf [256]entry
	es := slices.DeleteFunc(l.entries(buf[:0]), func(e entry) bool { return e.tag == tag && e.user.AccessKey == k })
	*l = layoutKeyLeaf(es, nil)
	x.n--
	return x
}

// each calls fn for every user until fn returns false, in no fixed order.
func (x *keyIndex) each(fn func(*User) bool) {
	x.leaves(func(l *keyLeaf) bool {
		for g := range l.groups {
			for _, u := range l.groups[g].users {
				if u != nil && !fn(u) {
					return false
				}
			}
		}
		return true
	})
}

// sortLeaves is the bulk build shared by both index shapes: it buckets
// users by leaf and sorts each leaf by tag. Leaf b's entries are
// all[start[b]:start[b+1]]. It fails if two users share a key.
func sortLeaves(f field, users []*User) (all []entry, start []int, err error) {
	start = make([]int, numLeaves+1)
	for _, u := range users {
		b, _ := slot(f.of(u))
		start[b+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	next := append([]int(nil), start...)
	all = make([]entry, len(users))
	for _, u := range users {
		b, tag := slot(f.of(u))
		all[next[b]] = entry{tag, u}
		next[b]++
	}
	for b := range numLeaves {
		l := all[start[b]:start[b+1]]
		slices.SortFunc(l, func(a, b entry) int { return int(a.tag) - int(b.tag) })
		for p := range l {
			for q := p + 1; q < len(l) && l[q].tag == l[p].tag; q++ {
				if k := f.of(l[p].user); k == f.of(l[q].user) {
					return nil, nil, fmt.Errorf("two users with %s %q", f, k)
				}
			}
		}
	}
	return all, start, nil
}

type entry struct {
	tag  uint16
	user *User
}

// buildIndex indexes users in one pass instead of len(users) writes. Its
// leaves are carved out of one array (a later write to a leaf allocates
// that leaf anew).
func buildIndex(f field, users []*User) (index, error) {
	all, start, err := sortLeaves(f, users)
	if err != nil {
		return index{}, err
	}
	x := index{trie: trie[[]*User]{n: len(users)}, field: f}
	arr := make([]*User, len(users))
	for p, e := range all {
		arr[p] = e.user
	}
	for b := range numLeaves {
		if lo, hi := start[b], start[b+1]; lo < hi {
			*x.fill(b) = arr[lo:hi:hi]
		}
	}
	return x, nil
}

// buildKeyIndex is buildIndex for the auth index.
func buildKeyIndex(users []*User) (keyIndex, error) {
	for _, u := range users {
		if len(u.AccessKey) != accessKeyLen {
			panic(fmt.Sprintf("iam: access key of %d bytes in the auth index", len(u.AccessKey)))
		}
	}
	all, start, err := sortLeaves(byAccessKey, users)
	if err != nil {
		return keyIndex{}, err
	}
	x := keyIndex{trie[keyLeaf]{n: len(users)}}
	// One array for all leaves, sized by a first pass.
	n := 0
	for b := range numLeaves {
		_, k := keyLayout(all[start[b]:start[b+1]])
		n += k
	}
	groups := make([]group, n)
	for b := range numLeaves {
		if es := all[start[b]:start[b+1]]; len(es) > 0 {
			_, k := keyLayout(es)
			*x.fill(b) = layoutKeyLeaf(es, groups[:k:k])
			groups = groups[k:]
		}
	}
	return x, nil
}
