// Package transfer tells file transfers apart from ordinary commands and
// summarises the byte streams the bastion forwards without storing them.
// It is pure: no SSH, no recorder; the gateway feeds it the bytes.
//
// # Which commands are transfers
//
// Stock tools run a fixed program on the host through the exec request:
// legacy scp ("scp -O": `scp -t PATH` to upload, `scp -f PATH` to
// download), rsync (`rsync --server [--sender] FLAGS . PATH`) and git
// (`git-upload-pack '/srv/repo.git'`, git-receive-pack,
// git-upload-archive). Classify recognises exactly these invocations.
// Anything a shell could run besides the program — `;`, `&&`, `|`,
// `$(…)`, backquotes, redirections, newlines, double quotes, variables —
// makes the line an ordinary command, recorded with all its input: a
// command must not become unrecorded by looking like a transfer
// (`scp -t x; bash`). The rule is a whitelist of characters and words,
// not a list of dangerous ones: what it does not know is not a transfer.
//
// # What is kept
//
// A transfer's streams are summarised by Meter (bytes and SHA-256 of the
// bytes in the order they passed, each way) into one event.Transfer. For
// scp and rsync the hash is of the protocol stream, not of a file. An
// ordinary command's output streams are stored up to a cap; Capped
// decides which bytes are stored and keeps the whole stream's size, hash
// and last KiB for one event.OutputSummary.
package transfer
