package s3

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/s4/s4/blob"
	"github.com/s4/s4/disk"
	"github.com/s4/s4/s3/s3err"
)

// TestObjectReaderStreamsAtReserve: a part whose blob is missing here is
// fetched and kept when the node has room; when the fetch is refused for
// space it is streamed from a peer instead (from the right offset, not
// kept); a stream that fails is 503, and so is a fetch that found no
// peer to answer; one that every peer answered with not found is 500.
func TestObjectReaderStreamsAtReserve(t *testing.T) {
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	local := bytes.Repeat([]byte("local "), 1000)
	lref, err := bs.Put(bytes.NewReader(local), -1)
	if err != nil {
		t.Fatal(err)
	}
	remote := bytes.Repeat([]byte("remote "), 3000)
	rsum := sha256.Sum256(remote)
	parts := func(off int64) []partRange {
		return []partRange{{sum: lref.ID, size: lref.Size, off: off}, {sum: rsum, size: int64(len(remote))}}
	}
	whole := append(append([]byte(nil), local...), remote...)

	var fetchErr, streamErr error
	streamed := 0
	or := func(start int64) *objectReader {
		return &objectReader{
			blobs: bs,
			fetch: func(sum [32]byte, size int64) error {
				if fetchErr != nil {
					return fetchErr
				}
				w, err := bs.CreateCopyOf(blob.Ref{ID: sum, Size: size, CRC32C: crc32.Checksum(remote, crc32.MakeTable(crc32.Castagnoli))})
				if err != nil {
					return err
				}
				w.Write(remote)
				_, err = w.Commit()
				return err
			},
			stream: func(sum [32]byte, size int64) (io.ReadCloser, error) {
				if streamErr != nil {
					return nil, streamErr
				}
				if sum != rsum || size != int64(len(remote)) {
					return nil, fmt.Errorf("asked for %x, %d bytes", sum[:4], size)
				}
				streamed++
				return io.NopCloser(bytes.NewReader(remote)), nil
			},
			parts:     parts(start),
			remaining: int64(len(whole)) - start,
		}
	}
	read := func(o *objectReader) ([]byte, error) {
		defer o.Close()
		return io.ReadAll(o)
	}

	// At the reserve: streamed, not kept.
	fetchErr = fmt.Errorf("node: fetch: %w", disk.ErrFull)
	got, err := read(or(0))
	if err != nil || !bytes.Equal(got, whole) || streamed != 1 || bs.Has(rsum) {
		t.Fatalf("at the reserve: %d bytes, %v, streamed %d, kept %v", len(got), err, streamed, bs.Has(rsum))
	}
	// A range starting inside the streamed part: the offset is skipped.
	o := or(0)
	o.parts = []partRange{{sum: rsum, size: int64(len(remote)), off: 5000}}
	o.remaining = 100
	if got, err := read(o); err != nil || !bytes.Equal(got, remote[5000:5100]) {
		t.Fatalf("streamed range: %q, %v", got, err)
	}
	// The stream fails: 503, not 500.
	streamErr = errors.New("no peer")
	o = or(0)
	o.parts = o.parts[1:]
	if err := o.next(); !s3err.IsCode(err, s3err.ServiceUnavailable) {
		t.Fatalf("stream failure: %v, want ServiceUnavailable", err)
	}
	// Peers that did not answer may have it: 503, the client retries.
	fetchErr, streamErr = errors.New("peers down"), nil
	o = or(0)
	o.parts = o.parts[1:]
	if err := o.next(); !s3err.IsCode(err, s3err.ServiceUnavailable) {
		t.Fatalf("fetch failure: %v, want ServiceUnavailable", err)
	}
	// Every peer answered that it lacks it: the data is lost, 500.
	fetchErr = fmt.Errorf("node: fetch: %w", blob.ErrNotFound)
	o = or(0)
	o.parts = o.parts[1:]
	if err := o.next(); !s3err.IsCode(err, s3err.InternalError) {
		t.Fatalf("fetch failure: %v, want InternalError", err)
	}
	// With room: fetched and kept.
	fetchErr = nil
	if got, err := read(or(0)); err != nil || !bytes.Equal(got, whole) || !bs.Has(rsum) {
		t.Fatalf("with room: %d bytes, %v, kept %v", len(got), err, bs.Has(rsum))
	}
}

