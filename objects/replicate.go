package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
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
	shared, err := s.readShared(ref, len(voters))
	if err != nil {
		return fmt.Errorf("objects: replicate: %w", err)
	}
	results := make(chan error, len(voters)) // buffered: senders never block
	for _, addr := range voters {
		s.xfers.Add(1)
		go func() {
			defer s.xfers.Done()
			defer shared.done()
			results <- s.sendBlob(addr, ref, shared.bytes())
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

// sendBlob copies the local blob ref to the node at addr: from data, its
// content read once for every peer (readShared), or streamed from the
// local file when data is nil.
func (s *Service) sendBlob(addr string, ref blob.Ref, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), replicateTimeout(ref.Size))
	defer cancel()
	ctx, stop := s.untilStop(ctx)
	defer stop(nil)
	var r io.Reader
	if data != nil {
		r = bytes.NewReader(data)
	} else {
		f, err := s.openLocal(ref)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	if err := s.transfer.PutBlob(ctx, addr, ref, r); err != nil {
		s.log.Debug("copying a blob to a peer failed", "peer", addr, "err", err)
		return err
	}
	return nil
}

// openLocal opens the local blob ref, refusing one of another size.
func (s *Service) openLocal(ref blob.Ref) (*blob.Reader, error) {
	f, size, err := s.blobs.Open(ref.ID)
	if err != nil {
		return nil, err
	}
	if size != ref.Size {
		f.Close()
		return nil, fmt.Errorf("objects: blob %x has %d bytes here, not %d", ref.ID[:8], size, ref.Size)
	}
	return f, nil
}

// A blob of at most sharedMax bytes that goes to more than one peer is
// read from the local disk once, verified block by block as any read is,
// and sent to every peer from memory: a PUT's blob was just written with
// direct I/O, so it is not in the page cache, and reading it back once
// per peer was a tenth of the CPU of the node taking a three-node PUT
// (BENCHMARKS.md "A three-node PUT, node by node"). The copies in memory
// of every Replicate together hold at most sharedBudget bytes; past it,
// or for a larger blob, each peer's copy is streamed from the file, as
// the copies of a blob of several blocks never need the whole blob at
// once.
const (
	sharedMax    = 8 << 20
	sharedBudget = 64 << 20
)

// sharedHeld is how many bytes the shared copies' buffers hold now (each
// a whole number of MiB).
var sharedHeld atomic.Int64

// sharedPool holds the buffers of shared copies, by size in MiB rounded
// up (1 to 8).
var sharedPool [sharedMax>>20 + 1]sync.Pool

// sharedBlob is a blob's content read once for n senders; the last one
// to finish returns the buffer. A nil *sharedBlob means every sender
// streams from the file.
type sharedBlob struct {
	buf  *[]byte
	data []byte
	left atomic.Int32
}

// readShared reads ref's content for peers senders when that is worth it
// and the budget has room (nil otherwise, and nil, nil when the blob is
// not worth sharing). An error is the local copy's: it cannot be read, or
// it fails its CRC32C (blob.ErrCorrupt), and no peer would get a good
// copy of it.
func (s *Service) readShared(ref blob.Ref, peers int) (*sharedBlob, error) {
	if peers < 2 || ref.Size <= 0 || ref.Size > sharedMax {
		return nil, nil
	}
	class := (ref.Size + 1<<20 - 1) >> 20
	if sharedHeld.Add(class<<20) > sharedBudget {
		sharedHeld.Add(-class << 20)
		return nil, nil
	}
	bp, _ := sharedPool[class].Get().(*[]byte)
	if bp == nil {
		b := make([]byte, class<<20)
		bp = &b
	}
	sb := &sharedBlob{buf: bp, data: (*bp)[:ref.Size]}
	sb.left.Store(int32(peers))
	f, err := s.openLocal(ref)
	if err == nil {
		_, err = io.ReadFull(f, sb.data)
		f.Close()
	}
	if err != nil {
		sb.release()
		return nil, err
	}
	return sb, nil
}

// bytes returns the content, nil for a nil *sharedBlob.
func (sb *sharedBlob) bytes() []byte {
	if sb == nil {
		return nil
	}
	return sb.data
}

// done is a sender's end; the last one releases the buffer.
func (sb *sharedBlob) done() {
	if sb != nil && sb.left.Add(-1) == 0 {
		sb.release()
	}
}

func (sb *sharedBlob) release() {
	n := int64(cap(*sb.buf))
	sharedPool[n>>20].Put(sb.buf)
	sharedHeld.Add(-n)
}
