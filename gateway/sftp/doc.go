// Package sftp reads the SFTP version 3 protocol (draft-ietf-secsh-filexfer-02,
// as OpenSSH speaks it) as it passes through the bastion, and turns it into
// the events an auditor needs: one file.op per operation that moves no
// content (remove, rename, mkdir, setstat, symlink, realpath, stat, a
// directory listing…) and one transfer per file handle, with the bytes and
// the SHA-256 of the content that passed each way.
//
// A Tap is a tap on the two byte streams of one SFTP session: the gateway
// calls Up with what the client sent to the host and Down with what the
// host sent back, before forwarding the same bytes unchanged. The tap
// never changes, holds or delays them; it parses as they pass. Packets may
// be split across reads in any way. File content (WRITE and DATA packets,
// up to the protocol's 256 KiB) is hashed as it streams and never
// buffered, unless the policy keeps content (Options.KeepContent); every
// other packet is kept only up to its first 32 KiB.
//
// Requests are matched to responses by id. Memory per tap is bounded:
// at most maxPending requests in flight and maxHandles open handles, and
// the names they hold within memBudget bytes. A stream that breaks the
// protocol — a length over MaxPacket, a type in the wrong direction, a
// response to no request, an id reused while in flight, a handle the host
// did not give, or more state than those bounds — stops the parsing: the
// tap emits one record carrying ErrUnparsable, the transfers of the
// handles still open end as "incomplete", and every later byte is ignored.
// What then happens to the session is the gateway's choice (it ends a
// strictly recorded one).
//
// The package does no I/O and knows nothing of SSH.
package sftp