// TestObjectReaderRepairsCorruptBlock: a local blob whose block fails its
// checksum is never read from: the reader repairs it (from a peer, here a
// stand-in) and reads on from the good copy, for the whole object and for
// ranges; when the repair fails, the read fails and no byte of the bad
// block was returned.
func TestObjectReaderRepairsCorruptBlock(t *testing.T) {
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*blob.BlockSize/16+100)
	ref, err := bs.Put(bytes.NewReader(data), -1)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := func(off int64) {
		f, err := os.OpenFile(bs.Path(ref.ID), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte{'X'}, off); err != nil {
			t.Fatal(err)
		}
	}
	var repairErr error
	repairs := 0
	repair := func(sum [32]byte, size int64) error {
		repairs++
		if repairErr != nil {
			return repairErr
		}
		w, err := bs.CreateCopyOf(blob.Ref{ID: sum, Size: size, CRC32C: crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))})
		if err != nil {
			return err
		}
		w.Write(data)
		_, err = w.Commit()
		return err
	}
	viaWriteTo := false
	read := func(start, length int64) ([]byte, error) {
		o := &objectReader{blobs: bs, repair: repair, log: slog.New(slog.DiscardHandler), remaining: length,
			parts: []partRange{{sum: ref.ID, size: ref.Size, off: start}}}
		if err := o.next(); err != nil {
			return nil, err
		}
		defer o.Close()
		if viaWriteTo { // as fasthttp sends a body stream
			var buf bytes.Buffer
			_, err := o.WriteTo(&buf)
			return buf.Bytes(), err
		}
		return io.ReadAll(o)
	}
	for _, viaWriteTo = range []bool{false, true} {
		repairErr = nil
		repair(ref.ID, ref.Size)
		for _, c := range []struct{ bad, start, length int64 }{
			{10, 0, ref.Size},                           // first block: before the status line
			{2*blob.BlockSize + 7, 0, ref.Size},         // mid-stream
			{blob.BlockSize + 5, blob.BlockSize - 3, 9}, // a range across into it
		} {
			corrupt(c.bad)
			repairs = 0
			got, err := read(c.start, c.length)
			if err != nil || !bytes.Equal(got, data[c.start:c.start+c.length]) || repairs != 1 {
				t.Fatalf("bad byte at %d, read %d+%d: %d bytes, %v, %d repairs", c.bad, c.start, c.length, len(got), err, repairs)
			}
			if err := bs.Verify(ref.ID); err != nil {
				t.Fatal(err)
			}
		}
		// A range that does not touch the bad block needs no repair.
		corrupt(5)
		repairs = 0
		if got, err := read(blob.BlockSize+1, 100); err != nil || !bytes.Equal(got, data[blob.BlockSize+1:][:100]) || repairs != 0 {
			t.Fatalf("range past the bad block: %v, %d repairs", err, repairs)
		}
		repairErr = blob.ErrNotFound
		if _, err := read(0, ref.Size); err == nil || repairs != 1 {
			t.Fatalf("unrepairable first block: %v", err)
		}
		// Bad block later: the good blocks before it, then an error.
		repairErr = nil
		repair(ref.ID, ref.Size)
		repairErr = blob.ErrNotFound
		corrupt(blob.BlockSize + 1)
		got, err := read(0, ref.Size)
		if err == nil || len(got) != blob.BlockSize || !bytes.Equal(got, data[:blob.BlockSize]) {
			t.Fatalf("unrepairable block 1: %d bytes, %v", len(got), err)
		}
	}
}

// TestObjectReaderRefusesWrongSize: a local blob whose size is not the
// one its object's metadata gives (a copy a faulty peer sent, whose own
// checksums vouch for it) is treated as corrupt: repaired, and when the
// repair does not mend it the read fails instead of sending its bytes.
func TestObjectReaderRefusesWrongSize(t *testing.T) {
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("sized "), 500)
	ref, err := bs.Put(bytes.NewReader(data), -1)
	if err != nil {
		t.Fatal(err)
	}
	repairs := 0
	o := &objectReader{blobs: bs, log: slog.New(slog.DiscardHandler), remaining: ref.Size + 1,
		repair: func([32]byte, int64) error { repairs++; return nil },
		parts:  []partRange{{sum: ref.ID, size: ref.Size + 1}}}
	err = o.next()
	if !s3err.IsCode(err, s3err.InternalError) || repairs != 1 {
		t.Fatalf("a blob one byte short of its metadata: %v after %d repairs, want InternalError after one", err, repairs)
	}
	o = &objectReader{blobs: bs, log: slog.New(slog.DiscardHandler), remaining: ref.Size,
		parts: []partRange{{sum: ref.ID, size: ref.Size}}}
	if err := o.next(); err != nil {
		t.Fatalf("the right size: %v", err)
	}
	o.Close()
}
