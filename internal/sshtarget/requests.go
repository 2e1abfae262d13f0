package sshtarget

import (
	"syscall"

	gossh "golang.org/x/crypto/ssh"
)

// maxWindow bounds window sizes: the kernel's winsize fields are 16-bit,
// and a hostile client may send anything.
const maxWindow = 10000

// ptyRequest is the payload of a "pty-req" channel request (RFC 4254 6.2).
type ptyRequest struct {
	Term          string
	Cols, Rows    uint32
	Width, Height uint32
	Modes         string
}

// windowChange is the payload of a "window-change" request (RFC 4254 6.7).
type windowChange struct {
	Cols, Rows    uint32
	Width, Height uint32
}

// clampWindow returns a size the kernel accepts: 1..maxWindow, 0 stays 0
// only when both are 0 (unknown size).
func clampWindow(cols, rows uint32) (uint16, uint16) {
	c := func(v uint32) uint16 {
		if v > maxWindow {
			return maxWindow
		}
		return uint16(v)
	}
	return c(cols), c(rows)
}

// signals maps SSH signal names (RFC 4254 6.10) to Unix signals.
var signals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE,
	"HUP": syscall.SIGHUP, "ILL": syscall.SIGILL, "INT": syscall.SIGINT,
	"KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

// signalName returns the SSH name of sig, or "" when SSH has none.
func signalName(sig syscall.Signal) string {
	for name, s := range signals {
		if s == sig {
			return name
		}
	}
	return ""
}

// exitStatusMsg is the payload of "exit-status".
type exitStatusMsg struct{ Status uint32 }

// exitSignalMsg is the payload of "exit-signal".
type exitSignalMsg struct {
	Signal     string
	CoreDumped bool
	Error      string
	Lang       string
}

func marshalExitStatus(code int) []byte {
	return gossh.Marshal(&exitStatusMsg{Status: uint32(code)})
}

func marshalExitSignal(name string, core bool) []byte {
	return gossh.Marshal(&exitSignalMsg{Signal: name, CoreDumped: core})
}
