package gateway

// ringSize bounds the recent output kept per four-eyes session, replayed
// to a reviewer who joins late so that they see the current screen
// rather than a blank terminal.
const ringSize = 64 << 10

// ring keeps the last ringSize bytes written to it. The zero value is
// empty; it allocates on first write. Not safe for concurrent use (the
// hub guards it).
type ring struct {
	buf  []byte
	next int  // where the next byte goes
	full bool // buf has wrapped at least once
}

// write appends p, overwriting the oldest bytes.
func (r *ring) write(p []byte) {
	if r.buf == nil {
		r.buf = make([]byte, ringSize)
	}
	if len(p) >= len(r.buf) {
		copy(r.buf, p[len(p)-len(r.buf):])
		r.next, r.full = 0, true
		return
	}
	n := copy(r.buf[r.next:], p)
	if n < len(p) {
		copy(r.buf, p[n:])
		r.full = true
	}
	r.next = (r.next + len(p)) % len(r.buf)
	if r.next == 0 && len(p) > 0 {
		r.full = true
	}
}

// snapshot returns a copy of the kept bytes, oldest first.
func (r *ring) snapshot() []byte {
	if !r.full {
		return append([]byte(nil), r.buf[:r.next]...)
	}
	out := make([]byte, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}
