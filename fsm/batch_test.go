package fsm

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"

	"github.com/s4/s4/meta"
)

// randomMetaLog builds n metadata events over a small universe of buckets,
// keys, uploads and blobs, so that many of them fail (no such bucket, not
// empty, wrong part, ...) between ones that succeed.
func randomMetaLog(t testing.TB, rng *rand.Rand, n int) [][]byte {
	var out [][]byte
	enc := func(mt MessageType, msg any) {
		b, err := Encode(mt, msg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	bucket := func() string { return fmt.Sprintf("b%d", rng.Intn(3)) }
	key := func() string { return fmt.Sprintf("k%d", rng.Intn(6)) }
	upload := func() string { return fmt.Sprintf("up%d", rng.Intn(4)) }
	blob := func() string { return fmt.Sprintf("blob%d", rng.Intn(8)) }
	// cond: no condition half of the time, else a random one (objOf's
	// ETag is "e", so If-Match "e" passes on any existing key).
	cond := func() *meta.WriteCondition {
		switch rng.Intn(6) {
		case 0:
			return &meta.WriteCondition{IfNoneMatch: true}
		case 1:
			return &meta.WriteCondition{IfMatch: true}
		case 2:
			return &meta.WriteCondition{IfMatch: true, ETags: []string{[]string{`"e"`, `"other"`}[rng.Intn(2)]}}
		case 3:
			return &meta.WriteCondition{NoneMatch: []string{[]string{`"e"`, `"other"`}[rng.Intn(2)]}}
		}
		return nil
	}
	tags := func() []meta.Tag {
		return [][]meta.Tag{nil, {{Key: "a", Value: "1"}}, {{Key: "a", Value: "2"}, {Key: "b", Value: ""}}}[rng.Intn(3)]
	}
	// Versioning: a version ID from a small set (so that IDs repeat), none
	// a third of the time.
	vid := func() string { return []string{"", "v0", "v1", "v2", "v3", "null"}[rng.Intn(6)] }
	for i := 0; i < n; i++ {
		at := int64(i)
		switch rng.Intn(9) {
		case 8:
			enc(MsgBucketVersioningSet, &BucketVersioningSet{Bucket: bucket(), Status: []string{meta.VersioningEnabled, meta.VersioningSuspended, "Off"}[rng.Intn(3)]})
			continue
		case 0:
			enc(MsgBucketCreate, &BucketCreate{Name: bucket(), Owner: fmt.Sprintf("u%d", rng.Intn(2)), At: at})
		case 1:
			enc(MsgBucketDelete, &BucketDelete{Name: bucket()})
		case 2, 3:
			obj := objOf(blob(), blob())
			if rng.Intn(3) == 0 { // an inline object
				body := []byte(blob())
				obj = meta.ObjectMeta{ETag: `"e"`, Owner: "u1", Size: int64(len(body)), Inline: meta.NewInline(body)}
			}
			obj.VersionID = vid()
			enc(MsgObjectPut, &ObjectPut{Bucket: bucket(), Key: key(), Object: obj, If: cond()})
		case 4:
			switch rng.Intn(4) {
			case 0:
				enc(MsgObjectTagsSet, &ObjectTagsSet{Bucket: bucket(), Key: key(), Tags: tags(), VersionID: vid()})
			case 1:
				enc(MsgBucketTagsSet, &BucketTagsSet{Bucket: bucket(), Tags: tags()})
			case 2:
				enc(MsgObjectDelete, &ObjectDelete{Bucket: bucket(), Keys: []string{key(), key()}, If: cond(),
					Versions: []string{vid(), vid()}, MarkerIDs: []string{vid(), "m" + vid()}, Owner: "u1", At: at})
			default:
				enc(MsgObjectDelete, &ObjectDelete{Bucket: bucket(), Keys: []string{key(), key()}, If: cond()})
			}
		case 5:
			enc(MsgUploadCreate, &UploadCreate{Bucket: bucket(), Key: key(), UploadID: upload(), At: at})
		case 6:
			b := blobOf(blob())
			part := meta.PartMeta{ETag: fmt.Sprintf(`"%x"`, b.ID[:4]), Size: meta.MinPartSize, Blob: b}
			if rng.Intn(3) == 0 { // an inline part (of the same ETag, so that completes find it)
				part = meta.PartMeta{ETag: part.ETag, Size: b.Size, Inline: meta.NewInline([]byte(fmt.Sprintf("%x", b.ID[:4])[:b.Size%8]))}
				part.Size = part.Inline.Size
			}
			enc(MsgPartPut, &PartPut{UploadID: upload(), PartNumber: 1 + rng.Intn(3), Part: part})
		case 7:
			if rng.Intn(2) == 0 {
				enc(MsgUploadAbort, &UploadAbort{UploadID: upload()})
				continue
			}
			b := blobOf(blob())
			enc(MsgUploadComplete, &UploadComplete{UploadID: upload(), At: at, Parts: []meta.CompletePart{{PartNumber: 1, ETag: fmt.Sprintf(`"%x"`, b.ID[:4])}}, If: cond(), VersionID: vid()})
		}
	}
	return out
}

func metaDump(t testing.TB, m *meta.Store) string {
	t.Helper()
	// The history's indexes are built behind the apply, when the store is
	// idle or asked: a question first, so that a dump does not depend on
	// when they were built.
	m.HistoryEvents(meta.HistoryQuery{Limit: 1})
	ms, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Release()
	var buf bytes.Buffer
	if err := writeMeta(codec.NewEncoder(&buf, msgpackHandle), ms); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestBatchEqualsOneByOne: applying a log in Raft's batches (with
// configuration entries among the commands) gives the same responses,
// IAM state, metadata, applied index and dropped keys as applying it entry
// by entry, whatever the batch boundaries. It is what makes one bbolt
// transaction per batch sound: a failing metadata event leaves no trace in
// the transaction it shares. The log includes versioning (states, version
// IDs, deletes of versions and delete markers), and a snapshot round trip
// of the result keeps the metadata as it is.
func TestBatchEqualsOneByOne(t *testing.T) {
	withVersions := 0 // seeds whose store ends with noncurrent versions
	defer func() {
		if withVersions == 0 && !t.Failed() {
			t.Error("no seed made a noncurrent version; the log does not exercise versioning")
		}
	}()
	for seed := int64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewSource(seed))
		iamLog, metaLog := randomLog(t, rng, 150), randomMetaLog(t, rng, 300)
		var log []*raft.Log
		for len(iamLog)+len(metaLog) > 0 {
			var data []byte
			if len(metaLog) == 0 || len(iamLog) > 0 && rng.Intn(3) == 0 {
				data, iamLog = iamLog[0], iamLog[1:]
			} else {
				data, metaLog = metaLog[0], metaLog[1:]
			}
			log = append(log, &raft.Log{Index: uint64(len(log) + 1), Type: raft.LogCommand, Data: data})
			if rng.Intn(40) == 0 {
				log = append(log, &raft.Log{Index: uint64(len(log) + 1), Type: raft.LogConfiguration, Data: []byte{0xff}})
			}
		}

		one, batched := newMetaHarness(t), newMetaHarness(t)
		var droppedOne, droppedBatched []string
		one.f.OnCredentialDropped(func(k string) { droppedOne = append(droppedOne, k) })
		batched.f.OnCredentialDropped(func(k string) { droppedBatched = append(droppedBatched, k) })

		var want, got []string
		for _, l := range log {
			if l.Type == raft.LogCommand { // Raft never hands other entries to Apply
				want = append(want, fmt.Sprint(one.f.Apply(l)))
			}
		}
		for rest := log; len(rest) > 0; {
			n := min(len(rest), 1+rng.Intn(12))
			for i, r := range batched.f.ApplyBatch(rest[:n]) {
				if rest[i].Type == raft.LogCommand {
					got = append(got, fmt.Sprint(r))
				} else if r != nil {
					t.Fatalf("seed %d: configuration entry answered %v", seed, r)
				}
			}
			rest = rest[n:]
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: batched responses differ:\n%v\nwant\n%v", seed, got, want)
		}
		if g, w := dump(batched.f), dump(one.f); g != w {
			t.Fatalf("seed %d: IAM state differs:\n%s\nwant\n%s", seed, g, w)
		}
		if g, w := metaDump(t, batched.f.Meta()), metaDump(t, one.f.Meta()); g != w {
			t.Fatalf("seed %d: metadata differs", seed)
		}
		if g, w := batched.f.AuthIndex(), one.f.AuthIndex(); g != w || w == 0 || w > one.f.AppliedIndex() {
			t.Fatalf("seed %d: auth index %d, want %d (applied %d)", seed, g, w, one.f.AppliedIndex())
		}
		if !reflect.DeepEqual(droppedBatched, droppedOne) {
			t.Fatalf("seed %d: dropped keys %v, want %v", seed, droppedBatched, droppedOne)
		}
		// A snapshot round trip keeps the metadata, versions too.
		restored := newMetaHarness(t)
		var snap bytes.Buffer
		s, err := one.f.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		sn := s.(*snapshot)
		if err := writeSnapshot(&snap, &sn.view.iam, sn.view.index, testSealer, sn.meta); err != nil {
			t.Fatal(err)
		}
		s.Release()
		if err := restored.f.Restore(io.NopCloser(&snap)); err != nil {
			t.Fatal(err)
		}
		if g, w := metaDump(t, restored.f.Meta()), metaDump(t, one.f.Meta()); g != w {
			t.Fatalf("seed %d: metadata differs after a snapshot round trip", seed)
		}
		if strings.Contains(metaDump(t, one.f.Meta()), "v/b") {
			withVersions++
		}
		errs := 0
		for _, r := range want {
			if r != "<nil>" {
				errs++
			}
		}
		if errs == 0 || errs == len(want) {
			t.Fatalf("seed %d: %d of %d events failed; the log does not exercise both paths", seed, errs, len(want))
		}
	}
}
