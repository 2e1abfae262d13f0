package gateway

import (
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxLine bounds a line typed at a bastion prompt (reason, denial note).
const maxLine = 200

// lineStatus is what a byte fed to a lineEditor did.
type lineStatus int

const (
	lineMore  lineStatus = iota // keep feeding
	lineDone                    // Enter: the line is complete
	lineAbort                   // Ctrl-C or Ctrl-D
)

// lineEditor reads one line from a raw terminal for the bastion's own
// prompts: printable characters (UTF-8) are kept and echoed, backspace
// and Ctrl-U edit, escape sequences (arrow keys) and other control
// characters are ignored. echo is nil for clients without a pty.
type lineEditor struct {
	echo io.Writer
	buf  []byte
	esc  int // escText, escStart, escCSI or escString
}

// Escape sequence states of lineEditor and stripEscapes.
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
		if len(e.buf) > 0 {
			_, size := utf8.DecodeLastRune(e.buf)
			e.buf = e.buf[:len(e.buf)-size]
			e.write("\b \b")
		}
	case b == 0x15: // Ctrl-U
		for len(e.buf) > 0 {
			_, size := utf8.DecodeLastRune(e.buf)
			e.buf = e.buf[:len(e.buf)-size]
			e.write("\b \b")
		}
	case b < 0x20:
	default:
		if len(e.buf) < maxLine*4 {
			e.buf = append(e.buf, b)
			if b < 0x80 || utf8.FullRune(e.buf[lastRuneStart(e.buf):]) {
				e.write(string(e.buf[lastRuneStart(e.buf):]))
			}
		}
	}
	return lineMore
}

// line returns the cleaned line typed so far and resets the editor.
func (e *lineEditor) line() string {
	s := cleanLine(string(e.buf))
	e.buf = e.buf[:0]
	return s
}

func (e *lineEditor) write(s string) {
	if e.echo != nil {
		io.WriteString(e.echo, s)
	}
}

// lastRuneStart returns the index of the first byte of b's last
// (possibly incomplete) rune, at most utf8.UTFMax bytes back: a run of
// stray continuation bytes is not echoed again with every byte.
func lastRuneStart(b []byte) int {
	i := len(b) - 1
	for i > 0 && len(b)-i < utf8.UTFMax && !utf8.RuneStart(b[i]) {
		i--
	}
	return max(i, 0)
}

// cleanLine makes text typed by a user safe to show to others: valid
// UTF-8, printable characters only (no escape sequences), single spaces,
// at most maxLine characters.
func cleanLine(s string) string {
	s = strings.ToValidUTF8(stripEscapes(s), "")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			r = ' '
		}
		if n >= maxLine {
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// stripEscapes removes escape sequences, their parameters and string
// bodies included (an OSC 52 clipboard payload, a window title), as the
// line editor drops them; a control character ends a cut-off sequence
// and is kept.
func stripEscapes(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	b := make([]byte, 0, len(s))
	st := escText
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0x1b:
			st = escStart
		case c < 0x20:
			st = escText
			b = append(b, c)
		case st != escText:
			st = escNext(st, c)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
