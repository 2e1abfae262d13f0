//go:build unix

package config

import (
	"fmt"
	"os"
	"syscall"
)

// processUID is the user foureyes runs as; tests replace it.
var processUID = uint32(os.Getuid())

// checkOwner refuses a secret file owned by someone other than the user
// foureyes runs as or root: its owner could rewrite it, e.g. point the
// bastion at a ClickHouse of their own (sshd's StrictModes).
func checkOwner(fi os.FileInfo, path string) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == processUID || st.Uid == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s is owned by uid %d, not by the user foureyes runs as (uid %d) or root; run: chown %d %s",
		ErrExposedSecret, path, st.Uid, processUID, processUID, path)
}
