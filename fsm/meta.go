package fsm

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"

	"github.com/hashicorp/go-msgpack/v2/codec"
	bolt "go.etcd.io/bbolt"
)

// Meta is the object-metadata store: buckets, objects, multipart uploads and
// blob reference counts in one bbolt file, so that a million objects do not
// live in RAM and listing is a key-ordered walk.
//
// The file is a cache of the log: Open starts it empty, and Raft rebuilds it
// from the last snapshot and the log after it. Nothing is fsynced
// (bolt NoSync): durability comes from the Raft log.
//
// Layout (bbolt buckets):
//
//	buckets              name -> bucketRecord
//	o/<bucket>           key -> ObjectMeta           (one bbolt bucket per S3 bucket)
//	uploads              uploadID -> uploadRecord
//	p/<uploadID>         partNumber (4 bytes BE) -> PartMeta
//	refs                 sha256 -> count (8 bytes BE)
//	garbage              sha256 -> "" (blobs whose count dropped to 0)
type Meta struct {
	db *bolt.DB
	tx *bolt.Tx // the FSM's batch transaction while ApplyBatch runs (FSM goroutine only)
}

var (
	bktBuckets = []byte("buckets")
	bktUploads = []byte("uploads")
	bktRefs    = []byte("refs")
	bktGarbage = []byte("garbage")
)

func objectsBucket(name string) []byte { return []byte("o/" + name) }
func partsBucket(id string) []byte     { return []byte("p/" + id) }

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name      string
	Owner     string
	CreatedAt int64
}

type uploadRecord struct {
	Bucket    string
	Key       string
	Initiated int64
	Object    ObjectMeta
}

// UploadInfo describes a multipart upload in progress.
type UploadInfo struct {
	UploadID  string
	Bucket    string
	Key       string
	Initiated int64
	Object    ObjectMeta
}

// OpenMeta creates a fresh, empty metadata store at path (an existing file
// is removed first: the log rebuilds it).
func OpenMeta(path string) (*Meta, error) {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("fsm: open metadata: %w", err)
	}
	m := &Meta{db: db}
	if err := m.db.Update(m.init); err != nil {
		db.Close()
		return nil, err
	}
	return m, nil
}

func (m *Meta) init(tx *bolt.Tx) error {
	for _, b := range [][]byte{bktBuckets, bktUploads, bktRefs, bktGarbage} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the store.
func (m *Meta) Close() error { return m.db.Close() }

func newEncoder(w io.Writer) *codec.Encoder { return codec.NewEncoder(w, msgpackHandle) }

func encodeMsg(v any) []byte {
	var buf bytes.Buffer
	if err := newEncoder(&buf).Encode(v); err != nil {
		panic(fmt.Errorf("fsm: encode record: %w", err))
	}
	return buf.Bytes()
}

func decodeMsg(b []byte, v any) {
	if err := decode(b, v); err != nil {
		panic(fmt.Errorf("fsm: corrupt metadata record: %w", err))
	}
}

// batch runs fn with one write transaction that every update inside it
// shares (FSM.ApplyBatch), and commits it.
func (m *Meta) batch(fn func()) {
	err := m.db.Update(func(tx *bolt.Tx) error {
		m.tx = tx
		defer func() { m.tx = nil }()
		fn()
		return nil
	})
	if err != nil {
		panic(fmt.Errorf("fsm: metadata store: %w", err))
	}
}

// update runs fn in a write transaction: the batch's inside batch (fn must
// then not write before it answers an error), its own otherwise. An I/O
// error here means the node's own disk failed under the FSM; it panics
// rather than diverge.
func (m *Meta) update(fn func(tx *bolt.Tx) any) any {
	if m.tx != nil {
		return fn(m.tx)
	}
	var resp any
	err := m.db.Update(func(tx *bolt.Tx) error {
		resp = fn(tx)
		if _, isErr := resp.(error); isErr {
			return errRollback
		}
		return nil
	})
	if err != nil && err != errRollback {
		panic(fmt.Errorf("fsm: metadata store: %w", err))
	}
	return resp
}

var errRollback = fmt.Errorf("rollback")

// Bucket returns a bucket's description.
func (m *Meta) Bucket(name string) (BucketInfo, bool) {
	var info BucketInfo
	var ok bool
	m.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktBuckets).Get([]byte(name)); v != nil {
			decodeMsg(v, &info)
			ok = true
		}
		return nil
	})
	return info, ok
}

