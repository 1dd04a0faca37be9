package meta

import (
	"encoding/binary"
	"fmt"
)

// The history's records (an event, a user's state, a key's interval) are
// written in a small binary form of their own instead of msgpack: an event
// writes three to five of them, and msgpack's reflection made their
// encoding and decoding half of the history's cost per event
// (BENCHMARKS.md "IAM history"). A record in this form starts with
// histCodec1, which no msgpack record of these structs starts with (they
// are maps: 0x80-0x8f, 0xde, 0xdf), so records written by a release that
// used msgpack (in a snapshot it installs) are still read.
//
// An event is a sequence of fields, each a tag byte and its value (a
// varint, or a length-prefixed string); a field at its zero value is not
// written, and a reader skips nothing: a tag it does not know means a
// record of a later release, and is refused as corrupt like any other
// damage (the store is rebuilt from the snapshot and the log).
const histCodec1 = 0x01

// Event field tags (never reuse one).
const (
	evAt = iota + 1
	evType
	evActorID
	evActorName
	evNode
	evClient
	evUserID
	evUsername
	evRole
	evRoleFrom
	evRoleTo
	evActive
	evPassword
	evAccessKey
	evReplaced
	evTokenID
	evTokenName
	evBefore
	evPruned
	evThrough
)

func appendStrField(b []byte, tag byte, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendIntField(b []byte, tag byte, v int64) []byte {
	if v == 0 {
		return b
	}
	return binary.AppendVarint(append(b, tag), v)
}

func appendUintField(b []byte, tag byte, v uint64) []byte {
	if v == 0 {
		return b
	}
	return binary.AppendUvarint(append(b, tag), v)
}

// appendEvent appends ev's encoding (Index and Time are the record's key
// and prefix, not part of it).
func appendEvent(b []byte, ev *HistoryEvent) []byte {
	b = append(b, histCodec1)
	b = appendIntField(b, evAt, ev.At)
	b = appendUintField(b, evType, uint64(ev.Type))
	b = appendStrField(b, evActorID, ev.ActorID)
	b = appendStrField(b, evActorName, ev.ActorName)
	b = appendStrField(b, evNode, ev.Node)
	b = appendStrField(b, evClient, ev.Client)
	b = appendStrField(b, evUserID, ev.UserID)
	b = appendStrField(b, evUsername, ev.Username)
	b = appendStrField(b, evRole, ev.Role)
	b = appendStrField(b, evRoleFrom, ev.RoleFrom)
	b = appendStrField(b, evRoleTo, ev.RoleTo)
	if ev.Active != nil {
		v := uint64(1)
		if *ev.Active {
			v = 2
		}
		b = appendUintField(b, evActive, v)
	}
	if ev.Password {
		b = appendUintField(b, evPassword, 1)
	}
	b = appendStrField(b, evAccessKey, ev.AccessKey)
	b = appendStrField(b, evReplaced, ev.Replaced)
	b = appendStrField(b, evTokenID, ev.TokenID)
	b = appendStrField(b, evTokenName, ev.TokenName)
	b = appendIntField(b, evBefore, ev.Before)
	b = appendIntField(b, evPruned, int64(ev.Pruned))
	return appendUintField(b, evThrough, ev.Through)
}

// recReader reads the fields of a record; the first failure sticks.
type recReader struct {
	b   []byte
	err error
}

func (r *recReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("meta: corrupt history record: %s", what)
	}
	r.b = nil
}

func (r *recReader) byte() byte {
	if len(r.b) == 0 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *recReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("string past the end")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *recReader) flag() bool { return r.byte() != 0 }

// decodeEvent decodes an event record in either form.
func decodeEvent(b []byte, ev *HistoryEvent) {
	if len(b) == 0 || b[0] != histCodec1 {
		decodeMsg(b, ev)
		return
	}
	mustDecode(parseEvent(b[1:], ev))
}

// parseEvent parses the fields of an event record after its first byte.
func parseEvent(b []byte, ev *HistoryEvent) error {
	r := recReader{b: b}
	for len(r.b) > 0 && r.err == nil {
		switch tag := r.byte(); tag {
		case evAt:
			ev.At = r.varint()
		case evType:
			ev.Type = HistoryType(r.uvarint())
		case evActorID:
			ev.ActorID = r.str()
		case evActorName:
			ev.ActorName = r.str()
		case evNode:
			ev.Node = r.str()
		case evClient:
			ev.Client = r.str()
		case evUserID:
			ev.UserID = r.str()
		case evUsername:
			ev.Username = r.str()
		case evRole:
			ev.Role = r.str()
		case evRoleFrom:
			ev.RoleFrom = r.str()
		case evRoleTo:
			ev.RoleTo = r.str()
		case evActive:
			a := r.uvarint() == 2
			ev.Active = &a
		case evPassword:
			ev.Password = r.uvarint() != 0
		case evAccessKey:
			ev.AccessKey = r.str()
		case evReplaced:
			ev.Replaced = r.str()
		case evTokenID:
			ev.TokenID = r.str()
		case evTokenName:
			ev.TokenName = r.str()
		case evBefore:
			ev.Before = r.varint()
		case evPruned:
			ev.Pruned = int(r.varint())
		case evThrough:
			ev.Through = r.uvarint()
		default:
			r.fail(fmt.Sprintf("unknown field %d", tag))
		}
	}
	return r.done()
}

