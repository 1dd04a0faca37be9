package fsm

import (
	"errors"
	"fmt"

	"github.com/s4/s4/iam"
	"github.com/s4/s4/meta"
)

// The domain errors: the verdicts Apply returns as values, the same on
// every node. The stores declare their own (package iam and package meta);
// this block re-exports every one of them, so that a caller matches any
// verdict with errors.Is(err, fsm.ErrX), also after the internal RPC
// carried it: cluster/wire.go puts each on the wire under the code
// "fsm.ErrX", a protocol (a test parses this block to keep the two in step).
// Never rename one, never reuse a name.
var (
	// IAM events (package iam).
	ErrNoSuchUser     = iam.ErrNoSuchUser
	ErrUserExists     = iam.ErrUserExists
	ErrUsernameTaken  = iam.ErrUsernameTaken
	ErrAccessKeyTaken = iam.ErrAccessKeyTaken
	ErrRootImmutable  = iam.ErrRootImmutable

	// Object-metadata events (package meta).
	ErrNoSuchBucket       = meta.ErrNoSuchBucket
	ErrBucketExists       = meta.ErrBucketExists
	ErrBucketOwnedByYou   = meta.ErrBucketOwnedByYou
	ErrBucketNotEmpty     = meta.ErrBucketNotEmpty
	ErrNoSuchUpload       = meta.ErrNoSuchUpload
	ErrInvalidPart        = meta.ErrInvalidPart
	ErrInvalidPartOrder   = meta.ErrInvalidPartOrder
	ErrEntityTooSmall     = meta.ErrEntityTooSmall
	ErrPreconditionFailed = meta.ErrPreconditionFailed
	ErrNoSuchKey          = meta.ErrNoSuchKey

	// A question the IAM history cannot answer (package meta): a time
	// before its retention cut-off. A read's verdict, not an event's.
	ErrHistoryBefore = meta.ErrHistoryBefore

	// Events as such (package fsm). ErrInvalidEvent: an event no correct
	// proposer writes, refused by CheckEvent or, with the reason a store
	// gave (an iam.InvalidError or a meta.InvalidError), by Apply.
	// ErrSecretUnsealing: a CredentialIssue whose secret does not open
	// with this cluster's key.
	ErrInvalidEvent    = errors.New("invalid event")
	ErrSecretUnsealing = errors.New("cannot unseal secret")
)

// eventError is a store's verdict as the event's: an InvalidError of
// either store becomes ErrInvalidEvent with the same reason; the domain
// errors (and nil) pass as they are.
func eventError(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*iam.InvalidError](err); ok {
		return fmt.Errorf("%w: %s", ErrInvalidEvent, e.Reason)
	}
	if e, ok := errors.AsType[*meta.InvalidError](err); ok {
		return fmt.Errorf("%w: %s", ErrInvalidEvent, e.Reason)
	}
	return err
}
