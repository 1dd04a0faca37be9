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
}

var _ raft.FSMSnapshot = (*snapshot)(nil)

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(sink, s.state, s.sealer); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() {}

func writeSnapshot(w io.Writer, s *State, sealer *keyring.Sealer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := codec.NewEncoder(bw, msgpackHandle)
	if err := enc.Encode(snapshotHeader{Magic: snapshotMagic, Version: snapshotVersion, Index: s.index}); err != nil {
		return err
	}
	var err error
	s.users.Range(func(_ string, u *User) bool {
		rec := userRecord{
			ID: u.ID, Username: u.Username, PasswordHash: u.PasswordHash, Role: u.Role,
			Active: u.Active, Root: u.Root, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
			Generation: u.Generation, AccessKey: u.AccessKey,
		}
		if u.AccessKey != "" {
			if rec.SealedSecret, err = sealer.Seal(u.secret, u.AccessKey); err != nil {
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
	if err := enc.Encode(recordEnd); err != nil {
		return err
	}
	return bw.Flush()
}

var errBadSnapshot = errors.New("fsm: bad snapshot")

func readSnapshot(r io.Reader, sealer *keyring.Sealer) (*State, error) {
	dec := codec.NewDecoder(bufio.NewReaderSize(r, 64<<10), msgpackHandle)
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", errBadSnapshot, err)
	}
	if h.Magic != snapshotMagic || h.Version != snapshotVersion {
		return nil, fmt.Errorf("%w: magic %q version %d", errBadSnapshot, h.Magic, h.Version)
	}
	b := newStateBuilder()
	for {
		var t uint8
		if err := dec.Decode(&t); err != nil {
			return nil, fmt.Errorf("%w: record type: %v", errBadSnapshot, err)
		}
		switch t {
		case recordEnd:
			return b.state(h.Index), nil
		case recordUser:
			var rec userRecord
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
				u.secret = secret
			}
			if !b.add(u) {
				return nil, fmt.Errorf("%w: user %s, name or access key seen twice", errBadSnapshot, u.ID)
			}
		default:
			return nil, fmt.Errorf("%w: unknown record type %d", errBadSnapshot, t)
		}
	}
}
