package gateway

import (
	"strconv"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/config"
)

// drawnHidden returns the printable characters of b a terminal would draw
// in their own background colour (basic colours; reverse swaps), reading
// SGR sequences as the sanitized view writes them. The terminal's own
// colours are taken as a dark theme's: white (7) on black (0).
func drawnHidden(b []byte) string {
	const defFg, defBg = 7, 0
	fg, bg, rev := defFg, defBg, false
	var hidden strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == 0x1b && i+1 < len(b) && b[i+1] == '[' {
			j := i + 2
			for j < len(b) && (b[j] < 0x40 || b[j] > 0x7e) {
				j++
			}
			if j < len(b) && b[j] == 'm' {
				for _, f := range strings.Split(string(b[i+2:j]), ";") {
					n, _ := strconv.Atoi(f)
					switch {
					case n == 0:
						fg, bg, rev = defFg, defBg, false
					case n == 7:
						rev = true
					case n == 27:
						rev = false
					case n >= 30 && n <= 37:
						fg = n - 30
					case n == 39:
						fg = defFg
					case n >= 40 && n <= 47:
						bg = n - 40
					case n == 49:
						bg = defBg
					}
				}
			}
			i = j
			continue
		}
		f, g := fg, bg
		if rev {
			f, g = g, f
		}
		if c > ' ' && c < 0x7f && f == g {
			hidden.WriteByte(c)
		}
	}
	return hidden.String()
}

// TestLiveViewStreamsShareOnePen: a command without a pty has three
// streams (stdout, stderr, the requester's stdin), each with its own
// Sanitizer, drawn on one reviewer terminal. Colours one stream sets must
// not combine with another's into text in its own background colour, nor
// with the attributes a bastion notice resets.
func TestLiveViewStreamsShareOnePen(t *testing.T) {
	for _, tc := range []struct {
		name string
		feed func(h *hub)
	}{
		{"stdout fg, stderr bg", func(h *hub) {
			h.broadcast(streamOut, []byte("\x1b[30m"))
			h.broadcast(streamErr, []byte("\x1b[40mHIDDEN\r\n"))
		}},
		{"stderr fg, stdout bg", func(h *hub) {
			h.broadcast(streamErr, []byte("\x1b[34m"))
			h.broadcast(streamOut, []byte("\x1b[44mHIDDEN\r\n"))
		}},
		{"stdin bg, then stdout", func(h *hub) {
			h.broadcast(streamOut, []byte("\x1b[31m"))
			h.showInput([]byte("\x1b[41m"))
			h.broadcast(streamOut, []byte("HIDDEN\r\n"))
		}},
		{"stdout fg, notice, stdout", func(h *hub) {
			h.broadcast(streamOut, []byte("\x1b[30m"))
			h.mu.Lock()
			h.announceLocked("dave joined")
			h.mu.Unlock()
			h.broadcast(streamOut, []byte("\x1b[47mHIDDEN\r\n"))
		}},
		{"stdout fg, one watcher's notice, stdout", func(h *hub) {
			h.broadcast(streamOut, []byte("\x1b[30m"))
			h.offerNotice(h.parts[0], "observers cannot type")
			h.broadcast(streamOut, []byte("\x1b[47mHIDDEN\r\n"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &hub{owner: "alice", pol: &config.ApprovalPolicy{Count: 1}, log: testLogger(), wake: make(chan struct{}, 1), notes: make(chan string, 16), closed: make(chan struct{}), state: stateActive}
			for i := range h.views {
				h.views[i].crlf = true
			}
			p := newParticipant("dave", "", "", modeObserver)
			h.parts = append(h.parts, p)
			tc.feed(h)
			var got []byte
			for len(p.out) > 0 {
				got = append(got, <-p.out...)
			}
			if !strings.Contains(string(got), "HIDDEN") {
				t.Fatalf("reviewer got %q; want the text", got)
			}
			if s := drawnHidden(got); s != "" {
				t.Errorf("reviewer's terminal draws %q in its own background colour; got %q", s, got)
			}
		})
	}
}
