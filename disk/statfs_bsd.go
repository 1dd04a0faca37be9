//go:build darwin || freebsd

package disk

import "syscall"

// Statfs reads the file system holding path: its size (f_blocks) and the
// bytes available to an unprivileged process (f_bavail), in units of
// f_bsize.
func Statfs(path string) (Usage, error) {
	var s syscall.Statfs_t
	if err := syscall.Statfs(path, &s); err != nil {
		return Usage{}, err
	}
	bs := uint64(s.Bsize)
	return Usage{Total: uint64(s.Blocks) * bs, Free: uint64(s.Bavail) * bs}, nil
}
