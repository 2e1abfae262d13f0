// Package sshtest drives real OpenSSH programs from Go tests: the `ssh`
// client in a pseudo-terminal (what our users type) and a private `sshd`
// (a real upstream host).
//
// A Client describes one `ssh` invocation. Start runs it in a pty and the
// test talks to it like a person at a terminal:
//
//	c := &sshtest.Client{Addr: gw, User: "alice", Key: key, TTY: true, Args: []string{"demo"}}
//	c.Start(t)
//	c.Expect("demo$ ", 10*time.Second)
//	c.Send("echo hello\r")
//	c.Expect("hello", 10*time.Second)
//	c.Send("exit\r")
//	if code := c.Wait(); code != 0 { ... }
//
// Run executes a Client without a terminal and captures stdout, stderr and
// the exit status separately. StartSSHD starts `/usr/sbin/sshd -D` on a free
// port with its own host key and one authorized key. Keygen writes an
// ed25519 key pair in OpenSSH format.
//
// A missing OpenSSH binary skips the test, except under CI=true, where it
// fails: CI must never silently skip.
package sshtest
