//go:build !unix

package recorder

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir creates dir/LOCK. Without flock the caller must make sure only
// one process uses the spool.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("recorder: spool lock: %w", err)
	}
	return f, nil
}
