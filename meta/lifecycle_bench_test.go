package meta

import (
	"fmt"
	"testing"
)

// BenchmarkExpireBatch: the apply of one LifecycleExpire of 128 objects
// (each of one blob) in an unversioned bucket: what every node pays per
// batch the evaluator proposes.
func BenchmarkExpireBatch(b *testing.B) {
	m := newStore(b)
	ok(b, m.CreateBucket("b", "u", 1))
	x := &Expiry{Objects: make([]ObjectExpiry, 128)}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		for j := range x.Objects {
			k := fmt.Sprintf("logs/%08d/%03d", i, j)
			o := objOf(k)
			o.LastModified = int64(i)
			ok(b, m.PutObject("b", k, o, nil))
			x.Objects[j] = ObjectExpiry{Key: k, ETag: o.ETag, LastModified: o.LastModified}
		}
		b.StartTimer()
		res, err := m.Expire("b", x)
		if err != nil || res.Expired != 128 {
			b.Fatalf("%+v %v", res, err)
		}
	}
}
