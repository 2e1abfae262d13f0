package transfer

import "testing"

// TestRsyncGreeting: a stream opens with a protocol version, in pieces
// or whole; text (a shell's prompt, a typed command) does not.
func TestRsyncGreeting(t *testing.T) {
	tests := []struct {
		name   string
		pieces []string
		ok     bool
	}{
		{"protocol 31", []string{"\x1f\x00\x00\x00more"}, true},
		{"protocol 20 in pieces", []string{"\x14", "\x00\x00", "\x00", "anything after"}, true},
		{"protocol 40", []string{"\x28\x00\x00\x00"}, true},
		{"short so far", []string{"\x1f\x00"}, true},
		{"typed command", []string{"echo hidden\n"}, false},
		{"prompt", []string{"$ ", "ls\n"}, false},
		{"protocol 19", []string{"\x13\x00\x00\x00"}, false},
		{"big endian 31", []string{"\x00\x00\x00\x1f"}, false},
		{"broken stays broken", []string{"ls\n", "\x1f\x00\x00\x00"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g RsyncGreeting
			ok := true
			for _, p := range tt.pieces {
				ok = g.Write([]byte(p))
			}
			if ok != tt.ok {
				t.Errorf("Write = %v; want %v", ok, tt.ok)
			}
		})
	}
}

// TestRsyncGreetingDoneAndPast: Done once a valid version passed whole,
// Past once bytes after it did.
func TestRsyncGreetingDoneAndPast(t *testing.T) {
	var g RsyncGreeting
	g.Write([]byte("\x1f\x00"))
	if g.Done() || g.Past() {
		t.Fatal("half a version: done or past")
	}
	g.Write([]byte("\x00\x00"))
	if !g.Done() || g.Past() {
		t.Fatalf("whole version: done %v, past %v", g.Done(), g.Past())
	}
	g.Write([]byte("x"))
	if !g.Past() {
		t.Error("bytes after the version: not past")
	}
	var h RsyncGreeting
	h.Write([]byte("\x1f\x00\x00\x00\n"))
	if !h.Done() || !h.Past() {
		t.Errorf("version and more in one write: done %v, past %v", h.Done(), h.Past())
	}
}
