package meta

import (
	"reflect"
	"testing"
)

func sampleEvents() []HistoryEvent {
	yes, no := true, false
	return []HistoryEvent{
		{},
		{Type: HistUserCreated, ActorID: "u-1", ActorName: "root", Node: "n1", Client: "127.0.0.1:5000",
			UserID: "u-2", Username: "alice", Role: "Writer"},
		{At: -5, Type: HistUserUpdated, UserID: "u-2", RoleFrom: "Writer", RoleTo: "Reader", Active: &no, Password: true},
		{At: 1 << 62, Type: HistUserUpdated, UserID: "u-2", Active: &yes},
		{Type: HistCredentialReplaced, UserID: "u-2", AccessKey: "S4AKAAAAAAAAAAAAAAAAAAAA", Replaced: "S4AKBBBBBBBBBBBBBBBBBBBB"},
		{Type: HistoryType(255), TokenID: "t-1", TokenName: "prometheus ✓", Before: 1733, Pruned: 1 << 40, Through: 1<<64 - 1},
	}
}

// The binary form keeps every field, and records a release wrote with
// msgpack (in a snapshot a node installs) still decode to the same value.
func TestHistoryCodecRoundTrip(t *testing.T) {
	for i, ev := range sampleEvents() {
		var bin, old HistoryEvent
		decodeEvent(appendEvent(nil, &ev), &bin)
		decodeEvent(encodeMsg(&ev), &old)
		if !reflect.DeepEqual(bin, ev) || !reflect.DeepEqual(old, ev) {
			t.Errorf("event %d: binary %+v, msgpack %+v, want %+v", i, bin, old, ev)
		}
	}
	for i, st := range []userState{{}, {Username: "alice", Role: "SuperUser", Active: true, Deleted: true, Key: "S4AK", Since: 7, SinceTime: -3}} {
		var bin, old userState
		bin.decode(st.encode())
		old.decode(encodeMsg(&st))
		if bin != st || old != st {
			t.Errorf("user state %d: binary %+v, msgpack %+v, want %+v", i, bin, old, st)
		}
	}
	for i, iv := range []keyInterval{{UserID: "u"}, {UserID: "u-2", StartTime: 9, End: 1<<64 - 1, EndTime: -1, Reason: endUserDeleted}} {
		var bin, old keyInterval
		bin.decode(iv.encode())
		old.decode(encodeMsg(&iv))
		if bin != iv || old != iv {
			t.Errorf("interval %d: binary %+v, msgpack %+v, want %+v", i, bin, old, iv)
		}
	}
}

// A damaged record is an error, never a panic or a wrong value read past
// its end; one that parses encodes back to the same bytes.
func FuzzHistoryRecord(f *testing.F) {
	for _, ev := range sampleEvents() {
		f.Add(appendEvent(nil, &ev)[1:])
	}
	st := userState{Username: "alice", Role: "Reader", Active: true, Key: "S4AK", Since: 3, SinceTime: 4}
	f.Add(st.encode()[1:])
	iv := keyInterval{UserID: "u", StartTime: 1, End: 2, EndTime: 3, Reason: endRevoked}
	f.Add(iv.encode()[1:])
	f.Add(encodePending(&HistoryUser{ID: "u1", Username: "alice", Role: "Writer", Active: true, AccessKey: "S4AK"})[1:])
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev HistoryEvent
		if parseEvent(b, &ev) == nil {
			var again HistoryEvent
			if err := parseEvent(appendEvent(nil, &ev)[1:], &again); err != nil || !reflect.DeepEqual(again, ev) {
				t.Fatalf("event %+v does not survive a round trip: %+v, %v", ev, again, err)
			}
		}
		var st userState
		if st.parse(b) == nil {
			var again userState
			if err := again.parse(st.encode()[1:]); err != nil || again != st {
				t.Fatalf("user state %+v does not survive a round trip: %+v, %v", st, again, err)
			}
		}
		var subj HistoryUser
		if parsePending(b, &subj) == nil {
			var again HistoryUser
			if err := parsePending(encodePending(&subj)[1:], &again); err != nil || again != subj {
				t.Fatalf("pending record %+v does not survive a round trip: %+v, %v", subj, again, err)
			}
		}
		var iv keyInterval
		if iv.parse(b) == nil {
			var again keyInterval
			if err := again.parse(iv.encode()[1:]); err != nil || again != iv {
				t.Fatalf("interval %+v does not survive a round trip: %+v, %v", iv, again, err)
			}
		}
	})
}
