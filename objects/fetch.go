package objects

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
)

// Fetch implements s3.Replicator: it copies the blob sum from a peer that
// holds it into the local store (where it stays). The peers are asked one
// after the other. A node at its free-space reserve, or one that the blob
// would take there, fetches nothing: the error wraps disk.ErrFull (and so
// does a write that fails with ENOSPC).
func (s *Service) Fetch(ctx context.Context, sum [32]byte) error {
	if s.blobs.Has(sum) {
		return nil
	}
	if err := s.Check(0); err != nil {
		return fmt.Errorf("objects: fetch %x: %w", sum[:8], err)
	}
	return s.fromPeers(ctx, fmt.Sprintf("fetch %x", sum[:8]), func(addr string) error {
		return s.fetchFrom(ctx, addr, sum)
	})
}

// fromPeers calls try with each peer's address, voters first, until one
// succeeds. A failure for lack of space here ends it (no other peer
// changes that). The error wraps blob.ErrNotFound only if every peer
// answered that it lacks what was asked for (or there is no peer): a peer
// that did not answer may have it, and the caller may retry.
func (s *Service) fromPeers(ctx context.Context, what string, try func(addr string) error) error {
	voters, others, _, err := s.peers.Peers()
	if err != nil {
		return fmt.Errorf("objects: %s: %w", what, err)
	}
	var errs []error
	for _, addr := range append(voters, others...) {
		err := try(addr)
		if err == nil {
			return nil
		}
		if disk.IsNoSpace(err) {
			return fmt.Errorf("objects: %s: %w", what, err)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return fmt.Errorf("objects: %s: %w (no peers)", what, blob.ErrNotFound)
	}
	for _, err := range errs {
		if !errors.Is(err, blob.ErrNotFound) {
			return fmt.Errorf("objects: %s: %v", what, errors.Join(errs...))
		}
	}
	return fmt.Errorf("objects: %s: %w", what, errors.Join(errs...))
}

// Repair implements s3.Replicator: it replaces this node's copy of the
// blob sum, which failed its block checksums, with a good copy from a peer
// (checked against the CRC32C that peer's trailer gives as it arrives,
// committed by an atomic rename over the bad one). The error wraps blob.ErrNotFound if no peer
// has the blob, disk.ErrFull if this node has no room for the copy.
func (s *Service) Repair(ctx context.Context, sum [32]byte) error {
	voters, others, _, err := s.peers.Peers()
	if err != nil {
		return fmt.Errorf("objects: repair: %w", err)
	}
	var errs []error
	for _, addr := range append(voters, others...) {
		err := s.copyFrom(ctx, addr, sum)
		if err == nil {
			s.log.Info("repaired a corrupt blob from a peer", "blob", fmt.Sprintf("%x", sum), "peer", addr)
			return nil
		}
		if disk.IsNoSpace(err) {
			return fmt.Errorf("objects: repair %x: %w", sum[:8], err)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return fmt.Errorf("objects: repair %x: %w (no peers)", sum[:8], blob.ErrNotFound)
	}
	return fmt.Errorf("objects: repair %x: %w", sum[:8], errors.Join(errs...))
}

func (s *Service) fetchFrom(ctx context.Context, addr string, sum [32]byte) error {
	return s.copyFrom(ctx, addr, sum)
}

// copyFrom copies the blob sum from the node at addr into the local
// store, replacing a local copy if there is one. The bytes are checked
// block by block as they are written, and as a whole against the size and
// CRC32C the peer's trailer gives (the peer checked every block before it
// sent it): a copy that does not match is not committed.
func (s *Service) copyFrom(ctx context.Context, addr string, sum [32]byte) error {
	rc, ref, err := s.transfer.GetBlob(ctx, addr, sum)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := s.Check(ref.Size); err != nil {
		return err
	}
	w, err := s.blobs.CreateCopyOf(ref)
	if err != nil {
		return s.noSpace(err)
	}
	defer w.Abort()
	if _, err := io.Copy(w, io.LimitReader(rc, ref.Size)); err != nil {
		return s.noSpace(fmt.Errorf("objects: fetching a blob from %s: %w", addr, err))
	}
	if _, err = w.Commit(); err != nil && errors.Is(err, blob.ErrCorrupt) {
		return fmt.Errorf("objects: blob %x from %s: %w", sum[:8], addr, err)
	}
	return s.noSpace(err)
}

// noSpace returns err, and reads the free space again if err is ENOSPC.
func (s *Service) noSpace(err error) error {
	if disk.IsNoSpace(err) && !errors.Is(err, disk.ErrFull) {
		s.NoSpace()
	}
	return err
}
