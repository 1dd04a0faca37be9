package cluster

import (
	"fmt"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/s4/s4/fsm"
)

// The leader checks every forwarded event before it proposes it. The FSM
// panics on an entry it cannot decode (a node must never silently diverge),
// so one malformed entry in the log would stop every node, at every restart.
// Events encoded by fsm.Encode always pass; what the check stops is a buggy
// or hostile peer (peers hold the cluster key, but still).
//
// The check mirrors fsm.FSM.Apply: the envelope [type][version][msgpack
// body], the type known (or flagged fsm.IgnoreUnknownTypeFlag), the version
// this release writes, and a body that decodes into the event's struct with
// the FSM's codec settings. A test keeps eventBodies in step with the Msg*
// constants of package fsm.

// eventVersion is the version byte fsm.Encode writes (a test checks it).
const eventVersion = 1

// eventBodies maps every fsm event type to a constructor of its body.
var eventBodies = map[fsm.MessageType]func() any{
	fsm.MsgUserCreate:       func() any { return new(fsm.UserCreate) },
	fsm.MsgUserUpdate:       func() any { return new(fsm.UserUpdate) },
	fsm.MsgUserDelete:       func() any { return new(fsm.UserDelete) },
	fsm.MsgCredentialIssue:  func() any { return new(fsm.CredentialIssue) },
	fsm.MsgCredentialRevoke: func() any { return new(fsm.CredentialRevoke) },
	fsm.MsgBucketCreate:     func() any { return new(fsm.BucketCreate) },
	fsm.MsgBucketDelete:     func() any { return new(fsm.BucketDelete) },
	fsm.MsgObjectPut:        func() any { return new(fsm.ObjectPut) },
	fsm.MsgObjectDelete:     func() any { return new(fsm.ObjectDelete) },
	fsm.MsgUploadCreate:     func() any { return new(fsm.UploadCreate) },
	fsm.MsgPartPut:          func() any { return new(fsm.PartPut) },
	fsm.MsgUploadComplete:   func() any { return new(fsm.UploadComplete) },
	fsm.MsgUploadAbort:      func() any { return new(fsm.UploadAbort) },
}

// checkEvent returns nil if the FSM can apply cmd without panicking on its
// envelope or body, and an error wrapping ErrInvalidCommand otherwise.
func checkEvent(cmd []byte) error {
	if len(cmd) > fsm.MaxEventSize {
		return fmt.Errorf("%w: event of %d bytes exceeds %d", ErrInvalidCommand, len(cmd), fsm.MaxEventSize)
	}
	if len(cmd) < 2 {
		return fmt.Errorf("%w: event of %d bytes has no envelope", ErrInvalidCommand, len(cmd))
	}
	t := fsm.MessageType(cmd[0])
	ignorable := t&fsm.IgnoreUnknownTypeFlag != 0
	t &^= fsm.IgnoreUnknownTypeFlag
	newBody, ok := eventBodies[t]
	if !ok {
		if ignorable {
			return nil // the FSM skips it: written by a newer release
		}
		return fmt.Errorf("%w: unknown event type %d", ErrInvalidCommand, t)
	}
	if v := cmd[1]; v != eventVersion {
		return fmt.Errorf("%w: event type %d has unknown version %d", ErrInvalidCommand, t, v)
	}
	// The FSM decodes with a zero MsgpackHandle (fsm/events.go).
	if err := codec.NewDecoderBytes(cmd[2:], &codec.MsgpackHandle{}).Decode(newBody()); err != nil {
		return fmt.Errorf("%w: event type %d: %v", ErrInvalidCommand, t, err)
	}
	return nil
}
