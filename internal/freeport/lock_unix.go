//go:build unix

package freeport

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// errBusy says another holder has the port's lock.
var errBusy = errors.New("freeport: port held")

// lockPort opens the port's lock file and takes an exclusive lock on it
// without waiting. The lock lasts while the returned file stays open.
func lockPort(dir string, port int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDONLY, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			// Unreadable: not a file this package made; leave the port.
			return nil, errBusy
		}
		return nil, fmt.Errorf("freeport: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errBusy
		}
		return nil, fmt.Errorf("freeport: lock %d: %w", port, err)
	}
	return f, nil
}
