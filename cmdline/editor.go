package cmdline

import (
	"slices"
	"unicode/utf8"
)

// Input parser states of a lineEditor.
const (
	inGround = iota
	inEsc    // after ESC
	inCSI    // after ESC [
	inSS3    // after ESC O
	inQuoted // after Ctrl-V: the next byte is inserted as it is
)

// maxInputParams bounds the parameter bytes kept for one input sequence.
const maxInputParams = 16

// lineEditor replays one typist's keystrokes like a readline/emacs-mode
// line editor.
type lineEditor struct {
	actor  string
	order  *uint64 // shared first-keystroke counter of the session
	line   []rune
	room   int // the most runes line may hold now (set before each event)
	cursor int
	approx bool
	first  uint64 // order of the first keystroke of the current line
	state  int
	params []byte
	paste  bool // inside a bracketed paste
	cr     bool // last byte was \r (so \r\n is one Enter)
	utf    [utf8.UTFMax]byte
	nutf   int
}

func (ed *lineEditor) reset() {
	if cap(ed.line) > keptRunes {
		ed.line = nil // a long line's buffer is not kept for the session
	}
	ed.line = ed.line[:0]
	ed.cursor = 0
	ed.approx = false
	ed.first = 0
}

// Results of lineEditor.feed.
const (
	keyNone   = iota
	keyEnter  // the line was entered
	keyCancel // Ctrl-C
)

// feed processes one input byte and reports what it did to the line.
func (ed *lineEditor) feed(b byte) int {
	wasCR := ed.cr
	ed.cr = false
	switch ed.state {
	case inEsc:
		ed.state = inGround
		ed.escape(b)
		return keyNone
	case inCSI:
		if b >= 0x40 && b <= 0x7e {
			ed.state = inGround
			ed.csi(b)
			return keyNone
		}
		if b < 0x20 || b > 0x7e { // broken sequence: drop it, reprocess b
			ed.state = inGround
			break
		}
		if len(ed.params) < maxInputParams {
			ed.params = append(ed.params, b)
		}
		return keyNone
	case inSS3:
		ed.state = inGround
		ed.ss3(b)
		return keyNone
	case inQuoted:
		ed.state = inGround
		if b < 0x80 {
			// Ctrl-V Enter, Ctrl-V Ctrl-U: the shell takes the byte into
			// the line; it neither ends nor edits it.
			ed.insert(rune(b))
			return keyNone
		}
	}
	if ed.nutf > 0 {
		if b&0xc0 == 0x80 {
			ed.utf8Continue(b)
			return keyNone
		}
		// A character cut short: keep a marker, then handle b afresh.
		ed.nutf = 0
		ed.insert(utf8.RuneError)
	}
	if b >= 0x80 {
		ed.utf8Continue(b)
		return keyNone
	}
	switch b {
	case '\r':
		ed.cr = true
		return keyEnter
	case '\n':
		if wasCR {
			return keyNone
		}
		return keyEnter
	case 0x1b:
		ed.state = inEsc
	case 0x7f, 0x08: // Backspace
		ed.deleteBack(1)
	case 0x15: // Ctrl-U
		ed.deleteBack(ed.cursor)
	case 0x17: // Ctrl-W
		ed.deleteBack(ed.cursor - ed.wordStartSpace())
	case 0x0b: // Ctrl-K
		ed.line = ed.line[:ed.cursor]
	case 0x03: // Ctrl-C
		return keyCancel
	case 0x01: // Ctrl-A
		ed.cursor = 0
	case 0x05: // Ctrl-E
		ed.cursor = len(ed.line)
	case 0x02: // Ctrl-B
		ed.move(-1)
	case 0x06: // Ctrl-F
		ed.move(1)
	case 0x04: // Ctrl-D: delete under cursor (EOF on an empty line)
		ed.deleteForward()
	case '\t':
		if ed.paste {
			ed.insert('\t')
		} else {
			ed.markApprox() // Tab completion
		}
	case 0x16: // Ctrl-V: quoted insert of the next byte
		ed.state = inQuoted
	case 0x10, 0x0e, 0x12, 0x13, 0x19, 0x14, 0x18:
		// Ctrl-P/N (history), Ctrl-R/S (search), Ctrl-Y
		// (yank), Ctrl-T (transpose), Ctrl-X prefix: unknowable here.
		ed.markApprox()
	default:
		if b >= 0x20 {
			ed.insert(rune(b))
		}
	}
	return keyNone
}

// utf8Continue collects the bytes of a multi-byte character; an invalid
// one becomes U+FFFD.
func (ed *lineEditor) utf8Continue(b byte) {
	ed.utf[ed.nutf] = b
	ed.nutf++
	p := ed.utf[:ed.nutf]
	if utf8.FullRune(p) {
		r, _ := utf8.DecodeRune(p)
		ed.nutf = 0
		ed.insert(r)
	}
}

