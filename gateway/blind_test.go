package gateway

import "testing"

func TestBlindDetector(t *testing.T) {
	type step struct {
		in, out string
		want    int // blind length reported by this step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"echoed as typed", []step{{"l", "", 0}, {"", "l", 0}, {"s", "", 0}, {"", "s", 0}, {"\r", "", 0}, {"", "\r\n", 0}}},
		{"echoed after a fast line", []step{{"ls -l\r", "", 0}, {"", "ls -l\r\ntotal 0\r\n", 0}}},
		{"echo with colours between", []step{{"ls\r", "", 0}, {"", "l\x1b[0ms\r\n", 0}}},
		{"password", []step{{"hunter2\r", "", 0}, {"", "\r\n", 7}}},
		{"password judged at the next line", []step{{"hunter2\r", "", 0}, {"whoami\r", "", 7}}},
		{"empty line", []step{{"\r", "", 0}, {"", "\r\n", 0}}},
		{"backspace", []step{{"lx\x7fs\r", "", 0}, {"", "ls\r\n", 0}}},
		{"arrow keys are not text", []step{{"\x1b[A\x1b[1;5C\r", "", 0}, {"", "\r\n", 0}}},
		{"ctrl-c drops the line", []step{{"secret\x03", "", 0}, {"", "^C\r\n", 0}}},
		{"partly echoed", []step{{"abcdef\r", "", 0}, {"", "ab\r\n", 6}}},
		{"key swallowed by a pager", []step{{"q", "", 0}, {"", "\x1b[?1049l", 0}, {"ls\r", "", 0}, {"", "ls\r\n", 0}}},
		{"long line counted", []step{{repeat('x', maxBlindLine+10) + "\r", "", 0}, {"", "\n", maxBlindLine + 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d blindDetector
			for i, s := range tt.steps {
				n, by := d.input("alice", []byte(s.in))
				m, by2 := d.output([]byte(s.out))
				got := n + m
				if (n > 0 && by != "alice") || (m > 0 && by2 != "alice") {
					t.Errorf("step %d: blind line attributed to %q/%q; want alice", i, by, by2)
				}
				if got != s.want {
					t.Errorf("step %d (%q, %q): blind %d; want %d", i, s.in, s.out, got, s.want)
				}
			}
		})
	}
}

func repeat(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

// TestBlindDetectorPeer: a blind line is attributed to whoever entered
// it, a peer too.
func TestBlindDetectorPeer(t *testing.T) {
	var d blindDetector
	if n, _ := d.input("dave", []byte("secret\r")); n != 0 {
		t.Fatalf("judged before any output: %d", n)
	}
	if n, by := d.output([]byte("\r\n")); n != 6 || by != "dave" {
		t.Errorf("output verdict = %d by %q; want 6 by dave", n, by)
	}
}

// FuzzBlindDetector: whatever is typed and printed, the detector never
// panics, keeps at most maxBlindLine bytes per line and never reports
// more characters than were typed.
func FuzzBlindDetector(f *testing.F) {
	f.Add([]byte("hunter2\r"), []byte("\r\n"))
	f.Add([]byte("\x1b[A\x7f\x15ls\r\r"), []byte("ls\r\nx\n"))
	f.Fuzz(func(t *testing.T, in, out []byte) {
		var d blindDetector
		typed := 0
		for i := 0; i < len(in) || i < len(out); i += 7 {
			if i < len(in) {
				chunk := in[i:min(i+7, len(in))]
				typed += len(chunk)
				if n, _ := d.input("a", chunk); n > typed {
					t.Fatalf("input verdict %d after %d bytes typed", n, typed)
				}
			}
			if i < len(out) {
				if n, _ := d.output(out[i:min(i+7, len(out))]); n > typed {
					t.Fatalf("output verdict %d after %d bytes typed", n, typed)
				}
			}
			if len(d.cur.typed) > maxBlindLine || len(d.closed.typed) > maxBlindLine {
				t.Fatalf("kept %d/%d bytes", len(d.cur.typed), len(d.closed.typed))
			}
		}
	})
}
