package fsm

import (
	"bytes"
	"fmt"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/s4/s4/iam"
	"github.com/s4/s4/meta"
)

// MessageType is the first byte of every Raft log entry that S4 writes. The
// second byte is the event's format version, the rest is the msgpack body.
type MessageType uint8

const (
	MsgUserCreate       MessageType = 1
	MsgUserUpdate       MessageType = 2
	MsgUserDelete       MessageType = 3
	MsgCredentialIssue  MessageType = 4
	MsgCredentialRevoke MessageType = 5

	// IgnoreUnknownTypeFlag marks an event that an older binary may skip
	// instead of panicking when it does not know the type.
	IgnoreUnknownTypeFlag MessageType = 128
)

// eventVersion is the version byte written by this release. Apply accepts
// every version it knows how to decode.
const eventVersion = 1

// MaxEventSize bounds an encoded event (under raft.SuggestedMaxDataSize,
// 512 KiB): the largest inline body (meta.MaxInline, 256 KiB) plus 64 KiB
// for the rest of its metadata, which was the bound before inline bodies.
const MaxEventSize = meta.MaxInline + 64<<10

// versioned is a body whose version depends on what it carries: version 2
// when it carries a field a release before it would skip (an inline body,
// tags, conditions: meta_events.go, v2If), version 1 (as every release
// before wrote and read them) otherwise. A release that predates those
// fields stops at a version 2 event (unknown version) rather than apply it
// differently from the other nodes.
type versioned interface {
	eventVersion() uint8
	inlineSize() int // bytes of the inline body, 0 if none
}

// UserCreate creates a user. The proposer fills in ID, the password hash
// and the timestamp.
type UserCreate struct {
	ID           string
	Username     string
	PasswordHash []byte
	Role         iam.Role
	Root         bool // the root user cannot be deleted, deactivated or demoted
	At           int64
	Origin       Origin // who proposed it, from where (history.go)
}

// UserUpdate changes any of a user's password, role and active flag; nil
// fields are left alone. Every update bumps the user's session generation,
// so admin tokens issued before it stop working.
type UserUpdate struct {
	ID           string
	PasswordHash []byte
	Role         *iam.Role
	Active       *bool
	At           int64
	Origin       Origin // who proposed it, from where (history.go)
}

// UserDelete deletes a user and its credential.
type UserDelete struct {
	ID     string
	At     int64
	Origin Origin // who proposed it, from where (history.go)
}

// CredentialIssue gives a user a new S3 key pair, replacing the previous one
// in the same event. SealedSecret is the secret key sealed with AES-256-GCM
// under the cluster's S3-secret key with AccessKey as associated data.
type CredentialIssue struct {
	UserID       string
	AccessKey    string
	SealedSecret []byte
	At           int64
	Origin       Origin // who proposed it, from where (history.go)
}

// CredentialRevoke removes a user's key pair. Revoking a user without one is
// a no-op, so a retried revoke is harmless.
type CredentialRevoke struct {
	UserID string
	At     int64
	Origin Origin // who proposed it, from where (history.go)
}

var msgpackHandle = &codec.MsgpackHandle{}

// Encode writes the envelope: type byte, version byte, msgpack body. msg
// must be the body type of t in the event table.
func Encode(t MessageType, msg any) ([]byte, error) {
	if err := checkBody(t, msg); err != nil {
		return nil, err
	}
	version := uint8(eventVersion)
	if v, ok := msg.(versioned); ok {
		version = v.eventVersion()
	}
	var buf bytes.Buffer
	buf.WriteByte(uint8(t))
	buf.WriteByte(version)
	if err := codec.NewEncoder(&buf, msgpackHandle).Encode(msg); err != nil {
		return nil, fmt.Errorf("fsm: encode %d: %w", t, err)
	}
	if buf.Len() > MaxEventSize {
		return nil, fmt.Errorf("fsm: event of %d bytes exceeds %d", buf.Len(), MaxEventSize)
	}
	return buf.Bytes(), nil
}

func decode(body []byte, out any) error {
	return codec.NewDecoderBytes(body, msgpackHandle).Decode(out)
}
