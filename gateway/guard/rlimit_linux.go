package guard

import (
	"fmt"
	"syscall"
)

// RaiseOpenFiles raises the process's soft limit on open files
// (RLIMIT_NOFILE) to its hard limit and returns the new soft limit:
// every connection costs a descriptor, and the soft limit is often far
// below what the machine allows.
func RaiseOpenFiles() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("guard: get open-file limit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, fmt.Errorf("guard: raise open-file limit to %d: %w", rl.Max, err)
		}
	}
	return rl.Cur, nil
}
