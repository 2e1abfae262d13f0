package event

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Version is the schema version written into every new event. Readers accept
// every version they know; the canonical encoding of a version never changes.
const Version = 1

// Type names what happened. Values are stable strings stored in Kafka and
// ClickHouse; new types may be added, existing ones are never renamed.
type Type string

// Event types of a recorded session stream.
const (
	// SessionStart opens a stream. Meta: user, host, login, remote, gateway,
	// kind ("shell", "exec", "audit", "gateway"), term, cols, rows, key (fingerprint).
	SessionStart Type = "session.start"
	// Output is a chunk of bytes the host (or the gateway) sent to the
	// participants' terminals. Data holds the bytes.
	Output Type = "output"
	// Input is a chunk of bytes typed by Actor. Data holds the bytes.
	Input Type = "input"
	// Resize is a window size change. Meta: cols, rows.
	Resize Type = "resize"
	// Exec is the command of a non-interactive session. Data holds the command.
	Exec Type = "exec"
	// Signal is a signal delivered to the remote command. Meta: signal.
	Signal Type = "signal"
	// SessionEnd closes a stream. Meta: exit_status, duration_ms, bytes_in,
	// bytes_out, interrupted ("true" when synthesized after a crash), plus
	// the start fields (user, host, login, started_ns) so that a summary row
	// can be built from the end event alone.
	SessionEnd Type = "session.end"

	// AuthFailure is a refused login attempt. Meta: user, key (fingerprint),
	// method, remote, reason.
	AuthFailure Type = "auth.failure"
	// AccessDenied is a refused request by an authenticated user (unknown or
	// forbidden host, audit without the role). Meta: user, host, reason.
	AccessDenied Type = "access.denied"
	// ForwardDenied is a refused port, agent or X11 forwarding request.
	// Meta: user, kind, detail, and for a refused tunnel (direct-tcpip)
	// host (named in the user name) and reason.
	ForwardDenied Type = "forward.denied"
	// HostKeyMismatch is a refused upstream connection because the host key
	// differed from the pinned one. Meta: host, want, got.
	HostKeyMismatch Type = "hostkey.mismatch"
	// AuditQuery is an auditor command. Data holds the command line.
	AuditQuery Type = "audit.query"
	// RecordingFailed says that a session's recording failed (spool full,
	// write or fsync error), in the gateway's own stream, written as soon
	// as that stream can record again. Meta: session, host, user, policy
	// ("strict": the session was ended; "best_effort": it went on
	// unrecorded), reason, lost_from_seq (the first seq of the session
	// that was not recorded; its session.end takes it), state
	// ("continuing" while a best-effort session runs on, "ended" with
	// final counts), bytes_in_lost and bytes_out_lost (bytes that passed
	// to or from the host after the failure, not recorded),
	// bytes_in_forwarded and bytes_out_forwarded (all bytes of the
	// session; minus session.end's bytes_in/bytes_out gives exactly what
	// is missing), command (exec sessions).
	RecordingFailed Type = "recording.failed"
	// SpoolExpired says that the gateway's spool dropped events Kafka did
	// not take within their retention class, in the gateway's own stream.
	// Meta: sessions (count), events, bytes, oldest and newest (RFC 3339
	// times of the dropped events), classes (comma-separated), reason,
	// session_ids (comma-separated, at most 100; session_ids_truncated
	// "true" when there were more).
	SpoolExpired Type = "spool.expired"
	// ConfigReload is a configuration reload, in the gateway's own
	// stream; Actor is who asked ("SIGHUP" for the signal). Meta: result
	// ("applied" or "refused"), error (refused), changes (what differs,
	// "; "-separated, e.g. "users removed: bob"), not_applied (sections
	// that need a restart), revoked (sessions ended by it).
	ConfigReload Type = "config.reload"

	// ChainSeal signs an earlier point of its own stream (see sign.go),
	// written asynchronously every N events or T seconds. Meta: seq and
	// hash (the point signed), key (KeyID), sig (base64 Ed25519).
	ChainSeal Type = "chain.seal"
	// StreamStarted, in the gateway's own stream, records that a stream
	// of this gateway started. Meta: session, kind, user, host, class,
	// retention_days (so that a claim that retention removed it can be
	// checked).
	StreamStarted Type = "stream.started"
	// StreamEnded, in the gateway's own stream, records a stream's end.
	// Meta: session, last_seq and last_hash (its session.end).
	StreamEnded Type = "stream.ended"
)

