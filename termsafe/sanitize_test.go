package termsafe

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain text", "hello, world\r\n", "hello, world\r\n"},
		{"tab backspace", "a\tb\bc", "a\tb\bc"},
		{"utf8 kept", "héllo ✓ 日本 🙂", "héllo ✓ 日本 🙂"},
		{"sgr colours kept", "\x1b[1;31mred\x1b[0m \x1b[38;2;1;2;3mrgb\x1b[38:5:100m", "\x1b[1;31mred\x1b[0m \x1b[38;2;1;2;3mrgb\x1b[38;5;100m"},
		{"cursor and erase kept", "\x1b[H\x1b[2J\x1b[10;5H\x1b[K\x1b[3A\x1b[2P\x1b[@", "\x1b[H\x1b[2J\x1b[10;5H\x1b[K\x1b[3A\x1b[2P\x1b[@"},
		{"scroll region kept", "\x1b[1;20r\x1bM\x1bD\x1b[S", "\x1b[1;20r\x1bM\x1bD\x1b[S"},
		{"alt screen and cursor kept", "\x1b[?1049h\x1b[?25l\x1b[?1049l\x1b[?25h", "\x1b[?1049h\x1b[?25l\x1b[?1049l\x1b[0m\x1b[?25h"},
		{"save restore keypad charset", "\x1b7\x1b8\x1b=\x1b>\x1b(0q\x1b(B\x1b#8", "\x1b7\x1b8\x1b[0m\x1b=\x1b>\x1b(0q\x1b(B\x1b#8"},
		{"cursor shape kept", "\x1b[2 q", "\x1b[2 q"},
		{"sgr conceal dropped", "a\x1b[8mhidden\x1b[1;8;31mx\x1b[8;0m", "ahidden\x1b[1;31mx\x1b[0m"},
		{"sgr 8 as a colour kept", "\x1b[38;5;8mg\x1b[48;2;8;8;8mb\x1b[38:5:8m", "\x1b[38;5;8mg\x1b[48;2;8;8;8mb\x1b[38;5;8m"},
		{"osc title BEL", "a\x1b]0;evil title\x07b", "ab"},
		{"osc title ST", "a\x1b]2;evil\x1b\\b", "ab"},
		{"osc 52 clipboard", "a\x1b]52;c;cm0gLXJmIC8K\x07b", "ab"},
		{"osc 8 hyperlink", "\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"osc colour query", "\x1b]10;?\x07x", "x"},
		{"dcs decrqss", "a\x1bP$qm\x1b\\b", "ab"},
		{"dcs tmux passthrough", "\x1bPtmux;\x1b\x1b]52;c;eA==\x07\x1b\\ok", "ok"},
		{"apc pm sos", "\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\x", "x"},
		{"string aborted by CAN", "\x1b]0;t\x18x", "x"},
		{"esc in string starts new sequence", "\x1b]0;t\x1b[31mx", "\x1b[31mx"},
		{"device status report", "a\x1b[6nb\x1b[5n", "ab"},
		{"device attributes", "\x1b[c\x1b[0c\x1b[>c\x1b[=c\x1b[>0cx", "x"},
		{"window ops", "\x1b[21t\x1b[8;100;100t\x1b[2t\x1b[22;0tx", "x"},
		{"decrqm", "\x1b[?2004$p\x1b[4$px", "x"},
		{"xterm key modifiers", "\x1b[>4;2m\x1b[>1ux", "x"},
		{"mouse tracking dropped", "\x1b[?1000h\x1b[?1006h\x1b[?1015hx", "x"},
		{"mixed modes filtered", "\x1b[?1000;25;1004h", "\x1b[?25h"},
		{"bracketed paste and focus dropped", "\x1b[?2004h\x1b[?1004h", ""},
		{"keyboard lock dropped, insert kept", "\x1b[2h\x1b[4h\x1b[20h", "\x1b[4h"},
		{"enq answerback", "a\x05b", "ab"},
		{"bel dropped", "a\x07b", "ab"},
		{"so si dropped", "a\x0eb\x0fc", "abc"},
		{"del dropped", "a\x7fb", "ab"},
		{"esc Z identify", "a\x1bZb", "ab"},
		{"printer", "\x1b[5i\x1b[4ix", "x"},
		{"8-bit csi converted", "\x9b31mred", "\x1b[31mred"},
		{"8-bit csi report dropped", "a\x9b6nb", "ab"},
		{"8-bit osc", "a\x9d0;title\x07b", "ab"},
		{"8-bit dcs st", "a\x90$qm\x9cb", "ab"},
		{"8-bit apc pm sos", "\x9fx\x9c\x9ey\x9c\x98z\x9cok", "ok"},
		{"utf8 encoded c1 csi", "a\u009b6nb", "ab"},
		{"utf8 encoded c1 osc", "a\u009d0;t\u009cb", "ab"},
		{"c1 as utf8 continuation kept", "Ő ő", "Ő ő"}, // C5 90, C5 91
		{"invalid utf8 replaced", "a\xffb\xc3(c\xe2\x82", "a\uFFFDb\uFFFD(c\uFFFD"},
		{"surrogate and overlong replaced", "\xed\xa0\x80\xc0\xaf", "\uFFFD\uFFFD\uFFFD\uFFFD"}, // stray 0x80 is a C1 control
		{"full reset becomes clear", "\x1bc", "\x1b[0m\x1b[?25h\x1b[0 q\x1b[?1l\x1b>\x1b[?5l\x1b[?7h\x1b[4l\x1b[?2026l\x1b(B\x1b[H\x1b[2J"},
		{"control inside csi executes", "\x1b[3\r1m", "\r\x1b[31m"},
		{"csi aborted by esc", "\x1b[31\x1b[32m", "\x1b[32m"},
		{"huge rep dropped", "x\x1b[99999bx\x1b[5b", "xx\x1b[5b"},
		{"mouse highlight T dropped", "\x1b[1;2;3;4;5T\x1b[2T", "\x1b[2T"},
		{"kitty keyboard query dropped", "\x1b[?u\x1b[=1u\x1b[u", "\x1b[u\x1b[0m"},
		{"unknown escape dropped", "\x1bl\x1bn\x1b%@x", "x"},
		{"malformed csi dropped", "\x1b[1?2mx", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Sanitize(nil, []byte(tt.in))); got != tt.want {
				t.Fatalf("Sanitize(%q) = %q; want %q", tt.in, got, tt.want)
			}
			// Every split into two chunks gives the same result.
			for i := 0; i <= len(tt.in); i++ {
				var s Sanitizer
				got := s.Append(nil, []byte(tt.in[:i]))
				got = s.Flush(s.Append(got, []byte(tt.in[i:])))
				if string(got) != tt.want {
					t.Fatalf("split at %d: %q; want %q", i, got, tt.want)
				}
			}
			// Byte by byte too.
			var s Sanitizer
			var got []byte
			for i := 0; i < len(tt.in); i++ {
				got = s.Append(got, []byte{tt.in[i]})
			}
			if got = s.Flush(got); string(got) != tt.want {
				t.Fatalf("byte by byte: %q; want %q", got, tt.want)
			}
		})
	}
}

