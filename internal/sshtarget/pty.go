package sshtarget

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// pollable returns a copy of the pty master f that uses Go's poller, and
// closes f. creack/pty leaves the master in blocking mode (it calls Fd),
// where Close cannot interrupt a pending Read: a background job holding
// the terminal would then keep the output copier alive forever.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	var dup int
	var err error
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("sshtarget: pty: %w", err)
	}
	cerr := sc.Control(func(fd uintptr) { dup, err = unix.Dup(int(fd)) })
	if cerr != nil {
		return nil, fmt.Errorf("sshtarget: pty: %w", cerr)
	}
	if err != nil {
		return nil, fmt.Errorf("sshtarget: pty: %w", err)
	}
	unix.CloseOnExec(dup)
	if err := syscall.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return nil, fmt.Errorf("sshtarget: pty: %w", err)
	}
	return os.NewFile(uintptr(dup), f.Name()), nil // non-blocking fd: registered with the poller
}

// setWinsize sets the terminal size of the pty master f without calling
// f.Fd (which would race with Close and switch f to blocking mode).
func setWinsize(f *os.File, cols, rows uint16) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ioctlErr error
	if err := sc.Control(func(fd uintptr) {
		ioctlErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows})
	}); err != nil {
		return err
	}
	return ioctlErr
}
