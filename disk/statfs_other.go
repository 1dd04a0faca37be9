//go:build !linux && !darwin && !freebsd

package disk

// Statfs returns ErrUnsupported on this platform: the reserve is off.
func Statfs(string) (Usage, error) { return Usage{}, ErrUnsupported }