func TestSanitizerBoundedMemory(t *testing.T) {
	var s Sanitizer
	big := bytes.Repeat([]byte("A"), 64<<10)
	out := s.Append(nil, []byte("\x1b]52;c;"))
	for range 8 { // 512 KiB of OSC payload, never terminated
		out = s.Append(out, big)
	}
	if len(out) != 0 {
		t.Fatalf("OSC payload leaked: %d bytes", len(out))
	}
	out = s.Append(out, []byte("\x07visible"))
	if string(out) != "visible" {
		t.Fatalf("after OSC: %q", out)
	}

	// A never-terminated string stops being dropped after maxString bytes.
	s = Sanitizer{}
	out = s.Append(nil, []byte("\x1bP"))
	out = s.Append(out, bytes.Repeat([]byte("x"), maxString+5))
	if len(out) != 4 {
		t.Fatalf("after %d bytes of DCS: %d bytes out; want 4", maxString+5, len(out))
	}

	// An over-long CSI is dropped whole, up to its final byte.
	s = Sanitizer{}
	out = s.Append(nil, []byte("\x1b["))
	out = s.Append(out, bytes.Repeat([]byte("1;"), 10000))
	out = s.Append(out, []byte("mok"))
	if string(out) != "ok" {
		t.Fatalf("after over-long CSI: %q", out)
	}
}

func TestSanitizerRestore(t *testing.T) {
	var s Sanitizer
	s.Append(nil, []byte("\x1b[?1049h\x1b[5;10r"))
	got := string(s.Restore(nil))
	for _, want := range []string{"\x1b[?1049l", "\x1b[r", "\x1b[0m", "\x1b[?25h"} {
		if !strings.Contains(got, want) {
			t.Errorf("Restore = %q; missing %q", got, want)
		}
	}
	if got := string(s.Restore(nil)); strings.Contains(got, "1049l") || strings.Contains(got, "[r") {
		t.Errorf("second Restore = %q; want no alt screen or region reset", got)
	}
}

