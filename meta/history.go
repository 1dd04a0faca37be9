package meta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The IAM history: every IAM event the FSM applied without refusing it,
// with its log index, its time, who proposed it and from where, kept in
// this store's own bbolt buckets, so that it rides in snapshots (which
// carry every bucket), survives log truncation and is rebuilt like the rest
// of the store at every start. Package fsm writes it (AppendHistory,
// PruneHistory) in the transaction of the entry's other effects; the admin
// API reads it (HistoryEvents, AccessAt, KeyAccessAt).
//
// What a record holds is what its event carried and what the IAM state
// said before and after it: never a password, a hash, a secret or a token.
//
// Time: an event's history time is the time its proposer stamped (At), or
// the previous event's history time if that is later, so that time never
// goes backwards along the log (proposers' clocks differ a little). The
// state at time T is therefore the state after a prefix of the log: the
// events whose history time is at most T.
//
// Layout (bbolt buckets, flat keys; be64 is 8 bytes big-endian, sk(s) a
// length byte and s, or 0xff and SHA-256(s) for a string over 250 bytes):
//
//	h/events  be64(index) -> be64(time) + record (msgpack)
//	h/users   sk(userID) + be64(index) -> the user's state after the event (every event about the user)
//	h/names   sk(username) + sk(userID) -> ""
//	h/keys    accessKey + be64(start) -> keyInterval (the key's life: issued at start, ended at End)
//	h/open    be64(start) + accessKey -> be64(startTime) + userID (keys not ended yet)
//	h/ivs     level + be64(block) + be64(start) + accessKey -> be64(end) + be64(startTime) + userID
//	h/ive     level + be64(block) + be64(end) + accessKey -> be64(start) + be64(startTime) + userID
//	h/pending be64(index) -> the state of the event's user after it (or
//	          nothing): the events whose indexes are not built yet
//	          (history_queue.go)
//	h/meta    "begun" -> be64(first index); "floor" -> be64(index) + be64(time);
//	          "through" -> be64(the last index written: history_queue.go);
//	          "pending" -> be64(how many events h/pending holds)
//
// h/ivs and h/ive hold the ended keys' intervals [start, end) of log
// indexes as a centered interval tree over the index space: an interval
// sits at the smallest aligned block of 2^level indexes that holds it,
// whose midpoint it contains, so that the intervals containing an index c
// are, at each of the 65 levels, a run of one block's entries sorted by
// start (c left of the midpoint) or by end (c right of it). "Which keys
// were valid at T" is 65 seeks plus one step per key in the answer,
// whatever the length of the history.

var (
	bktHistEvents  = []byte("h/events")
	bktHistUsers   = []byte("h/users")
	bktHistNames   = []byte("h/names")
	bktHistKeys    = []byte("h/keys")
	bktHistOpen    = []byte("h/open")
	bktHistIvs     = []byte("h/ivs")
	bktHistIve     = []byte("h/ive")
	bktHistMeta    = []byte("h/meta")
	bktHistPending = []byte("h/pending")

	historyBuckets = [][]byte{bktHistEvents, bktHistUsers, bktHistNames, bktHistKeys, bktHistOpen, bktHistIvs, bktHistIve, bktHistMeta, bktHistPending}

	histBegun   = []byte("begun")
	histFloor   = []byte("floor")
	histThrough = []byte("through")
	histPending = []byte("pending")
)

// HistoryType is what a history event did.
type HistoryType uint8

const (
	HistUserCreated        HistoryType = 1
	HistRootCreated        HistoryType = 2
	HistUserUpdated        HistoryType = 3
	HistUserDeleted        HistoryType = 4
	HistCredentialIssued   HistoryType = 5 // to a user without a key
	HistCredentialReplaced HistoryType = 6 // a new key that replaced the user's key
	HistCredentialRevoked  HistoryType = 7
	HistScrapeTokenCreated HistoryType = 8
	HistScrapeTokenRevoked HistoryType = 9
	HistHistoryPruned      HistoryType = 10 // the retention's cut-off
)

