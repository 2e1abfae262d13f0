package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"unicode/utf8"
	"unsafe"
)

// The wire form of an event is what the spool stores and Kafka carries:
//
//	0xFE | u8 wire version (1) | canonical(e) | hash (32 raw bytes)
//
// where canonical(e) is exactly AppendCanonical's output (which already
// starts with "foureyes-event" 0x00). Every field is a length-prefixed run
// of raw bytes, so the wire form round-trips every byte of every field —
// invalid UTF-8 included — and the hash of an event is SHA-256 of the
// bytes between the two-byte prefix and the trailing hash, with nothing to
// re-encode. Terminal output travels as bytes, not base64.
//
// Readers still accept the JSON form of version-1 builds (a JSON text
// never starts with 0xFE), so spools and topics written before the wire
// form keep their meaning.
const (
	wireMagic   = 0xFE
	wireVersion = 1
	// wirePrefix is the number of bytes in front of the canonical encoding.
	wirePrefix = 2
)

var canonicalTag = []byte("foureyes-event\x00")

// Marshal returns the wire form of e (see AppendWire).
func Marshal(e *Event) ([]byte, error) {
	return AppendWire(make([]byte, 0, WireSize(e)), e), nil
}

// WireSize returns the length of the wire form of e.
func WireSize(e *Event) int {
	n := wirePrefix + len(canonicalTag) + 2 + 4 + len(e.Session) + 8 + 8 +
		4 + len(e.Type) + 4 + len(e.Gateway) + 4 + len(e.Actor) + 4 + len(e.Data) + 4 +
		4 + len(e.Class) + 2 + HashSize + HashSize
	for k, v := range e.Meta {
		n += 8 + len(k) + len(v)
	}
	return n
}

// AppendWire appends the wire form of e to b: a two-byte prefix, the
// canonical encoding and e.Hash.
func AppendWire(b []byte, e *Event) []byte {
	b = append(b, wireMagic, wireVersion)
	b = AppendCanonical(b, e)
	return append(b, e.Hash[:]...)
}

// AppendSealed seals e as c.Seal does and appends its wire form to b. The
// canonical bytes are encoded once, in place, and hashed there: the
// recorder's path for every event (Seal followed by AppendWire encodes
// them twice).
func (c *Chain) AppendSealed(b []byte, e *Event) []byte {
	e.Seq, e.Prev = c.next, c.prev
	b = append(b, wireMagic, wireVersion)
	start := len(b)
	b = AppendCanonical(b, e)
	e.Hash = sha256.Sum256(b[start:])
	c.next++
	c.prev = e.Hash
	return append(b, e.Hash[:]...)
}

// IsWire reports whether b starts like the wire form (rather than JSON).
func IsWire(b []byte) bool { return len(b) > 0 && b[0] == wireMagic }

// Unmarshal decodes and validates an event in the wire form, or in the
// JSON form of earlier builds.
func Unmarshal(b []byte, e *Event) error {
	*e = Event{}
	if IsWire(b) {
		if err := decodeWire(b, e, false); err != nil {
			return err
		}
		return e.Validate()
	}
	if err := json.Unmarshal(b, e); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return e.Validate()
}

// UnmarshalShared is Unmarshal without copies: the strings and Data of a
// wire-form e share b's memory (Meta is still copied), so b must not be
// modified while e or any of its strings is in use. It is for a reader
// that owns b and keeps e no longer than b anyway, such as ingest with a
// Kafka message: one allocation per event instead of seven. A JSON event
// is decoded as Unmarshal does.
func UnmarshalShared(b []byte, e *Event) error {
	*e = Event{}
	if !IsWire(b) {
		// Decoded into an event of its own, so that e does not escape to
		// the heap on the wire path (json.Unmarshal keeps its argument).
		var je Event
		err := Unmarshal(b, &je)
		*e = je
		return err
	}
	if err := decodeWire(b, e, true); err != nil {
		return err
	}
	return e.Validate()
}

// WireCanonical returns the canonical encoding inside a wire-form event
// (the bytes its hash covers) and the stored hash, without decoding it.
func WireCanonical(b []byte) (canonical []byte, hash Hash, err error) {
	if len(b) < wirePrefix+len(canonicalTag)+HashSize || b[0] != wireMagic {
		return nil, hash, fmt.Errorf("%w: not a wire-form event", ErrInvalid)
	}
	if b[1] != wireVersion {
		return nil, hash, fmt.Errorf("%w: wire version %d (this build knows %d)", ErrVersion, b[1], wireVersion)
	}
	copy(hash[:], b[len(b)-HashSize:])
	return b[wirePrefix : len(b)-HashSize], hash, nil
}

// Header is the part of a wire-form event that routing and expiry need.
// Its strings are copies.
type Header struct {
	Session   string
	Seq       uint64
	Time      int64
	Type      Type
	Class     string
	Retention uint16
}

// PeekHeader returns the header fields of a wire-form or JSON event
// without copying its data or meta. A JSON event is decoded in full.
func PeekHeader(b []byte) (Header, error) {
	if !IsWire(b) {
		var e Event
		if err := Unmarshal(b, &e); err != nil {
			return Header{}, err
		}
		return Header{Session: e.Session, Seq: e.Seq, Time: e.Time, Type: e.Type, Class: e.Class, Retention: e.Retention}, nil
	}
	r, _, _, err := openWire(b)
	if err != nil {
		return Header{}, err
	}
	var h Header
	h.Session = string(r.field())
	h.Seq = r.u64()
	h.Time = int64(r.u64())
	h.Type = Type(r.field())
	r.field() // gateway
	r.field() // actor
	r.field() // data
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.field()
		r.field()
	}
	h.Class = string(r.field())
	h.Retention = r.u16()
	r.take(HashSize)
	return h, r.close()
}

