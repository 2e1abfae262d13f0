package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/foureyes/foureyes/termsafe"
)

// feedAll feeds in to e and returns the status after the last byte and
// the lines completed on the way (abort ends feeding).
func feedAll(e *lineEditor, in string) (lineStatus, []string) {
	st := lineMore
	var lines []string
	for i := 0; i < len(in); i++ {
		st = e.feed(in[i])
		switch st {
		case lineDone:
			lines = append(lines, e.line())
		case lineAbort:
			return st, lines
		}
	}
	return st, lines
}

func TestLineEditor(t *testing.T) {
	long := strings.Repeat("x", 1000)
	tests := []struct {
		name      string
		in        string
		want      lineStatus
		wantLines []string
		wantEcho  string // checked when not empty
	}{
		{"plain", "hello\r", lineDone, []string{"hello"}, "hello\r\n"},
		{"newline ends too", "hello\n", lineDone, []string{"hello"}, ""},
		{"two lines", "one\rtwo\r", lineDone, []string{"one", "two"}, ""},
		{"empty line", "\r", lineDone, []string{""}, "\r\n"},
		{"backspace DEL", "hellp\x7fo\r", lineDone, []string{"hello"}, "hellp\b \bo\r\n"},
		{"backspace BS", "hellp\bo\r", lineDone, []string{"hello"}, ""},
		{"backspace on empty line", "\x7f\x7fab\r", lineDone, []string{"ab"}, "ab\r\n"},
		{"backspace removes a whole rune", "né\x7f\r", lineDone, []string{"n"}, "né\b \b\r\n"},
		{"backspace removes a wide rune", "a日本\x7f\r", lineDone, []string{"a日"}, ""},
		{"ctrl-u clears", "wrong\x15right\r", lineDone, []string{"right"}, "wrong" + strings.Repeat("\b \b", 5) + "right\r\n"},
		{"ctrl-u on empty line", "\x15ok\r", lineDone, []string{"ok"}, "ok\r\n"},
		{"ctrl-c aborts", "abc\x03", lineAbort, nil, "abc\r\n"},
		{"ctrl-d aborts", "\x04", lineAbort, nil, "\r\n"},
		{"ctrl-c after a line", "ok\rpartial\x03", lineAbort, []string{"ok"}, ""},
		{"CSI sequences dropped", "a\x1b[Ab\x1b[1;5Cc\x1b[200~d\r", lineDone, []string{"abcd"}, "abcd\r\n"},
		{"SS3 sequences dropped", "a\x1bOPb\r", lineDone, []string{"ab"}, "ab\r\n"},
		{"SGR colour dropped", "rotate \x1b[31mlogs\x1b[0m\r", lineDone, []string{"rotate logs"}, ""},
		{"alt-key dropped", "a\x1bxb\r", lineDone, []string{"ab"}, ""},
		{"OSC string dropped with its body", "a\x1b]52;c;aGVsbG8=\x07b\r", lineDone, []string{"ab"}, "ab\r\n"},
		{"OSC ended by ST", "a\x1b]0;title\x1b\\b\r", lineDone, []string{"ab"}, ""},
		{"DCS dropped", "a\x1bPq#0;1\x1b\\b\r", lineDone, []string{"ab"}, ""},
		{"enter ends a cut-off OSC", "a\x1b]0;ti\rb\r", lineDone, []string{"a", "b"}, ""},
		{"enter ends a cut-off escape sequence", "a\x1b[\rb\r", lineDone, []string{"a", "b"}, ""},
		{"ctrl-c after a lone esc aborts", "ab\x1b\x03", lineAbort, nil, "ab\r\n"},
		{"ctrl-c inside a sequence aborts", "ab\x1b[1;\x03", lineAbort, nil, ""},
		{"esc inside a sequence starts a new one", "a\x1b[1\x1b[Db\r", lineDone, []string{"ab"}, ""},
		{"other controls dropped", "a\tb\x07c\x00d\x1ce\r", lineDone, []string{"abcde"}, "abcde\r\n"},
		{"C1 control refused", "a\u009b2Jb\r", lineDone, []string{"a2Jb"}, "a\a2Jb\r\n"},
		{"bidi override refused", "abc\u202edef\r", lineDone, []string{"abcdef"}, "abc\adef\r\n"},
		{"zero-width space refused", "r\u200bm\r", lineDone, []string{"rm"}, "r\am\r\n"},
		{"combining mark refused", "e\u0301\r", lineDone, []string{"e"}, "e\a\r\n"},
		{"invalid UTF-8 refused", "a\xffb\xc3\r", lineDone, []string{"ab"}, "a\ab\a\r\n"},
		{"stray continuation bytes refused", "a\x80\x80\x80\x80\x80\r", lineDone, []string{"a"}, "a\a\a\a\a\a\r\n"},
		{"letters kept", "prüfen 日本\r", lineDone, []string{"prüfen 日本"}, "prüfen 日本\r\n"},
		{"inner spaces kept, ends trimmed", "  a   b  \r", lineDone, []string{"a   b"}, ""},
		{"over-long line refused with a bell", long[:maxLine] + "yz\r", lineDone, []string{long[:maxLine]}, long[:maxLine] + "\a\a\r\n"},
		{"unfinished line", "abc", lineMore, nil, "abc"},
		{"over-long line bounded", long + "\r", lineDone, []string{long[:maxLine]}, ""},
		{"over-long multibyte line bounded", strings.Repeat("é", 1000) + "\r", lineDone, []string{strings.Repeat("é", maxLine)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var echo strings.Builder
			e := &lineEditor{echo: &echo}
			st, lines := feedAll(e, tt.in)
			if st != tt.want {
				t.Errorf("status = %d; want %d", st, tt.want)
			}
			if strings.Join(lines, "|") != strings.Join(tt.wantLines, "|") || len(lines) != len(tt.wantLines) {
				t.Errorf("lines = %q; want %q", lines, tt.wantLines)
			}
			if tt.wantEcho != "" && echo.String() != tt.wantEcho {
				t.Errorf("echo = %q; want %q", echo.String(), tt.wantEcho)
			}
		})
	}
}

