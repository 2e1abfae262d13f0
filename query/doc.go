// Package query answers the auditor's questions from the recordings stored
// in ClickHouse: which sessions happened (search), what happened in one
// (timeline with the commands typed and by whom), what it looked like
// (replay, asciicast export) and whether the record is intact (hash-chain
// verification).
//
// # Data flow
//
// ingest writes two tables: events (one row per event, ORDER BY (session,
// seq)) and sessions (one summary row per stream, replaced by version).
// A Store reads them through a clickhouse-go driver.Conn. The gateway
// exposes the package as `ssh auditor@bastion audit VERB ...` by calling
// Run with the argv and the SSH channel as stdout and stderr:
//
//	sessions [--user U] [--host H] [--since T] [--until T] [--kind K] [--limit N] [--json]
//	show ID [--json]
//	play ID [--speed N] [--max-idle D]
//	export ID [--format asciicast] [--sanitize]
//	verify ID
//
// Exit status 0 is success, 1 a failure (unknown session, broken chain,
// query error, play of a session without recorded output), 2 a usage
// error, reported in one line naming the flag (--since) and what it takes. --json prints one JSON object per line
// with snake_case field names; show --json prints a "session" record, then
// an "event" record per event (output and input with their size only: the
// bytes are in export, and input may hold secrets) and a "command" record
// after the event that completed each command.
//
// # Duplicates
//
// Kafka delivers at least once and ReplacingMergeTree removes duplicates
// only when it merges, some time later. Every read deduplicates. Events
// keep one row per seq — the one with the smallest hash, and among copies
// with the same hash one whose content recomputes to it, so the choice
// among conflicting copies is repeatable; this is done in Go after a plain
// read, because on 18.16 "ORDER BY seq LIMIT 1 BY seq" makes the server
// sort the whole session and costs several times the read. Sessions are
// collapsed to their highest version: a search first picks the newest
// matching ids from the raw rows (filters use only columns that never
// change over a session's versions, so this is exact) with the bounds of
// their start times, then reads those ids within those days only and
// keeps each one's highest version (LIMIT 1 BY). Verify also reports a seq stored as two copies that
// differ in any field or in the stored hash — a redelivery repeats the
// same row, so a conflict means tampering or a writer bug.
//
// # Verification
//
// Verify checks the chain from seq 0 (event.Verify: no gap, no reorder,
// each prev hash links to its predecessor, each hash matches the content)
// and then the tail against the summary row: fewer events than
// sessions.last_seq means the end was lost, and the stored hash at
// last_seq must equal sessions.last_hash. A session without a summary row
// or still open is verified as far as it goes, and says so.
//
// # Commands are best effort
//
// Commands replays each typist's input through a small emacs-style line
// editor (insert, Backspace, Ctrl-U/W/K/A/E/B/F/D, arrows, Home/End,
// Alt-B/F/D, bracketed paste). It cannot know what the shell did with
// history (up/down, Ctrl-R), Tab completion or yank: such lines are marked
// Approximate. Typists get separate line buffers; Enter completes the line
// of whoever pressed it, and when several typists had pending text the
// shell saw one merged line, so the result is attributed to the one who
// pressed Enter, lists every typist and is Approximate. Ctrl-C discards
// every pending buffer. Exec sessions yield the exec event's command.
//
// # Replay safety
//
// A recording may contain bytes meant to attack the auditor's terminal.
// Play passes output through a termsafe.Sanitizer, which keeps drawing (text,
// colours, cursor movement, erase, scroll regions, alternate screen) and
// removes whatever makes the terminal answer, store or act outside the
// screen: OSC (titles, clipboard, hyperlinks), DCS, SOS/PM/APC, status and
// attribute reports, window operations, mouse/focus/paste modes, C0
// controls other than CR/LF/TAB/BS, and C1 controls in either 8-bit or
// UTF-8 form. It is stateful across chunks and bounded in memory, and
// after a replay it restores the terminal's modes. Text listings escape
// control and bidirectional-formatting characters in recorded strings, and
// JSON output escapes C1 controls, so nothing printed by Run can drive the
// terminal it is printed on.
package query
