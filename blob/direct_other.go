//go:build !linux

package blob

import "os"

// setDirect: direct I/O is used on Linux only.
func setDirect(*os.File, bool) error { return errNoDirect }

func isEINVAL(error) bool { return false }
