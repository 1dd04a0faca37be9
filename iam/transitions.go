package iam

// The transitions, one per IAM event. Each validates first and then returns
// the next state built from s (s itself stays as its readers see it), or
// an error and no state; the ones that can take a credential away also
// return the access key they dropped ("" for none), whose derived caches
// (the SigV4 signing keys) must go.

// CreateUser adds an active user at generation 1, created and updated at
// at. It refuses an empty id or username and an invalid role (an
// InvalidError), an id in use (ErrUserExists) and a username in use
// (ErrUsernameTaken).
func (s *State) CreateUser(id, username string, passwordHash []byte, role Role, root bool, at int64) (*State, error) {
	if id == "" || username == "" || !role.Valid() {
		return nil, invalid("user create needs id, username and a role")
	}
	if _, ok := s.UserByID(id); ok {
		return nil, ErrUserExists
	}
	if _, ok := s.UserByName(username); ok {
		return nil, ErrUsernameTaken
	}
	u := &User{
		ID:           id,
		Username:     username,
		PasswordHash: passwordHash,
		Role:         role,
		Active:       true,
		Root:         root,
		CreatedAt:    at,
		UpdatedAt:    at,
		Generation:   1,
	}
	return s.putUser(nil, u), nil
}

// UpdateUser changes any of a user's password hash, role and active flag
// (nil leaves one alone). A change bumps the user's generation, which ends
// its admin sessions, and stamps at; no change returns s itself. It refuses
// an unknown user (ErrNoSuchUser), an invalid role (an InvalidError), and
// deactivating or demoting the root user (ErrRootImmutable).
func (s *State) UpdateUser(id string, passwordHash []byte, role *Role, active *bool, at int64) (*State, error) {
	old, ok := s.UserByID(id)
	if !ok {
		return nil, ErrNoSuchUser
	}
	if role != nil && !role.Valid() {
		return nil, invalid("invalid role %d", *role)
	}
	if old.Root && ((active != nil && !*active) || (role != nil && *role != RoleSuperUser)) {
		return nil, ErrRootImmutable
	}
	u := *old
	changed := false
	if passwordHash != nil {
		u.PasswordHash = passwordHash
		changed = true
	}
	if role != nil && *role != u.Role {
		u.Role = *role
		changed = true
	}
	if active != nil && *active != u.Active {
		u.Active = *active
		changed = true
	}
	if !changed {
		return s, nil
	}
	u.Generation++
	u.UpdatedAt = at
	return s.putUser(old, &u), nil
}

// DeleteUser removes a user and its credential. It refuses an unknown user
// (ErrNoSuchUser) and the root user (ErrRootImmutable).
func (s *State) DeleteUser(id string) (next *State, dropped string, err error) {
	old, ok := s.UserByID(id)
	if !ok {
		return nil, "", ErrNoSuchUser
	}
	if old.Root {
		return nil, "", ErrRootImmutable
	}
	return s.deleteUser(old), old.AccessKey, nil
}

// CheckCredential returns the error IssueCredential would return for
// userID and accessKey, whatever the secret: an unknown user
// (ErrNoSuchUser), an access key of the wrong length (an InvalidError) or
// in use (ErrAccessKeyTaken). It lets a caller that must first unseal the
// secret refuse these before it refuses the secret.
func (s *State) CheckCredential(userID, accessKey string) error {
	if _, ok := s.UserByID(userID); !ok {
		return ErrNoSuchUser
	}
	if len(accessKey) != accessKeyLen {
		return invalid("access key must be %d characters", accessKeyLen)
	}
	if _, taken := s.Lookup(accessKey); taken {
		return ErrAccessKeyTaken
	}
	return nil
}

// IssueCredential gives a user the key pair accessKey/secret, replacing
// (and dropping) its previous one, stamped at. It refuses what
// CheckCredential refuses.
func (s *State) IssueCredential(userID, accessKey, secret string, at int64) (next *State, dropped string, err error) {
	if err := s.CheckCredential(userID, accessKey); err != nil {
		return nil, "", err
	}
	old, _ := s.UserByID(userID)
	u := *old
	u.AccessKey = accessKey
	u.setSecret(secret)
	u.UpdatedAt = at
	return s.putUser(old, &u), old.AccessKey, nil
}

// RevokeCredential removes a user's key pair, stamped at. Revoking the
// credential of a user without one returns s itself: a retried revoke is
// harmless. It refuses an unknown user (ErrNoSuchUser).
func (s *State) RevokeCredential(userID string, at int64) (next *State, dropped string, err error) {
	old, ok := s.UserByID(userID)
	if !ok {
		return nil, "", ErrNoSuchUser
	}
	if old.AccessKey == "" {
		return s, "", nil
	}
	u := *old
	u.AccessKey = ""
	u.setSecret("")
	u.UpdatedAt = at
	return s.putUser(old, &u), old.AccessKey, nil
}
