package fsm

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"

	"github.com/s4/s4/iam"
	"github.com/s4/s4/keyring"
	"github.com/s4/s4/meta"
)

// Snapshot format, kept next to the event format (events.go):
//
//	header  {Magic, Version, Index}
//	[record type][record]*        // msgpack values, one after the other
//	recordEnd
//
// The records are the IAM state's users (recordUser, in no fixed order)
// and scrape tokens (recordScrapeToken: the token's SHA-256, never the
// token), then the metadata store (meta.Snapshot.Walk): every bbolt bucket as a
// recordMetaBucket followed by its keys as recordMetaKV, in key order. A
// user record carries the secret sealed again with a fresh nonce, never in
// plaintext.
//
// The metadata comes from one read transaction opened in FSM.Snapshot (on
// the FSM goroutine, so no Apply runs between it and the IAM state it goes
// with), and Persist streams it while Apply goes on: bbolt's MVCC keeps the
// view stable.
const (
	snapshotMagic = "S4FSM"
	// snapshotVersion is 2 since the store holds inline bodies (i/<bucket>,
	// ObjectMeta.Inline) and the events' version-2 fields (tags,
	// conditions), 3 since it holds object versions (v/<bucket>,
	// x/<bucket>, delete markers in o/<bucket>: meta/versions.go): a
	// release before them, which reads an older version only, refuses such
	// a snapshot rather than restore objects without their bytes or serve a
	// delete marker as an object. This release reads every version (the
	// older ones have none of them).
	snapshotVersion = 3

	recordUser       uint8 = 1
	recordMetaBucket uint8 = 2
	recordMetaKV     uint8 = 3
	recordEnd        uint8 = 0xff
)

// recordScrapeToken is a scrape token of GET /metrics (after the users).
const recordScrapeToken uint8 = 4

type snapshotHeader struct {
	Magic   string
	Version int
	Index   uint64
}

type userRecord struct {
	ID           string
	Username     string
	PasswordHash []byte
	Role         iam.Role
	Active       bool
	Root         bool
	CreatedAt    int64
	UpdatedAt    int64
	Generation   uint64
	AccessKey    string
	SealedSecret []byte
}

type scrapeTokenRecord struct {
	ID        string
	Name      string
	Hash      []byte
	CreatedBy string
	CreatedAt int64
}

type metaBucketRecord struct{ Name []byte }

type metaKVRecord struct{ K, V []byte }

type snapshot struct {
	view   *view
	sealer *keyring.Sealer
	meta   *meta.Snapshot // nil without a metadata store
}

var _ raft.FSMSnapshot = (*snapshot)(nil)

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(sink, &s.view.iam, s.view.index, s.sealer, s.meta); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() { s.meta.Release() }

// writeSnapshot writes the IAM state s at log index index, and the
// metadata view ms (nil: none).
func writeSnapshot(w io.Writer, s *iam.State, index uint64, sealer *keyring.Sealer, ms *meta.Snapshot) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := codec.NewEncoder(bw, msgpackHandle)
	if err := enc.Encode(snapshotHeader{Magic: snapshotMagic, Version: snapshotVersion, Index: index}); err != nil {
		return err
	}
	if err := writeUsers(enc, s, sealer); err != nil {
		return fmt.Errorf("fsm: write snapshot: %w", err)
	}
	if err := writeScrapeTokens(enc, s); err != nil {
		return fmt.Errorf("fsm: write snapshot: %w", err)
	}
	if ms != nil {
		if err := writeMeta(enc, ms); err != nil {
			return fmt.Errorf("fsm: write snapshot: %w", err)
		}
	}
	if err := enc.Encode(recordEnd); err != nil {
		return err
	}
	return bw.Flush()
}

func writeUsers(enc *codec.Encoder, s *iam.State, sealer *keyring.Sealer) error {
	var err error
	s.EachUser(func(u *iam.User) bool {
		rec := userRecord{
			ID: u.ID, Username: u.Username, PasswordHash: u.PasswordHash, Role: u.Role,
			Active: u.Active, Root: u.Root, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
			Generation: u.Generation, AccessKey: u.AccessKey,
		}
		if u.AccessKey != "" {
			if rec.SealedSecret, err = sealer.Seal(u.Secret(), u.AccessKey); err != nil {
				return false
			}
		}
		if err = enc.Encode(recordUser); err == nil {
			err = enc.Encode(&rec)
		}
		return err == nil
	})
	return err
}

func writeScrapeTokens(enc *codec.Encoder, s *iam.State) error {
	for _, t := range s.ScrapeTokens() {
		if err := enc.Encode(recordScrapeToken); err != nil {
			return err
		}
		if err := enc.Encode(&scrapeTokenRecord{ID: t.ID, Name: t.Name, Hash: t.Hash[:], CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt}); err != nil {
			return err
		}
	}
	return nil
}

