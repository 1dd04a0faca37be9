package objects

import (
	"context"
	"errors"
	"fmt"

	"github.com/s4/s4/blob"
)

// RepairInline implements s3.Replicator: this node's copy of the inline
// body of bucket/key (its record: size bytes, CRC32C crc) failed its
// checksum; it reads a good copy from a peer (cluster GET /v1/inline: the
// peer sends it only if it holds that very version, checked, and the
// client checks it again), puts it in place of the bad one in the local
// metadata store (Config.Inline's RepairInline, which writes only while
// the record still names that body) and returns it. The peers are asked
// one after the other. The error wraps blob.ErrNotFound if no peer holds
// a good copy of that version.
func (s *Service) RepairInline(ctx context.Context, bucket, key string, size int64, crc uint32) ([]byte, error) {
	if s.inline == nil {
		return nil, fmt.Errorf("objects: repair inline %s/%s: no metadata store", bucket, key)
	}
	voters, others, _, err := s.peers.Peers()
	if err != nil {
		return nil, fmt.Errorf("objects: repair inline %s/%s: %w", bucket, key, err)
	}
	var errs []error
	for _, addr := range append(voters, others...) {
		data, err := s.transfer.GetInline(ctx, addr, bucket, key, size, crc)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		repaired, err := s.inline.RepairInline(bucket, key, data)
		if err != nil {
			// The good bytes are still good for the caller.
			s.log.Error("could not write a repaired inline body", "object", bucket+"/"+key, "err", err)
		} else if repaired {
			s.log.Info("repaired a corrupt inline body from a peer", "object", bucket+"/"+key, "peer", addr)
		}
		return data, nil
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("objects: repair inline %s/%s: %w (no peers)", bucket, key, blob.ErrNotFound)
	}
	for _, err := range errs {
		if !errors.Is(err, blob.ErrNotFound) {
			return nil, fmt.Errorf("objects: repair inline %s/%s: %v", bucket, key, errors.Join(errs...))
		}
	}
	return nil, fmt.Errorf("objects: repair inline %s/%s: %w", bucket, key, errors.Join(errs...))
}
