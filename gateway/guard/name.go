package guard

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// SafeName returns s for logs and events: s itself when it is at most
// max bytes of printable UTF-8 without quotes or backslashes, else a
// Go-quoted prefix of at most max bytes followed by "…" and the full
// length, e.g. "\"\\x1b[2Jroot\"" or "\"aaaa…\"…(204800 bytes)". The
// result is at most about 4*max+32 bytes whatever s is.
func SafeName(s string, max int) string {
	if len(s) <= max && plain(s) {
		return s
	}
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// plain reports whether s is non-empty printable UTF-8 without quotes,
// backslashes or spaces.
func plain(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '"' || r == '\\' || r == ' ' {
			return false
		}
	}
	return true
}
