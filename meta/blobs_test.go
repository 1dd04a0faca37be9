package meta

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// walkReferenced pages through ReferencedBlobs with pages of limit sums.
func walkReferenced(t *testing.T, m *Store, limit int) (all [][32]byte, pages int) {
	t.Helper()
	var after *[32]byte
	for {
		sums, more, err := m.ReferencedBlobs(after, limit)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(sums) > limit {
			t.Fatalf("page of %d sums, limit %d", len(sums), limit)
		}
		if more && len(sums) != limit {
			t.Fatalf("short page of %d (limit %d) with more", len(sums), limit)
		}
		all = append(all, sums...)
		if !more {
			return all, pages
		}
		last := sums[len(sums)-1]
		after = &last
		if pages > 10000 {
			t.Fatal("ReferencedBlobs does not advance")
		}
	}
}

func TestReferencedBlobsPaging(t *testing.T) {
	m := newStore(t)
	if sums, more, err := m.ReferencedBlobs(nil, 10); err != nil || len(sums) != 0 || more {
		t.Fatalf("empty store: %x, %v, %v", sums, more, err)
	}
	if _, _, err := m.ReferencedBlobs(nil, 0); err == nil {
		t.Fatal("limit 0 accepted")
	}

	ok(t, m.CreateBucket("b", "u1", 1))
	want := map[[32]byte]bool{}
	// 40 objects, two of them sharing content, one with two parts.
	for i := range 40 {
		body := fmt.Sprintf("object %d", i)
		if i == 39 {
			body = "object 0" // same blob as object 0: listed once
		}
		obj := objOf(body)
		if i == 7 {
			obj = objOf(body, "second part of 7")
		}
		ok(t, m.PutObject("b", fmt.Sprintf("k%02d", i), obj, nil))
		for _, p := range obj.Parts {
			want[p.ID] = true
		}
	}
	// A multipart upload in progress: its parts are referenced too.
	ok(t, m.CreateUpload("b", "mp", "up1", &ObjectMeta{}, 2))
	for i := 1; i <= 5; i++ {
		p := blobOf(fmt.Sprintf("part %d", i))
		ok(t, m.PutPart("up1", i, &PartMeta{Blob: p, Size: p.Size}))
		want[p.ID] = true
	}
	// Released blobs are not listed: a deleted object, an overwritten one.
	ok(t, m.PutObject("b", "gone", objOf("deleted content"), nil))
	ok(t, m.DeleteObjects("b", []string{"gone"}))
	ok(t, m.PutObject("b", "k05", objOf("new content of 5"), nil))
	delete(want, blobOf("object 5").ID)
	want[blobOf("new content of 5").ID] = true
	if len(m.Garbage(100)) != 2 {
		t.Fatalf("garbage = %x, want the deleted and the overwritten blob", m.Garbage(100))
	}

	var wantSorted [][32]byte
	for s := range want {
		wantSorted = append(wantSorted, s)
	}
	slices.SortFunc(wantSorted, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	if len(wantSorted) != 45 {
		t.Fatalf("test setup: %d distinct blobs, want 45", len(wantSorted))
	}

	for _, limit := range []int{1, 7, 44, 45, 46, 1000} {
		got, pages := walkReferenced(t, m, limit)
		if !slices.Equal(got, wantSorted) {
			t.Fatalf("limit %d: got %d sums, want the %d referenced in order", limit, len(got), len(wantSorted))
		}
		if wantPages := max(1, (len(wantSorted)+limit-1)/limit); pages != wantPages {
			t.Fatalf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
		for _, s := range got {
			if m.BlobRefs(s) == 0 {
				t.Fatalf("listed %x has no references", s[:8])
			}
		}
	}

	// The cursor need not be a referenced sum: a walk resumes after a blob
	// released between two pages.
	first, _, err := m.ReferencedBlobs(nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	var mid [32]byte
	copy(mid[:], first[1][:])
	for i := 31; i >= 0; i-- { // first[1]+1: after first[1], not after first[2]
		mid[i]++
		if mid[i] != 0 {
			break
		}
	}
	wantRest := wantSorted[2:]
	if mid == first[2] { // adjacent sums: never, but then mid is stored
		wantRest = wantSorted[3:]
	}
	rest, _, err := m.ReferencedBlobs(&mid, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rest, wantRest) {
		t.Fatalf("resuming after a sum that is not stored: got %d sums, want %d", len(rest), len(wantRest))
	}

	// Aborting the upload releases its parts.
	ok(t, m.AbortUpload("up1"))
	got, _ := walkReferenced(t, m, 10)
	if len(got) != 40 {
		t.Fatalf("after the abort: %d referenced blobs, want 40", len(got))
	}
}