func (ed *lineEditor) escape(b byte) {
	switch b {
	case '[':
		ed.state = inCSI
		ed.params = ed.params[:0]
	case 'O':
		ed.state = inSS3
	case 'b', 'B':
		ed.cursor = ed.wordStartAlnum()
	case 'f', 'F':
		ed.cursor = ed.wordEndAlnum()
	case 0x7f, 0x08: // Alt-Backspace
		ed.deleteBack(ed.cursor - ed.wordStartAlnum())
	case 'd', 'D': // Alt-D: kill word forward
		end := ed.wordEndAlnum()
		ed.line = append(ed.line[:ed.cursor], ed.line[end:]...)
	case 0x1b:
		ed.state = inEsc
	default:
		// Alt-. (last argument), Alt-Y, vi command mode and the like.
		ed.markApprox()
	}
}

// ss3 handles ESC O x (application cursor keys).
func (ed *lineEditor) ss3(b byte) {
	switch b {
	case 'C':
		ed.move(1)
	case 'D':
		ed.move(-1)
	case 'H':
		ed.cursor = 0
	case 'F':
		ed.cursor = len(ed.line)
	case 'A', 'B':
		ed.markApprox()
	}
}

// csi handles ESC [ params final.
func (ed *lineEditor) csi(final byte) {
	p := string(ed.params)
	word := len(p) > 2 && p[:2] == "1;" // modifier: Ctrl/Alt-arrow move by word
	switch final {
	case 'A', 'B':
		ed.markApprox()
	case 'C':
		if word {
			ed.cursor = ed.wordEndAlnum()
		} else {
			ed.move(1)
		}
	case 'D':
		if word {
			ed.cursor = ed.wordStartAlnum()
		} else {
			ed.move(-1)
		}
	case 'H':
		ed.cursor = 0
	case 'F':
		ed.cursor = len(ed.line)
	case '~':
		switch p {
		case "1", "7":
			ed.cursor = 0
		case "4", "8":
			ed.cursor = len(ed.line)
		case "3":
			ed.deleteForward()
		case "200":
			ed.paste = true
		case "201":
			ed.paste = false
		case "5", "6": // PageUp/PageDown: history in some setups
			ed.markApprox()
		}
	}
}

// markApprox records an edit the input alone cannot replay.
func (ed *lineEditor) markApprox() {
	ed.touch()
	ed.approx = true
}

// touch numbers the first keystroke of a line, which orders merged lines.
func (ed *lineEditor) touch() {
	if len(ed.line) == 0 && !ed.approx {
		*ed.order++
		ed.first = *ed.order
	}
}

// keptRunes is the largest line buffer an editor keeps once its line is done.
const keptRunes = 1024

func (ed *lineEditor) insert(r rune) {
	if len(ed.line) >= ed.room {
		ed.approx = true
		return
	}
	ed.touch()
	ed.line = slices.Insert(ed.line, ed.cursor, r)
	ed.cursor++
}

func (ed *lineEditor) move(d int) {
	ed.cursor = min(max(ed.cursor+d, 0), len(ed.line))
}

func (ed *lineEditor) deleteBack(n int) {
	n = min(n, ed.cursor)
	if n <= 0 {
		return
	}
	ed.line = slices.Delete(ed.line, ed.cursor-n, ed.cursor)
	ed.cursor -= n
}

func (ed *lineEditor) deleteForward() {
	if ed.cursor < len(ed.line) {
		ed.line = slices.Delete(ed.line, ed.cursor, ed.cursor+1)
	}
}

// wordStartSpace is where Ctrl-W (unix-word-rubout) stops: words are
// separated by whitespace.
func (ed *lineEditor) wordStartSpace() int {
	i := ed.cursor
	for i > 0 && isSpace(ed.line[i-1]) {
		i--
	}
	for i > 0 && !isSpace(ed.line[i-1]) {
		i--
	}
	return i
}

// wordStartAlnum is where Alt-B and Alt-Backspace stop: words are runs of
// letters and digits.
func (ed *lineEditor) wordStartAlnum() int {
	i := ed.cursor
	for i > 0 && !isWordRune(ed.line[i-1]) {
		i--
	}
	for i > 0 && isWordRune(ed.line[i-1]) {
		i--
	}
	return i
}

// wordEndAlnum is where Alt-F and Alt-D stop.
func (ed *lineEditor) wordEndAlnum() int {
	i := ed.cursor
	for i < len(ed.line) && !isWordRune(ed.line[i]) {
		i++
	}
	for i < len(ed.line) && isWordRune(ed.line[i]) {
		i++
	}
	return i
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' }

func isWordRune(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 0x80
}
