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
	esc  int // 0: text; 1: after ESC; 2: inside a CSI sequence
}

// feed takes one byte.
func (e *lineEditor) feed(b byte) lineStatus {
	if e.esc != 0 && b < 0x20 {
		// A control character interrupts an escape sequence (as in
		// ECMA-48 terminals), so that Enter and Ctrl-C after a lone Esc
		// key or a cut-off sequence are not swallowed.
		e.esc = 0
	}
	switch e.esc {
	case 1:
		e.esc = 0
		if b == '[' || b == 'O' {
			e.esc = 2
		}
		return lineMore
	case 2:
		if b >= 0x40 && b <= 0x7e {
			e.esc = 0
		}
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
		e.esc = 1
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
	s = strings.ToValidUTF8(s, "")
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
