package blob

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FormatVersion is the version of the on-disk layout this package writes
// and reads (see "Format versions" in doc.go).
const FormatVersion = 3

const (
	formatName     = "FORMAT"
	formatPrefix   = "s4 blob store format "
	oldObjsName    = "sha256" // format 1: dir/sha256/ab/<hex>, no trailer
	quarantineName = "corrupt"
)

// Migration reports what Open did to a data dir of an earlier format.
type Migration struct {
	From        int      // the format found (0: none, a new store)
	Blobs       int      // blobs rewritten with block checksums
	Bytes       int64    // their content bytes
	Quarantined []string // blobs whose content did not hash to their name, moved to dir/corrupt
}

// Migrated returns what Open found and migrated.
func (s *Store) Migrated() Migration { return s.migrated }

// readFormat returns the version in dir/FORMAT, 0 if there is none.
func readFormat(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, formatName))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("blob: open: %w", err)
	}
	v, ok := parseFormat(b)
	if !ok {
		return 0, fmt.Errorf("blob: open: %s does not hold a format version (%q); it is not a file this program wrote: restore it or remove it if the directory holds no data", filepath.Join(dir, formatName), truncate(b, 64))
	}
	return v, nil
}

// parseFormat parses the content of a FORMAT file.
func parseFormat(b []byte) (int, bool) {
	s, ok := strings.CutPrefix(string(b), formatPrefix)
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "\n")
	if !ok || len(s) == 0 || len(s) > 6 {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 || strconv.Itoa(v) != s {
		return 0, false
	}
	return v, true
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// writeFormat records FormatVersion in dir/FORMAT (temp file, fsync,
// rename, fsync of dir).
func (s *Store) writeFormat() error {
	f, err := os.CreateTemp(s.tmp, "format-*")
	if err != nil {
		return err
	}
	name := f.Name()
	defer os.Remove(name)
	_, err = fmt.Fprintf(f, "%s%d\n", formatPrefix, FormatVersion)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(name, filepath.Join(s.dir, formatName)); err != nil {
		return err
	}
	return syncDir(s.dir)
}

// checkFormat refuses a store of a newer format, and migrates blobs of
// format 1 (dir/sha256/, both its one- and two-level fan-outs) into
// dir/blocks/, then records the format. It runs in Open, after the
// fan-out directories exist.
func (s *Store) checkFormat() error {
	v, err := readFormat(s.dir)
	if err != nil {
		return err
	}
	if v > FormatVersion {
		return fmt.Errorf("blob: open: %s holds blob store format %d, written by a newer S4; this S4 reads format %d: run the newer S4 (nothing was changed)", s.dir, v, FormatVersion)
	}
	s.migrated.From = v
	old := filepath.Join(s.dir, oldObjsName)
	if _, err := os.Stat(old); err == nil {
		if s.migrated.From == 0 {
			s.migrated.From = 1
		}
		if err := s.migrateFormat1(old); err != nil {
			return fmt.Errorf("blob: open: migrating %s to format %d (block checksums): %w; nothing was lost: blobs not migrated yet are still in %s; fix the cause (free space: as much as the largest blob) and start again", old, FormatVersion, err, old)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: open: %w", err)
	}
	if v != FormatVersion {
		if err := s.writeFormat(); err != nil {
			return fmt.Errorf("blob: open: recording the format: %w", err)
		}
	}
	return nil
}

// migrateFormat1 rewrites every blob under old with its block trailer into
// the current fan-out, one at a time: hashed (SHA-256, so that no corrupt
// content gets checksums that would vouch for it), written to a temp file
// with its trailer, fsynced, renamed into place, its directory fsynced,
// and only then the old file removed. A crash leaves every blob in one of
// the two places (or both), and the next Open goes on. A blob whose
// content does not hash to its name is moved to dir/corrupt (the node's
// catch-up fetches it from a peer). Emptied directories are removed.
func (s *Store) migrateFormat1(old string) error {
	start := time.Now()
	s.log.Info("blob store: migrating blobs to the current format (block checksums); this reads every blob once", "dir", old, "to", FormatVersion)
	next := start.Add(10 * time.Second)
	defer func() {
		s.log.Info("blob store: migration done", "blobs", s.migrated.Blobs, "bytes", s.migrated.Bytes, "quarantined", len(s.migrated.Quarantined), "took", time.Since(start).Round(time.Millisecond))
	}()
	var dirs []string
	err := filepath.WalkDir(old, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		name := d.Name()
		if !d.Type().IsRegular() || !isHex(name, 64) {
			return nil
		}
		var sum [32]byte
		hex.Decode(sum[:], []byte(name))
		if now := time.Now(); now.After(next) {
			next = now.Add(10 * time.Second)
			s.log.Info("blob store: migrating", "blobs", s.migrated.Blobs, "bytes", s.migrated.Bytes, "elapsed", now.Sub(start).Round(time.Second))
		}
		return s.migrateOne(p, sum)
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i]) // only if empty; anything else stays
	}
	return syncDir(s.dir)
}

func (s *Store) migrateOne(p string, sum [32]byte) error {
	in, err := os.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	if s.Has(sum) {
		// Migrated before a crash (or written by this format since).
		in.Close()
		return removeSynced(p)
	}
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	// A blob of format 1 is named by its SHA-256, as a copy from a node
	// of format 2 is: CreateCopyOf checks it by that name.
	w, err := s.CreateCopyOf(Ref{ID: sum, Size: fi.Size(), NoCRC: true})
	if err != nil {
		return err
	}
	defer w.Abort()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	if _, err := io.CopyBuffer(w, struct{ io.Reader }{in}, *bp); err != nil {
		return err
	}
	ref, err := w.Commit()
	if errors.Is(err, ErrCorrupt) {
		q := filepath.Join(s.dir, quarantineName)
		if err := os.Mkdir(q, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := os.Rename(p, filepath.Join(q, hex.EncodeToString(sum[:]))); err != nil {
			return err
		}
		s.migrated.Quarantined = append(s.migrated.Quarantined, hex.EncodeToString(sum[:]))
		return syncDir(q)
	}
	if err != nil {
		return err
	}
	s.migrated.Blobs++
	s.migrated.Bytes += ref.Size
	in.Close()
	return removeSynced(p)
}

func removeSynced(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(p))
}
