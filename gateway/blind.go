package gateway

import "bytes"

// maxBlindLine bounds the typed characters a blindDetector keeps per
// line; more are counted, not kept.
const maxBlindLine = 512

// blindDetector notices input typed while the host does not echo it (a
// password prompt, `stty -echo`, a program reading the terminal raw):
// reviewers see only the host's output, so such input is invisible to
// them. It matches the printable bytes typed on a line, in order (a few
// may be skipped: blindSkip), against the host's output; when the line's end (Enter) has been echoed — the
// output's next LF — or the next line is entered first, a line of which
// fewer than half of the characters showed up is judged blind.
//
// It needs no clock: judgment waits for the host's next line end, so a
// host that echoes a fast typist's line late is not misjudged. The zero
// value is ready; guarded by hub.mu.
type blindDetector struct {
	cur      blindLine
	closed   blindLine // the last entered line, until judged
	closedBy string    // who pressed its Enter
	esc      bool      // inside an escape sequence (arrow key) in the input
	escLen   int
}

// blindLine is one typed line: its printable bytes, how many were typed
// beyond maxBlindLine and how many of the kept ones the output showed.
type blindLine struct {
	typed []byte
	extra int
	next  int // where matching the output goes on
	seen  int
	open  bool // closed only: entered, waiting to be judged
}

// blindSkip is how far ahead of its position a line's matching looks: a
// key the host swallowed (a `q` that quit a pager) does not stop the rest
// of the line from being matched.
const blindSkip = 8

// match takes an output byte; it reports whether the byte was the echo
// of a typed one.
func (l *blindLine) match(c byte) bool {
	for i := l.next; i < len(l.typed) && i < l.next+blindSkip; i++ {
		if l.typed[i] == c {
			l.next, l.seen = i+1, l.seen+1
			return true
		}
	}
	return false
}

func (l *blindLine) reset() { l.typed, l.extra, l.next, l.seen, l.open = l.typed[:0], 0, 0, 0, false }

// verdict returns the line's length when it was typed blind, else 0.
func (l *blindLine) verdict() int {
	n := len(l.typed) + l.extra
	if n > 0 && 2*l.seen < n {
		return n
	}
	return 0
}

// input takes bytes typed by actor (the requester or a peer: they share
// the terminal's line). It returns the length of an earlier line judged
// blind now (0: none) and who entered it.
func (d *blindDetector) input(actor string, b []byte) (blind int, by string) {
	for _, c := range b {
		if d.esc {
			// ESC [ or ESC O, then parameters, until a final byte.
			d.escLen++
			if (d.escLen > 1 || (c != '[' && c != 'O')) && c >= 0x40 && c <= 0x7e || d.escLen > 32 {
				d.esc = false
			}
			continue
		}
		switch {
		case c == 0x1b:
			d.esc, d.escLen = true, 0
		case c == '\r' || c == '\n':
			if d.closed.open {
				if n := d.closed.verdict(); n > blind {
					blind, by = n, d.closedBy
				}
			}
			if len(d.cur.typed)+d.cur.extra == 0 {
				d.closed.reset()
				continue
			}
			d.cur, d.closed = d.closed, d.cur
			d.closed.open, d.closedBy = true, actor
			d.cur.reset()
		case c == 0x7f || c == 0x08:
			if d.cur.extra > 0 {
				d.cur.extra--
			} else if n := len(d.cur.typed); n > 0 {
				d.cur.typed = d.cur.typed[:n-1]
				d.cur.next = min(d.cur.next, n-1)
				d.cur.seen = min(d.cur.seen, n-1)
			}
		case c == 0x15 || c == 0x03: // Ctrl-U, Ctrl-C: the line is gone
			d.cur.reset()
		case c < 0x20:
		case len(d.cur.typed) < maxBlindLine:
			d.cur.typed = append(d.cur.typed, c)
		default:
			d.cur.extra++
		}
	}
	return blind, by
}

// output takes bytes of the host's output. It returns the length of the
// entered line judged blind now (0: none) and who entered it.
func (d *blindDetector) output(b []byte) (blind int, by string) {
	if !d.closed.open && d.cur.next >= len(d.cur.typed) {
		return 0, "" // nothing typed waits for its echo: the usual case, at no cost
	}
	by = d.closedBy
	for i, c := range b {
		if d.closed.open && d.closed.next >= len(d.closed.typed) && d.cur.next >= len(d.cur.typed) {
			// Only the line end is awaited: find it at memchr speed.
			if bytes.IndexByte(b[i:], '\n') < 0 {
				return blind, by
			}
			blind = max(blind, d.closed.verdict())
			d.closed.reset()
			return blind, by
		}
		if d.closed.open {
			if d.closed.match(c) {
				continue
			}
			if c == '\n' {
				blind = max(blind, d.closed.verdict())
				d.closed.reset()
			}
			continue
		}
		d.cur.match(c)
	}
	return blind, by
}
