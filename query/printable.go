package query

import (
	"strconv"
	"unicode/utf8"
)

// printable returns s with everything that could act on a terminal or
// mislead a reader made visible as an escape: C0 and C1 controls, DEL,
// invalid UTF-8 and the bidirectional formatting characters used to
// reorder what a line appears to say. Text listings (sessions, show) pass
// every recorded string through it; replay uses the termsafe.Sanitizer instead.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if !safeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\x`...)
			b = append(b, hexDigits[s[i]>>4], hexDigits[s[i]&0xf])
		case !safeRune(r):
			q := strconv.QuoteRuneToASCII(r) // 'x' with escapes
			b = append(b, q[1:len(q)-1]...)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}

func safeRune(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return false // may stand for an invalid byte; decided per byte
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return false
	case r >= 0x200e && r <= 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return false
	}
	return true
}