func writeMeta(enc *codec.Encoder, ms *meta.Snapshot) error {
	return ms.Walk(func(name []byte) error {
		if err := enc.Encode(recordMetaBucket); err != nil {
			return err
		}
		return enc.Encode(&metaBucketRecord{Name: name})
	}, func(k, v []byte) error {
		if err := enc.Encode(recordMetaKV); err != nil {
			return err
		}
		return enc.Encode(&metaKVRecord{K: k, V: v})
	})
}

var errBadSnapshot = errors.New("fsm: bad snapshot")

// readSnapshot decodes a snapshot. With a metadata store, the metadata
// records replace its content in one transaction, committed only once the
// IAM records decoded without error; the caller then publishes the view.
func readSnapshot(r io.Reader, sealer *keyring.Sealer, m *meta.Store) (*view, error) {
	dec := codec.NewDecoder(bufio.NewReaderSize(r, 64<<10), msgpackHandle)
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", errBadSnapshot, err)
	}
	if h.Magic != snapshotMagic || h.Version < 1 || h.Version > snapshotVersion {
		return nil, fmt.Errorf("%w: magic %q version %d", errBadSnapshot, h.Magic, h.Version)
	}
	b := iam.NewBuilder()
	var rec userRecord // reused: the builder copies what it keeps
	for {
		var t uint8
		if err := dec.Decode(&t); err != nil {
			return nil, fmt.Errorf("%w: record type: %v", errBadSnapshot, err)
		}
		switch t {
		case recordEnd, recordMetaBucket, recordMetaKV:
			s, err := b.State()
			if err != nil {
				return nil, fmt.Errorf("%w: %v", errBadSnapshot, err)
			}
			if err := restoreMeta(dec, t, m); err != nil {
				return nil, err
			}
			return &view{iam: *s, index: h.Index, auth: h.Index}, nil
		case recordUser:
			rec = userRecord{PasswordHash: rec.PasswordHash[:0], SealedSecret: rec.SealedSecret[:0]}
			if err := dec.Decode(&rec); err != nil {
				return nil, fmt.Errorf("%w: user record: %v", errBadSnapshot, err)
			}
			if err := addUser(b, &rec, sealer); err != nil {
				return nil, err
			}
		case recordScrapeToken:
			var tr scrapeTokenRecord
			if err := dec.Decode(&tr); err != nil || len(tr.Hash) != 32 {
				return nil, fmt.Errorf("%w: scrape token record: %v", errBadSnapshot, err)
			}
			b.AddScrapeToken(&iam.ScrapeToken{ID: tr.ID, Name: tr.Name, Hash: [32]byte(tr.Hash), CreatedBy: tr.CreatedBy, CreatedAt: tr.CreatedAt})
		default:
			return nil, fmt.Errorf("%w: unknown record type %d", errBadSnapshot, t)
		}
	}
}

// addUser queues the user of rec, its secret unsealed, in b.
func addUser(b *iam.Builder, rec *userRecord, sealer *keyring.Sealer) error {
	u := iam.User{
		ID: rec.ID, Username: rec.Username, PasswordHash: rec.PasswordHash, Role: rec.Role,
		Active: rec.Active, Root: rec.Root, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt,
		Generation: rec.Generation, AccessKey: rec.AccessKey,
	}
	var secret string
	if u.AccessKey != "" {
		var err error
		if secret, err = sealer.Open(rec.SealedSecret, rec.AccessKey); err != nil {
			return fmt.Errorf("%w: user %s: %v", errBadSnapshot, rec.ID, err)
		}
	}
	b.Add(&u, secret)
	return nil
}

// restoreMeta reads the metadata records that follow the IAM records, the
// first of type first, up to recordEnd, into m (or discards them when
// there is no metadata store).
func restoreMeta(dec *codec.Decoder, first uint8, m *meta.Store) error {
	fill := func(r *meta.Restorer) error {
		for t := first; t != recordEnd; {
			switch t {
			case recordMetaBucket:
				var bk metaBucketRecord
				if err := dec.Decode(&bk); err != nil {
					return fmt.Errorf("%w: metadata record: %v", errBadSnapshot, err)
				}
				if r != nil {
					if err := r.Bucket(bk.Name); err != nil {
						return fmt.Errorf("%w: %v", errBadSnapshot, err)
					}
				}
			case recordMetaKV:
				var kv metaKVRecord // a new one each time: bbolt keeps K and V until the commit
				if err := dec.Decode(&kv); err != nil {
					return fmt.Errorf("%w: metadata record: %v", errBadSnapshot, err)
				}
				if r != nil {
					if err := r.Put(kv.K, kv.V); err != nil {
						return fmt.Errorf("%w: %v", errBadSnapshot, err)
					}
				}
			default:
				return fmt.Errorf("%w: unknown record type %d", errBadSnapshot, t)
			}
			if err := dec.Decode(&t); err != nil {
				return fmt.Errorf("%w: record type: %v", errBadSnapshot, err)
			}
		}
		return nil
	}
	if m == nil {
		return fill(nil)
	}
	return m.Restore(fill)
}
