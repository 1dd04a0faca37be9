package fsm

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestCowMapAgainstMap drives cowMap and a Go map with the same random
// operations and checks both, and that a version taken midway never changes.
func TestCowMapAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	m := cowMap[string, int]{hash: hashString}
	ref := map[string]int{}
	var midM cowMap[string, int]
	var midRef map[string]int
	for i := 0; i < 100000; i++ {
		k := fmt.Sprintf("k%d", rng.Intn(20000))
		if rng.Intn(3) == 0 {
			m = m.Delete(k)
			delete(ref, k)
		} else {
			m = m.Set(k, i)
			ref[k] = i
		}
		if i == 50000 {
			midM, midRef = m, map[string]int{}
			for k, v := range ref {
				midRef[k] = v
			}
		}
	}
	check := func(name string, m cowMap[string, int], ref map[string]int) {
		t.Helper()
		if m.Len() != len(ref) {
			t.Fatalf("%s: len %d, want %d", name, m.Len(), len(ref))
		}
		n := 0
		m.Range(func(k string, v int) bool {
			n++
			if want, ok := ref[k]; !ok || want != v {
				t.Fatalf("%s: range %s=%d, want %d %v", name, k, v, want, ok)
			}
			return true
		})
		if n != len(ref) {
			t.Fatalf("%s: range saw %d, want %d", name, n, len(ref))
		}
		for i := 0; i < 20000; i++ {
			k := fmt.Sprintf("k%d", i)
			v, ok := m.Get(k)
			want, wok := ref[k]
			if ok != wok || v != want {
				t.Fatalf("%s: get %s = %d %v, want %d %v", name, k, v, ok, want, wok)
			}
		}
	}
	check("current", m, ref)
	check("midway", midM, midRef)

	b := cowBuilder[string, int]{cowMap[string, int]{hash: hashString}}
	for k, v := range ref {
		b.Set(k, v)
	}
	check("built", b.m, ref)
}
