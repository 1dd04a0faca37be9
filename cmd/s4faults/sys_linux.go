package main

import (
	"fmt"
	"os"
	"syscall"
)

// childAttr puts a node in its own process group (a Ctrl-C reaches the
// driver, which stops the nodes itself) and kills it if the driver dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// canMount reports whether the driver may mount a tmpfs (it runs as root).
func canMount() bool { return os.Geteuid() == 0 }

// mountTmpfs mounts a tmpfs of size bytes on dir.
func mountTmpfs(dir string, size int64) error {
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// unmount unmounts dir, lazily if it is still busy.
func unmount(dir string) error {
	if err := syscall.Unmount(dir, 0); err != nil {
		return syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	return nil
}