var historyTypeNames = [...]string{
	HistUserCreated: "user_created", HistRootCreated: "root_created", HistUserUpdated: "user_updated",
	HistUserDeleted: "user_deleted", HistCredentialIssued: "credential_issued",
	HistCredentialReplaced: "credential_replaced", HistCredentialRevoked: "credential_revoked",
	HistScrapeTokenCreated: "scrape_token_created", HistScrapeTokenRevoked: "scrape_token_revoked",
	HistHistoryPruned: "history_pruned",
}

// String returns the type's name in the admin API ("user_created", ...).
func (t HistoryType) String() string {
	if int(t) < len(historyTypeNames) && historyTypeNames[t] != "" {
		return historyTypeNames[t]
	}
	return "unknown"
}

// ParseHistoryType is String's inverse.
func ParseHistoryType(s string) (HistoryType, bool) {
	for t, n := range historyTypeNames {
		if n != "" && n == s {
			return HistoryType(t), true
		}
	}
	return 0, false
}

// HistoryTypeNames lists every type's name, in type order.
func HistoryTypeNames() []string {
	var out []string
	for _, n := range historyTypeNames {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// HistoryEvent is one event of the history. Fields that do not apply to
// its type are empty.
type HistoryEvent struct {
	Index uint64 `codec:"-"` // the log index (the key)
	Time  int64  `codec:"-"` // the history time, Unix nanoseconds (see above)
	// At is the proposer's time when it was earlier than the previous
	// event's (Time is then that one); 0 when At is Time.
	At   int64       `codec:"a,omitempty"`
	Type HistoryType `codec:"t"`

	// Who and where: the admin's user ID and username ("" for the system:
	// the node itself, or an event of a release that did not record it),
	// the node that took the request and the client's address ("" when
	// unknown).
	ActorID   string `codec:"ai,omitempty"`
	ActorName string `codec:"an,omitempty"`
	Node      string `codec:"n,omitempty"`
	Client    string `codec:"c,omitempty"`

	// The user the event is about, its username then, and its role on
	// creation.
	UserID   string `codec:"u,omitempty"`
	Username string `codec:"un,omitempty"`
	Role     string `codec:"r,omitempty"`
	// A user update's changes: the role from and to (both "" when it did
	// not change), the active flag it set (nil when it did not change),
	// whether it set a new password.
	RoleFrom string `codec:"rf,omitempty"`
	RoleTo   string `codec:"rt,omitempty"`
	Active   *bool  `codec:"ac,omitempty"`
	Password bool   `codec:"pw,omitempty"`

	// AccessKey is the key issued, revoked, or dropped with its deleted
	// user; Replaced the key a new one replaced.
	AccessKey string `codec:"k,omitempty"`
	Replaced  string `codec:"rk,omitempty"`

	// A scrape token's ID and name.
	TokenID   string `codec:"ti,omitempty"`
	TokenName string `codec:"tn,omitempty"`

	// A prune: the cut-off time, how many events it removed and the last
	// index it removed.
	Before  int64  `codec:"b,omitempty"`
	Pruned  int    `codec:"p,omitempty"`
	Through uint64 `codec:"th,omitempty"`
}

// System reports whether no admin proposed the event.
func (e *HistoryEvent) System() bool { return e.ActorID == "" }

// HistoryUser is a user's state after an event, as the history indexes
// it.
type HistoryUser struct {
	ID, Username, Role string
	Active, Deleted    bool
	AccessKey          string
}

// HistoryRecord is what AppendHistory records for one event: the event,
// the state of the user it is about after it (nil for events about no
// user), and, for the first event the history sees on a state that already
// has users (a store rebuilt from a snapshot of a release without the
// history), a walk of that state's users.
type HistoryRecord struct {
	Event    HistoryEvent
	Subject  *HistoryUser
	Baseline func(add func(HistoryUser))
}

// userState is a user's state in h/users.
type userState struct {
	Username  string `codec:"n,omitempty"`
	Role      string `codec:"r,omitempty"`
	Active    bool   `codec:"a,omitempty"`
	Deleted   bool   `codec:"d,omitempty"`
	Key       string `codec:"k,omitempty"`
	Since     uint64 `codec:"s,omitempty"`  // the index from which Active holds (0: from before the history)
	SinceTime int64  `codec:"st,omitempty"` // its time
}

// How a key's life ended (keyInterval.Reason).
const (
	endRevoked     = 1
	endReplaced    = 2
	endUserDeleted = 3
)

var endReasons = [...]string{endRevoked: "revoked", endReplaced: "replaced", endUserDeleted: "user_deleted"}

// keyInterval is one life of an access key in h/keys: issued to UserID at
// the index in its key (0: before the history began), at StartTime, and
// ended at End (0: not yet) at EndTime, for Reason.
type keyInterval struct {
	UserID    string `codec:"u"`
	StartTime int64  `codec:"st,omitempty"`
	End       uint64 `codec:"e,omitempty"`
	EndTime   int64  `codec:"et,omitempty"`
	Reason    uint8  `codec:"r,omitempty"`
}

// ErrHistoryBefore refuses a question about a time the history does not
// cover: before its retention cut-off, or before it began on a cluster
// that had users already (an upgrade).
var ErrHistoryBefore = errors.New("the history does not reach back to that time")

// HistoryBeforeError is ErrHistoryBefore with the earliest time the
// history covers.
type HistoryBeforeError struct{ From int64 }

func (e *HistoryBeforeError) Error() string { return ErrHistoryBefore.Error() }
func (e *HistoryBeforeError) Unwrap() error { return ErrHistoryBefore }

func be64(x uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], x)
	return b[:]
}

