package fsm

import (
	"sort"
)

// User is one IAM user as the FSM knows it. A *User reachable from a State is
// immutable: Apply replaces users, it never changes one in place, so the S3
// handler may keep a *User for the length of a request without a lock.
type User struct {
	ID           string
	Username     string
	PasswordHash []byte
	Role         Role
	Active       bool
	Root         bool
	CreatedAt    int64 // Unix nanoseconds, stamped by the proposer
	UpdatedAt    int64
	// Generation increases with every change of password, role or active
	// flag; admin tokens carry it and die when it moves.
	Generation uint64
	AccessKey  string // "" when the user has no credential
	secret     string // the unsealed S3 secret key
}

// Secret returns the user's S3 secret key ("" when it has none). It exists
// for the SigV4 verifier; never log or persist it.
func (u *User) Secret() string { return u.secret }

// compact moves the user's strings into one allocation: with a million
// users the per-user allocation count is most of the heap.
func (u *User) compact() {
	packed := u.ID + u.Username + u.AccessKey + u.secret
	i := 0
	next := func(n int) string { s := packed[i : i+n]; i += n; return s }
	u.ID = next(len(u.ID))
	u.Username = next(len(u.Username))
	u.AccessKey = next(len(u.AccessKey))
	u.secret = next(len(u.secret))
}

// accessKeyLen is the length of every S4 access key ("S4AK" + 20).
const accessKeyLen = 24

type accessKey = [accessKeyLen]byte

func toAccessKey(s string) (k accessKey, ok bool) {
	if len(s) != accessKeyLen {
		return k, false
	}
	copy(k[:], s)
	return k, true
}

// State is an immutable view of the IAM tables at one applied index. Readers
// get it from FSM.State with one atomic load.
type State struct {
	users cowMap[string, *User]    // by ID
	names cowMap[string, *User]    // by Username
	keys  cowMap[accessKey, *User] // the auth index, by AccessKey
	index uint64                   // the log index this state reflects
}

func newState() *State {
	return &State{
		users: cowMap[string, *User]{hash: hashString},
		names: cowMap[string, *User]{hash: hashString},
		keys:  cowMap[accessKey, *User]{hash: hashKey24},
	}
}

// Lookup returns the principal that owns accessKey. It is the per-request
// auth check: no lock, no allocation.
func (s *State) Lookup(accessKey string) (*User, bool) {
	k, ok := toAccessKey(accessKey)
	if !ok {
		return nil, false
	}
	return s.keys.Get(k)
}

// UserByID returns the user with the given ID.
func (s *State) UserByID(id string) (*User, bool) { return s.users.Get(id) }

// UserByName returns the user with the given username.
func (s *State) UserByName(name string) (*User, bool) { return s.names.Get(name) }

// Index returns the log index of the last event this state includes.
func (s *State) Index() uint64 { return s.index }

// NumUsers returns the number of users.
func (s *State) NumUsers() int { return s.users.Len() }

// NumCredentials returns the number of access keys in the auth index.
func (s *State) NumCredentials() int { return s.keys.Len() }

// Users returns all users ordered by creation time, then ID.
func (s *State) Users() []*User {
	out := make([]*User, 0, s.users.Len())
	s.users.Range(func(_ string, u *User) bool { out = append(out, u); return true })
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// putUser returns a state in which u replaces the user with the same ID,
// keeping the username and access-key indexes in step with old (nil when u
// is new).
func (s *State) putUser(old, u *User) *State {
	u.compact()
	n := *s
	if old != nil {
		if old.Username != u.Username {
			n.names = n.names.Delete(old.Username)
		}
		if old.AccessKey != "" && old.AccessKey != u.AccessKey {
			k, _ := toAccessKey(old.AccessKey)
			n.keys = n.keys.Delete(k)
		}
	}
	n.users = n.users.Set(u.ID, u)
	n.names = n.names.Set(u.Username, u)
	if k, ok := toAccessKey(u.AccessKey); ok {
		n.keys = n.keys.Set(k, u)
	}
	return &n
}

func (s *State) deleteUser(u *User) *State {
	n := *s
	n.users = n.users.Delete(u.ID)
	n.names = n.names.Delete(u.Username)
	if k, ok := toAccessKey(u.AccessKey); ok {
		n.keys = n.keys.Delete(k)
	}
	return &n
}

// stateBuilder assembles a State that nobody can see yet (restore).
type stateBuilder struct {
	users cowBuilder[string, *User]
	names cowBuilder[string, *User]
	keys  cowBuilder[accessKey, *User]
}

func newStateBuilder() *stateBuilder {
	s := newState()
	return &stateBuilder{users: cowBuilder[string, *User]{s.users}, names: cowBuilder[string, *User]{s.names}, keys: cowBuilder[accessKey, *User]{s.keys}}
}

func (b *stateBuilder) add(u *User) bool {
	u.compact()
	if _, dup := b.users.m.Get(u.ID); dup {
		return false
	}
	if _, dup := b.names.m.Get(u.Username); dup {
		return false
	}
	b.users.Set(u.ID, u)
	b.names.Set(u.Username, u)
	if k, ok := toAccessKey(u.AccessKey); ok {
		if _, dup := b.keys.m.Get(k); dup {
			return false
		}
		b.keys.Set(k, u)
	}
	return true
}

func (b *stateBuilder) state(index uint64) *State {
	return &State{users: b.users.m, names: b.names.m, keys: b.keys.m, index: index}
}
