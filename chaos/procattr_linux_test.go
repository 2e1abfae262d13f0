package chaos

import "syscall"

// childAttr puts a child in its own process group and has the kernel kill
// it when the test process dies, even by SIGKILL.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// clientAttr has the kernel kill an ssh client when the test process dies.
// It sets no process group, so that a pty can make the client a session
// leader.
func clientAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