func (st *userState) encode() []byte {
	b := make([]byte, 0, 24+len(st.Username)+len(st.Role)+len(st.Key))
	b = append(b, histCodec1)
	b = binary.AppendUvarint(b, uint64(len(st.Username)))
	b = append(b, st.Username...)
	b = binary.AppendUvarint(b, uint64(len(st.Role)))
	b = append(b, st.Role...)
	var flags byte
	if st.Active {
		flags |= 1
	}
	if st.Deleted {
		flags |= 2
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(st.Key)))
	b = append(b, st.Key...)
	b = binary.AppendUvarint(b, st.Since)
	return binary.AppendVarint(b, st.SinceTime)
}

func (st *userState) decode(b []byte) {
	if len(b) == 0 || b[0] != histCodec1 {
		decodeMsg(b, st)
		return
	}
	mustDecode(st.parse(b[1:]))
}

func (st *userState) parse(b []byte) error {
	r := recReader{b: b}
	st.Username, st.Role = r.str(), r.str()
	flags := r.byte()
	st.Active, st.Deleted = flags&1 != 0, flags&2 != 0
	st.Key = r.str()
	st.Since, st.SinceTime = r.uvarint(), r.varint()
	return r.done()
}

func (iv *keyInterval) encode() []byte {
	b := make([]byte, 0, 40+len(iv.UserID))
	b = append(b, histCodec1)
	b = binary.AppendUvarint(b, uint64(len(iv.UserID)))
	b = append(b, iv.UserID...)
	b = binary.AppendVarint(b, iv.StartTime)
	b = binary.AppendUvarint(b, iv.End)
	b = binary.AppendVarint(b, iv.EndTime)
	return append(b, iv.Reason)
}

func (iv *keyInterval) decode(b []byte) {
	if len(b) == 0 || b[0] != histCodec1 {
		decodeMsg(b, iv)
		return
	}
	mustDecode(iv.parse(b[1:]))
}

func (iv *keyInterval) parse(b []byte) error {
	r := recReader{b: b}
	iv.UserID = r.str()
	iv.StartTime, iv.End, iv.EndTime = r.varint(), r.uvarint(), r.varint()
	iv.Reason = r.byte()
	return r.done()
}

// done returns the reader's error, or one for bytes left over.
func (r *recReader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Sprintf("%d bytes left over", len(r.b)))
	}
	return r.err
}

// mustDecode panics on a damaged record as decodeMsg does: the store is
// the node's own, rebuilt from the snapshot and the log, and a damaged one
// means the disk failed under it.
func mustDecode(err error) {
	if err != nil {
		panic(err)
	}
}

// encodePending is the h/pending record of an event whose indexes are not
// built yet (history_queue.go): the state of the user it is about after
// it, as the apply saw it; empty for an event about no user.
func encodePending(subj *HistoryUser) []byte {
	if subj == nil {
		return []byte{}
	}
	st := userState{Username: subj.Username, Role: subj.Role, Active: subj.Active, Deleted: subj.Deleted, Key: subj.AccessKey}
	b := make([]byte, 0, 8+len(subj.ID)+len(st.Username)+len(st.Role)+len(st.Key))
	b = append(b, histCodec1)
	b = binary.AppendUvarint(b, uint64(len(subj.ID)))
	b = append(b, subj.ID...)
	return append(b, st.encode()[1:]...)
}

// parsePending decodes an h/pending record (its bytes after histCodec1)
// into subj.
func parsePending(b []byte, subj *HistoryUser) error {
	r := recReader{b: b}
	subj.ID = r.str()
	if r.err != nil {
		return r.err
	}
	var st userState
	if err := st.parse(r.b); err != nil {
		return err
	}
	if st.Since != 0 || st.SinceTime != 0 {
		return fmt.Errorf("meta: pending record with a since")
	}
	*subj = HistoryUser{ID: subj.ID, Username: st.Username, Role: st.Role, Active: st.Active, Deleted: st.Deleted, AccessKey: st.Key}
	return nil
}

// decodePending returns the subject of an h/pending record (nil for none).
func decodePending(b []byte) *HistoryUser {
	if len(b) == 0 {
		return nil
	}
	if b[0] != histCodec1 {
		mustDecode(fmt.Errorf("meta: pending record of unknown form %#x", b[0]))
	}
	var subj HistoryUser
	mustDecode(parsePending(b[1:], &subj))
	return &subj
}
