package fsm

import "hash/maphash"

// cowMap is an immutable hash map: Set and Delete return a new map and leave
// the old one untouched, so a reader holding a State is never disturbed and
// a snapshot is a pointer copy.
//
// It is two levels of 64-wide pointer arrays over ordinary Go maps. A write
// copies two small arrays and the one leaf map it touches (a million entries
// spread over 4096 leaves: ~250 entries, a few microseconds). A read is one
// hash, two array loads that stay in cache, and one Go map lookup; with a
// fixed-size key the key compare happens inside the map's own slot, so a
// lookup costs about one cache miss.
type cowMap[K comparable, V any] struct {
	root *cowRoot[K, V]
	size int
	hash func(K) uint64
}

const cowFan = 64

type cowRoot[K comparable, V any] [cowFan]*cowMid[K, V]
type cowMid[K comparable, V any] [cowFan]map[K]V

var cowSeed = maphash.MakeSeed()

func hashString(s string) uint64 { return maphash.String(cowSeed, s) }

func hashKey24(k [24]byte) uint64 { return maphash.Bytes(cowSeed, k[:]) }

func (m cowMap[K, V]) Len() int { return m.size }

// Get returns the value stored under k.
func (m cowMap[K, V]) Get(k K) (V, bool) {
	if m.root != nil {
		h := m.hash(k)
		if mid := m.root[h%cowFan]; mid != nil {
			v, ok := mid[(h/cowFan)%cowFan][k]
			return v, ok
		}
	}
	var zero V
	return zero, false
}

// Set returns a map in which k maps to v.
func (m cowMap[K, V]) Set(k K, v V) cowMap[K, V] {
	return m.update(k, func(leaf map[K]V) map[K]V {
		out := make(map[K]V, len(leaf)+1)
		for lk, lv := range leaf {
			out[lk] = lv
		}
		out[k] = v
		return out
	})
}

// Delete returns a map without k.
func (m cowMap[K, V]) Delete(k K) cowMap[K, V] {
	if _, ok := m.Get(k); !ok {
		return m
	}
	return m.update(k, func(leaf map[K]V) map[K]V {
		if len(leaf) == 1 {
			return nil
		}
		out := make(map[K]V, len(leaf)-1)
		for lk, lv := range leaf {
			if lk != k {
				out[lk] = lv
			}
		}
		return out
	})
}

func (m cowMap[K, V]) update(k K, fn func(map[K]V) map[K]V) cowMap[K, V] {
	h := m.hash(k)
	i, j := h%cowFan, (h/cowFan)%cowFan
	root := new(cowRoot[K, V])
	if m.root != nil {
		*root = *m.root
	}
	mid := new(cowMid[K, V])
	if root[i] != nil {
		*mid = *root[i]
	}
	before := len(mid[j])
	mid[j] = fn(mid[j])
	root[i] = mid
	m.size += len(mid[j]) - before
	m.root = root
	return m
}

// Range calls fn for every entry until fn returns false. The order is
// unspecified (and differs between processes).
func (m cowMap[K, V]) Range(fn func(K, V) bool) {
	if m.root == nil {
		return
	}
	for _, mid := range m.root {
		if mid == nil {
			continue
		}
		for _, leaf := range mid {
			for k, v := range leaf {
				if !fn(k, v) {
					return
				}
			}
		}
	}
}

// cowBuilder fills a cowMap in place while nobody else can see it (restore).
type cowBuilder[K comparable, V any] struct{ m cowMap[K, V] }

func (b *cowBuilder[K, V]) Set(k K, v V) {
	if b.m.root == nil {
		b.m.root = new(cowRoot[K, V])
	}
	h := b.m.hash(k)
	i, j := h%cowFan, (h/cowFan)%cowFan
	if b.m.root[i] == nil {
		b.m.root[i] = new(cowMid[K, V])
	}
	leaf := b.m.root[i][j]
	if leaf == nil {
		leaf = make(map[K]V)
		b.m.root[i][j] = leaf
	}
	if _, ok := leaf[k]; !ok {
		b.m.size++
	}
	leaf[k] = v
}