// checkSafe fails when out contains anything the sanitizer must remove:
// every ESC must start a sequence from the kept set, no C0 other than
// CR LF TAB BS, no C1 in any form, valid UTF-8.
func checkSafe(t *testing.T, in, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Fatalf("Sanitize(%q) = %q: invalid UTF-8", in, out)
	}
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case c == 0x1b:
			n := safeSeqLen(out[i:])
			if n == 0 {
				t.Fatalf("Sanitize(%q) = %q: unsafe escape at %d: %q", in, out, i, out[i:min(i+8, len(out))])
			}
			i += n - 1
		case c < 0x20 && c != '\r' && c != '\n' && c != '\t' && c != '\b', c == 0x7f:
			t.Fatalf("Sanitize(%q) = %q: control %#x at %d", in, out, c, i)
		case c == 0xc2 && i+1 < len(out) && out[i+1] <= 0x9f:
			t.Fatalf("Sanitize(%q) = %q: UTF-8 C1 control at %d", in, out, i)
		}
	}
}

// safeSeqLen returns the length of the kept escape sequence at the start
// of b, or 0 when it is not one the sanitizer may emit. It is written
// independently of the sanitizer's tables, as an allow-list of shapes.
func safeSeqLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '7', '8', '=', '>', 'D', 'E', 'M', 'H':
		return 2
	case '(', ')', '*', '+', '-', '.', '/', '#':
		if len(b) >= 3 && b[2] >= 0x30 && b[2] <= 0x7e {
			return 3
		}
		return 0
	case '[':
	default:
		return 0
	}
	i := 2
	for i < len(b) && b[i] >= 0x20 && b[i] <= 0x3f {
		i++
	}
	if i >= len(b) {
		return 0
	}
	body, final := string(b[2:i]), b[i]
	switch {
	case strings.ContainsAny(body, "<=>$\""):
		return 0
	case strings.HasPrefix(body, "?"):
		if final != 'h' && final != 'l' && final != 'J' && final != 'K' {
			return 0
		}
		for _, m := range strings.Split(body[1:], ";") {
			switch m {
			case "1000", "1001", "1002", "1003", "1004", "1005", "1006", "1015", "1016", "2004", "3", "":
				if final == 'h' || final == 'l' || m != "" {
					return 0
				}
			}
		}
	case final == 'n', final == 'c', final == 't', final == 'x', final == 'i', final == 'p' && body != "!", final == 'q' && !strings.HasSuffix(body, " "):
		return 0
	}
	return i + 1
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"plain", "\x1b]0;t\x07x", "\x9b6n", "\x1b[?1000;25h", "\u009d52;c;x\u009c", "\x1bP\x1b\\", "é\xc3", "\x1b[31m\x1b(0",
		"\x1b[1;08mx", "\x1b[30;40mx", "\x1b[38:2::1:2:3;48;5;16mx", "\x1b[40m\x1b7\x1b[0m\x1b8\x1b[30mx", "\x1b[2;38;5;244m\x1b[?1049h\x1b[48;5;236m\x1b[?1049lx"} {
		f.Add([]byte(s), uint(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint) {
		out := Sanitize(nil, in)
		checkSafe(t, in, out)
		checkVisible(t, in, out)
		// Idempotent: sanitized output is clean text.
		if again := Sanitize(nil, out); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		// Chunking does not matter.
		k := int(split % uint(len(in)+1))
		var s Sanitizer
		chunked := s.Flush(s.Append(s.Append(nil, in[:k]), in[k:]))
		if !bytes.Equal(chunked, out) {
			t.Fatalf("split at %d: %q; whole: %q", k, chunked, out)
		}
	})
}

func BenchmarkSanitize(b *testing.B) {
	var text []byte
	for i := 0; text == nil || len(text) < 1<<20; i++ {
		text = append(text, "\x1b[1;32mdrwxr-xr-x\x1b[0m  2 alice staff  4096 Mar 14 09:26 \x1b[34mprojects\x1b[0m\r\n"...)
		if i%50 == 0 {
			text = append(text, "\x1b]0;alice@demo: ~\x07ünïcödé ✓\r\n"...)
		}
	}
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"ansi-ls", text},
		{"ascii", bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog.\r\n"), 1<<20/46)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var s Sanitizer
			dst := make([]byte, 0, len(bc.data))
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			for b.Loop() {
				dst = s.Append(dst[:0], bc.data)
			}
		})
	}
}

// TestPrintablePrefix checks the word-at-a-time fast path against the
// byte loop for every byte value in every position of a word.
func TestPrintablePrefix(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 16; pos++ {
			b := bytes.Repeat([]byte("a"), 16)
			b[pos] = byte(c)
			want := 16
			if c < 0x20 || c >= 0x7f {
				want = pos
			}
			got := printablePrefix(b)
			if got > want || got%8 != 0 || want-got >= 8 {
				t.Fatalf("printablePrefix with %#x at %d = %d; want the words before %d", c, pos, got, want)
			}
		}
	}
}
