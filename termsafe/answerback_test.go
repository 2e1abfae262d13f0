package termsafe

import (
	"bytes"
	"testing"
)

func TestAnswerback(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"text", "ls -l\r", "ls -l\r"},
		{"arrow keys", "\x1b[A\x1b[1;5C\x1bOP\x1b[15~", "\x1b[A\x1b[1;5C\x1bOP\x1b[15~"},
		{"alt key", "\x1bx", "\x1bx"},
		{"lone esc", "a\x1b", "a\x1b"},
		{"bracketed paste kept", "\x1b[200~rm -rf\x1b[201~", "\x1b[200~rm -rf\x1b[201~"},
		{"cursor position report", "a\x1b[24;80Rb", "ab"},
		{"device status", "\x1b[0n", ""},
		{"device attributes", "\x1b[?62;22c\x1b[>41;354;0c", ""},
		{"decrpm", "\x1b[?2004;1$y", ""},
		{"window report", "\x1b[8;24;80t", ""},
		{"osc colour reply", "x\x1b]11;rgb:0000/0000/0000\x07y", "xy"},
		{"osc reply with st", "x\x1b]10;rgb:ffff/ffff/ffff\x1b\\y", "xy"},
		{"dcs decrqss reply", "\x1bP1$r0m\x1b\\ok", "ok"},
		{"focus", "\x1b[I\x1b[O", ""},
		{"sgr mouse", "\x1b[<0;10;5M\x1b[<0;10;5m", ""},
		{"x10 mouse", "\x1b[M !!z", "z"},
		{"kitty flags", "\x1b[?1u", ""},
		{"control interrupts", "\x1b[12\x03", "\x03"},
		{"over-long dropped", "\x1b[" + string(bytes.Repeat([]byte("1;"), 100)) + "Rq", "q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Answerback
			if got := string(a.Filter(nil, []byte(tt.in))); got != tt.want {
				t.Errorf("Filter(%q) = %q; want %q", tt.in, got, tt.want)
			}
			// Byte by byte, a reply split over reads is still removed
			// (a lone ESC at a read's end is the Esc key: not split there).
			var b Answerback
			var got []byte
			for i := 0; i < len(tt.in); i++ {
				j := i + 1
				if tt.in[i] == 0x1b && j < len(tt.in) {
					j++
				}
				got = b.Filter(got, []byte(tt.in[i:j]))
				i = j - 1
			}
			if string(got) != tt.want {
				t.Errorf("split Filter(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzAnswerback: no reply of the kinds the Sanitizer's queries would
// provoke survives, whatever surrounds it, and memory stays bounded.
func FuzzAnswerback(f *testing.F) {
	f.Add([]byte("ls\r"), []byte("\x1b[24;80R"))
	f.Add([]byte("\x1b["), []byte("\x1b]11;rgb:0/0/0\x07"))
	f.Fuzz(func(t *testing.T, pre, post []byte) {
		var a Answerback
		out := a.Filter(nil, pre)
		out = a.Filter(out, []byte("\x1b[1;1R"))
		out = a.Filter(out, post)
		if len(out) > len(pre)+len(post)+1 {
			t.Fatalf("output %d bytes for %d in", len(out), len(pre)+len(post))
		}
	})
}
