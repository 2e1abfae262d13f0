// Package cmdline reconstructs the command lines of a recorded session
// from its input events: what `audit show` prints and what ingest stores
// in the commands table for `audit search`. It is pure (events in,
// commands out, no I/O), so both always agree.
//
// A Reconstructor takes a session's events one by one, in seq order, and
// yields each command as its Enter (or exec event) arrives; Commands does
// the same for a whole slice. The reconstruction is best effort: it
// replays each typist's keystrokes through a small readline-like editor
// and marks Approximate what the input alone cannot tell (history, Tab
// completion, merged typing).
package cmdline