// Four-eyes event types, recorded in the stream of the session under
// review. Actor is the reviewer for approvals, denials, joins, leaves and
// terminations, and the requester for the request and its cancellation.
const (
	// ApprovalRequest opens a four-eyes session: nothing reached the host
	// yet. Actor: the requester. Meta: host, login, reason, count
	// (approvals needed), approvers (comma-separated eligible users),
	// pending_timeout, command (exec only).
	ApprovalRequest Type = "approval.request"
	// ApprovalGrant is one reviewer's approval. Meta: key (fingerprint),
	// approvals (granted so far), count.
	ApprovalGrant Type = "approval.grant"
	// ApprovalDeny ends a pending session. Meta: reason (the reviewer's
	// note, possibly empty).
	ApprovalDeny Type = "approval.deny"
	// ApprovalExpire ends a request nobody approved in time. Meta:
	// pending_timeout.
	ApprovalExpire Type = "approval.expire"
	// ApprovalCancel ends a request its requester withdrew (Ctrl-C or
	// disconnect while pending). Meta: reason.
	ApprovalCancel Type = "approval.cancel"
	// ApprovalRefused is a join or approval attempt that policy refused
	// (self-approval, no reviewer role for the host). Actor: who tried.
	// Meta: reason, key, remote.
	ApprovalRefused Type = "approval.refused"
	// ApprovalView is a reviewer shown a pending request: recorded when
	// the request is on their screen, whether or not they then decide.
	// Actor: the reviewer. Meta: key, remote; outcome ("left without
	// deciding") on a second view event when they leave undecided.
	ApprovalView Type = "approval.view"
	// InputBlind marks a line the requester of a four-eyes session typed
	// while the host did not echo it (a password prompt, stty -echo):
	// reviewers were told its length, not its content. Recorded before
	// the input event that holds the next line's Enter. Actor: the
	// typist. Meta: chars (printable characters typed on the line).
	InputBlind Type = "input.blind"
	// ParticipantJoin is a reviewer joining. Meta: mode (observer, peer),
	// key, remote, cols, rows.
	ParticipantJoin Type = "participant.join"
	// ParticipantLeave is a reviewer leaving. Meta: mode, reason (left,
	// disconnected, session ended).
	ParticipantLeave Type = "participant.leave"
	// ParticipantLagged is a watcher too slow for the output: chunks were
	// dropped for it and it skipped ahead. Meta: dropped_bytes.
	ParticipantLagged Type = "participant.lagged"
	// SessionPause freezes the requester's input because no reviewer is
	// watching. Meta: reason, grace.
	SessionPause Type = "session.pause"
	// SessionResume unfreezes it. Actor: the reviewer who rejoined.
	SessionResume Type = "session.resume"
	// SessionTerminate ends a session on a reviewer's order (Actor) or by
	// policy (no Actor). Meta: reason.
	SessionTerminate Type = "session.terminate"
)

// HashSize is the size of a chain hash in bytes.
const HashSize = 32

// Hash is a SHA-256 chain hash.
type Hash [HashSize]byte

// String returns the lower-case hex encoding of h.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the all-zero hash that precedes seq 0.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText encodes h as hex.
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, hex.EncodedLen(HashSize))
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText decodes a hex hash.
func (h *Hash) UnmarshalText(b []byte) error {
	if hex.DecodedLen(len(b)) != HashSize {
		return fmt.Errorf("event: hash has %d hex digits, want %d", len(b), 2*HashSize)
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		return fmt.Errorf("event: hash: %w", err)
	}
	return nil
}

// ParseHash decodes the hex form of a hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := h.UnmarshalText([]byte(s))
	return h, err
}

// ParseStoredHash decodes a hash as the events tables store it: its
// HashSize bytes as they are (what ingest writes), or the 2*HashSize hex
// digits that rows ingested before 2026-12-05 hold (docs/storage.md).
// The two forms differ in length, so a value is never read both ways; any
// other length is an error.
func ParseStoredHash(s string) (Hash, error) {
	var h Hash
	if len(s) == HashSize {
		copy(h[:], s)
		return h, nil
	}
	err := h.UnmarshalText([]byte(s))
	return h, err
}

// Event is one entry of a session stream. Session and Seq identify it;
// Prev and Hash chain it to its predecessor. All fields except Hash are
// covered by the hash.
type Event struct {
	V         uint16            `json:"v"`
	Session   string            `json:"session"`
	Seq       uint64            `json:"seq"`
	Time      int64             `json:"ts"` // Unix nanoseconds
	Type      Type              `json:"type"`
	Gateway   string            `json:"gateway"`
	Actor     string            `json:"actor,omitempty"`
	Data      []byte            `json:"data,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	Class     string            `json:"class"`
	Retention uint16            `json:"retention_days"`
	Prev      Hash              `json:"prev"`
	Hash      Hash              `json:"hash"`
}

// Timestamp returns the event time.
func (e *Event) Timestamp() time.Time { return time.Unix(0, e.Time) }

// Errors returned by Decode and Validate.
var (
	ErrVersion = errors.New("event: unsupported version")
	ErrInvalid = errors.New("event: invalid event")
)

// Validate reports whether e is structurally valid: a known version, a
// session id, a type and a time.
func (e *Event) Validate() error {
	switch {
	case e.V == 0 || e.V > Version:
		return fmt.Errorf("%w %d (this build knows 1..%d)", ErrVersion, e.V, Version)
	case e.Session == "":
		return fmt.Errorf("%w: empty session id", ErrInvalid)
	case e.Type == "":
		return fmt.Errorf("%w: empty type", ErrInvalid)
	case e.Time <= 0:
		return fmt.Errorf("%w: non-positive time", ErrInvalid)
	}
	return nil
}

// ParseMeta decodes the stored form of Meta (see MetaText): JSON, or the
// binary form that keeps bytes JSON cannot.
func ParseMeta(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	if s[0] == metaBinaryTag {
		return parseBinaryMeta(s)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("event: meta: %w", err)
	}
	return m, nil
}

// sortedKeys returns the keys of m in ascending byte order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
