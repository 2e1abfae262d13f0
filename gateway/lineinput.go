package gateway

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/foureyes/foureyes/termsafe"
)

// maxLine bounds a line typed at a bastion prompt (reason, denial note),
// in characters. The prompt says so; the editor refuses more with a bell.
const maxLine = 200

// lineStatus is what a byte fed to a lineEditor did.
type lineStatus int

const (
	lineMore  lineStatus = iota // keep feeding
	lineDone                    // Enter: the line is complete
	lineAbort                   // Ctrl-C or Ctrl-D
)

// lineEditor reads one line from a raw terminal for the bastion's own
// prompts: visible characters (termsafe.Visible) are kept and echoed,
// backspace and Ctrl-U edit, escape sequences (arrow keys) and other
// control characters are ignored. Invisible and reordering characters
// (bidi overrides, zero-width spaces, combining marks), invalid UTF-8 and
// characters beyond maxLine are refused with a bell: the line handed on
// is exactly what the person saw on their screen. echo is nil for clients
// without a pty.
type lineEditor struct {
	echo  io.Writer
	buf   []byte
	runes int // characters in buf
	pend  []byte
	esc   int // escText, escStart, escCSI or escString
}

// Escape sequence states of lineEditor.
const (
	escText   = iota
	escStart  // after ESC
	escCSI    // inside ESC [ … or ESC O …, until a final byte
	escString // inside ESC ] / P / X / ^ / _ …, until BEL or ESC \ (ST)
)

// escNext returns the state after byte b in state st (b is not a control
// character) and whether b ends a sequence or is part of one.
func escNext(st int, b byte) int {
	switch st {
	case escStart:
		switch b {
		case '[', 'O':
			return escCSI
		case ']', 'P', 'X', '^', '_':
			return escString
		}
		return escText // a two-byte sequence (Alt-key): dropped
	case escCSI:
		if b >= 0x40 && b <= 0x7e {
			return escText
		}
	}
	return st
}

// feed takes one byte.
func (e *lineEditor) feed(b byte) lineStatus {
	if e.esc != 0 && b < 0x20 {
		// A control character interrupts an escape sequence (as in
		// ECMA-48 terminals), so that Enter and Ctrl-C after a lone Esc
		// key or a cut-off sequence are not swallowed.
		e.esc = 0
	}
	if e.esc != escText {
		e.esc = escNext(e.esc, b)
		return lineMore
	}
	if len(e.pend) > 0 && (b < 0x80 || b >= 0xc0) {
		// A character cut short by a new one: refused.
		e.pend = e.pend[:0]
		e.write("\a")
	}
	switch {
	case b == '\r' || b == '\n':
		e.write("\r\n")
		return lineDone
	case b == 0x03 || b == 0x04:
		e.write("\r\n")
		return lineAbort
	case b == 0x1b:
		e.esc = escStart
	case b == 0x7f || b == 0x08:
		e.pend = e.pend[:0]
		e.erase()
	case b == 0x15: // Ctrl-U
		e.pend = e.pend[:0]
		for len(e.buf) > 0 {
			e.erase()
		}
	case b < 0x20:
	default:
		e.char(b)
	}
	return lineMore
}

// char takes a byte of a printable character.
func (e *lineEditor) char(b byte) {
	e.pend = append(e.pend, b)
	if !utf8.FullRune(e.pend) {
		return
	}
	r, size := utf8.DecodeRune(e.pend)
	ok := size == len(e.pend) && termsafe.Visible(r) && e.runes < maxLine
	if ok {
		e.buf = append(e.buf, e.pend...)
		e.runes++
		e.write(string(e.pend))
	} else {
		e.write("\a")
	}
	e.pend = e.pend[:0]
}

// erase removes the last character.
func (e *lineEditor) erase() {
	if len(e.buf) == 0 {
		return
	}
	_, size := utf8.DecodeLastRune(e.buf)
	e.buf = e.buf[:len(e.buf)-size]
	e.runes--
	e.write("\b \b")
}

// line returns the line typed so far, without leading and trailing
// spaces, and resets the editor.
func (e *lineEditor) line() string {
	s := strings.Trim(string(e.buf), " ")
	e.buf, e.pend, e.runes = e.buf[:0], e.pend[:0], 0
	return s
}

func (e *lineEditor) write(s string) {
	if e.echo != nil {
		io.WriteString(e.echo, s)
	}
}
