package fsm

import (
	"fmt"
)

// The IAM handlers (rows of eventTable). Each validates, then returns the
// next state built from s (s itself stays as readers see it).

func (f *FSM) applyUserCreate(s *State, ev *UserCreate) applied {
	if ev.ID == "" || ev.Username == "" || !ev.Role.Valid() {
		return applied{resp: fmt.Errorf("%w: user create needs id, username and a role", ErrInvalidEvent)}
	}
	if _, ok := s.UserByID(ev.ID); ok {
		return applied{resp: ErrUserExists}
	}
	if _, ok := s.UserByName(ev.Username); ok {
		return applied{resp: ErrUsernameTaken}
	}
	u := &User{
		ID:           ev.ID,
		Username:     ev.Username,
		PasswordHash: ev.PasswordHash,
		Role:         ev.Role,
		Active:       true,
		Root:         ev.Root,
		CreatedAt:    ev.At,
		UpdatedAt:    ev.At,
		Generation:   1,
	}
	return applied{state: s.putUser(nil, u)}
}

func (f *FSM) applyUserUpdate(s *State, ev *UserUpdate) applied {
	old, ok := s.UserByID(ev.ID)
	if !ok {
		return applied{resp: ErrNoSuchUser}
	}
	if ev.Role != nil && !ev.Role.Valid() {
		return applied{resp: fmt.Errorf("%w: invalid role %d", ErrInvalidEvent, *ev.Role)}
	}
	if old.Root && ((ev.Active != nil && !*ev.Active) || (ev.Role != nil && *ev.Role != RoleSuperUser)) {
		return applied{resp: ErrRootImmutable}
	}
	u := *old
	changed := false
	if ev.PasswordHash != nil {
		u.PasswordHash = ev.PasswordHash
		changed = true
	}
	if ev.Role != nil && *ev.Role != u.Role {
		u.Role = *ev.Role
		changed = true
	}
	if ev.Active != nil && *ev.Active != u.Active {
		u.Active = *ev.Active
		changed = true
	}
	if !changed {
		return applied{}
	}
	u.Generation++
	u.UpdatedAt = ev.At
	return applied{state: s.putUser(old, &u)}
}

func (f *FSM) applyUserDelete(s *State, ev *UserDelete) applied {
	old, ok := s.UserByID(ev.ID)
	if !ok {
		return applied{resp: ErrNoSuchUser}
	}
	if old.Root {
		return applied{resp: ErrRootImmutable}
	}
	return applied{state: s.deleteUser(old), dropped: old.AccessKey}
}

func (f *FSM) applyCredentialIssue(s *State, ev *CredentialIssue) applied {
	old, ok := s.UserByID(ev.UserID)
	if !ok {
		return applied{resp: ErrNoSuchUser}
	}
	if len(ev.AccessKey) != accessKeyLen {
		return applied{resp: fmt.Errorf("%w: access key must be %d characters", ErrInvalidEvent, accessKeyLen)}
	}
	if _, taken := s.Lookup(ev.AccessKey); taken {
		return applied{resp: ErrAccessKeyTaken}
	}
	// Unsealing is deterministic: the same bytes and key open the same way on
	// every node. A secret that does not open means the proposer used
	// another cluster key; refuse it identically everywhere.
	secret, err := f.sealer.Open(ev.SealedSecret, ev.AccessKey)
	if err != nil {
		return applied{resp: ErrSecretUnsealing}
	}
	u := *old
	u.AccessKey = ev.AccessKey
	u.setSecret(secret)
	u.UpdatedAt = ev.At
	return applied{state: s.putUser(old, &u), dropped: old.AccessKey}
}

func (f *FSM) applyCredentialRevoke(s *State, ev *CredentialRevoke) applied {
	old, ok := s.UserByID(ev.UserID)
	if !ok {
		return applied{resp: ErrNoSuchUser}
	}
	if old.AccessKey == "" {
		return applied{}
	}
	u := *old
	u.AccessKey = ""
	u.setSecret("")
	u.UpdatedAt = ev.At
	return applied{state: s.putUser(old, &u), dropped: old.AccessKey}
}
