// Package testfs gives tests a small file system of their own: a tmpfs
// mounted for the test (so the tests that use it need root; they are
// skipped otherwise) and filler files that take its space, for the tests
// of a full disk; and FlipBit, which damages a file in place, for the
// tests of corrupt data.
package testfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/s4/s4/disk"
)

// MiB is a mebibyte.
const MiB = 1 << 20

// Mount mounts a tmpfs of size bytes on a new directory and returns it; it
// is unmounted when the test ends (after cleanups registered later, such
// as closing the nodes that use it). Without root, or where mounting
// fails, the test is skipped.
func Mount(t testing.TB, size int64) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux to mount a tmpfs for a small data dir")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs for a small data dir (run the tests as root to cover full disks)")
	}
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): the full-disk tests need it", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Logf("unmount %s: %v; detaching it", dir, err)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// Filler is a file that takes space on a file system.
type Filler struct {
	t    testing.TB
	path string
}

var fillers atomic.Int64

// Fill writes a new filler file in dir until the file system has at most
// free bytes available (free 0: until a write fails with ENOSPC).
func Fill(t testing.TB, dir string, free uint64) *Filler {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("filler-%d", fillers.Add(1)))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := bytes.Repeat([]byte{0xf1}, MiB)
	for {
		u, err := disk.Statfs(dir)
		if err != nil {
			t.Fatal(err)
		}
		if free > 0 && u.Free <= free {
			break
		}
		n := uint64(len(buf))
		if free > 0 {
			n = min(n, u.Free-free)
		}
		if _, err := f.Write(buf[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) && free == 0 {
				break
			}
			t.Fatalf("filling %s: %v", dir, err)
		}
	}
	u, _ := disk.Statfs(dir)
	t.Logf("filled %s: %s available of %s", dir, disk.FormatBytes(u.Free), disk.FormatBytes(u.Total))
	return &Filler{t: t, path: path}
}

// Remove deletes the filler, giving its space back.
func (f *Filler) Remove() {
	f.t.Helper()
	if err := os.Remove(f.path); err != nil {
		f.t.Fatal(err)
	}
}

// FlipBit flips the lowest bit of the byte at off in the file at path, in
// place: the damage a checksum must catch.
func FlipBit(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 1
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}