// TestLineEditorNoEcho checks that an editor without a terminal (nil
// echo) edits the same.
func TestLineEditorNoEcho(t *testing.T) {
	e := &lineEditor{}
	if st, lines := feedAll(e, "ab\x7fc\x1b[Dd\r"); st != lineDone || len(lines) != 1 || lines[0] != "acd" {
		t.Errorf("got %d %q; want done [acd]", st, lines)
	}
}

// TestLineEditorBufferBounded checks that typing far beyond maxLine keeps
// the buffer bounded.
func TestLineEditorBufferBounded(t *testing.T) {
	e := &lineEditor{}
	for i := 0; i < 1<<20; i++ {
		e.feed("a€"[i%4])
	}
	if len(e.buf) > maxLine*4 {
		t.Errorf("buffer holds %d bytes after 1 MiB of typing; want at most %d", len(e.buf), maxLine*4)
	}
}

// checkClean fails unless line is what a prompt may hand on: valid
// UTF-8, visible runes only (what was on the screen is what is
// recorded), at most maxLine runes, no leading or trailing space.
func checkClean(t *testing.T, line string) {
	t.Helper()
	if !utf8.ValidString(line) {
		t.Fatalf("line %q is not valid UTF-8", line)
	}
	if n := utf8.RuneCountInString(line); n > maxLine {
		t.Fatalf("line has %d runes; want at most %d", n, maxLine)
	}
	if line != strings.Trim(line, " ") {
		t.Fatalf("line %q has leading or trailing spaces", line)
	}
	for _, r := range line {
		if !termsafe.Visible(r) {
			t.Fatalf("line %q holds invisible or control character %U", line, r)
		}
	}
}

// FuzzLineInput feeds untrusted bytes (what a client sends at a prompt)
// to the line editor: it never panics, never keeps more than maxLine*4
// bytes and never hands on a line with control characters.
func FuzzLineInput(f *testing.F) {
	for _, s := range []string{
		"hello\r", "a\x7f\x7f\x7fb\r", "wrong\x15right\n", "abc\x03", "\x04",
		"a\x1b[1;5Cb\x1bOPc\x1b[200~d\r", "\x1b", "\x1b[", "\xc3\x7f\r", "\xe2\x82\x7f\xac\r",
		"a\u009b2J\u202e\r", strings.Repeat("é", 900) + "\r", "\x00\x01\x1f\x80\xff\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var echo strings.Builder
		e := &lineEditor{echo: &echo}
		for _, b := range data {
			switch e.feed(b) {
			case lineDone:
				checkClean(t, e.line())
			case lineAbort:
				e.buf = e.buf[:0] // the callers drop the line
			}
			if len(e.buf) > maxLine*4 {
				t.Fatalf("buffer holds %d bytes; want at most %d", len(e.buf), maxLine*4)
			}
		}
		checkClean(t, e.line())
		// Each byte echoes at most one rune or one line end, and each
		// erase undoes a byte typed before: echo is linear in the input.
		if echo.Len() > 8*len(data) {
			t.Fatalf("echoed %d bytes for %d input bytes", echo.Len(), len(data))
		}
	})
}
