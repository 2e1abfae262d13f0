package ingest

import (
	"encoding/base64"

	"github.com/foureyes/foureyes/event"
)

// fastUnmarshal decodes the JSON of an event as encoding/json writes it
// (no whitespace, known keys once each, ASCII strings without escapes,
// plain integers) about five times faster than event.Unmarshal, which is
// the bulk of ingest's CPU per event. It reports false for anything else —
// escapes, unknown or repeated keys, nulls, whitespace — and the caller
// then uses event.Unmarshal, so it never decides what is valid: when it
// reports true, e equals what json.Unmarshal would have produced
// (FuzzFastUnmarshal checks this). The caller still validates e.
func fastUnmarshal(b []byte, e *event.Event) bool {
	*e = event.Event{}
	d := fastDecoder{b: b}
	if !d.byte('{') {
		return false
	}
	var seen uint16
	if d.peek('}') {
		d.i++
		return d.i == len(d.b)
	}
	for {
		key, ok := d.str()
		if !ok || !d.byte(':') {
			return false
		}
		bit, ok := d.field(key, e)
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if d.peek(',') {
			d.i++
			continue
		}
		if !d.byte('}') {
			return false
		}
		return d.i == len(d.b)
	}
}

// fastDecoder is a cursor over the bytes of one JSON object.
type fastDecoder struct {
	b []byte
	i int
}

// field decodes the value of key into e and returns the key's bit.
func (d *fastDecoder) field(key []byte, e *event.Event) (uint16, bool) {
	switch string(key) {
	case "v":
		v, ok := d.uint(1<<16 - 1)
		e.V = uint16(v)
		return 1 << 0, ok
	case "session":
		s, ok := d.str()
		e.Session = string(s)
		return 1 << 1, ok
	case "seq":
		v, ok := d.uint(1<<64 - 1)
		e.Seq = v
		return 1 << 2, ok
	case "ts":
		v, ok := d.int()
		e.Time = v
		return 1 << 3, ok
	case "type":
		s, ok := d.str()
		e.Type = event.Type(s)
		return 1 << 4, ok
	case "gateway":
		s, ok := d.str()
		e.Gateway = string(s)
		return 1 << 5, ok
	case "actor":
		s, ok := d.str()
		e.Actor = string(s)
		return 1 << 6, ok
	case "data":
		s, ok := d.str()
		if !ok {
			return 0, false
		}
		e.Data = make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		n, err := base64.StdEncoding.Decode(e.Data, s)
		e.Data = e.Data[:n]
		return 1 << 7, err == nil
	case "meta":
		m, ok := d.object()
		e.Meta = m
		return 1 << 8, ok
	case "class":
		s, ok := d.str()
		e.Class = string(s)
		return 1 << 9, ok
	case "retention_days":
		v, ok := d.uint(1<<16 - 1)
		e.Retention = uint16(v)
		return 1 << 10, ok
	case "prev":
		s, ok := d.str()
		return 1 << 11, ok && e.Prev.UnmarshalText(s) == nil
	case "hash":
		s, ok := d.str()
		return 1 << 12, ok && e.Hash.UnmarshalText(s) == nil
	}
	return 0, false
}

func (d *fastDecoder) peek(c byte) bool { return d.i < len(d.b) && d.b[d.i] == c }

func (d *fastDecoder) byte(c byte) bool {
	if !d.peek(c) {
		return false
	}
	d.i++
	return true
}

// str returns the contents of a string of printable ASCII without escapes.
func (d *fastDecoder) str() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; {
		case c == '"':
			d.i++
			return d.b[start : d.i-1], true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, false
		}
	}
	return nil, false
}

// uint returns a non-negative integer without sign, fraction or exponent
// that is at most limit.
func (d *fastDecoder) uint(limit uint64) (uint64, bool) {
	start := d.i
	var v uint64
	for ; d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9'; d.i++ {
		digit := uint64(d.b[d.i] - '0')
		if v > (limit-digit)/10 {
			return 0, false
		}
		v = v*10 + digit
	}
	n := d.i - start
	// JSON forbids leading zeros; a fraction or exponent is left to
	// encoding/json (the next byte is then not ',' or '}').
	if n == 0 || n > 1 && d.b[start] == '0' {
		return 0, false
	}
	return v, true
}

// int returns an integer with an optional minus sign.
func (d *fastDecoder) int() (int64, bool) {
	neg := d.byte('-')
	v, ok := d.uint(1<<63 - 1)
	if !ok {
		return 0, false
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

// object returns a JSON object of strings as a map; {} gives an empty map,
// as encoding/json does.
func (d *fastDecoder) object() (map[string]string, bool) {
	if !d.byte('{') {
		return nil, false
	}
	m := map[string]string{}
	if d.byte('}') {
		return m, true
	}
	for {
		k, ok := d.str()
		if !ok || !d.byte(':') {
			return nil, false
		}
		v, ok := d.str()
		if !ok {
			return nil, false
		}
		key := string(k)
		if _, dup := m[key]; dup {
			return nil, false
		}
		m[key] = string(v)
		if d.byte(',') {
			continue
		}
		return m, d.byte('}')
	}
}
