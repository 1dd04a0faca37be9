package blob

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFormat1 writes data as a blob of format 1, by hand: the file
// dir/sha256/ab/<hex> (twoLevel: dir/sha256/ab/cd/<hex>) holding the bare
// content, no trailer, no FORMAT file.
func writeFormat1(t *testing.T, dir string, name [32]byte, data []byte, twoLevel bool) string {
	t.Helper()
	h := hex.EncodeToString(name[:])
	d := filepath.Join(dir, oldObjsName, h[:2])
	if twoLevel {
		d = filepath.Join(d, h[2:4])
	}
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(d, h)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMigrateFormat1: a data dir of the previous layout (sha256/, both
// fan-outs, no block checksums) is migrated on Open: every blob reads back
// verified, one whose content does not match its name is quarantined (not
// given checksums that would vouch for it), the old tree is gone, the
// format is recorded, and a second Open has nothing to do.
func TestMigrateFormat1(t *testing.T) {
	dir := t.TempDir()
	contents := map[[32]byte][]byte{}
	for i, n := range []int{0, 10, 2*BlockSize + 3, 4096} {
		data := randBytes(n, uint64(i)+100)
		sum := sha256.Sum256(data)
		contents[sum] = data
		writeFormat1(t, dir, sum, data, i%2 == 1)
	}
	bad := sha256.Sum256([]byte("what it was"))
	writeFormat1(t, dir, bad, []byte("what it became"), false)

	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := s.Migrated()
	if m.From != 1 || m.Blobs != len(contents) || len(m.Quarantined) != 1 || m.Quarantined[0] != hex.EncodeToString(bad[:]) {
		t.Fatalf("migration %+v, want from 1, %d blobs, %x quarantined", m, len(contents), bad)
	}
	for sum, data := range contents {
		if got := readBlob(t, s, sum); !bytes.Equal(got, data) {
			t.Fatalf("%x: content differs after the migration", sum[:4])
		}
		if err := s.Verify(sum); err != nil {
			t.Fatal(err)
		}
	}
	if s.Has(bad) {
		t.Fatal("the corrupt blob was migrated")
	}
	if b, err := os.ReadFile(filepath.Join(dir, quarantineName, hex.EncodeToString(bad[:]))); err != nil || string(b) != "what it became" {
		t.Fatalf("quarantined file: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, oldObjsName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("sha256/ still there: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, formatName)); err != nil || string(b) != "s4 blob store format 3\n" {
		t.Fatalf("FORMAT: %q, %v", b, err)
	}
	tmpEmpty(t, s)

	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := s2.Migrated(); m.From != 3 || m.Blobs != 0 {
		t.Fatalf("second Open: %+v", m)
	}
	n := 0
	s2.Walk(func([32]byte, int64) error { n++; return nil })
	if n != len(contents) {
		t.Fatalf("Walk: %d blobs, want %d", n, len(contents))
	}
}

// TestFormat2Upgrade: a store of format 2 (blobs named by their SHA-256,
// with block trailers) opens as it is: its names are its blobs' IDs, every
// blob reads back, nothing is rewritten, and FORMAT says 3 afterwards.
func TestFormat2Upgrade(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a blob of format 2")
	ref, err := commitCopy(t, s, Ref{ID: sha256.Sum256(data), Size: int64(len(data)), CRC32C: crc32.Checksum(data, castagnoli)}, data)
	if err != nil {
		t.Fatal(err)
	}
	_, p := s.paths(ref.ID)
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, formatName), []byte("s4 blob store format 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := s.Migrated(); m.From != 2 || m.Blobs != 0 {
		t.Fatalf("Migrated = %+v, want from 2 with nothing rewritten", m)
	}
	if got := readBlob(t, s, sha256.Sum256(data)); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if after, err := os.Stat(p); err != nil || !os.SameFile(before, after) {
		t.Fatalf("the blob file was rewritten: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, formatName)); err != nil || string(b) != "s4 blob store format 3\n" {
		t.Fatalf("FORMAT: %q, %v", b, err)
	}
}

// TestMigrateResumes: a migration cut by a crash (a blob in both places,
// the format not recorded yet) finishes on the next Open.
func TestMigrateResumes(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("migrated before the crash")
	ref, err := s.Put(bytes.NewReader(data), -1)
	if err != nil {
		t.Fatal(err)
	}
	old := writeFormat1(t, dir, ref.ID, data, false)
	os.Remove(filepath.Join(dir, formatName))
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old copy still there: %v", err)
	}
	if got := readBlob(t, s, ref.ID); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if v, _ := readFormat(dir); v != FormatVersion {
		t.Fatalf("format %d", v)
	}
}

// TestRefuseUnknownFormat: a store of a newer format, or with a FORMAT
// file this program did not write, is refused with a message that says
// what to do, and nothing is changed.
func TestRefuseUnknownFormat(t *testing.T) {
	for _, c := range []struct{ content, want string }{
		{"s4 blob store format 4\n", "run the newer S4"},
		{"hello\n", "does not hold a format version"},
	} {
		dir := t.TempDir()
		data := []byte("old blob")
		p := writeFormat1(t, dir, sha256.Sum256(data), data, false)
		if err := os.WriteFile(filepath.Join(dir, formatName), []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("FORMAT %q: Open: %v, want %q", c.content, err, c.want)
		}
		if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("the old blob was changed: %v", err)
		}
	}
}

func FuzzParseFormat(f *testing.F) {
	f.Add([]byte("s4 blob store format 2\n"))
	f.Add([]byte("s4 blob store format 02\n"))
	f.Add([]byte("s4 blob store format -1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := parseFormat(b)
		if ok && (v <= 0 || string(b) != formatPrefix+itoa(v)+"\n") {
			t.Fatalf("accepted %q as %d", b, v)
		}
	})
}

func itoa(v int) string { return fmtInt(v) }

func fmtInt(v int) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

// TestMigrationLogs: a migration says when it starts and when it is done.
func TestMigrationLogs(t *testing.T) {
	dir := t.TempDir()
	data := []byte("old")
	writeFormat1(t, dir, sha256.Sum256(data), data, false)
	var buf bytes.Buffer
	if _, err := OpenWith(dir, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"blob store: migrating blobs to the current format", "blob store: migration done", "blobs=1"} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("log %q lacks %q", buf.String(), want)
		}
	}
}

// TestCopyOfFormat2Blob: a copy sent without a CRC32C (by a node of format
// 2) is checked by the SHA-256 that names it: the right content commits,
// with the CRC32C it has; other content, or a shorter copy, is refused as
// corrupt and leaves nothing behind.
func TestCopyOfFormat2Blob(t *testing.T) {
	s := openStore(t)
	data := []byte("a blob named by its SHA-256 on a node of format 2")
	want := Ref{ID: sha256.Sum256(data), Size: int64(len(data)), NoCRC: true}
	for name, body := range map[string][]byte{"other content": []byte("other content of the same length as the blob, or so"), "short": data[:10]} {
		if _, err := commitCopy(t, s, Ref{ID: want.ID, Size: int64(len(body)), NoCRC: true}, body); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: Commit = %v, want ErrCorrupt", name, err)
		}
		if s.Has(want.ID) {
			t.Fatalf("%s: stored", name)
		}
	}
	ref, err := commitCopy(t, s, want, data)
	if err != nil {
		t.Fatal(err)
	}
	if ref.NoCRC || ref.CRC32C != crc32.Checksum(data, castagnoli) || ref.ID != want.ID {
		t.Fatalf("ref %+v", ref)
	}
	if got := readBlob(t, s, want.ID); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	tmpEmpty(t, s)
}
