// Package sshtarget is a small in-process SSH server that behaves like an
// ordinary host: it is the demo target of `foureyes dev` (demo-prod,
// demo-staging) and the upstream host of the gateway's tests.
//
// A Target listens on a TCP address, presents a persisted (or generated)
// ed25519 host key and admits only the configured public keys, whatever the
// user name. A shell request starts /bin/bash --norc --noprofile (or /bin/sh)
// in Options.Dir with the prompt "NAME$ "; an exec request runs
// /bin/sh -c COMMAND; a "subsystem sftp" request runs the real
// /usr/lib/openssh/sftp-server (SFTPServer) in Options.Dir on the channel,
// without a pty, as sshd does; other subsystems are refused. With a pty (github.com/creack/pty) the process gets a
// controlling terminal whose size follows window-change requests; without
// one, stdout and stderr stay separate streams. Signals from the client are
// delivered to the process group, and the exit status (or exit signal) is
// returned to the client, always after the reply to the shell or exec
// request, as OpenSSH's sshd does: a command that exits at once must not
// look refused.
//
// Usage:
//
//	t, err := sshtarget.Start(sshtarget.Options{
//		Name:           "demo-prod",
//		HostKeyFile:    "/var/lib/foureyes/demo-prod_host_ed25519",
//		AuthorizedKeys: []gossh.PublicKey{bastionKey},
//		Dir:            "/var/lib/foureyes/demo-prod",
//	})
//	...
//	fmt.Println(t.Addr(), gossh.FingerprintSHA256(t.HostKey()))
//	defer t.Close()
package sshtarget
