package meta

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

type kvDump struct {
	bucket string
	k, v   string
}

// dumpOf walks a snapshot of m into a list.
func dumpOf(t *testing.T, m *Store) []kvDump {
	t.Helper()
	snap, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var out []kvDump
	var cur string
	err = snap.Walk(func(name []byte) error {
		cur = string(name)
		out = append(out, kvDump{bucket: cur})
		return nil
	}, func(k, v []byte) error {
		out = append(out, kvDump{cur, string(k), string(v)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// restoreFrom restores d into m.
func restoreFrom(m *Store, d []kvDump) error {
	return m.Restore(func(r *Restorer) error {
		for _, e := range d {
			if e.k == "" {
				if err := r.Bucket([]byte(e.bucket)); err != nil {
					return err
				}
			} else if err := r.Put([]byte(e.k), []byte(e.v)); err != nil {
				return err
			}
		}
		return nil
	})
}

// TestSnapshotRestore: a store restored from a walk of another holds the
// same content; a snapshot keeps its view while writes go on; a restore
// that fails leaves the old content.
func TestSnapshotRestore(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	for i := range 5 {
		ok(t, m.PutObject("b", fmt.Sprintf("k%d", i), objOf(fmt.Sprint(i)), nil))
	}
	ok(t, m.CreateUpload("b", "mp", "up", &ObjectMeta{}, 2))
	ok(t, m.PutPart("up", 1, partOf("p")))
	ok(t, m.DeleteObjects("b", []string{"k0"}))
	want := dumpOf(t, m)

	snap, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	ok(t, m.PutObject("b", "later", objOf("later"), nil))
	n := 0
	snap.Walk(func([]byte) error { return nil }, func(k, v []byte) error {
		if string(k) == "later" {
			t.Error("the snapshot saw a later write")
		}
		n++
		return nil
	})
	snap.Release()
	if n == 0 {
		t.Fatal("the snapshot is empty")
	}

	other := newStore(t)
	ok(t, other.CreateBucket("stale", "u2", 1))
	ok(t, restoreFrom(other, want))
	if got := dumpOf(t, other); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored:\n%q\nwant\n%q", got, want)
	}
	if _, found := other.Bucket("stale"); found {
		t.Fatal("the restore kept content it did not restore")
	}
	if o, found := other.Object("b", "k3"); !found || o.Parts[0] != blobOf("3") || other.BlobRefs(blobOf("p").ID) != 1 {
		t.Fatalf("restored object = %+v %v", o, found)
	}

	// Failures: a key before any bucket, and fill's own error.
	bad := errors.New("bad record")
	for _, fill := range []func(*Restorer) error{
		func(r *Restorer) error { return r.Put([]byte("k"), []byte("v")) },
		func(r *Restorer) error { r.Bucket([]byte("x")); return bad },
	} {
		if err := other.Restore(fill); err == nil {
			t.Fatal("a failed restore succeeded")
		}
		if got := dumpOf(t, other); !reflect.DeepEqual(got, want) {
			t.Fatal("a failed restore changed the store")
		}
	}
	// An empty restore leaves the top-level buckets, so the store works.
	ok(t, other.Restore(func(*Restorer) error { return nil }))
	ok(t, other.CreateBucket("b", "u1", 3))
}

// TestRestoreInPieces: a restore committed every few bytes (many
// transactions) gives the same content, a failure in the middle leaves
// the old content, and reads work on the new file afterwards.
func TestRestoreInPieces(t *testing.T) {
	defer func(n int) { restoreChunk = n }(restoreChunk)
	restoreChunk = 64
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	for i := range 50 {
		ok(t, m.PutObject("b", fmt.Sprintf("k%02d", i), inlineObj(fmt.Sprintf("body %d", i)), nil))
	}
	ok(t, m.CreateUpload("b", "mp", "up", &ObjectMeta{}, 2))
	ok(t, m.PutPart("up", 1, partOf("p")))
	want := dumpOf(t, m)

	other := newStore(t)
	ok(t, other.CreateBucket("old", "u2", 1))
	before := dumpOf(t, other)
	if err := other.Restore(func(r *Restorer) error {
		for _, e := range want[:len(want)-3] {
			if e.k == "" {
				ok(t, r.Bucket([]byte(e.bucket)))
			} else {
				ok(t, r.Put([]byte(e.k), []byte(e.v)))
			}
		}
		return errors.New("cut short")
	}); err == nil {
		t.Fatal("a failed restore succeeded")
	}
	if got := dumpOf(t, other); !reflect.DeepEqual(got, before) {
		t.Fatal("a restore that failed after many commits changed the store")
	}
	ok(t, restoreFrom(other, want))
	if got := dumpOf(t, other); !reflect.DeepEqual(got, want) {
		t.Fatal("a restore in pieces differs")
	}
	if d, found := other.ObjectData("b", "k42"); !found || string(d.Inline.Data) != "body 42" || CheckInline(d.Inline) != nil {
		t.Fatalf("restored inline object = %+v %v", d, found)
	}
	ok(t, other.PutObject("b", "new", inlineObj("n"), nil))
	if _, found := other.Object("b", "new"); !found {
		t.Fatal("no write after a restore")
	}
}

// TestReadsDuringRestore: reads running while a restore swaps the file in
// see the old content or the new, never an error or a closed file (run
// with -race).
func TestReadsDuringRestore(t *testing.T) {
	m := newStore(t)
	ok(t, m.CreateBucket("b", "u1", 1))
	ok(t, m.PutObject("b", "k", inlineObj("old"), nil))
	src := newStore(t)
	ok(t, src.CreateBucket("b", "u1", 1))
	ok(t, src.PutObject("b", "k", inlineObj("new"), nil))
	want := dumpOf(t, src)
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			d, found := m.ObjectData("b", "k")
			if !found || (string(d.Inline.Data) != "old" && string(d.Inline.Data) != "new") {
				done <- fmt.Errorf("read during a restore: %+v %v", d, found)
				return
			}
		}
	}()
	for range 20 {
		ok(t, restoreFrom(m, want))
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d, _ := m.ObjectData("b", "k"); string(d.Inline.Data) != "new" {
		t.Fatalf("after the restores: %q", d.Inline.Data)
	}
}
