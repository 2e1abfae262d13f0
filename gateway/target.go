package gateway

import "strings"

// TargetSep separates the person from the target host in an SSH user
// name: `ssh alice+demo-staging@bastion` logs alice in and connects her to
// demo-staging, with the whole command line (or subsystem) for the host.
// This is how tools that cannot pass a host word on the bastion's command
// line — scp, sftp, rsync, git, Ansible, IDEs — name their target.
//
// "+" because every stock tool carries it unquoted: OpenSSH, scp and sftp
// split user@host at the last '@' and host:path at the first ':' after
// it, rsync and git pass the user through to ssh, ssh_config's User and an
// Ansible inventory's ansible_user take it verbatim, and it is neither a
// shell metacharacter nor an ssh_config token ("%"). ':' would break
// scp/rsync/git (host:path), '@' is split by some tools at the first and
// by others at the last occurrence, '%' is expanded by ssh_config.
// config refuses '+' in user and host names, so the split is unambiguous.
const TargetSep = "+"

// splitLogin splits an SSH user name into the person who logs in and
// the host they named ("" when none): "alice+demo-staging" → "alice",
// "demo-staging". Authentication, lockout and every policy decision see
// the person only.
func splitLogin(raw string) (person, target string) {
	person, target, _ = strings.Cut(raw, TargetSep)
	return person, target
}

// personOf returns the person part of an SSH user name.
func personOf(raw string) string {
	p, _ := splitLogin(raw)
	return p
}

// route returns what the session's command line asks for: the host (or
// bastion verb) and the rest. With a target in the user name the target
// is the host and the whole command line, verbatim, is for the host: no
// word of it is read as a verb or a host, and a leading "--" is the
// host's.
func (sess *clientSession) route() (first, rest string) {
	if sess.target != "" {
		return sess.target, sess.command
	}
	return parseCommand(sess.command)
}
