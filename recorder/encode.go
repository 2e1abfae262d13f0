package recorder

import (
	"fmt"

	"github.com/foureyes/foureyes/event"
)

// encoder builds event frames, reusing its buffer: the payload is the
// event's wire form (event.AppendWire), byte for byte what Kafka carries.
// Not safe for concurrent use.
type encoder struct {
	buf []byte
}

// frame returns the spool frame of ev, valid until the next call.
func (e *encoder) frame(ev *event.Event) ([]byte, error) {
	if n := frameHeaderSize + eventBodyFixed + len(ev.Session) + event.WireSize(ev); n > maxEventFrame {
		return nil, fmt.Errorf("%w: %d bytes encoded, at most %d", ErrTooLarge, n, maxEventFrame)
	}
	b := appendEventFramePrefix(e.buf[:0], ev.Time, ev.Session)
	b = event.AppendWire(b, ev)
	sealFrame(b)
	e.buf = b
	return b, nil
}
