package event

import "strconv"

// Event types of the tools other than a terminal: file transfers (SFTP,
// legacy scp, rsync, git), bulk exec output, tunnels, approval windows and
// recording backpressure. Byte counts are decimal strings, hashes are 64
// lower-case hex digits of SHA-256, times are Unix nanoseconds. "up" is
// client → host, "down" is host → client.
const (
	// Transfer summarises one file or one byte stream that passed through
	// the bastion without being stored as terminal output. Recorded when
	// the handle or stream closes (or when the session ends with it
	// open). Actor: the typist (the session's user). Meta: via ("sftp",
	// "scp", "rsync", "git", "exec"), direction ("upload", "download",
	// "both"), path (may be empty for a stream), bytes_up, bytes_down,
	// sha256_up, sha256_down (of the bytes in the order they passed;
	// empty when none), started_ns, duration_ms, status ("ok", "error",
	// "incomplete"), and for SFTP handle (the host's handle, hex) and
	// error (the first failed read or write's SFTP status name); for
	// exec transfers (scp, rsync, git) program (the program run),
	// exit_status, scope ("stream": the command's whole byte stream;
	// "file": one file named by scp's headers, its path as the sender
	// named it, with mode, size (announced) and target (the command's
	// path)) and, on the stream, files (how many scp named) and stored
	// (why the rest of the stream was stored as input and output events:
	// it left the scp protocol or git's pkt-line framing, or another
	// person typed into it).
	Transfer Type = "transfer"
	// FileOp is an SFTP operation that moves no file content: remove,
	// rename, mkdir, rmdir, setstat, symlink, readlink, realpath, stat,
	// opendir and others. Actor: the typist. Meta: op, path, target
	// (rename and symlink), status (the host's answer: "ok" or the SFTP
	// status name), count (opendir: entries listed), and for op
	// "unparsable" (SFTP parsing stopped) direction and reason.
	FileOp Type = "file.op"
	// TransferData is file content kept because the policy keeps
	// contents up to a cap. Data: the bytes. Meta: path, direction,
	// offset, handle.
	TransferData Type = "transfer.data"
	// OutputSummary replaces the bytes of an exec stream past the
	// policy's cap: they were forwarded but not stored. Data: the last
	// bytes of the stream (at most 1 KiB); the first bytes are in the
	// output events before it. Meta: stream ("stdout", "stderr",
	// "stdin"), bytes (the stream's total), stored (bytes kept as
	// output/input events), sha256 (of the whole stream), cap.
	OutputSummary Type = "output.summary"
	// TunnelOpen is a port-forwarding connection the policy allowed.
	// Actor: the user. Meta: dest (host:port as requested), via (the
	// host it is reached through), orig (the client's originator
	// address), window (approval window id, if any).
	TunnelOpen Type = "tunnel.open"
	// TunnelClose ends it. Meta: dest, bytes_up, bytes_down,
	// duration_ms, reason.
	TunnelClose Type = "tunnel.close"
	// SessionThrottle is a period in which the session's output was held
	// back because the recording fell behind (spool over the session's
	// fair share): the host was not read, so its SSH window closed.
	// Recorded when the period ends. Meta: ms (how long), spool_bytes
	// (the session's spool bytes when it began), reason.
	SessionThrottle Type = "session.throttle"
)

// Approval window event types, recorded in the window's own stream (kind
// "window"). A window lets its requester reach the named hosts without a
// per-connection approval until it ends; each session opened under it
// names it in session.start meta "window".
const (
	// WindowRequest opens a window request. Actor: the requester. Meta:
	// hosts (comma-separated, or the selector), duration, reason, count
	// (approvals needed), approvers, selector (the hosts as the
	// requester named them), pending_timeout. The window's session.start
	// has kind "window" and host the comma-separated hosts; sessions
	// under it have session.start meta approval "window".
	WindowRequest Type = "window.request"
	// WindowGrant is one reviewer's approval. Actor: the reviewer. Meta:
	// key, approvals, count, until (Unix ns, once fully approved).
	WindowGrant Type = "window.grant"
	// WindowDeny ends a request a reviewer denied. Meta: reason.
	WindowDeny Type = "window.deny"
	// WindowEnd ends an approved (or pending) window: its time ran out,
	// or a reviewer, the requester or a revocation ended it. Actor: who
	// ended it (empty for time). Meta: reason, sessions (ended with it).
	WindowEnd Type = "window.end"
)

// Traffic returns the bytes of a session's traffic that e stands for, in
// (client → host) and out (host → client): the data of input and output
// events, an SFTP file's bytes (an SFTP session has no input or output
// events) and the bytes an output.summary says were forwarded but not
// stored. A session.end's bytes_in and bytes_out are the sums over its
// events; malformed counts count zero. Of an exec transfer (scp -O,
// rsync, git) the stream's bytes count (its "file" transfers are inside
// it) unless part of it was stored as input and output events (meta
// "stored"): then only those events count, and the bytes summarised
// before the switch are in the transfer's meta.
func Traffic(e *Event) (in, out int64) {
	switch e.Type {
	case Input:
		return int64(len(e.Data)), 0
	case Output:
		return 0, int64(len(e.Data))
	case Transfer:
		if e.Meta["via"] != "sftp" && (e.Meta["scope"] != "stream" || e.Meta["stored"] != "") {
			return 0, 0
		}
		return count(e.Meta["bytes_up"]), count(e.Meta["bytes_down"])
	case OutputSummary:
		n := count(e.Meta["bytes"]) - count(e.Meta["stored"])
		if n <= 0 {
			return 0, 0
		}
		if e.Meta["stream"] == "stdin" {
			return n, 0
		}
		return 0, n
	}
	return 0, 0
}

// count parses a non-negative decimal byte count, 0 when malformed.
func count(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
