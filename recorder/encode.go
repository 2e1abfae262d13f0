package recorder

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/foureyes/foureyes/event"
)

// encoder builds event frames, reusing its buffer: the JSON it produces is
// byte for byte event.Marshal's. Not safe for concurrent use.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// frame returns the spool frame of ev, valid until the next call.
func (e *encoder) frame(ev *event.Event) ([]byte, error) {
	if e.enc == nil {
		e.enc = json.NewEncoder(&e.buf)
	}
	e.buf.Reset()
	e.buf.Write(appendEventFramePrefix(e.buf.AvailableBuffer(), ev.Time, ev.Session))
	if err := e.enc.Encode(ev); err != nil {
		return nil, fmt.Errorf("recorder: encode event: %w", err)
	}
	b := e.buf.Bytes()
	b = b[:len(b)-1] // Encode's newline
	if len(b) > maxEventFrame {
		return nil, fmt.Errorf("%w: %d bytes encoded, at most %d", ErrTooLarge, len(b), maxEventFrame)
	}
	sealFrame(b)
	return b, nil
}