func getBe64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// sk is a string as a key component that no other string's sk prefixes.
func sk(s string) []byte {
	if len(s) <= 250 {
		return append([]byte{byte(len(s))}, s...)
	}
	sum := sha256.Sum256([]byte(s))
	return append([]byte{0xff}, sum[:]...)
}

func cat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// hist is the history's buckets in one transaction.
type hist struct {
	events, users, names, keys, open, ivs, ive, meta, pending *bolt.Bucket

	// What append learnt, for the next append in the same transaction:
	// whether the history has begun, and the last event's time.
	begun, timeKnown bool
	lastTime         int64
}

func histOf(tx *bolt.Tx) *hist {
	return &hist{
		events: tx.Bucket(bktHistEvents), users: tx.Bucket(bktHistUsers), names: tx.Bucket(bktHistNames),
		keys: tx.Bucket(bktHistKeys), open: tx.Bucket(bktHistOpen), ivs: tx.Bucket(bktHistIvs),
		ive: tx.Bucket(bktHistIve), meta: tx.Bucket(bktHistMeta), pending: tx.Bucket(bktHistPending),
	}
}

// AppendHistory records rec as the event at log index index. It runs on
// the writer's goroutine, in the entry's batch (inside Batch) or alone, and
// never fails: it reads nothing but rec and the store. The record is queued
// and written with others (history_queue.go); every question, snapshot and
// prune sees it.
//
// The history begins at the first event it sees on an empty state, or, on
// a state with users that it did not see arrive (a store rebuilt from an
// older release's snapshot), at the first event that names its proposing
// node: every node applies that same event, so every node's history begins
// at the same index. It then records the state's users and keys as they
// were (its baseline), and refuses questions about earlier times.
func (s *Store) AppendHistory(index uint64, rec *HistoryRecord) { s.queueHistory(index, rec) }

