package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
	"github.com/s4/s4/s3/s3err"
)

// Object data around an operation: copying blobs to and from the peers
// (Replicator), the free-space reserve (Space), and removing the blob of a
// write that will not happen.

// transferTimeout bounds copying a blob of size bytes between nodes.
func (h *Handler) transferTimeout(size int64) time.Duration {
	return h.cfg.ProposeTimeout + time.Duration(max(size, 0)>>20)*time.Second
}

// replicate copies a committed blob to a majority of the nodes before its
// metadata is proposed.
func (h *Handler) replicate(r *request, ref blob.Ref) error {
	if h.cfg.Replicator == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.transferTimeout(ref.Size))
	defer cancel()
	if err := h.cfg.Replicator.Replicate(ctx, ref); err != nil {
		h.log.Warn("blob replication failed", "request_id", r.id, "err", err)
		if disk.IsNoSpace(err) { // every copy that failed failed for space
			return s3err.Errorf(s3err.StorageFull, "Too few nodes of the cluster have room for the object data: the others are at their free-space reserve. Free space by deleting objects, or grow the disks; writes are accepted again once enough nodes have space.").WithCause(err)
		}
		return s3err.Errorf(s3err.ServiceUnavailable, "The object data could not be stored on enough nodes; please retry.").WithCause(err)
	}
	return nil
}

// replicateNew replicates a blob this request committed, pinned; when that
// fails it unpins the blob and removes it again (discardBlob), and the
// write fails.
func (h *Handler) replicateNew(r *request, ref blob.Ref, unpin func()) error {
	if err := h.replicate(r, ref); err != nil {
		unpin()
		h.discardBlob(ref.ID)
		return err
	}
	return nil
}

// checkSpace refuses a write of size bytes of object data (size < 0:
// unknown) with 507 XS4StorageFull when the node is at its free-space
// reserve or the write would take it there.
func (h *Handler) checkSpace(size int64) error {
	if h.cfg.Space == nil {
		return nil
	}
	if err := h.cfg.Space.Check(size); err != nil {
		return s3err.New(s3err.StorageFull).WithCause(err)
	}
	return nil
}

// writeFailed maps a failed blob write: lack of space (ENOSPC, EDQUOT, the
// reserve) is 507 XS4StorageFull, and the node reads its free space again;
// anything else is InternalError with the message what.
func (h *Handler) writeFailed(r *request, err error, what string) error {
	if !disk.IsNoSpace(err) {
		return s3err.Errorf(s3err.InternalError, "%s", what).WithCause(err)
	}
	if !errors.Is(err, disk.ErrFull) {
		h.log.Warn("object data not stored: the disk is full", "request_id", r.id, "err", err)
		if h.cfg.Space != nil {
			h.cfg.Space.NoSpace()
		}
	}
	return s3err.New(s3err.StorageFull).WithCause(err)
}

// released tells the node that a delete was applied (see Space.Released).
func (h *Handler) released() {
	if h.cfg.Space != nil {
		h.cfg.Space.Released()
	}
}

// discardBlob removes a blob this request committed but whose object will
// never exist (its replication failed), unless a pin or a reference keeps
// it: the garbage collector's own protocol (package blob).
func (h *Handler) discardBlob(sum [32]byte) {
	if _, err := h.blobs.Remove(sum, func() bool { return h.meta.BlobRefs(sum) == 0 }); err != nil {
		h.log.Warn("removing the blob of a failed write", "err", err)
	}
}

// fetch copies a blob this node lacks from a peer.
func (h *Handler) fetch(sum [32]byte, size int64) error {
	if h.cfg.Replicator == nil {
		return blob.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.transferTimeout(size))
	defer cancel()
	return h.cfg.Replicator.Fetch(ctx, sum)
}

// repair replaces this node's corrupt copy of a blob with a peer's.
func (h *Handler) repair(sum [32]byte, size int64) error {
	if h.cfg.Replicator == nil {
		return fmt.Errorf("no other node to repair it from: %w", blob.ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.transferTimeout(size))
	defer cancel()
	return h.cfg.Replicator.Repair(ctx, sum)
}

// stream reads a blob of size bytes from a peer without keeping it (its
// transfer is bounded by the cluster client's default: a timeout that grows
// with the size).
func (h *Handler) stream(sum [32]byte, size int64) (io.ReadCloser, error) {
	if h.cfg.Replicator == nil {
		return nil, blob.ErrNotFound
	}
	rc, n, err := h.cfg.Replicator.Stream(context.Background(), sum)
	if err != nil {
		return nil, err
	}
	if n != size {
		rc.Close()
		return nil, fmt.Errorf("s3: blob %x has %d bytes on the peer, not %d", sum[:8], n, size)
	}
	return rc, nil
}
