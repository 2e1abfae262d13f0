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

// seal seals ev into chain and returns its spool frame, valid until the
// next call. The event's canonical bytes are encoded once, straight into
// the frame (event.Chain.AppendSealed). An event too large for a frame is
// refused before chain moves.
func (e *encoder) seal(chain *event.Chain, ev *event.Event) ([]byte, error) {
	if n := frameHeaderSize + eventBodyFixed + len(ev.Session) + event.WireSize(ev); n > maxEventFrame {
		return nil, fmt.Errorf("%w: %d bytes encoded, at most %d", ErrTooLarge, n, maxEventFrame)
	}
	b := appendEventFramePrefix(e.buf[:0], ev.Time, ev.Session)
	b = chain.AppendSealed(b, ev)
	sealFrame(b)
	e.buf = b
	return b, nil
}
