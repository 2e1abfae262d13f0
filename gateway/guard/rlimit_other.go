//go:build !linux

package guard

// RaiseOpenFiles does nothing on this platform and reports no limit (0).
func RaiseOpenFiles() (uint64, error) { return 0, nil }