// append writes the record of the event at index and leaves its indexes
// pending (AppendHistory, through the queue: history_queue.go); it reports
// whether it did (not for an older release's event before the history
// began). The caller counts what it added to h/pending.
func (h *hist) append(index uint64, rec *HistoryRecord) bool {
	ev := rec.Event
	baseline := false
	if !h.begun && h.meta.Get(histBegun) == nil {
		if rec.Baseline != nil && ev.Node == "" && ev.ActorID == "" {
			return false // not yet: an older release's event on a state the history did not see
		}
		must(h.meta.Put(histBegun, be64(index)))
		if rec.Baseline != nil {
			rec.Baseline(func(u HistoryUser) { h.baselineUser(u) })
			baseline = true
		}
	}
	h.begun = true
	ev.Index, ev.Time = index, ev.At
	if !h.timeKnown {
		if k, v := h.events.Cursor().Last(); k != nil {
			h.lastTime = int64(getBe64(v))
		} else {
			h.lastTime = math.MinInt64
		}
		h.timeKnown = true
	}
	ev.Time = max(ev.Time, h.lastTime)
	h.lastTime = ev.Time
	if ev.Time == ev.At {
		ev.At = 0
	}
	if baseline {
		h.setFloor(0, ev.Time) // the baseline is the state right before this event, since some unknown time
	}
	must(h.events.Put(be64(index), appendEvent(be64(uint64(ev.Time)), &ev)))
	must(h.pending.Put(be64(index), encodePending(rec.Subject)))
	return true
}

func (h *hist) pendingCount() uint64 {
	if v := h.meta.Get(histPending); v != nil {
		return getBe64(v)
	}
	return 0
}

func (h *hist) setPendingCount(n uint64) { must(h.meta.Put(histPending, be64(n))) }

// indexPending builds the indexes of the oldest max pending events (all
// of them for max < 0), in index order, and returns how many it built.
func (h *hist) indexPending(max int) int {
	var keys [][]byte
	var subjects []*HistoryUser
	cur := h.pending.Cursor()
	for k, v := cur.First(); k != nil && (max < 0 || len(keys) < max); k, v = cur.Next() {
		keys = append(keys, slices.Clone(k))
		subjects = append(subjects, decodePending(v))
	}
	for i, k := range keys {
		v := h.events.Get(k)
		if v == nil {
			panic(fmt.Errorf("meta: history event %d pending without its record", getBe64(k)))
		}
		ev := eventAt(k, v)
		h.index(&ev, subjects[i])
		must(h.pending.Delete(k))
	}
	if len(keys) > 0 {
		h.setPendingCount(h.pendingCount() - uint64(len(keys)))
	}
	return len(keys)
}

func (h *hist) setFloor(index uint64, t int64) {
	must(h.meta.Put(histFloor, cat(be64(index), be64(uint64(t)))))
}

// floor returns the earliest point the history answers for: questions
// about a time before floorTime are refused; ok is false when the history
// reaches back to the beginning of the cluster.
func (h *hist) floor() (index uint64, t int64, ok bool) {
	v := h.meta.Get(histFloor)
	if v == nil {
		return 0, 0, false
	}
	return getBe64(v[:8]), int64(getBe64(v[8:16])), true
}

func (h *hist) baselineUser(u HistoryUser) {
	h.putUser(u.ID, 0, &userState{Username: u.Username, Role: u.Role, Active: u.Active, Key: u.AccessKey})
	must(h.names.Put(cat(sk(u.Username), sk(u.ID)), nil))
	if u.AccessKey != "" {
		h.openKey(u.AccessKey, 0, 0, u.ID)
	}
}

// index updates the indexes for ev, about the user whose state after it
// is subj.
func (h *hist) index(ev *HistoryEvent, subj *HistoryUser) {
	i := ev.Index
	switch ev.Type {
	case HistUserDeleted:
		if ev.AccessKey != "" {
			h.closeKey(ev.AccessKey, i, ev.Time, endUserDeleted)
		}
	case HistCredentialIssued, HistCredentialReplaced:
		if ev.Replaced != "" {
			h.closeKey(ev.Replaced, i, ev.Time, endReplaced)
		}
		h.openKey(ev.AccessKey, i, ev.Time, ev.UserID)
	case HistCredentialRevoked:
		if ev.AccessKey != "" {
			h.closeKey(ev.AccessKey, i, ev.Time, endRevoked)
		}
	}
	if subj == nil {
		return
	}
	st := &userState{Username: subj.Username, Role: subj.Role, Active: subj.Active, Deleted: subj.Deleted, Key: subj.AccessKey,
		Since: i, SinceTime: ev.Time}
	if prev, ok := h.userAt(subj.ID, i-1); ok && prev.Active == st.Active && !prev.Deleted {
		st.Since, st.SinceTime = prev.Since, prev.SinceTime
	} else if !ok && ev.Type != HistUserCreated && ev.Type != HistRootCreated {
		st.Since, st.SinceTime = 0, 0 // the user predates the history
	}
	h.putUser(subj.ID, i, st)
	if ev.Type == HistUserCreated || ev.Type == HistRootCreated {
		must(h.names.Put(cat(sk(subj.Username), sk(subj.ID)), nil))
	}
}

