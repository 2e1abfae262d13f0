package gateway

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		raw, first, rest string
	}{
		{"", "", ""},
		{"   ", "", ""},
		{"demo", "demo", ""},
		{"  demo  ", "demo", ""},
		{"demo --", "demo", ""},
		{"demo -- uname -a", "demo", "uname -a"},
		{"demo\t--\tuname", "demo", "uname"},
		{"demo uname -a", "demo", "uname -a"},
		{"demo --version", "demo", "--version"},
		{"demo -- -- x", "demo", "-- x"},
		{`demo -- echo 'a  b' "c"`, "demo", `echo 'a  b' "c"`},
		{"demo echo trailing  ", "demo", "echo trailing  "},
		{"audit show abc --json", "audit", "show abc --json"},
	}
	for _, tt := range tests {
		first, rest := parseCommand(tt.raw)
		if first != tt.first || rest != tt.rest {
			t.Errorf("parseCommand(%q) = %q, %q; want %q, %q", tt.raw, first, rest, tt.first, tt.rest)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "demo", "demo -- ls", "a\t--\tb", "--", "x --y", "\x00 \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		first, rest := parseCommand(raw)
		if strings.ContainsAny(first, " \t") {
			t.Errorf("first %q contains a separator", first)
		}
		if !strings.Contains(raw, first) || !strings.HasSuffix(raw, rest) {
			t.Errorf("parseCommand(%q) = %q, %q: not parts of the input", raw, first, rest)
		}
		if first == "" && rest != "" {
			t.Errorf("parseCommand(%q): rest %q without a first word", raw, rest)
		}
		if rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			t.Errorf("rest %q starts with a separator", rest)
		}
	})
}

func TestCRLFWriter(t *testing.T) {
	tests := []struct {
		writes []string
		want   string
	}{
		{[]string{"a\nb\n"}, "a\r\nb\r\n"},
		{[]string{"a\r\nb"}, "a\r\nb"},
		{[]string{"a\r", "\nb"}, "a\r\nb"},
		{[]string{"\n\n"}, "\r\n\r\n"},
		{[]string{""}, ""},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		w := newTextWriter(&buf, true)
		for _, s := range tt.writes {
			if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
				t.Errorf("Write(%q) = %d, %v", s, n, err)
			}
		}
		if buf.String() != tt.want {
			t.Errorf("writes %q → %q; want %q", tt.writes, buf.String(), tt.want)
		}
	}
	var buf bytes.Buffer
	if newTextWriter(&buf, false) != &buf {
		t.Error("without a pty the writer is not the original")
	}
}

func TestClamp(t *testing.T) {
	for _, tt := range []struct{ in, want uint32 }{{0, 0}, {80, 80}, {maxWindow, maxWindow}, {1 << 31, maxWindow}} {
		if got := clamp(tt.in); got != tt.want {
			t.Errorf("clamp(%d) = %d; want %d", tt.in, got, tt.want)
		}
	}
}