// Buckets lists all buckets by name.
func (m *Meta) Buckets() []BucketInfo {
	var out []BucketInfo
	m.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktBuckets).ForEach(func(k, v []byte) error {
			var info BucketInfo
			decodeMsg(v, &info)
			out = append(out, info)
			return nil
		})
	})
	return out
}

// Object returns an object's metadata.
func (m *Meta) Object(bucket, key string) (ObjectMeta, bool) {
	var obj ObjectMeta
	var ok bool
	m.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(objectsBucket(bucket)); b != nil {
			if v := b.Get([]byte(key)); v != nil {
				decodeMsg(v, &obj)
				ok = true
			}
		}
		return nil
	})
	return obj, ok
}

// ListEntry is one key of a listing.
type ListEntry struct {
	Key    string
	Object ObjectMeta
}

// ListResult is a page of a listing.
type ListResult struct {
	Objects        []ListEntry
	CommonPrefixes []string
	IsTruncated    bool
	// NextMarker is the last key or common prefix returned when truncated.
	NextMarker string
}

// List walks bucket's keys in order: keys with prefix, strictly after
// after, rolling keys that contain delimiter after the prefix into common
// prefixes, at most max entries (objects plus prefixes). ok is false when the
// bucket does not exist.
func (m *Meta) List(bucket, prefix, after, delimiter string, max int) (res ListResult, ok bool) {
	m.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(objectsBucket(bucket))
		if b == nil {
			return nil
		}
		ok = true
		if max <= 0 {
			return nil
		}
		c := b.Cursor()
		var k, v []byte
		start := prefix
		if after >= start {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		} else {
			k, v = c.Seek([]byte(start))
		}
		n := 0
		for ; k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			key := string(k)
			if delimiter != "" {
				if i := bytes.Index(k[len(prefix):], []byte(delimiter)); i >= 0 {
					cp := key[:len(prefix)+i+len(delimiter)]
					if cp > after { // else: returned on an earlier page
						if n == max {
							res.IsTruncated = true
							return nil
						}
						res.CommonPrefixes = append(res.CommonPrefixes, cp)
						res.NextMarker = cp
						n++
					}
					// Skip every key under this common prefix.
					next := prefixEnd(cp)
					if next == nil {
						return nil
					}
					k, v = c.Seek(next)
					if k == nil {
						return nil
					}
					k, v = c.Prev()
					continue
				}
			}
			if n == max {
				res.IsTruncated = true
				return nil
			}
			var obj ObjectMeta
			decodeMsg(v, &obj)
			res.Objects = append(res.Objects, ListEntry{Key: key, Object: obj})
			res.NextMarker = key
			n++
		}
		return nil
	})
	return res, ok
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil if there is none.
func prefixEnd(p string) []byte {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return b[:i+1]
		}
	}
	return nil
}

// BucketEmpty reports whether the bucket holds no objects.
func (m *Meta) BucketEmpty(bucket string) bool {
	empty := true
	m.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(objectsBucket(bucket)); b != nil {
			k, _ := b.Cursor().First()
			empty = k == nil
		}
		return nil
	})
	return empty
}

// Upload returns a multipart upload.
func (m *Meta) Upload(id string) (UploadInfo, bool) {
	var info UploadInfo
	var ok bool
	m.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktUploads).Get([]byte(id)); v != nil {
			var rec uploadRecord
			decodeMsg(v, &rec)
			info = UploadInfo{UploadID: id, Bucket: rec.Bucket, Key: rec.Key, Initiated: rec.Initiated, Object: rec.Object}
			ok = true
		}
		return nil
	})
	return info, ok
}

