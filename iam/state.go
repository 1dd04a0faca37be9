package iam

import (
	"errors"
	"fmt"
	"sort"
)

// accessKeyLen is the length of every S4 access key ("S4AK" + 20).
const accessKeyLen = 24

// State is an immutable view of the IAM tables. Package fsm publishes one
// per applied log index behind an atomic pointer; a State never changes
// after that, whatever the transitions do next. Its three indexes are
// persistent hash tries (index.go) over packed users (user.go): a million
// users with a credential take about 297 MiB, and an index write about
// 2 KiB of new memory. A State may be copied: the copy is the same
// immutable value.
type State struct {
	users  index     // by ID
	names  index     // by Username
	keys   keyIndex  // the auth index, by AccessKey (only keys of accessKeyLen)
	tokens *tokenSet // the scrape tokens of GET /metrics (scrapetoken.go)
}

// New returns the empty state.
func New() *State {
	return &State{users: index{field: byID}, names: index{field: byName}}
}

// Lookup returns the principal that owns accessKey. It is the per-request
// auth check: no lock, no allocation, no write to shared memory.
func (s *State) Lookup(accessKey string) (*User, bool) {
	if len(accessKey) != accessKeyLen {
		return nil, false
	}
	u := s.keys.get(accessKey)
	return u, u != nil
}

// UserByID returns the user with the given ID.
func (s *State) UserByID(id string) (*User, bool) {
	u := s.users.get(id)
	return u, u != nil
}

// UserByName returns the user with the given username.
func (s *State) UserByName(name string) (*User, bool) {
	u := s.names.get(name)
	return u, u != nil
}

// NumUsers returns the number of users.
func (s *State) NumUsers() int { return s.users.len() }

// NumCredentials returns the number of access keys in the auth index.
func (s *State) NumCredentials() int { return s.keys.len() }

// Users returns all users ordered by creation time, then ID.
func (s *State) Users() []*User {
	out := make([]*User, 0, s.users.len())
	s.users.each(func(u *User) bool { out = append(out, u); return true })
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// EachUser calls fn for every user until fn returns false. The order
// depends on the process's hash seed (use Users for a fixed one): it is
// for snapshots, which Builder reads back in any order.
func (s *State) EachUser(fn func(*User) bool) { s.users.each(fn) }

// EachCredential calls fn for every user in the auth index until fn
// returns false, in no fixed order.
func (s *State) EachCredential(fn func(*User) bool) { s.keys.each(fn) }

// putUser returns a state in which a packed copy of u replaces the user
// with the same ID, keeping the username and access-key indexes in step
// with old (nil when u is new).
func (s *State) putUser(old, u *User) *State {
	u = u.packed(nil)
	n := *s
	if old != nil {
		if old.Username != u.Username {
			n.names = n.names.without(old.Username)
		}
		if old.AccessKey != "" && old.AccessKey != u.AccessKey {
			n.keys = n.keys.without(old.AccessKey)
		}
	}
	n.users = n.users.with(u)
	n.names = n.names.with(u)
	if len(u.AccessKey) == accessKeyLen {
		n.keys = n.keys.with(u)
	}
	return &n
}

func (s *State) deleteUser(u *User) *State {
	n := *s
	n.users = n.users.without(u.ID)
	n.names = n.names.without(u.Username)
	if u.AccessKey != "" {
		n.keys = n.keys.without(u.AccessKey)
	}
	return &n
}

// Builder assembles a State from many users at once (a snapshot's restore,
// and the benchmarks): it packs them into shared chunks and builds each
// index in one pass, so a million users take about a second instead of a
// million transitions.
type Builder struct {
	users  []*User
	tokens []*ScrapeToken
	arena  arena
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return &Builder{} }

// Add queues a packed copy of u, with secret as its S3 secret key ("" for
// none). u itself is not kept.
func (b *Builder) Add(u *User, secret string) {
	v := *u
	v.setSecret(secret)
	b.users = append(b.users, v.packed(&b.arena))
}

// errDuplicate is Builder.State's refusal of users that share an ID, a
// username or an access key.
var errDuplicate = errors.New("iam: duplicate user")

// State returns the state of all added users and empties the Builder. It
// fails (wrapping errDuplicate) if two users share an ID, a username or an
// access key.
func (b *Builder) State() (*State, error) {
	s := &State{}
	var err error
	if s.users, err = buildIndex(byID, b.users); err != nil {
		return nil, fmt.Errorf("%w: %v", errDuplicate, err)
	}
	if s.names, err = buildIndex(byName, b.users); err != nil {
		return nil, fmt.Errorf("%w: %v", errDuplicate, err)
	}
	withKey := make([]*User, 0, len(b.users))
	for _, u := range b.users {
		if len(u.AccessKey) == accessKeyLen {
			withKey = append(withKey, u)
		}
	}
	if s.keys, err = buildKeyIndex(withKey); err != nil {
		return nil, fmt.Errorf("%w: %v", errDuplicate, err)
	}
	for _, t := range b.tokens {
		next, err := s.CreateScrapeToken(t.ID, t.Name, t.Hash, t.CreatedBy, t.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errDuplicate, err)
		}
		s = next
	}
	b.users, b.tokens = nil, nil
	return s, nil
}
