package objects

import (
	"context"
	"fmt"
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
	var data []byte
	err := s.fromPeers(ctx, fmt.Sprintf("repair inline %s/%s", bucket, key), func(addr string) error {
		got, err := s.transfer.GetInline(ctx, addr, bucket, key, size, crc)
		if err != nil {
			return err
		}
		repaired, err := s.inline.RepairInline(bucket, key, got)
		if err != nil {
			// The good bytes are still good for the caller.
			s.log.Error("could not write a repaired inline body", "object", bucket+"/"+key, "err", err)
		} else if repaired {
			s.log.Info("repaired a corrupt inline body from a peer", "object", bucket+"/"+key, "peer", addr)
		}
		data = got
		return nil
	})
	return data, err
}
