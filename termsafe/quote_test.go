package termsafe

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// unquote is the test's reader of Quote's output: a plain string is
// itself; $'...' is decoded as bash decodes the escapes Quote writes.
func unquote(t *testing.T, q string) string {
	t.Helper()
	if !strings.HasPrefix(q, "$'") {
		return q
	}
	if len(q) < 3 || q[len(q)-1] != '\'' {
		t.Fatalf("unterminated quoting %q", q)
	}
	body := q[2 : len(q)-1]
	var b []byte
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\'' {
			t.Fatalf("unescaped quote inside %q", q)
		}
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		if i >= len(body) {
			t.Fatalf("dangling backslash in %q", q)
		}
		hex := func(n int) uint64 {
			if i+n >= len(body) {
				t.Fatalf("short escape in %q", q)
			}
			v, err := strconv.ParseUint(body[i+1:i+1+n], 16, 32)
			if err != nil {
				t.Fatalf("bad escape in %q: %v", q, err)
			}
			i += n
			return v
		}
		switch body[i] {
		case '\\', '\'':
			b = append(b, body[i])
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'E':
			b = append(b, 0x1b)
		case 'x':
			b = append(b, byte(hex(2)))
		case 'u':
			b = utf8.AppendRune(b, rune(hex(4)))
		case 'U':
			b = utf8.AppendRune(b, rune(hex(8)))
		default:
			t.Fatalf("unknown escape \\%c in %q", body[i], q)
		}
	}
	return string(b)
}

func TestQuote(t *testing.T) {
	tests := []struct {
		name, in, quote, text string
	}{
		{"plain", "echo hi", "echo hi", "echo hi"},
		{"shell quotes kept plain", `echo 'a b' "c"`, `echo 'a b' "c"`, `echo 'a b' "c"`},
		{"empty", "", "$''", "$''"},
		{"osc payload", "echo ok\x1b]0;x\x07; rm -rf /", `$'echo ok\E]0;x\x07; rm -rf /'`, `$'echo ok\E]0;x\x07; rm -rf /'`},
		{"newline", "echo x\nrm -rf /var/lib/pg", `$'echo x\nrm -rf /var/lib/pg'`, `$'echo x\nrm -rf /var/lib/pg'`},
		{"space padding", "echo a" + strings.Repeat(" ", 5) + "; rm x", `$'echo a\x20\x20\x20\x20\x20; rm x'`, `$'echo a\x20\x20\x20\x20\x20; rm x'`},
		{"trailing space", "ls ", `$'ls\x20'`, `$'ls\x20'`},
		{"nul", "a\x00b", `$'a\x00b'`, `$'a\x00b'`},
		{"c1 raw byte", "a\x9bb", `$'a\x9bb'`, `$'a\x9bb'`},
		{"c1 utf8", "a\u009bb", `$'a\u009bb'`, `$'a\u009bb'`},
		{"del", "a\x7f", `$'a\x7f'`, `$'a\x7f'`},
		{"bidi override", "ls \u202e/tmp", `$'ls \u202e/tmp'`, `$'ls \u202e/tmp'`},
		{"zero width", "r\u200bm", `$'r\u200bm'`, `$'r\u200bm'`},
		{"bom", "\ufeffls", `$'\ufeffls'`, `$'\ufeffls'`},
		{"letters", "prüfen", `$'pr\u00fcfen'`, "prüfen"},
		{"homoglyph", "/usr/bin/\u0435cho", `$'/usr/bin/\u0435cho'`, "/usr/bin/\u0435cho"},
		{"emoji astral", "ok 🙂", `$'ok \U0001f642'`, "ok 🙂"},
		{"combining mark", "e\u0301", `$'e\u0301'`, `$'e\u0301'`},
		{"invalid utf8", "a\xff\xc3", `$'a\xff\xc3'`, `$'a\xff\xc3'`},
		{"looks quoted", `$'x'`, `$'$\'x\''`, `$'$\'x\''`},
		{"backslash", "a\\b\tc", `$'a\\b\tc'`, `$'a\\b\tc'`},
		{"hangul filler", "a\u3164b", `$'a\u3164b'`, `$'a\u3164b'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quote(tt.in); got != tt.quote {
				t.Errorf("Quote(%q) = %s; want %s", tt.in, got, tt.quote)
			}
			if got := Text(tt.in); got != tt.text {
				t.Errorf("Text(%q) = %s; want %s", tt.in, got, tt.text)
			}
			if got := unquote(t, Quote(tt.in)); got != tt.in {
				t.Errorf("unquote(Quote(%q)) = %q", tt.in, got)
			}
			if got := unquote(t, Text(tt.in)); got != tt.in {
				t.Errorf("unquote(Text(%q)) = %q", tt.in, got)
			}
		})
	}
}

// TestQuoteBashRoundTrip checks the claim that bash reads Quote's output
// back as the original bytes.
func TestQuoteBashRoundTrip(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash: %v", err) // on every machine we build on
	}
	for _, in := range []string{
		"echo ok\x1b]52;c;cm0gLXJm\x07 x", "a\nb\r\tc", "x" + strings.Repeat(" ", 40) + "y",
		"a\x9b\xff\xc3(b", "ls \u202e\u2066/tmp\u200b", "pr\u00fcfen 🙂", "it's \\ $'x'\n", " lead", "\x01\x7f",
	} {
		q := Quote(in)
		if !strings.HasPrefix(q, "$'") {
			t.Fatalf("Quote(%q) = %s; want the quoted form", in, q)
		}
		out, err := exec.Command(bash, "-c", "printf %s "+q).Output()
		if err != nil {
			t.Fatalf("bash on %q: %v", in, err)
		}
		if string(out) != in {
			t.Errorf("bash read Quote(%q) = %s back as %q", in, Quote(in), out)
		}
	}
}

// FuzzQuote checks Quote and Text for every input: the result is
// printable (ASCII for Quote, ASCII or visible runes for Text) and reads
// back as the input, byte for byte.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"echo hi", "a\x1b]0;t\x07b", "$'x'", "  ", "\u202e", "\xff", "prüfen"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		for i := 0; i < len(q); i++ {
			if q[i] < 0x20 || q[i] >= 0x7f {
				t.Fatalf("Quote(%q) = %q has byte %#x", s, q, q[i])
			}
		}
		if got := unquote(t, q); got != s {
			t.Fatalf("unquote(Quote(%q)) = %q", s, got)
		}
		x := Text(s)
		if !utf8.ValidString(x) {
			t.Fatalf("Text(%q) = %q is not UTF-8", s, x)
		}
		for _, r := range x {
			if !Visible(r) {
				t.Fatalf("Text(%q) = %q has %U", s, x, r)
			}
		}
		if got := unquote(t, x); got != s {
			t.Fatalf("unquote(Text(%q)) = %q", s, got)
		}
	})
}
