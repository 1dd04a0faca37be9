package meta

import (
	"bytes"
	"math"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// The history's questions (history.go has the layout) and its pruning.
// Each question is one short read transaction: an export asks page by
// page.

// cut returns the last index of the history's state at time t: the
// largest index of an event whose time is at most t (events are ordered
// by time as by index), the floor's index when there is none since the
// floor, or 0 before the first event. It refuses a time before the floor.
func (h *hist) cut(t int64) (uint64, error) {
	fi, ft, hasFloor := h.floor()
	if hasFloor && t < ft {
		return 0, &HistoryBeforeError{From: ft}
	}
	c, ok := h.lastAtOrBefore(t)
	if !ok {
		return fi, nil
	}
	return max(c, fi), nil
}

// lastAtOrBefore returns the largest index of an event whose time is at
// most t, by a binary search over the index space with cursor seeks.
func (h *hist) lastAtOrBefore(t int64) (uint64, bool) {
	cur := h.events.Cursor()
	fk, fv := cur.First()
	if fk == nil || int64(getBe64(fv[:8])) > t {
		return 0, false
	}
	lk, lv := cur.Last()
	if int64(getBe64(lv[:8])) <= t {
		return getBe64(lk), true
	}
	// The first key at or after p has a time above t: false at First,
	// true at Last. Find the smallest such p.
	lo, hi := getBe64(fk), getBe64(lk)
	for lo < hi {
		mid := lo + (hi-lo)/2
		_, v := cur.Seek(be64(mid))
		if int64(getBe64(v[:8])) > t {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	cur.Seek(be64(lo))
	k, _ := cur.Prev()
	return getBe64(k), true
}

// firstAtOrAfter returns the smallest index of an event whose time is at
// least t (math.MaxUint64 if there is none).
func (h *hist) firstAtOrAfter(t int64) uint64 {
	if t == math.MinInt64 {
		return 0
	}
	c, ok := h.lastAtOrBefore(t - 1)
	if !ok {
		return 0
	}
	k, _ := h.events.Cursor().Seek(be64(c + 1))
	if k == nil {
		return math.MaxUint64
	}
	return getBe64(k)
}

// KeyAccess is an access key at a time T: its owner and the owner's role
// and active flag at T.
type KeyAccess struct {
	AccessKey, UserID, Username, Role string
	Active                            bool
	IssuedIndex                       uint64 // 0: issued before the history began
	IssuedAt                          int64  // 0 when unknown
}

// AccessList is every access key that existed at a time T.
type AccessList struct {
	Index uint64 // the state is the one after this log index (0: before the first event)
	Keys  []KeyAccess
}

// AccessAt returns every access key that existed at time t (issued, and
// not revoked, replaced or deleted with its user), with its user, role
// and active flag then, by issue index. A key whose user was inactive at t
// is listed with Active false: it could not authenticate.
func (s *Store) AccessAt(t int64) (AccessList, error) { return s.accessAt(t, (*hist).usersAt) }

func (s *Store) accessAt(t int64, owners func(*hist, []KeyAccess, uint64)) (AccessList, error) {
	s.historyCurrent()
	var out AccessList
	err := s.view(func(tx *bolt.Tx) error {
		h := histOf(tx)
		c, err := h.cut(t)
		if err != nil || c == 0 {
			return err
		}
		out.Index = c
		add := func(ak []byte, start uint64, rest []byte) {
			out.Keys = append(out.Keys, KeyAccess{AccessKey: string(ak), IssuedIndex: start, IssuedAt: int64(getBe64(rest[:8])), UserID: string(rest[8:])})
		}
		// Keys not ended yet, issued at or before c.
		oc := h.open.Cursor()
		for k, v := oc.First(); k != nil && getBe64(k[:8]) <= c; k, v = oc.Next() {
			add(k[8:], getBe64(k[:8]), v)
		}
		// Ended keys whose life [start, end) holds c: at each level, the
		// block holding c.
		ic, ec := h.ivs.Cursor(), h.ive.Cursor()
		for level := 0; level <= 64; level++ {
			var block, mid uint64
			if level < 64 {
				block = c >> level
			}
			prefix := cat([]byte{byte(level)}, be64(block))
			if level > 0 {
				mid = block<<level | 1<<(level-1)
			}
			if level == 0 || c < mid {
				// Every interval here ends after mid > c: those that start by c.
				for k, v := ic.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && getBe64(k[9:17]) <= c; k, v = ic.Next() {
					add(k[17:], getBe64(k[9:17]), v[8:])
				}
			} else {
				// Every interval here starts before mid ≤ c: those that end after c.
				for k, v := ec.Seek(cat(prefix, be64(c+1))); k != nil && bytes.HasPrefix(k, prefix); k, v = ec.Next() {
					add(k[17:], getBe64(v[:8]), v[8:])
				}
			}
		}
		owners(h, out.Keys, c)
		return nil
	})
	sort.Slice(out.Keys, func(i, j int) bool {
		a, b := &out.Keys[i], &out.Keys[j]
		if a.IssuedIndex != b.IssuedIndex {
			return a.IssuedIndex < b.IssuedIndex
		}
		return a.AccessKey < b.AccessKey
	})
	return out, err
}

// usersAt fills in each key's owner as it was after the events up to
// index c. It looks the owners up in h/users's key order, through one
// cursor, so that a long list reads the bucket's pages once and in order
// rather than once per key at random (with a million events in the history
// and 7,000 keys in the answer, that is the difference between ~6 and ~2 µs
// per key; BENCHMARKS.md).
func (h *hist) usersAt(keys []KeyAccess, c uint64) {
	type owner struct {
		i      int
		prefix []byte
	}
	order := make([]owner, len(keys))
	for i := range keys {
		order[i] = owner{i, sk(keys[i].UserID)}
	}
	sort.Slice(order, func(i, j int) bool { return bytes.Compare(order[i].prefix, order[j].prefix) < 0 })
	cur := h.users.Cursor()
	for _, o := range order {
		ka := &keys[o.i]
		k, v := seekLE(cur, o.prefix, c)
		if k == nil {
			continue
		}
		var st userState
		st.decode(v)
		ka.Username, ka.Role, ka.Active = st.Username, st.Role, st.Active && !st.Deleted
	}
}

// Reasons a key could not authenticate at a time (KeyVerdict.Reason).
const (
	ReasonNotIssuedYet = "not_issued_yet" // Since: when it was issued
	ReasonRevoked      = "revoked"        // Since: when
	ReasonReplaced     = "replaced"       // Since: when a new key replaced it
	ReasonUserDeleted  = "user_deleted"   // Since: when its user was deleted
	ReasonUserInactive = "user_inactive"  // Since: since when its user was inactive (0: from before the history)
	// ReasonUnknown: the history has no life of the key at the time:
	// never issued, or, when the history does not reach back to the
	// cluster's start (retention, an upgrade), only before its floor, or
	// not issued by then (IssuedAt is then its first issue after).
	ReasonUnknown = "unknown_key"
)

// KeyVerdict says whether an access key could authenticate at a time T
// and, if not, why.
type KeyVerdict struct {
	KeyAccess         // the key's owner and its state at T (when the key existed), or its first issue
	Index      uint64 // as AccessList.Index
	Valid      bool
	Reason     string // "" when Valid
	Since      int64  // the time of the reason (see the Reason constants); 0 when unknown
	SinceIndex uint64 // its log index
}

// KeyAccessAt says whether access key ak could authenticate at time t:
// issued by then, not revoked, replaced or deleted with its user, and its
// user active.
func (s *Store) KeyAccessAt(t int64, ak string) (KeyVerdict, error) {
	s.historyCurrent()
	out := KeyVerdict{KeyAccess: KeyAccess{AccessKey: ak}}
	err := s.view(func(tx *bolt.Tx) error {
		h := histOf(tx)
		c, err := h.cut(t)
		if err != nil {
			return err
		}
		out.Index = c
		kc := h.keys.Cursor()
		var k, v []byte
		if c > 0 {
			k, v = seekLE(kc, []byte(ak), c)
		}
		if k == nil {
			// No life at c: the key was issued later, or never; or, if
			// the history does not reach back to the cluster's start,
			// only before its floor.
			out.Reason = ReasonUnknown
			if k, v = kc.Seek([]byte(ak)); k != nil && len(k) == len(ak)+8 && string(k[:len(ak)]) == ak {
				var iv keyInterval
				iv.decode(v)
				out.UserID, out.IssuedIndex, out.IssuedAt = iv.UserID, getBe64(k[len(ak):]), iv.StartTime
				if st, ok := h.userAt(iv.UserID, out.IssuedIndex); ok {
					out.Username, out.Role = st.Username, st.Role
				}
				if _, _, floored := h.floor(); !floored {
					out.Reason, out.SinceIndex, out.Since = ReasonNotIssuedYet, out.IssuedIndex, iv.StartTime
				}
			}
			return nil
		}
		var iv keyInterval
		iv.decode(v)
		out.UserID, out.IssuedIndex, out.IssuedAt = iv.UserID, getBe64(k[len(ak):]), iv.StartTime
		if iv.End != 0 && iv.End <= c {
			out.Reason, out.Since, out.SinceIndex = endReasons[iv.Reason], iv.EndTime, iv.End
			if st, ok := h.userAt(iv.UserID, iv.End-1); ok {
				out.Username, out.Role = st.Username, st.Role
			}
			return nil
		}
		st, ok := h.userAt(iv.UserID, c)
		if !ok {
			out.Reason = ReasonUnknown
			return nil
		}
		out.Username, out.Role, out.Active = st.Username, st.Role, st.Active && !st.Deleted
		if !out.Active {
			out.Reason, out.Since, out.SinceIndex = ReasonUserInactive, st.SinceTime, st.Since
			return nil
		}
		out.Valid, out.Since, out.SinceIndex = true, iv.StartTime, out.IssuedIndex
		return nil
	})
	return out, err
}

// HistoryQuery selects history events: all of them, in log order, unless
// a field narrows them.
type HistoryQuery struct {
	After        uint64 // only events after this index (paging)
	Through      uint64 // only events up to this index (0: no bound)
	Since, Until *int64 // only events whose time is at least Since, at most Until
	User         string // about this user (ID or username)
	AccessKey    string // issuing, revoking, replacing or dropping this key
	Actor        string // proposed by this admin (ID or username), or "system"
	Types        []HistoryType
	Limit        int // events returned at most (default 100)
	ScanLimit    int // events examined at most (default 100,000): a sparse filter answers a short page, with More
}

// HistoryPage is one page of events.
type HistoryPage struct {
	Events []HistoryEvent
	// More: there may be more events; ask again with After = Next.
	More bool
	Next uint64
}

// HistoryEvents returns the events q selects, in log order, one page.
func (s *Store) HistoryEvents(q HistoryQuery) HistoryPage {
	s.historyCurrent()
	if q.Limit <= 0 {
		q.Limit = 100
	}
	if q.ScanLimit <= 0 {
		q.ScanLimit = 100_000
	}
	var page HistoryPage
	s.view(func(tx *bolt.Tx) error {
		h := histOf(tx)
		lo, hi := q.After+1, uint64(math.MaxUint64)
		if q.Through > 0 {
			hi = q.Through
		}
		if q.Since != nil {
			lo = max(lo, h.firstAtOrAfter(*q.Since))
		}
		if q.Until != nil {
			c, ok := h.lastAtOrBefore(*q.Until)
			if !ok {
				return nil
			}
			hi = min(hi, c)
		}
		if lo > hi || lo == 0 {
			return nil
		}
		next := h.candidates(q, lo)
		scanned := 0
		for {
			idx, ok := next()
			if !ok || idx > hi {
				return nil
			}
			if len(page.Events) == q.Limit || scanned == q.ScanLimit {
				page.More = true
				return nil
			}
			scanned++
			page.Next = idx
			v := h.events.Get(be64(idx))
			if v == nil {
				continue
			}
			if ev := eventAt(be64(idx), v); q.matches(&ev) {
				page.Events = append(page.Events, ev)
			}
		}
	})
	if !page.More {
		page.Next = 0
	}
	return page
}

func (q *HistoryQuery) matches(ev *HistoryEvent) bool {
	if len(q.Types) > 0 {
		ok := false
		for _, t := range q.Types {
			ok = ok || t == ev.Type
		}
		if !ok {
			return false
		}
	}
	if q.Actor != "" {
		if q.Actor == "system" {
			if !ev.System() {
				return false
			}
		} else if ev.ActorID != q.Actor && ev.ActorName != q.Actor {
			return false
		}
	}
	if q.AccessKey != "" && ev.AccessKey != q.AccessKey && ev.Replaced != q.AccessKey {
		return false
	}
	return true // User: the candidates are that user's events
}

// candidates returns the indexes, from lo on and in order, of the events
// that may match q: an access key's and a user's from their indexes,
// else every event.
func (h *hist) candidates(q HistoryQuery, lo uint64) func() (uint64, bool) {
	if q.AccessKey != "" {
		var idxs []uint64
		kc := h.keys.Cursor()
		for k, v := kc.Seek([]byte(q.AccessKey)); k != nil && len(k) == len(q.AccessKey)+8 && string(k[:len(q.AccessKey)]) == q.AccessKey; k, v = kc.Next() {
			var iv keyInterval
			iv.decode(v)
			for _, i := range []uint64{getBe64(k[len(q.AccessKey):]), iv.End} {
				if i >= lo {
					idxs = append(idxs, i)
				}
			}
		}
		sort.Slice(idxs, func(i, j int) bool { return idxs[i] < idxs[j] })
		return func() (uint64, bool) {
			if len(idxs) == 0 {
				return 0, false
			}
			i := idxs[0]
			idxs = idxs[1:]
			return i, true
		}
	}
	if q.User != "" {
		ids := []string{q.User}
		prefix := sk(q.User)
		nc := h.names.Cursor()
		for k, _ := nc.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = nc.Next() {
			if id := string(k[len(prefix)+1:]); id != q.User && k[len(prefix)] != 0xff {
				ids = append(ids, id)
			}
		}
		type run struct {
			cur    *bolt.Cursor
			prefix []byte
			k      []byte
		}
		var runs []*run
		for _, id := range ids {
			r := &run{cur: h.users.Cursor(), prefix: sk(id)}
			r.k, _ = r.cur.Seek(cat(r.prefix, be64(lo)))
			runs = append(runs, r)
		}
		return func() (uint64, bool) {
			var best *run
			for _, r := range runs {
				if r.k != nil && bytes.HasPrefix(r.k, r.prefix) && len(r.k) == len(r.prefix)+8 &&
					(best == nil || getBe64(r.k[len(r.prefix):]) < getBe64(best.k[len(best.prefix):])) {
					best = r
				}
			}
			if best == nil {
				return 0, false
			}
			i := getBe64(best.k[len(best.prefix):])
			best.k, _ = best.cur.Next()
			return i, true
		}
	}
	ec := h.events.Cursor()
	k, _ := ec.Seek(be64(lo))
	return func() (uint64, bool) {
		if k == nil {
			return 0, false
		}
		i := getBe64(k)
		k, _ = ec.Next()
		return i, true
	}
}

// HistoryFirst returns the index and time of the oldest event kept.
func (s *Store) HistoryFirst() (index uint64, t int64, ok bool) {
	s.FlushHistory() // the events, not their indexes
	s.view(func(tx *bolt.Tx) error {
		if k, v := tx.Bucket(bktHistEvents).Cursor().First(); k != nil {
			index, t, ok = getBe64(k), int64(getBe64(v[:8])), true
		}
		return nil
	})
	return index, t, ok
}

// HistoryFloor returns the earliest time the history answers for, and
// whether it has one (it has none while it reaches back to the cluster's
// first event).
func (s *Store) HistoryFloor() (t int64, ok bool) {
	s.FlushHistory() // the events, not their indexes
	s.view(func(tx *bolt.Tx) error {
		_, t, ok = histOf(tx).floor()
		return nil
	})
	return t, ok
}

// PruneHistory removes the oldest events whose time is before before, at
// most max of them, with what only they needed: the lives of keys that
// ended by the last one removed, and users' states that a later state at
// or before it replaced (a user's last state before it stays: it is the
// state at the cut-off), all the states of a user deleted by then.
// Questions about a time before the last removed event's are refused
// afterwards. It runs in the entry's write transaction (package fsm's
// HistoryPrune event) and returns how many events it removed and the last
// index removed.
func (s *Store) PruneHistory(before int64, max int) (n int, through uint64) {
	s.currentInWriter()
	s.update(func(tx *bolt.Tx) error {
		h := histOf(tx)
		var evs []HistoryEvent
		cur := h.events.Cursor()
		for k, v := cur.First(); k != nil && len(evs) < max && int64(getBe64(v[:8])) < before; k, v = cur.Next() {
			evs = append(evs, eventAt(k, v))
		}
		if len(evs) == 0 {
			return nil
		}
		last := evs[len(evs)-1]
		users := map[string]bool{}
		for _, ev := range evs {
			if ak := ev.endedKey(); ak != "" {
				h.dropEndedAt(ak, ev.Index)
			}
			if ev.UserID != "" {
				users[ev.UserID] = true
			}
			must(h.events.Delete(be64(ev.Index)))
		}
		ids := make([]string, 0, len(users))
		for id := range users {
			ids = append(ids, id)
		}
		sort.Strings(ids) // deterministic order of writes
		for _, id := range ids {
			h.pruneUser(id, last.Index)
		}
		h.setFloor(last.Index, last.Time)
		n, through = len(evs), last.Index
		return nil
	})
	return n, through
}

// endedKey returns the access key whose life the event ended ("" for none).
func (e *HistoryEvent) endedKey() string {
	switch e.Type {
	case HistCredentialReplaced:
		return e.Replaced
	case HistCredentialRevoked, HistUserDeleted:
		return e.AccessKey
	}
	return ""
}

// dropEndedAt removes the life of ak that ended at index end.
func (h *hist) dropEndedAt(ak string, end uint64) {
	k, v := seekLE(h.keys.Cursor(), []byte(ak), end-1)
	if k == nil {
		return
	}
	var iv keyInterval
	iv.decode(v)
	if iv.End == end {
		h.deleteInterval(ak, getBe64(k[len(ak):]), &iv)
	}
}

// pruneUser keeps only the last state of user id at or before index p
// (none if it says deleted).
func (h *hist) pruneUser(id string, p uint64) {
	prefix := sk(id)
	var keys [][]byte
	var lastState userState
	cur := h.users.Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 && getBe64(k[len(prefix):]) <= p; k, v = cur.Next() {
		keys = append(keys, append([]byte(nil), k...))
		lastState = userState{}
		lastState.decode(v)
	}
	if len(keys) == 0 {
		return
	}
	drop := keys[:len(keys)-1]
	gone := false
	if lastState.Deleted {
		drop = keys
		k, _ := cur.Seek(cat(prefix, be64(p+1)))
		gone = k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8
	}
	for _, k := range drop {
		must(h.users.Delete(k))
	}
	if gone {
		must(h.names.Delete(cat(sk(lastState.Username), prefix)))
	}
}

// HistoryLast returns the index of the newest event (0 for none).
func (s *Store) HistoryLast() uint64 {
	s.FlushHistory() // the events, not their indexes
	var last uint64
	s.view(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bktHistEvents).Cursor().Last(); k != nil {
			last = getBe64(k)
		}
		return nil
	})
	return last
}
