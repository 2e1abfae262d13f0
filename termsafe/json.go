package termsafe

import (
	"unicode/utf16"
	"unicode/utf8"
)

// ASCIIJSON returns the JSON text b with every non-ASCII character
// written as a \uXXXX escape (a surrogate pair above U+FFFF). The value
// is unchanged for a JSON reader; a person reading the text sees C1
// controls, bidi overrides, zero-width and look-alike characters as
// escapes instead of their effect. encoding/json already escapes C0
// controls. b must be valid UTF-8, as encoding/json writes it.
func ASCIIJSON(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] < utf8.RuneSelf {
		i++
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, i, len(b)+32)
	copy(out, b[:i])
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		i += size
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			out = appendHex(append(out, '\\', 'u'), uint32(r1), 4)
			out = appendHex(append(out, '\\', 'u'), uint32(r2), 4)
			continue
		}
		out = appendHex(append(out, '\\', 'u'), uint32(r), 4)
	}
	return out
}
