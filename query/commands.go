package query

import (
	"cmp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/foureyes/foureyes/event"
)

// maxLineRunes bounds a reconstructed line; longer input marks the line
// approximate instead of growing memory.
const maxLineRunes = 1 << 16

// Command is a command line reconstructed from recorded input (or the
// command of an exec session).
type Command struct {
	Seq   uint64    // seq of the event that completed the line (Enter, or the exec event)
	Time  time.Time // when the line was entered
	Actor string    // who pressed Enter (or who ran the exec)
	Line  string
	// Approximate reports that the line may differ from what the shell ran:
	// history recall (up/down, Ctrl-R), Tab completion, yank and other
	// editing the input alone cannot replay, or input of several typists
	// merged into one line.
	Approximate bool
	// Typists lists every actor whose keystrokes are in Line when more than
	// one typed it (nil otherwise).
	Typists []string
	// Blind is the number of characters of a line typed while the host did
	// not echo it (an input.blind event follows the line): a password,
	// most likely. Reviewers watching live saw its length only. 0: echoed.
	Blind int
}

// Commands reconstructs the command lines typed in a session, best effort:
// it replays each typist's input through a small line editor (insert,
// Backspace, Ctrl-U/W/K/A/E/B/F/D, arrows, Home/End, Alt-B/F, bracketed
// paste) and never sees what the shell itself did. Each typist gets a line
// buffer of their own, so interleaved typing in a shared terminal stays
// attributed; Enter completes the line of whoever pressed it. If another
// typist's buffer holds text at that moment the shell saw one merged line:
// the buffers are joined in order of first keystroke, attributed to the
// actor who pressed Enter, listed in Typists and marked Approximate. Exec
// sessions yield their exec event's command. Empty lines are skipped.
func Commands(events []event.Event) []Command {
	var r reconstructor
	for i := range events {
		e := &events[i]
		switch e.Type {
		case event.Exec:
			r.out = append(r.out, Command{Seq: e.Seq, Time: e.Timestamp().UTC(), Actor: e.Actor, Line: string(e.Data)})
		case event.Input:
			r.input(e)
		case event.InputBlind:
			r.blind(e)
		}
	}
	return r.out
}

// blind marks the last line its actor entered as typed without echo.
func (r *reconstructor) blind(e *event.Event) {
	n, err := strconv.Atoi(e.Meta["chars"])
	if err != nil || n <= 0 {
		n = 1 // a damaged meta still marks the line
	}
	for j := len(r.out) - 1; j >= 0; j-- {
		if r.out[j].Actor == e.Actor {
			r.out[j].Blind = n
			return
		}
	}
}

// reconstructor holds the per-typist line editors of one session.
type reconstructor struct {
	editors []*lineEditor // in order of first appearance
	out     []Command
	order   uint64 // counter for first-keystroke order
}

func (r *reconstructor) editor(actor string) *lineEditor {
	for _, ed := range r.editors {
		if ed.actor == actor {
			return ed
		}
	}
	ed := &lineEditor{actor: actor, order: &r.order}
	r.editors = append(r.editors, ed)
	return ed
}

// input feeds one input event to its typist's editor.
func (r *reconstructor) input(e *event.Event) {
	ed := r.editor(e.Actor)
	for _, b := range e.Data {
		switch ed.feed(b) {
		case keyEnter:
			r.enter(ed, e)
		case keyCancel:
			// Ctrl-C discards the shell's line: everyone's pending text.
			for _, o := range r.editors {
				o.reset()
			}
		}
	}
}

// enter completes the current line after ed's actor pressed Enter.
func (r *reconstructor) enter(ed *lineEditor, e *event.Event) {
	var pending []*lineEditor
	for _, o := range r.editors {
		if len(o.line) > 0 || o.approx {
			pending = append(pending, o)
		}
	}
	cmd := Command{Seq: e.Seq, Time: e.Timestamp().UTC(), Actor: ed.actor}
	switch len(pending) {
	case 0:
	case 1:
		cmd.Line = string(pending[0].line)
		cmd.Approximate = pending[0].approx
		if pending[0] != ed {
			cmd.Approximate = true
			cmd.Typists = []string{pending[0].actor, ed.actor}
		}
	default:
		slices.SortFunc(pending, func(a, b *lineEditor) int { return cmp.Compare(a.first, b.first) })
		cmd.Approximate = true
		var line []rune
		for _, o := range pending {
			line = append(line, o.line...)
			cmd.Typists = append(cmd.Typists, o.actor)
		}
		if !slices.Contains(cmd.Typists, ed.actor) {
			cmd.Typists = append(cmd.Typists, ed.actor)
		}
		cmd.Line = string(line)
	}
	for _, o := range pending {
		o.reset()
	}
	ed.reset()
	if cmd.Line != "" || cmd.Approximate {
		r.out = append(r.out, cmd)
	}
}

// Input parser states of a lineEditor.
const (
	inGround = iota
	inEsc    // after ESC
	inCSI    // after ESC [
	inSS3    // after ESC O
)

// maxInputParams bounds the parameter bytes kept for one input sequence.
const maxInputParams = 16

// lineEditor replays one typist's keystrokes like a readline/emacs-mode
// line editor.
type lineEditor struct {
	actor  string
	order  *uint64 // shared first-keystroke counter of the session
	line   []rune
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

func (ed *lineEditor) insert(r rune) {
	if len(ed.line) >= maxLineRunes {
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
