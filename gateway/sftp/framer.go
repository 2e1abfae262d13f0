package sftp

import (
	"encoding/binary"
	"fmt"
)

// Modes of a framer within a packet.
const (
	modeHead = iota // collecting the packet's first bytes (head)
	modeData        // streaming a WRITE's or DATA's content
	modeSkip        // skipping the rest of a long packet
)

// Kinds of packet, as far as framing is concerned.
const (
	kindUnknown = iota // the type byte has not arrived
	kindOther          // parsed from its head once it ends
	kindWrite          // client WRITE: content streams after the header
	kindData           // host DATA: content streams after the header
)

// framer cuts one direction of the stream into packets without holding
// more than a packet's head: it reassembles the 4-byte length, collects
// up to maxHead bytes of the body (or a WRITE/DATA header), and streams
// or skips the rest.
type framer struct {
	up     bool // client → host
	lenBuf [4]byte
	lenN   int    // bytes of lenBuf filled
	left   uint32 // bytes of the current packet not yet seen
	head   []byte
	want   int // head bytes wanted before the next decision
	mode   int
	kind   int
	sized  bool // a WRITE's handle length is known

	// The content being streamed: its handle (nil: not recorded), offset
	// and the bytes kept of it under Options.KeepContent.
	cur    *handle
	curOff uint64
	keep   []byte
}

// name says which direction, for errors.
func (f *framer) name() string {
	if f.up {
		return "client"
	}
	return "host"
}

// feed parses p, calling the tap for each packet, header and content.
func (t *Tap) feed(f *framer, p []byte) error {
	for len(p) > 0 {
		if f.lenN < 4 {
			n := copy(f.lenBuf[f.lenN:], p)
			f.lenN += n
			p = p[n:]
			if f.lenN < 4 {
				return nil
			}
			l := binary.BigEndian.Uint32(f.lenBuf[:])
			if l == 0 || l > MaxPacket {
				return fmt.Errorf("%s packet length %d", f.name(), l)
			}
			f.left, f.head, f.want, f.mode, f.kind, f.sized = l, f.head[:0], 1, modeHead, kindUnknown, false
			continue
		}
		switch f.mode {
		case modeHead:
			n := min(len(p), f.want-len(f.head))
			f.head = append(f.head, p[:n]...)
			p, f.left = p[n:], f.left-uint32(n)
			if err := t.advance(f); err != nil {
				return err
			}
		case modeData:
			n := min(uint32(len(p)), f.left)
			t.content(f, p[:n])
			p, f.left = p[n:], f.left-n
		case modeSkip:
			n := min(uint32(len(p)), f.left)
			p, f.left = p[n:], f.left-n
		}
		if f.left == 0 && (f.mode != modeHead || len(f.head) == f.want) {
			var err error
			switch f.mode {
			case modeHead:
				err = t.packet(f, f.head, false)
			case modeSkip:
				err = t.packet(f, f.head, true)
			case modeData:
				t.endContent(f)
			}
			f.lenN = 0
			if cap(f.head) > 4<<10 && len(f.head) < 1<<10 {
				f.head = nil // one long packet does not pin its buffer
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// advance decides what to do with a packet once its head holds want
// bytes: read more of it, stream its content, or skip the rest.
func (t *Tap) advance(f *framer) error {
	for f.mode == modeHead && len(f.head) == f.want {
		total := len(f.head) + int(f.left)
		switch f.kind {
		case kindUnknown:
			typ := f.head[0]
			switch {
			case f.up && typ == typeWrite:
				f.kind, f.want = kindWrite, 9 // type, id, handle length
			case !f.up && typ == typeData:
				f.kind, f.want = kindData, 9 // type, id, data length
			default:
				f.kind, f.want = kindOther, min(total, maxHead)
			}
			if f.want > total {
				return fmt.Errorf("%s packet of type %d too short (%d bytes)", f.name(), typ, total)
			}
		case kindOther:
			if f.left > 0 {
				f.mode = modeSkip
			}
			return nil
		case kindWrite:
			if !f.sized {
				hl := binary.BigEndian.Uint32(f.head[5:9])
				if hl > maxHandle {
					return fmt.Errorf("client WRITE with a handle of %d bytes", hl)
				}
				f.sized, f.want = true, 9+int(hl)+12 // handle, offset, data length
				if f.want > total {
					return fmt.Errorf("client WRITE too short (%d bytes)", total)
				}
				continue
			}
			fallthrough
		case kindData:
			if n := binary.BigEndian.Uint32(f.head[len(f.head)-4:]); n != f.left {
				return fmt.Errorf("%s packet says %d bytes of content, carries %d", f.name(), n, f.left)
			}
			if err := t.beginContent(f); err != nil {
				return err
			}
			f.mode = modeData
			return nil
		}
	}
	return nil
}
