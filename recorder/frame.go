package recorder

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// A frame is one spool record:
//
//	u32 len(body) | u32 CRC-32C(body) | body            (big-endian)
//
// and body is one of
//
//	'E' | i64 time (unix ns) | u8 len(session) | session | event (wire form)
//	'K' | checkpoint part          (see checkpoint.go)
//	'C' | checkpoint JSON          (earlier builds; read, never written)
//	'P' | zeros                    (padding: an expired event overwritten)
//	'T' | u8 len(session) | session | zeros   (tombstone: an expired session.end)
//
// Padding and tombstones are written by spool compaction (compact.go); a
// tombstone tells recovery that its session ended.
// The event body repeats the session id and time in front of the event so
// the publisher builds Kafka messages (key, timestamp, value = the event's
// wire form as is) without decoding it.
const (
	frameHeaderSize = 8
	// maxFrameBody bounds the body of every frame this build writes.
	maxFrameBody = 8 << 20
	// maxEventFrame bounds an encoded event: the largest output chunk
	// (1 MiB, 1.4 MB as JSON) fits, huge Meta does not.
	maxEventFrame = 2 << 20

	kindEvent      byte = 'E'
	kindCheckpoint byte = 'C'
	kindPad        byte = 'P'
	kindTomb       byte = 'T'

	eventBodyFixed = 1 + 8 + 1 // kind, time, session length
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Frame decoding errors. errFrameShort means more bytes may complete the
// frame; errFrameCorrupt means they will not.
var (
	errFrameShort   = errors.New("recorder: spool frame: truncated")
	errFrameCorrupt = errors.New("recorder: spool frame: corrupt")
)

// frame is a decoded spool record. Its slices alias the decoded buffer.
type frame struct {
	kind    byte
	time    int64  // events only
	session []byte // events only
	payload []byte // event wire form or checkpoint; zeros of padding and tombstones
}

// decodeFrame decodes the frame at the start of b and returns it with its
// encoded length.
func decodeFrame(b []byte) (frame, int, error) {
	if len(b) < frameHeaderSize {
		return frame{}, 0, errFrameShort
	}
	n := binary.BigEndian.Uint32(b)
	if n == 0 {
		return frame{}, 0, errFrameCorrupt
	}
	total := frameHeaderSize + int(n)
	if len(b) < total {
		if n > maxFrameBody {
			return frame{}, 0, errFrameCorrupt // no writer makes it; more bytes will not help
		}
		return frame{}, 0, errFrameShort
	}
	// A body over maxFrameBody whose bytes are all there and whose CRC
	// matches is accepted: earlier builds could write a checkpoint that
	// large, and the events behind it were fsync'd.
	body := b[frameHeaderSize:total]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return frame{}, 0, errFrameCorrupt
	}
	f := frame{kind: body[0]}
	switch f.kind {
	case kindEvent:
		if len(body) < eventBodyFixed {
			return frame{}, 0, errFrameCorrupt
		}
		f.time = int64(binary.BigEndian.Uint64(body[1:]))
		sl := int(body[9])
		if sl == 0 || len(body) < eventBodyFixed+sl+1 {
			return frame{}, 0, errFrameCorrupt
		}
		f.session = body[eventBodyFixed : eventBodyFixed+sl]
		f.payload = body[eventBodyFixed+sl:]
	case kindCheckpoint, kindCheckpointPart:
		f.payload = body[1:]
	case kindPad:
		f.payload = body[1:]
		if !allZero(f.payload) {
			return frame{}, 0, errFrameCorrupt
		}
	case kindTomb:
		if len(body) < 2 {
			return frame{}, 0, errFrameCorrupt
		}
		sl := int(body[1])
		if sl == 0 || len(body) < 2+sl {
			return frame{}, 0, errFrameCorrupt
		}
		f.session, f.payload = body[2:2+sl], body[2+sl:]
		if !allZero(f.payload) {
			return frame{}, 0, errFrameCorrupt
		}
	default:
		return frame{}, 0, errFrameCorrupt
	}
	return f, total, nil
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// appendEventFramePrefix appends a frame header placeholder and the fixed
// part of an event body; the caller appends the JSON and calls sealFrame.
func appendEventFramePrefix(b []byte, time int64, session string) []byte {
	b = append(b, make([]byte, frameHeaderSize)...)
	b = append(b, kindEvent)
	b = binary.BigEndian.AppendUint64(b, uint64(time))
	b = append(b, byte(len(session)))
	return append(b, session...)
}

// appendPadFrame appends a padding frame of total bytes (at least
// frameHeaderSize+1): it takes the place of an expired event whose offset
// must not change.
func appendPadFrame(b []byte, total int) []byte {
	start := len(b)
	b = append(b, make([]byte, frameHeaderSize)...)
	b = append(b, kindPad)
	b = append(b, make([]byte, total-frameHeaderSize-1)...)
	sealFrame(b[start:])
	return b
}

// appendTombFrame appends a tombstone for session, zero-filled to total
// bytes when total is larger than the tombstone needs.
func appendTombFrame(b []byte, session []byte, total int) []byte {
	start := len(b)
	b = append(b, make([]byte, frameHeaderSize)...)
	b = append(b, kindTomb, byte(len(session)))
	b = append(b, session...)
	if pad := total - (len(b) - start); pad > 0 {
		b = append(b, make([]byte, pad)...)
	}
	sealFrame(b[start:])
	return b
}

// sealFrame fills in the length and checksum of the frame that starts at
// f[0] and ends at the end of f.
func sealFrame(f []byte) {
	body := f[frameHeaderSize:]
	binary.BigEndian.PutUint32(f, uint32(len(body)))
	binary.BigEndian.PutUint32(f[4:], crc32.Checksum(body, castagnoli))
}
