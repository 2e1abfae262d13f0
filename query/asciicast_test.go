package query

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/foureyes/foureyes/event"
)

func TestWriteAsciicast(t *testing.T) {
	r := newRec("s1", "alice", "demo-prod", "shell", t0)
	r.at(500*time.Millisecond, event.Output, "", "hello \xe2\x9c", nil) // ✓ split across two events
	r.at(750*time.Millisecond, event.Output, "", "\x93 \xff\x1b]0;t\x07\u009b", nil)
	r.at(1*time.Second, event.Input, "alice", "ls\r", nil)
	r.at(1500*time.Millisecond, event.Resize, "alice", "", map[string]string{"cols": "132", "rows": "50"})
	r.at(2*time.Second, event.Signal, "", "", map[string]string{"signal": "INT"})
	r.end(2500*time.Millisecond, "0")
	var buf bytes.Buffer
	if err := WriteAsciicast(&buf, r.summary(), r.events()); err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(buf.Bytes()) || bytes.ContainsAny(buf.Bytes(), "\x1b\x07") || bytes.Contains(buf.Bytes(), []byte("\u009b")) {
		t.Fatalf("asciicast is not terminal-safe UTF-8: %q", buf.String())
	}
	sc := bufio.NewScanner(&buf)
	if !sc.Scan() {
		t.Fatal("no header")
	}
	var hdr struct {
		Version, Width, Height int
		Timestamp              int64
		Title                  string
		Env                    map[string]string
	}
	if err := json.Unmarshal(sc.Bytes(), &hdr); err != nil {
		t.Fatalf("header %q: %v", sc.Text(), err)
	}
	if hdr.Version != 2 || hdr.Width != 80 || hdr.Height != 24 || hdr.Timestamp != t0.Unix() || hdr.Env["TERM"] != "xterm-256color" || !strings.Contains(hdr.Title, "alice@demo-prod") {
		t.Fatalf("header = %+v", hdr)
	}
	type line struct {
		t          float64
		code, data string
	}
	var got []line
	for sc.Scan() {
		var raw []any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil || len(raw) != 3 {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, line{raw[0].(float64), raw[1].(string), raw[2].(string)})
	}
	want := []line{
		{0.5, "o", "hello "},
		{0.75, "o", "✓ \uFFFD\x1b]0;t\x07\u009b"},
		{1, "i", "ls\r"},
		{1.5, "r", "132x50"},
	}
	if len(got) != len(want) {
		t.Fatalf("lines = %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %+v; want %+v", i, got[i], want[i])
		}
	}
}

func TestWriteAsciicastSanitized(t *testing.T) {
	r := newRec("s1", "alice", "h", "shell", t0)
	r.at(time.Second, event.Output, "", "a\x1b]52;c;eA==\x07b\x1b[31mc", nil)
	var buf bytes.Buffer
	if err := writeAsciicast(&buf, Session{}, r.events(), true); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var raw []any
	if err := json.Unmarshal([]byte(lines[1]), &raw); err != nil {
		t.Fatal(err)
	}
	if raw[2] != "ab\x1b[31mc" {
		t.Fatalf("sanitized output = %q", raw[2])
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"q\"b\\", `"q\"b\\"`},
		{"\x00\x1b\x7f\r\n\t", `"\u0000\u001b\u007f\r\n\t"`},
		{"\u0085\u009b\u2028", `"\u0085\u009b\u2028"`},
		{"é\xff", "\"é\\ufffd\""},
	}
	for _, tt := range tests {
		got := string(appendJSONString(nil, []byte(tt.in)))
		if got != tt.want {
			t.Errorf("appendJSONString(%q) = %s; want %s", tt.in, got, tt.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("appendJSONString(%q) = %s: invalid JSON: %v", tt.in, got, err)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add([]byte("a\x1b\xff\u009b\"\\"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := appendJSONString(nil, in)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q -> %s: %v", in, out, err)
		}
		if utf8.Valid(in) && back != string(in) {
			t.Fatalf("round trip %q -> %q", in, back)
		}
		for _, c := range out {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("%q -> %q: raw control", in, out)
			}
		}
	})
}
