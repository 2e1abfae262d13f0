package gateway

import (
	"bytes"

	"github.com/foureyes/foureyes/termsafe"
)

// Streams of a four-eyes session as reviewers see them.
const (
	streamOut   = iota // the host's stdout
	streamErr          // the host's stderr
	streamStdin        // the requester's input to a command without a pty
	numStreams
)

// noticeStart opens a bastion notice on its own line, in reverse video
// on the terminal's own colours (a reset first: reverse over colours the
// host set could draw the notice in its own background).
const noticeStart = "\r\n\x1b[0;7m[foureyes: "

// Reviewer-view styling of the requester's stdin (exec without a pty):
// dim, so that it is told apart from the host's output. It ends in a
// full reset (hub.shown is then penDefault).
const (
	stdinStart = "\x1b[2m"
	stdinEnd   = "\x1b[0m"
)

// liveView turns one stream of a four-eyes session into what reviewers'
// terminals get: sanitized by the rules of `audit play`
// (termsafe.Sanitizer: nothing that makes a reviewer's terminal answer,
// store or act beyond the screen), and, for a session without a pty,
// with each lone LF sent as CRLF, since a reviewer's terminal is in raw
// mode and would print a staircase. Guarded by hub.mu.
type liveView struct {
	san  termsafe.Sanitizer
	crlf bool // translate lone LF (no pty on the requester's side)
	cr   bool // the last byte rendered was CR
}

// render appends the reviewers' form of src to dst.
func (v *liveView) render(dst, src []byte) []byte {
	start := len(dst)
	dst = v.san.Append(dst, src)
	if !v.crlf || len(dst) == start {
		return dst
	}
	out := dst[start:]
	if bytes.IndexByte(out, '\n') < 0 {
		v.cr = out[len(out)-1] == '\r'
		return dst
	}
	res := make([]byte, start, len(dst)+len(out)/8+8)
	copy(res, dst[:start])
	for _, c := range out {
		if c == '\n' && !v.cr {
			res = append(res, '\r')
		}
		res = append(res, c)
		v.cr = c == '\r'
	}
	return res
}

// restoreSequences returns what puts a reviewer's terminal back in its
// usual state when they stop watching: out of the alternate screen, scroll
// region, attributes and modes reset, as `audit play` ends a replay. It
// asks a copy of the output view's Sanitizer, which knows the modes the
// host set, and leaves the view's own state alone.
func (h *hub) restoreSequences() []byte {
	h.mu.Lock()
	san := h.views[streamOut].san
	h.mu.Unlock()
	// The output view's Sanitizer knows only its own attributes; stderr
	// or stdin may have set others, and its SGR 0 is dropped when it
	// believes nothing is set: reset them whatever it believes.
	return append(san.Restore(nil), "\x1b[0m"...)
}

// safeReplay returns a late joiner's replay of ring contents b: when the
// ring has wrapped, its oldest bytes may begin inside a line, an escape
// sequence or a character, so the replay starts at the first line
// boundary (if one is near) and passes a fresh Sanitizer, which drops a
// sequence cut at the front.
func safeReplay(b []byte, wrapped bool) []byte {
	if wrapped {
		if i := bytes.IndexByte(b[:min(len(b), 4<<10)], '\n'); i >= 0 {
			b = b[i+1:]
		}
		for len(b) > 0 && b[0]&0xc0 == 0x80 { // a character's tail
			b = b[1:]
		}
	}
	return termsafe.Sanitize(make([]byte, 0, len(b)), b)
}
