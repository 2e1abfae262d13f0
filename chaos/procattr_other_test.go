//go:build unix && !linux

package chaos

import "syscall"

// childAttr puts a child in its own process group. Without Pdeathsig a
// killed test process can leave children behind; t.Cleanup still kills them
// when the test ends normally.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// clientAttr is empty where there is no Pdeathsig.
func clientAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{}
}
