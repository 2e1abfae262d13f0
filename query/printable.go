package query

import "github.com/foureyes/foureyes/termsafe"

// printable returns s as it may be shown on an auditor's terminal:
// unchanged when every character is visible and spaces are single, else
// quoted the way bash reads it back (termsafe.Text): controls, invalid
// bytes, bidi and zero-width characters and runs of spaces become
// escapes inside $'…', so nothing a recording holds can act on the
// terminal, hide part of itself or pass for something else. It is the
// approval prompt's form, so an auditor reads a command as the reviewer
// saw it. Replay uses the termsafe.Sanitizer instead.
func printable(s string) string {
	if s == "" {
		return ""
	}
	return termsafe.Text(s)
}
