package fsm

import (
	"fmt"
)

func init() {
	registerCommand(MsgUserCreate, (*FSM).applyUserCreate)
	registerCommand(MsgUserUpdate, (*FSM).applyUserUpdate)
	registerCommand(MsgUserDelete, (*FSM).applyUserDelete)
	registerCommand(MsgCredentialIssue, (*FSM).applyCredentialIssue)
	registerCommand(MsgCredentialRevoke, (*FSM).applyCredentialRevoke)
}

func (f *FSM) applyUserCreate(s *State, body []byte, v uint8) (*State, any) {
	var ev UserCreate
	mustDecode(MsgUserCreate, v, body, &ev)
	if ev.ID == "" || ev.Username == "" || !ev.Role.Valid() {
		return nil, fmt.Errorf("%w: user create needs id, username and a role", ErrInvalidEvent)
	}
	if _, ok := s.UserByID(ev.ID); ok {
		return nil, ErrUserExists
	}
	if _, ok := s.UserByName(ev.Username); ok {
		return nil, ErrUsernameTaken
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
	return s.putUser(nil, u), nil
}

func (f *FSM) applyUserUpdate(s *State, body []byte, v uint8) (*State, any) {
	var ev UserUpdate
	mustDecode(MsgUserUpdate, v, body, &ev)
	old, ok := s.UserByID(ev.ID)
	if !ok {
		return nil, ErrNoSuchUser
	}
	if ev.Role != nil && !ev.Role.Valid() {
		return nil, fmt.Errorf("%w: invalid role %d", ErrInvalidEvent, *ev.Role)
	}
	if old.Root && ((ev.Active != nil && !*ev.Active) || (ev.Role != nil && *ev.Role != RoleSuperUser)) {
		return nil, ErrRootImmutable
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
		return nil, nil
	}
	u.Generation++
	u.UpdatedAt = ev.At
	return s.putUser(old, &u), nil
}

func (f *FSM) applyUserDelete(s *State, body []byte, v uint8) (*State, any) {
	var ev UserDelete
	mustDecode(MsgUserDelete, v, body, &ev)
	old, ok := s.UserByID(ev.ID)
	if !ok {
		return nil, ErrNoSuchUser
	}
	if old.Root {
		return nil, ErrRootImmutable
	}
	f.dropped = old.AccessKey
	return s.deleteUser(old), nil
}

func (f *FSM) applyCredentialIssue(s *State, body []byte, v uint8) (*State, any) {
	var ev CredentialIssue
	mustDecode(MsgCredentialIssue, v, body, &ev)
	old, ok := s.UserByID(ev.UserID)
	if !ok {
		return nil, ErrNoSuchUser
	}
	if len(ev.AccessKey) != accessKeyLen {
		return nil, fmt.Errorf("%w: access key must be %d characters", ErrInvalidEvent, accessKeyLen)
	}
	if _, taken := s.Lookup(ev.AccessKey); taken {
		return nil, ErrAccessKeyTaken
	}
	// Unsealing is deterministic: the same bytes and key open the same way on
	// every node. A secret that does not open means the proposer used
	// another cluster key; refuse it identically everywhere.
	secret, err := f.sealer.Open(ev.SealedSecret, ev.AccessKey)
	if err != nil {
		return nil, ErrSecretUnsealing
	}
	f.dropped = old.AccessKey
	u := *old
	u.AccessKey = ev.AccessKey
	u.setSecret(secret)
	u.UpdatedAt = ev.At
	return s.putUser(old, &u), nil
}

func (f *FSM) applyCredentialRevoke(s *State, body []byte, v uint8) (*State, any) {
	var ev CredentialRevoke
	mustDecode(MsgCredentialRevoke, v, body, &ev)
	old, ok := s.UserByID(ev.UserID)
	if !ok {
		return nil, ErrNoSuchUser
	}
	if old.AccessKey == "" {
		return nil, nil
	}
	f.dropped = old.AccessKey
	u := *old
	u.AccessKey = ""
	u.setSecret("")
	u.UpdatedAt = ev.At
	return s.putUser(old, &u), nil
}
