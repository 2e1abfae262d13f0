// Package termsafe makes untrusted text safe for a person at a terminal.
//
// Two kinds of text reach a reviewer's or an auditor's screen, and each
// has its own tool:
//
//   - Fields — a command line, a reason, a user or host name — are shown
//     escaped so that what the reader sees is, byte for byte, what was
//     given: Quote and Text return the text as is when nothing in it could
//     deceive, else in bash's ANSI-C quoting ($'...') with every control,
//     invalid byte and invisible or reordering character written as an
//     escape. Pasting the quoted form into bash gives back the original
//     bytes. ASCIIJSON does the same for JSON output.
//   - Terminal streams — a host's output, live or replayed — pass through
//     a Sanitizer, which keeps what draws and drops what makes a terminal
//     answer, store or act beyond the screen. Answerback strips a
//     terminal's replies (device reports) from a watcher's keystrokes.
//
// The package is pure: bytes in, bytes out, no I/O. The gateway (live
// view) and query (replay, listings) share it.
package termsafe
