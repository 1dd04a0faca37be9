package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
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
// replicateTimeout, and stop when the node closes. A peer at its
// free-space reserve refuses its copy (507): that counts as a failed copy,
// and the majority comes from the others. If it cannot, and every failed
// copy failed for space, the error wraps disk.ErrFull (the S3 API answers
// 507); otherwise it does not.
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
				return replicateFailed(sum, have, need, errs)
			}
		case <-ctx.Done():
			return fmt.Errorf("node: blob %x reached %d of %d nodes needed: %w", sum[:8], have, need, ctx.Err())
		case <-n.closing:
			return ErrClosed
		}
	}
	return fmt.Errorf("node: blob %x reached %d of %d nodes needed", sum[:8], have, need) // not reached
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
		return fmt.Errorf("node: blob %x reached %d of %d nodes needed: too few have room: %w", sum[:8], have, need, errors.Join(errs...))
	}
	return fmt.Errorf("node: blob %x reached %d of %d nodes needed: %v", sum[:8], have, need, errors.Join(errs...))
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
// after the other. A node at its free-space reserve, or one that the blob
// would take there, fetches nothing: the error wraps disk.ErrFull (and so
// does a write that fails with ENOSPC).
func (n *Node) Fetch(ctx context.Context, sum [32]byte) error {
	if n.blobs.Has(sum) {
		return nil
	}
	if err := n.disk.Check(0); err != nil {
		return fmt.Errorf("node: fetch %x: %w", sum[:8], err)
	}
	voters, others, _, err := n.peers()
	if err != nil {
		return fmt.Errorf("node: fetch: %w", err)
	}
	var errs []error
	for _, addr := range append(voters, others...) {
		if err := n.fetchFrom(ctx, addr, sum); err != nil {
			if disk.IsNoSpace(err) { // no other peer changes that
				return fmt.Errorf("node: fetch %x: %w", sum[:8], err)
			}
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
	for _, err := range errs {
		if !errors.Is(err, blob.ErrNotFound) {
			// A peer that did not answer may have it: the caller may
			// retry (not ErrNotFound, which says every peer lacks it).
			return fmt.Errorf("node: fetch %x: %v", sum[:8], errors.Join(errs...))
		}
	}
	return fmt.Errorf("node: fetch %x: %w", sum[:8], errors.Join(errs...))
}

func (n *Node) fetchFrom(ctx context.Context, addr string, sum [32]byte) error {
	rc, size, err := n.rpcCli.GetBlob(ctx, addr, sum)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := n.disk.Check(size); err != nil {
		return err
	}
	w, err := n.blobs.CreateCopy()
	if err != nil {
		return n.noSpace(err)
	}
	defer w.Abort()
	if _, err := io.Copy(w, io.LimitReader(rc, size)); err != nil {
		return n.noSpace(fmt.Errorf("node: fetching a blob from %s: %w", addr, err))
	}
	if got := w.Sum(); got.Size != size || got.SHA256 != sum {
		return fmt.Errorf("node: blob %x from %s: %w: content hashes to %x (%d of %d bytes)", sum[:8], addr, blob.ErrCorrupt, got.SHA256[:8], got.Size, size)
	}
	_, err = w.Commit()
	return n.noSpace(err)
}

// noSpace returns err, and reads the free space again if err is ENOSPC.
func (n *Node) noSpace(err error) error {
	if disk.IsNoSpace(err) && !errors.Is(err, disk.ErrFull) {
		n.disk.NoSpace()
	}
	return err
}

// Stream implements s3.Replicator: it reads the blob sum from the first
// peer that has it, without keeping it (a GET on a node at its free-space
// reserve). The reader hashes what it passes on and fails with an error
// wrapping blob.ErrCorrupt instead of delivering the last bytes if the
// content does not hash to sum, and with io.ErrUnexpectedEOF if it ends
// early; a reader closed before the end checks nothing (a range). It stops
// when the node closes; ctx bounds the whole transfer (without a deadline:
// the cluster client's, which grows with the size).
func (n *Node) Stream(ctx context.Context, sum [32]byte) (io.ReadCloser, int64, error) {
	voters, others, _, err := n.peers()
	if err != nil {
		return nil, 0, fmt.Errorf("node: stream: %w", err)
	}
	var errs []error
	for _, addr := range append(voters, others...) {
		sctx, stop := n.untilClose(ctx)
		rc, size, err := n.rpcCli.GetBlob(sctx, addr, sum)
		if err != nil {
			stop(nil)
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		return &checkedStream{rc: rc, stop: stop, sum: sum, size: size, h: sha256.New()}, size, nil
	}
	if len(errs) == 0 {
		return nil, 0, fmt.Errorf("node: stream %x: %w (no peers)", sum[:8], blob.ErrNotFound)
	}
	return nil, 0, fmt.Errorf("node: stream %x: %w", sum[:8], errors.Join(errs...))
}

// checkedStream is a blob read from a peer, hashed as it passes.
type checkedStream struct {
	rc   io.ReadCloser
	stop context.CancelCauseFunc
	sum  [32]byte
	size int64
	n    int64
	h    hash.Hash
	err  error // sticky
}

func (s *checkedStream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	rem := s.size - s.n
	if rem == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > rem {
		p = p[:rem]
	}
	k, err := s.rc.Read(p)
	s.h.Write(p[:k])
	s.n += int64(k)
	if s.n == s.size {
		var got [32]byte
		if s.h.Sum(got[:0]); got != s.sum {
			s.err = fmt.Errorf("node: blob %x streamed from a peer: %w: content hashes to %x", s.sum[:8], blob.ErrCorrupt, got[:8])
			return k, s.err
		}
		return k, nil
	}
	switch {
	case err == io.EOF:
		s.err = fmt.Errorf("node: blob %x streamed from a peer: %w after %d of %d bytes", s.sum[:8], io.ErrUnexpectedEOF, s.n, s.size)
	case err != nil:
		s.err = err
	}
	return k, s.err
}

func (s *checkedStream) Close() error {
	err := s.rc.Close()
	s.stop(nil)
	return err
}

var _ s3.Replicator = (*Node)(nil)
