//go:build !linux

package blob

import (
	"errors"
	"os"
)

// errNoDirect: direct I/O is used on Linux only.
var errNoDirect = errors.New("blob: no direct I/O here")

// setDirect: direct I/O is used on Linux only.
func setDirect(*os.File, bool) error { return errNoDirect }

func isEINVAL(error) bool { return false }
