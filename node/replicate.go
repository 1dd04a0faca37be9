package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/s3"
)

// replicateTimeout bounds one copy of a blob of size bytes to a peer, also
// the copies that go on in the background once a majority holds the blob.
func replicateTimeout(size int64) time.Duration {
	return 30*time.Second + time.Duration(max(size, 0)>>20)*time.Second
}

// peers returns the cluster addresses of the other servers in the Raft
// configuration, the voters among them, and whether this node votes.
func (n *Node) peers() (voters, others []string, selfVotes bool, err error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, nil, false, err
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == n.id {
			selfVotes = s.Suffrage == raft.Voter
			continue
		}
		if s.Suffrage == raft.Voter {
			voters = append(voters, string(s.Address))
		} else {
			others = append(others, string(s.Address))
		}
	}
	return voters, others, selfVotes, nil
}

// Replicate implements s3.Replicator: it copies the local blob sum to the
// other voters in parallel and returns once a majority of the voters
// (counting this node, which holds it) hold it durably. The copies still
// in flight then go on in the background, each bounded by
// replicateTimeout, and stop when the node closes.
func (n *Node) Replicate(ctx context.Context, ref blob.Ref) error {
	sum := ref.SHA256
	voters, _, selfVotes, err := n.peers()
	if err != nil {
		return fmt.Errorf("node: replicate: %w", err)
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
		n.xfers.Add(1)
		go func() {
			defer n.xfers.Done()
			results <- n.sendBlob(addr, ref)
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
				return fmt.Errorf("node: blob %x reached %d of %d nodes needed: %w", sum[:8], have, need, errors.Join(errs...))
			}
		case <-ctx.Done():
			return fmt.Errorf("node: blob %x reached %d of %d nodes needed: %w", sum[:8], have, need, ctx.Err())
		case <-n.closing:
			return ErrClosed
		}
	}
	return fmt.Errorf("node: blob %x reached %d of %d nodes needed", sum[:8], have, need) // not reached
}

// sendBlob copies the local blob ref to the node at addr.
func (n *Node) sendBlob(addr string, ref blob.Ref) error {
	sum, size := ref.SHA256, ref.Size
	ctx, cancel := context.WithTimeout(context.Background(), replicateTimeout(size))
	defer cancel()
	ctx, stop := n.untilClose(ctx)
	defer stop(nil)
	f, fsize, err := n.blobs.Open(sum)
	if err != nil {
		return err
	}
	defer f.Close()
	if fsize != size {
		return fmt.Errorf("node: blob %x has %d bytes here, not %d", sum[:8], fsize, size)
	}
	if err := n.rpcCli.PutBlob(ctx, addr, ref, f); err != nil {
		n.log.Debug("copying a blob to a peer failed", "peer", addr, "err", err)
		return err
	}
	return nil
}

// Fetch implements s3.Replicator: it copies the blob sum from a peer that
// holds it into the local store (where it stays). The peers are asked one
// after the other.
func (n *Node) Fetch(ctx context.Context, sum [32]byte) error {
	if n.blobs.Has(sum) {
		return nil
	}
	voters, others, _, err := n.peers()
	if err != nil {
		return fmt.Errorf("node: fetch: %w", err)
	}
	var errs []error
	for _, addr := range append(voters, others...) {
		if err := n.fetchFrom(ctx, addr, sum); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		return nil
	}
	if len(errs) == 0 {
		return fmt.Errorf("node: fetch %x: %w (no peers)", sum[:8], blob.ErrNotFound)
	}
	return fmt.Errorf("node: fetch %x: %w", sum[:8], errors.Join(errs...))
}

func (n *Node) fetchFrom(ctx context.Context, addr string, sum [32]byte) error {
	rc, size, err := n.rpcCli.GetBlob(ctx, addr, sum)
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := n.blobs.CreateCopy()
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := io.Copy(w, io.LimitReader(rc, size)); err != nil {
		return fmt.Errorf("node: fetching a blob from %s: %w", addr, err)
	}
	if got := w.Sum(); got.Size != size || got.SHA256 != sum {
		return fmt.Errorf("node: blob %x from %s: %w: content hashes to %x (%d of %d bytes)", sum[:8], addr, blob.ErrCorrupt, got.SHA256[:8], got.Size, size)
	}
	_, err = w.Commit()
	return err
}

var _ s3.Replicator = (*Node)(nil)
