package objects

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
)

// replicateTimeout bounds one copy of a blob of size bytes to a peer, also
// the copies that go on in the background once a majority holds the blob.
func replicateTimeout(size int64) time.Duration {
	return 30*time.Second + time.Duration(max(size, 0)>>20)*time.Second
}

// Replicate implements s3.Replicator: it copies the local blob sum to the
// other voters in parallel and returns once a majority of the voters
// (counting this node, which holds it) hold it durably. The copies still
// in flight then go on in the background, each bounded by
// replicateTimeout, and stop when the service stops. A peer at its
// free-space reserve refuses its copy (507): that counts as a failed copy,
// and the majority comes from the others. If it cannot, and every failed
// copy failed for space, the error wraps disk.ErrFull (the S3 API answers
// 507); otherwise it does not.
func (s *Service) Replicate(ctx context.Context, ref blob.Ref) error {
	sum := ref.ID
	voters, _, selfVotes, err := s.peers.Peers()
	if err != nil {
		return fmt.Errorf("objects: replicate: %w", err)
	}
	total := len(voters)
	have := 0
	if selfVotes {
		total++
		have = 1
	}
	need := total/2 + 1
	if have >= need {
		return nil
	}
	results := make(chan error, len(voters)) // buffered: senders never block
	for _, addr := range voters {
		s.xfers.Add(1)
		go func() {
			defer s.xfers.Done()
			results <- s.sendBlob(addr, ref)
		}()
	}
	var errs []error
	for range voters {
		select {
		case err := <-results:
			if err == nil {
				have++
				if have >= need {
					return nil
				}
				continue
			}
			errs = append(errs, err)
			if have+len(voters)-len(errs) < need {
				return replicateFailed(sum, have, need, errs)
			}
		case <-ctx.Done():
			return fmt.Errorf("objects: blob %x reached %d of %d nodes needed: %w", sum[:8], have, need, ctx.Err())
		case <-s.stop:
			return ErrStopped
		}
	}
	return fmt.Errorf("objects: blob %x reached %d of %d nodes needed", sum[:8], have, need) // not reached
}

// replicateFailed is Replicate's error once a majority is out of reach: it
// wraps the copies' errors (disk.ErrFull among them) only if every one of
// them failed for space, so that a 507 means "no room", never "a peer was
// down".
func replicateFailed(sum [32]byte, have, need int, errs []error) error {
	all := true
	for _, err := range errs {
		all = all && disk.IsNoSpace(err)
	}
	if all {
		return fmt.Errorf("objects: blob %x reached %d of %d nodes needed: too few have room: %w", sum[:8], have, need, errors.Join(errs...))
	}
	return fmt.Errorf("objects: blob %x reached %d of %d nodes needed: %v", sum[:8], have, need, errors.Join(errs...))
}

// sendBlob copies the local blob ref to the node at addr.
func (s *Service) sendBlob(addr string, ref blob.Ref) error {
	sum, size := ref.ID, ref.Size
	ctx, cancel := context.WithTimeout(context.Background(), replicateTimeout(size))
	defer cancel()
	ctx, stop := s.untilStop(ctx)
	defer stop(nil)
	f, fsize, err := s.blobs.Open(sum)
	if err != nil {
		return err
	}
	defer f.Close()
	if fsize != size {
		return fmt.Errorf("objects: blob %x has %d bytes here, not %d", sum[:8], fsize, size)
	}
	if err := s.transfer.PutBlob(ctx, addr, ref, f); err != nil {
		s.log.Debug("copying a blob to a peer failed", "peer", addr, "err", err)
		return err
	}
	return nil
}
