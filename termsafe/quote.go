package termsafe

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// Quote returns s for display where every byte matters (a command line
// about to run): s itself when it is printable ASCII with single inner
// spaces and does not start with "$'", else s in bash's ANSI-C quoting,
// $'...', in which everything but printable ASCII is escaped — C0 and C1
// controls, DEL and invalid bytes as \xNN, other runes as \uNNNN or
// \UNNNNNNNN — and spaces that are leading, trailing or in a run as \x20. The empty
// string is the empty quoting (dollar sign and two single quotes).
// The result is printable ASCII; bash reads the quoted form back as s (a
// NUL byte aside, which bash cannot hold in a string). Non-ASCII letters are
// escaped too: a Cyrillic "е" in "/usr/bin/еcho" must not pass for a
// Latin one.
func Quote(s string) string { return quote(s, false) }

// Text is Quote for prose a person wrote (a reason, a note, a name):
// visible non-ASCII characters (Visible) are kept as they are, so that
// "prüfen" stays readable; invisible, reordering and control characters
// are escaped as in Quote.
func Text(s string) string { return quote(s, true) }

// Visible reports whether r is shown as itself in Text: a printable
// character that occupies its own place on the screen. Controls, format
// characters (bidi overrides and isolates, zero-width spaces and joiners,
// the byte order mark: Unicode category Cf), other default-ignorable code
// points, variation selectors, combining marks (they draw over the
// character before them), spaces other than U+0020, private-use and
// unassigned code points, and U+FFFD are not visible.
func Visible(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 0x20 && r < 0x7f
	}
	switch {
	case r == utf8.RuneError,
		!unicode.IsPrint(r), // C*, Z* but U+0020, unassigned
		unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc, unicode.Co,
			unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector,
			unicode.Bidi_Control, unicode.Join_Control),
		r == 0x2800, // braille blank
		r == 0x115f || r == 0x1160 || r == 0x3164 || r == 0xffa0: // Hangul fillers
		return false
	}
	return true
}

// plain reports whether s can be shown without quoting.
func plain(s string, text bool) bool {
	if s == "" || strings.HasPrefix(s, "$'") || s[0] == ' ' || s[len(s)-1] == ' ' || strings.Contains(s, "  ") {
		return false
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if !text || c < utf8.RuneSelf {
			return false
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !Visible(r) {
			return false
		}
		i += size
	}
	return true
}

// quote implements Quote and Text.
func quote(s string, text bool) string {
	if plain(s, text) {
		return s
	}
	b := make([]byte, 0, len(s)+len(s)/4+3)
	b = append(b, '$', '\'')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			lone := i > 0 && i+1 < len(s) && s[i-1] != ' ' && s[i+1] != ' '
			if lone {
				b = append(b, ' ')
			} else {
				b = append(b, `\x20`...)
			}
			i++
			continue
		case c == '\\' || c == '\'':
			b = append(b, '\\', c)
			i++
			continue
		case c > 0x20 && c < 0x7f:
			b = append(b, c)
			i++
			continue
		case c < utf8.RuneSelf:
			b = appendControl(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		case text && Visible(r):
			b = append(b, s[i:i+size]...)
		case r <= 0xffff:
			b = append(b, '\\', 'u')
			b = appendHex(b, uint32(r), 4)
		default:
			b = append(b, '\\', 'U')
			b = appendHex(b, uint32(r), 8)
		}
		i += size
	}
	return string(append(b, '\''))
}

// appendControl appends the escape of a C0 control or DEL.
func appendControl(b []byte, c byte) []byte {
	switch c {
	case '\n':
		return append(b, `\n`...)
	case '\r':
		return append(b, `\r`...)
	case '\t':
		return append(b, `\t`...)
	case 0x1b:
		return append(b, `\E`...)
	}
	return append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
}

func appendHex(b []byte, v uint32, digits int) []byte {
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		b = append(b, hexDigits[(v>>uint(shift))&0xf])
	}
	return b
}