func (h *hist) putUser(id string, index uint64, st *userState) {
	must(h.users.Put(cat(sk(id), be64(index)), st.encode()))
}

// userAt returns the state of user id after the events up to index c.
func (h *hist) userAt(id string, c uint64) (userState, bool) {
	prefix := sk(id)
	k, v := seekLE(h.users.Cursor(), prefix, c)
	if k == nil {
		return userState{}, false
	}
	var st userState
	st.decode(v)
	return st, true
}

// seekLE returns the entry prefix + be64(i) with the largest i ≤ c.
func seekLE(cur *bolt.Cursor, prefix []byte, c uint64) ([]byte, []byte) {
	want := cat(prefix, be64(c))
	k, v := cur.Seek(want)
	if k != nil && bytes.Equal(k, want) {
		return k, v
	}
	if k == nil {
		k, v = cur.Last()
	} else {
		k, v = cur.Prev()
	}
	if k == nil || len(k) != len(prefix)+8 || !bytes.HasPrefix(k, prefix) {
		return nil, nil
	}
	return k, v
}

func (h *hist) openKey(ak string, start uint64, startTime int64, uid string) {
	must(h.keys.Put(cat([]byte(ak), be64(start)), (&keyInterval{UserID: uid, StartTime: startTime}).encode()))
	must(h.open.Put(cat(be64(start), []byte(ak)), cat(be64(uint64(startTime)), []byte(uid))))
}

// closeKey ends the open life of ak (if it has one) at index end.
func (h *hist) closeKey(ak string, end uint64, endTime int64, reason uint8) {
	k, v := seekLE(h.keys.Cursor(), []byte(ak), math.MaxUint64)
	if k == nil {
		return
	}
	var iv keyInterval
	iv.decode(v)
	if iv.End != 0 {
		return
	}
	start := getBe64(k[len(ak):])
	iv.End, iv.EndTime, iv.Reason = end, endTime, reason
	must(h.keys.Put(k, iv.encode()))
	must(h.open.Delete(cat(be64(start), []byte(ak))))
	level, block := treeBlock(start, end)
	rest := cat(be64(uint64(iv.StartTime)), []byte(iv.UserID))
	must(h.ivs.Put(cat([]byte{level}, be64(block), be64(start), []byte(ak)), cat(be64(end), rest)))
	must(h.ive.Put(cat([]byte{level}, be64(block), be64(end), []byte(ak)), cat(be64(start), rest)))
}

// treeBlock returns the smallest aligned block of the index space that
// holds [start, end): its level (it has 2^level indexes) and number.
func treeBlock(start, end uint64) (level uint8, block uint64) {
	l := bits.Len64(start ^ (end - 1))
	if l == 64 {
		return 64, 0
	}
	return uint8(l), start >> l
}

func (h *hist) deleteInterval(ak string, start uint64, iv *keyInterval) {
	must(h.keys.Delete(cat([]byte(ak), be64(start))))
	if iv.End == 0 {
		must(h.open.Delete(cat(be64(start), []byte(ak))))
		return
	}
	level, block := treeBlock(start, iv.End)
	must(h.ivs.Delete(cat([]byte{level}, be64(block), be64(start), []byte(ak))))
	must(h.ive.Delete(cat([]byte{level}, be64(block), be64(iv.End), []byte(ak))))
}

// eventAt decodes the event stored under k, v.
func eventAt(k, v []byte) HistoryEvent {
	var ev HistoryEvent
	decodeEvent(v[8:], &ev)
	ev.Index, ev.Time = getBe64(k), int64(getBe64(v[:8]))
	return ev
}
