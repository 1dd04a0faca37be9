package objects

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/s4/s4/blob"
)

// Stream implements s3.Replicator: it reads the blob sum from the first
// peer that has it, without keeping it (a GET on a node at its free-space
// reserve). The reader computes the CRC32C of what it passes on and fails
// with an error wrapping blob.ErrCorrupt instead of delivering the last
// bytes if it differs from the one the peer's trailer gives (the peer
// checked every block before it sent it), and with io.ErrUnexpectedEOF if it ends
// early; a reader closed before the end checks nothing (a range). It stops
// when the service stops; ctx bounds the whole transfer (without a
// deadline: the cluster client's, which grows with the size).
func (s *Service) Stream(ctx context.Context, sum [32]byte) (io.ReadCloser, int64, error) {
	voters, others, _, err := s.peers.Peers()
	if err != nil {
		return nil, 0, fmt.Errorf("objects: stream: %w", err)
	}
	var errs []error
	for _, addr := range append(voters, others...) {
		sctx, stop := s.untilStop(ctx)
		rc, ref, err := s.transfer.GetBlob(sctx, addr, sum)
		if err != nil {
			stop(nil)
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		cs := &checkedStream{rc: rc, stop: stop, sum: sum, size: ref.Size, crcWant: ref.CRC32C}
		if ref.NoCRC { // a peer of the previous release: the name is the SHA-256
			cs.sha = sha256.New()
		}
		return cs, ref.Size, nil
	}
	if len(errs) == 0 {
		return nil, 0, fmt.Errorf("objects: stream %x: %w (no peers)", sum[:8], blob.ErrNotFound)
	}
	return nil, 0, fmt.Errorf("objects: stream %x: %w", sum[:8], errors.Join(errs...))
}

// checkedStream is a blob read from a peer, checked as it passes.
type checkedStream struct {
	rc           io.ReadCloser
	stop         context.CancelCauseFunc
	sum          [32]byte
	size         int64
	n            int64
	crc, crcWant uint32
	sha          hash.Hash // set: checked against sum instead of crcWant
	err          error     // sticky
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

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
	if s.sha != nil {
		s.sha.Write(p[:k])
	} else {
		s.crc = crc32.Update(s.crc, castagnoli, p[:k])
	}
	s.n += int64(k)
	if s.n == s.size {
		if s.sha != nil {
			var got [32]byte
			if s.sha.Sum(got[:0]); got != s.sum {
				s.err = fmt.Errorf("objects: blob %x streamed from a peer: %w: content hashes to %x", s.sum[:8], blob.ErrCorrupt, got[:8])
				return k, s.err
			}
			return k, nil
		}
		if s.crc != s.crcWant {
			s.err = fmt.Errorf("objects: blob %x streamed from a peer: %w: CRC32C %08x, want %08x", s.sum[:8], blob.ErrCorrupt, s.crc, s.crcWant)
			return k, s.err
		}
		return k, nil
	}
	switch {
	case err == io.EOF:
		s.err = fmt.Errorf("objects: blob %x streamed from a peer: %w after %d of %d bytes", s.sum[:8], io.ErrUnexpectedEOF, s.n, s.size)
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