// PartEntry is one part of an upload.
type PartEntry struct {
	Number int
	Part   PartMeta
}

// Parts lists an upload's parts with numbers above after, at most max.
func (m *Meta) Parts(id string, after, max int) (parts []PartEntry, truncated bool) {
	m.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(partsBucket(id))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(partKey(after + 1)); k != nil; k, v = c.Next() {
			if len(parts) == max {
				truncated = true
				return nil
			}
			var p PartMeta
			decodeMsg(v, &p)
			parts = append(parts, PartEntry{Number: int(binary.BigEndian.Uint32(k)), Part: p})
		}
		return nil
	})
	return parts, truncated
}

// Uploads lists a bucket's uploads in progress ordered by key, then upload
// ID (then initiation), with key prefix.
func (m *Meta) Uploads(bucket, prefix string) []UploadInfo {
	var out []UploadInfo
	m.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktUploads).ForEach(func(k, v []byte) error {
			var rec uploadRecord
			decodeMsg(v, &rec)
			if rec.Bucket == bucket && len(rec.Key) >= len(prefix) && rec.Key[:len(prefix)] == prefix {
				out = append(out, UploadInfo{UploadID: string(k), Bucket: rec.Bucket, Key: rec.Key, Initiated: rec.Initiated, Object: rec.Object})
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].UploadID < out[j].UploadID
	})
	return out
}

// BlobRefs returns how many objects and parts reference blob sum.
func (m *Meta) BlobRefs(sum [32]byte) uint64 {
	var n uint64
	m.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktRefs).Get(sum[:]); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return n
}

// Garbage returns up to max blobs no object references any more.
func (m *Meta) Garbage(max int) [][32]byte {
	var out [][32]byte
	m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktGarbage).Cursor()
		for k, _ := c.First(); k != nil && len(out) < max; k, _ = c.Next() {
			var s [32]byte
			copy(s[:], k)
			out = append(out, s)
		}
		return nil
	})
	return out
}

// ForgetGarbage drops sum from the garbage list if it is still unreferenced
// (the blob store removed its file). It is node-local bookkeeping, not an
// event: the list is rebuilt by replay after a restart.
func (m *Meta) ForgetGarbage(sum [32]byte) {
	m.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktGarbage).Delete(sum[:]) })
}

func partKey(n int) []byte {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], uint32(n))
	return k[:]
}

// ref adds delta to the reference count of every blob in parts, keeping the
// garbage list in step.
func ref(tx *bolt.Tx, parts []BlobPart, delta int64) {
	refs, garbage := tx.Bucket(bktRefs), tx.Bucket(bktGarbage)
	for _, p := range parts {
		var n uint64
		if v := refs.Get(p.SHA256[:]); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
		if delta < 0 && n < uint64(-delta) {
			panic(fmt.Errorf("fsm: blob %x reference count below zero", p.SHA256))
		}
		n = uint64(int64(n) + delta)
		must(func() error {
			if n == 0 {
				if err := refs.Delete(p.SHA256[:]); err != nil {
					return err
				}
				return garbage.Put(p.SHA256[:], nil)
			}
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], n)
			if err := refs.Put(p.SHA256[:], b[:]); err != nil {
				return err
			}
			return garbage.Delete(p.SHA256[:])
		}())
	}
}

func must(err error) {
	if err != nil {
		panic(fmt.Errorf("fsm: metadata store: %w", err))
	}
}

// MultipartETag is S3's ETag of a multipart object: the MD5 of the parts'
// binary MD5s, then "-" and the part count.
func MultipartETag(md5s [][16]byte) string {
	h := md5.New()
	for _, m := range md5s {
		h.Write(m[:])
	}
	return `"` + hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(md5s)) + `"`
}

// AttachMeta gives the FSM its object-metadata store. Call it before Raft
// starts applying.
func (f *FSM) AttachMeta(m *Meta) { f.meta = m }

// Meta returns the FSM's object-metadata store (nil if none is attached).
func (f *FSM) Meta() *Meta { return f.meta }
