package fsm

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"

	"github.com/s4/s4/keyring"
)

// Snapshot format, kept next to the event format (events.go):
//
//	header  {Magic, Version, Index}
//	[record type][record]*        // msgpack values, one after the other
//	recordEnd
//
// A user record carries the secret sealed again with a fresh nonce, never in
// plaintext.
const (
	snapshotMagic   = "S4FSM"
	snapshotVersion = 1

	recordUser uint8 = 1
	recordEnd  uint8 = 0xff
)

type snapshotHeader struct {
	Magic   string
	Version int
	Index   uint64
}

type userRecord struct {
	ID           string
	Username     string
	PasswordHash []byte
	Role         Role
	Active       bool
	Root         bool
	CreatedAt    int64
	UpdatedAt    int64
	Generation   uint64
	AccessKey    string
	SealedSecret []byte
}

type snapshot struct {
	state  *State
	sealer *keyring.Sealer
	meta   *metaSnapshot // nil without a metadata store
}

var _ raft.FSMSnapshot = (*snapshot)(nil)

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(sink, s.state, s.sealer, s.meta); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() { s.meta.release() }

func writeSnapshot(w io.Writer, s *State, sealer *keyring.Sealer, meta *metaSnapshot) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := codec.NewEncoder(bw, msgpackHandle)
	if err := enc.Encode(snapshotHeader{Magic: snapshotMagic, Version: snapshotVersion, Index: s.index}); err != nil {
		return err
	}
	var err error
	s.users.each(func(u *User) bool {
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
	if err != nil {
		return fmt.Errorf("fsm: write snapshot: %w", err)
	}
	if meta != nil {
		if err := meta.write(enc); err != nil {
			return fmt.Errorf("fsm: write snapshot: %w", err)
		}
	}
	if err := enc.Encode(recordEnd); err != nil {
		return err
	}
	return bw.Flush()
}

var errBadSnapshot = errors.New("fsm: bad snapshot")

// readSnapshot decodes a snapshot. With a metadata store, the metadata
// records replace its content in one transaction, committed only once the
// IAM records decoded without error; the caller then publishes the State.
func readSnapshot(r io.Reader, sealer *keyring.Sealer, meta *Meta) (*State, error) {
	dec := codec.NewDecoder(bufio.NewReaderSize(r, 64<<10), msgpackHandle)
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", errBadSnapshot, err)
	}
	if h.Magic != snapshotMagic || h.Version != snapshotVersion {
		return nil, fmt.Errorf("%w: magic %q version %d", errBadSnapshot, h.Magic, h.Version)
	}
	b := newStateBuilder()
	var rec userRecord // reused: the builder copies what it keeps
	for {
		var t uint8
		if err := dec.Decode(&t); err != nil {
			return nil, fmt.Errorf("%w: record type: %v", errBadSnapshot, err)
		}
		switch t {
		case recordEnd, recordMetaBucket, recordMetaKV:
			s, err := b.state(h.Index)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", errBadSnapshot, err)
			}
			if err := restoreMeta(dec, t, meta); err != nil {
				return nil, err
			}
			return s, nil
		case recordUser:
			rec = userRecord{PasswordHash: rec.PasswordHash[:0], SealedSecret: rec.SealedSecret[:0]}
			if err := dec.Decode(&rec); err != nil {
				return nil, fmt.Errorf("%w: user record: %v", errBadSnapshot, err)
			}
			u := &User{
				ID: rec.ID, Username: rec.Username, PasswordHash: rec.PasswordHash, Role: rec.Role,
				Active: rec.Active, Root: rec.Root, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt,
				Generation: rec.Generation, AccessKey: rec.AccessKey,
			}
			if u.AccessKey != "" {
				secret, err := sealer.Open(rec.SealedSecret, rec.AccessKey)
				if err != nil {
					return nil, fmt.Errorf("%w: user %s: %v", errBadSnapshot, rec.ID, err)
				}
				u.setSecret(secret)
			}
			b.add(u)
		default:
			return nil, fmt.Errorf("%w: unknown record type %d", errBadSnapshot, t)
		}
	}
}

// restoreMeta reads the metadata records that follow the IAM records, the
// first of type first, up to recordEnd, into meta (or discards them when
// there is no metadata store).
func restoreMeta(dec *codec.Decoder, first uint8, meta *Meta) error {
	next := func(kv *metaKVRecord, bk *metaBucketRecord) (uint8, error) {
		t := first
		if t == 0 {
			if err := dec.Decode(&t); err != nil {
				return 0, fmt.Errorf("%w: record type: %v", errBadSnapshot, err)
			}
		}
		first = 0
		var err error
		switch t {
		case recordMetaBucket:
			err = dec.Decode(bk)
		case recordMetaKV:
			err = dec.Decode(kv)
		}
		if err != nil {
			return 0, fmt.Errorf("%w: metadata record: %v", errBadSnapshot, err)
		}
		return t, nil
	}
	if meta != nil {
		return meta.restore(next)
	}
	for {
		t, err := next(&metaKVRecord{}, &metaBucketRecord{})
		if err != nil || t == recordEnd {
			return err
		}
	}
}