// decodeWire fills e from its wire form. Strings and Data are copies,
// or with share views of b (UnmarshalShared); Meta is always copied.
// It reads the fields in line rather than through a callback, so that
// neither e nor the reader escapes: ingest decodes every event with it
// (BENCHMARKS.md, "Ingest allocations").
func decodeWire(b []byte, e *Event, share bool) error {
	r, v, h, err := openWire(b)
	if err != nil {
		return err
	}
	e.Hash = h
	e.V = v
	e.Session = wireString(r.field(), share)
	e.Seq = r.u64()
	e.Time = int64(r.u64())
	e.Type = Type(wireString(r.field(), share))
	e.Gateway = wireString(r.field(), share)
	e.Actor = wireString(r.field(), share)
	if d := r.field(); len(d) > 0 {
		if share {
			e.Data = d
		} else {
			e.Data = bytes.Clone(d)
		}
	}
	n := r.u32()
	if r.err == nil && uint64(n)*8 > uint64(len(r.b)) {
		return fmt.Errorf("%w: %d meta entries in %d bytes", ErrInvalid, n, len(r.b))
	}
	var last []byte
	for i := uint32(0); i < n && r.err == nil; i++ {
		k, v := r.field(), r.field()
		if r.err != nil {
			break
		}
		if i > 0 && bytes.Compare(last, k) >= 0 {
			return fmt.Errorf("%w: meta keys not strictly ascending at %q", ErrInvalid, k)
		}
		last = k
		if e.Meta == nil {
			e.Meta = make(map[string]string, n)
		}
		e.Meta[string(k)] = string(v)
	}
	e.Class = wireString(r.field(), share)
	e.Retention = r.u16()
	copy(e.Prev[:], r.take(HashSize))
	return r.close()
}

// wireString returns f as a string: a copy, or with share a view of f.
func wireString(f []byte, share bool) string {
	if share {
		return unsafe.String(unsafe.SliceData(f), len(f))
	}
	return string(f)
}

// openWire checks the framing of a wire-form event and returns a reader
// positioned after the version field of the canonical encoding, that
// version, and the stored hash. The caller reads every field up to the
// hash and then calls close.
func openWire(b []byte) (wireReader, uint16, Hash, error) {
	canon, h, err := WireCanonical(b)
	if err != nil {
		return wireReader{}, 0, h, err
	}
	r := wireReader{b: canon}
	if !bytes.Equal(r.take(len(canonicalTag)), canonicalTag) {
		return r, 0, h, fmt.Errorf("%w: wire form lacks the canonical tag", ErrInvalid)
	}
	v := r.u16()
	if r.err != nil {
		return r, 0, h, fmt.Errorf("%w: %v", ErrInvalid, r.err)
	}
	if v == 0 || v > Version {
		return r, 0, h, fmt.Errorf("%w %d (this build knows 1..%d)", ErrVersion, v, Version)
	}
	return r, v, h, nil
}

// close reports the reader's first error, or bytes left unread.
func (r *wireReader) close() error {
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, r.err)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last field", ErrInvalid, len(r.b))
	}
	return nil
}

// wireReader reads the fields of a canonical encoding. The first error
// sticks; later reads return zero values.
type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("field of %d bytes, %d left", n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *wireReader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *wireReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *wireReader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// field reads a u32 length and that many bytes.
func (r *wireReader) field() []byte {
	n := r.u32()
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)) {
		r.err = fmt.Errorf("field of %d bytes, %d left", n, len(r.b))
		return nil
	}
	return r.take(int(n))
}

// metaBinaryTag starts the binary form of stored Meta (see MetaText); a
// JSON text never starts with a NUL byte.
const metaBinaryTag = 0x00

// MetaText returns the stored form of e.Meta: its canonical JSON (keys
// sorted, "{}" when empty) when every key and value is valid UTF-8, which
// JSON round-trips exactly; otherwise a NUL byte followed by the canonical
// binary encoding of the map (u32 n { str key | str value }), which keeps
// every byte. ParseMeta reads both.
func (e *Event) MetaText() string {
	if len(e.Meta) == 0 {
		return "{}"
	}
	for k, v := range e.Meta {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			b := []byte{metaBinaryTag}
			b = binary.BigEndian.AppendUint32(b, uint32(len(e.Meta)))
			for _, k := range sortedKeys(e.Meta) {
				b = appendString(b, k)
				b = appendString(b, e.Meta[k])
			}
			return string(b)
		}
	}
	b, _ := json.Marshal(e.Meta) // map[string]string of valid UTF-8 cannot fail; keys sorted
	return string(b)
}

// parseBinaryMeta decodes the binary form written by MetaText.
func parseBinaryMeta(s string) (map[string]string, error) {
	r := wireReader{b: []byte(s[1:])}
	n := r.u32()
	if r.err == nil && uint64(n)*8 > uint64(len(r.b)) {
		return nil, fmt.Errorf("event: meta: %d entries in %d bytes", n, len(r.b))
	}
	m := make(map[string]string, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		k, v := r.field(), r.field()
		m[string(k)] = string(v)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the last entry", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("event: meta: %w", r.err)
	}
	return m, nil
}
