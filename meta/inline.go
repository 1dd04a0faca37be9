package meta

import (
	"errors"
	"fmt"
	"hash/crc32"

	bolt "go.etcd.io/bbolt"
)

// Inline objects: an object's (or an uploaded part's) bytes up to the
// node's inline threshold travel inside its metadata event through the Raft
// log and are kept here, with the metadata, instead of in a blob file.
//
// An object's bytes are its blob Parts, in order, followed by its inline
// tail (ObjectMeta.Inline), if any: a single PUT of an inline size has no
// blob parts and only the tail; a multipart object whose last part was
// inline has blob parts and that part as its tail (every part but the last
// is at least MinPartSize, far above any inline threshold, so only the
// last part can be inline).
//
// The tail's bytes are kept in their own bbolt bucket i/<bucket> under the
// object's key, apart from the record (o/<bucket>), so that a listing or a
// HEAD never reads them; the record keeps the length and the CRC32C
// (Castagnoli) of the bytes, which a reader checks (CheckInline) before it
// sends any of them, and a snapshot before it copies them (Snapshot.Walk
// fails on one that does not match). An inline part keeps its bytes in its part record
// (parts are read only by ListParts and CompleteMultipartUpload).

// MaxInline bounds an inline body in any event or record, whatever the
// node's setting: an event that carries more is invalid (so a forwarded
// event the leader checks cannot make the log carry more).
const MaxInline = 256 << 10

// Inline is an inline body: its bytes and their CRC32C.
type Inline struct {
	// Data is the body. It travels in events and part records; in an
	// object's record it is empty (the bytes are in i/<bucket>), and
	// ObjectData fills it in.
	Data   []byte
	Size   int64  // len(Data) as written
	CRC32C uint32 // Castagnoli, of the Size bytes
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the Castagnoli CRC of b, as Inline keeps it.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// NewInline returns the inline body b with its checksum.
func NewInline(b []byte) *Inline {
	return &Inline{Data: b, Size: int64(len(b)), CRC32C: CRC32C(b)}
}

// errInlineCorrupt is what CheckInline's error wraps for bytes that do not
// match the checksum kept with them (unexported: it is never an event's
// answer, so fsm and the wire do not carry it).
var errInlineCorrupt = errors.New("inline object data fails its CRC32C")

// CheckInline reports whether in's bytes are the ones it was written with
// (length and CRC32C). A nil in passes.
func CheckInline(in *Inline) error {
	if in == nil {
		return nil
	}
	if int64(len(in.Data)) != in.Size {
		return fmt.Errorf("%w: %d bytes, not %d", errInlineCorrupt, len(in.Data), in.Size)
	}
	if got := CRC32C(in.Data); got != in.CRC32C {
		return fmt.Errorf("%w: %08x, not %08x", errInlineCorrupt, got, in.CRC32C)
	}
	return nil
}

// validInline checks an inline body an event brings: what no correct
// proposer sends is refused (InvalidError) before anything is written.
func validInline(in *Inline) error {
	if in == nil {
		return nil
	}
	if len(in.Data) > MaxInline {
		return invalid("inline body of %d bytes exceeds %d", len(in.Data), MaxInline)
	}
	if int64(len(in.Data)) != in.Size || CRC32C(in.Data) != in.CRC32C {
		return invalid("inline body does not match its size and CRC32C")
	}
	return nil
}

func inlineBucket(name string) []byte { return []byte("i/" + name) }

// putInline stores (or, for a nil in, removes) the inline tail of key in
// bucket, and returns the record's copy of in: without the bytes.
func putInline(tx *bolt.Tx, bucket, key string, in *Inline) *Inline {
	ib := tx.Bucket(inlineBucket(bucket))
	if in == nil {
		if ib != nil {
			must(ib.Delete([]byte(key)))
		}
		return nil
	}
	if ib == nil {
		var err error
		ib, err = tx.CreateBucket(inlineBucket(bucket))
		must(err)
	}
	must(ib.Put([]byte(key), in.Data))
	return &Inline{Size: in.Size, CRC32C: in.CRC32C}
}

// ObjectData returns an object's metadata with its inline tail's bytes
// (Inline.Data, a copy), read in one transaction with the record. It does
// not check them: the caller does (CheckInline) before it sends any.
func (s *Store) ObjectData(bucket, key string) (ObjectMeta, bool) {
	var obj ObjectMeta
	var ok bool
	s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(objectsBucket(bucket))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		decodeMsg(v, &obj)
		if ok = !obj.DeleteMarker; ok && obj.Inline != nil {
			if ib := tx.Bucket(inlineBucket(bucket)); ib != nil {
				obj.Inline.Data = append([]byte{}, ib.Get([]byte(key))...)
			}
		}
		return nil
	})
	return obj, ok
}

// DamageInline flips the bits of byte off of the inline tail of
// bucket/key in this node's store only, as a failing disk would: for tests
// and fault drills of the check before send. It is not an event: the
// other nodes keep their bytes, and a restart rebuilds the store from the
// log.
func (s *Store) DamageInline(bucket, key string, off int) error {
	return s.updateDB(func(tx *bolt.Tx) error {
		ib := tx.Bucket(inlineBucket(bucket))
		if ib == nil {
			return ErrNoSuchKey
		}
		v := ib.Get([]byte(key))
		if off < 0 || off >= len(v) {
			return fmt.Errorf("%w: no inline byte %d", ErrNoSuchKey, off)
		}
		d := append([]byte(nil), v...)
		d[off] ^= 0xff
		return ib.Put([]byte(key), d)
	})
}

// InlineBody returns the inline tail of bucket/key for a peer that lacks a
// good copy of it (cluster.InlineSource): the bytes, checked, if the object
// here has a tail of size bytes with CRC32C crc (the version the peer
// asks for). found is false if it has no such tail (no such object, or
// another version of it); err wraps errInlineCorrupt if this node's copy
// fails its checksum too (it is never sent).
func (s *Store) InlineBody(bucket, key string, size int64, crc uint32) (data []byte, found bool, err error) {
	obj, ok := s.ObjectData(bucket, key)
	if !ok || obj.Inline == nil || obj.Inline.Size != size || obj.Inline.CRC32C != crc {
		return nil, false, nil
	}
	if err := CheckInline(obj.Inline); err != nil {
		return nil, true, fmt.Errorf("meta: the inline body of %s/%s: %w", bucket, key, err)
	}
	return obj.Inline.Data, true, nil
}

// RepairInline puts data, good bytes of bucket/key's inline tail fetched
// from a peer, in place of this node's copy, which failed its checksum. It
// writes only if the object's record still names a tail that data matches
// (length and CRC32C; repaired is false otherwise: the object was
// overwritten or deleted meanwhile, nothing to repair). Like DamageInline
// it is node-local, not an event: it puts back the bytes the log's event
// carried.
func (s *Store) RepairInline(bucket, key string, data []byte) (repaired bool, err error) {
	err = s.updateDB(func(tx *bolt.Tx) error {
		b, ib := tx.Bucket(objectsBucket(bucket)), tx.Bucket(inlineBucket(bucket))
		if b == nil || ib == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		var obj ObjectMeta
		decodeMsg(v, &obj)
		if obj.Inline == nil || CheckInline(&Inline{Data: data, Size: obj.Inline.Size, CRC32C: obj.Inline.CRC32C}) != nil {
			return nil
		}
		repaired = true
		return ib.Put([]byte(key), append([]byte(nil), data...))
	})
	return repaired, err
}
