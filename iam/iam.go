// Package iam is S4's identity state: the users, their roles and session
// generations, and the auth index of S3 access keys that the S3 handler
// reads on every request. Package fsm applies the IAM events of the Raft
// log to it, one transition per event.
//
// Files:
//   - iam.go: roles and the domain errors;
//   - user.go: User and its packed representation (one allocation for a
//     user, its credential in the same object, arenas for bulk builds);
//   - index.go: the persistent hash tries behind the State's three
//     indexes (by ID, by username, and the auth index by access key);
//   - state.go: the immutable State, its reads and the bulk Builder;
//   - transitions.go: the transitions (CreateUser, UpdateUser, DeleteUser,
//     IssueCredential, RevokeCredential).
//   - scrapetoken.go: the scrape tokens of GET /metrics (kept as their
//     SHA-256 only) and their transitions (CreateScrapeToken,
//     RevokeScrapeToken).
//
// Invariants:
//   - A State never changes once built. A transition returns the next State,
//     which shares everything it did not touch with the one it came from, so
//     readers holding a State (and a *User from it) need no lock, and a
//     snapshot is a pointer copy.
//   - Transitions are deterministic: they read nothing but their arguments
//     and the State (never the clock, a random source, the network or a
//     disk); the caller supplies IDs, timestamps and the unsealed secret.
//   - A transition validates before it builds: one that returns an error
//     returns no State, and the State it was called on is all there is.
//   - Every access key in the auth index has 24 bytes (accessKeyLen), and
//     belongs to exactly one user.
package iam

import (
	"errors"
	"fmt"
)

// Domain errors of the transitions. Package fsm re-exports each (fsm.ErrX)
// and the internal RPC carries them under those names.
var (
	ErrNoSuchUser     = errors.New("no such user")
	ErrUserExists     = errors.New("user id already exists")
	ErrUsernameTaken  = errors.New("username already exists")
	ErrAccessKeyTaken = errors.New("access key already in use")
	ErrRootImmutable  = errors.New("the root user cannot be deleted, deactivated or demoted")
)

// InvalidError refuses a transition whose arguments no correct proposer
// sends (an empty ID, an unknown role, an access key of the wrong length).
// Package fsm answers it as fsm.ErrInvalidEvent with the same reason.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return "invalid: " + e.Reason }

func invalid(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

// Role is a user's role. The zero value is invalid.
type Role uint8

const (
	RoleReader    Role = 1
	RoleWriter    Role = 2
	RoleSuperUser Role = 3
)

func (r Role) String() string {
	switch r {
	case RoleReader:
		return "Reader"
	case RoleWriter:
		return "Writer"
	case RoleSuperUser:
		return "SuperUser"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// ParseRole accepts exactly "Reader", "Writer" or "SuperUser".
func ParseRole(s string) (Role, bool) {
	switch s {
	case "Reader":
		return RoleReader, true
	case "Writer":
		return RoleWriter, true
	case "SuperUser":
		return RoleSuperUser, true
	}
	return 0, false
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r >= RoleReader && r <= RoleSuperUser }
