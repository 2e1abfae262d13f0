package sshtest

import (
	"os"
	"testing"
)

// Paths of the OpenSSH programs.
const (
	SSHPath  = "/usr/bin/ssh"
	SSHDPath = "/usr/sbin/sshd"
)

// requireBinary skips tb when path is not an executable, or fails it under
// CI=true.
func requireBinary(tb testing.TB, path, pkg string) {
	tb.Helper()
	fi, err := os.Stat(path)
	if err == nil && fi.Mode()&0o111 != 0 {
		return
	}
	msg := path + " not found; install " + pkg + " (apt-get install " + pkg + ")"
	if os.Getenv("CI") == "true" {
		tb.Fatal("sshtest: " + msg)
	}
	tb.Skip("sshtest: " + msg)
}

// RequireSSH skips tb without the OpenSSH client (fails under CI=true).
func RequireSSH(tb testing.TB) { tb.Helper(); requireBinary(tb, SSHPath, "openssh-client") }

// RequireSSHD skips tb without the OpenSSH server (fails under CI=true).
func RequireSSHD(tb testing.TB) { tb.Helper(); requireBinary(tb, SSHDPath, "openssh-server") }
