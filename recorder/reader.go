package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// readBlock is how much of a segment the reader loads per batch.
const readBlock = 1 << 20

// pubRecord is one durable event frame ready to publish. Its slices alias
// the reader's buffer and stay valid until the next call to next.
type pubRecord struct {
	time    int64
	session []byte
	value   []byte
}

// batch is what spoolReader.next returns: records to publish and the
// spool position after them.
type batch struct {
	recs  []pubRecord
	bytes int      // keys and values
	seg   *segment // position after the batch
	off   int64    //
	moved bool     // the position advanced (possibly over non-event frames only)
	first int64    // time of the first record
}

// spoolReader reads durable event frames in spool order for the
// publisher, starting at the ack position. One goroutine uses it.
type spoolReader struct {
	s   *spool
	seg *segment
	off int64
	f   *os.File // read handle of seg
	buf []byte
	gen uint64 // spool.expGen when the reader was positioned
}

// newReader returns a reader at the ack position.
func (s *spool) newReader() *spoolReader {
	s.moveMu.Lock()
	defer s.moveMu.Unlock()
	seg, off := s.ackPosition()
	return &spoolReader{s: s, seg: seg, off: off, gen: s.expGen}
}

// next reads up to maxRecs event records and about maxBytes bytes of keys
// and values, at least one record when one is durable and unread. It never
// waits for new data: an empty batch means there is none.
func (r *spoolReader) next(b *batch, maxRecs, maxBytes int) error {
	b.recs, b.bytes, b.moved, b.first = b.recs[:0], 0, false, 0
	defer func() { b.seg, b.off = r.seg, r.off }()
	for len(b.recs) == 0 {
		synced, complete, nextSeg := r.s.readable(r.seg)
		if r.off < segHeaderSize {
			if synced < segHeaderSize {
				return nil
			}
			if err := r.header(); err != nil {
				return err
			}
			b.moved = true
		}
		if r.off >= synced {
			if complete && nextSeg != nil {
				r.closeFile()
				r.seg, r.off = nextSeg, 0
				b.moved = true
				continue
			}
			return nil
		}
		if err := r.load(synced); err != nil {
			return err
		}
		pos := 0
		for pos < len(r.buf) && len(b.recs) < maxRecs && b.bytes < maxBytes {
			f, n, err := decodeFrame(r.buf[pos:])
			if err != nil {
				if errors.Is(err, errFrameShort) && pos > 0 {
					break // the rest is loaded by the next call
				}
				return fmt.Errorf("recorder: spool %s offset %d: %w", r.seg.path, r.off+int64(pos), err)
			}
			if f.kind == kindEvent {
				if len(b.recs) == 0 {
					b.first = f.time
				}
				b.recs = append(b.recs, pubRecord{time: f.time, session: f.session, value: f.payload})
				b.bytes += len(f.session) + len(f.payload)
			}
			pos += n
		}
		r.off += int64(pos)
		b.moved = true
	}
	return nil
}

// caughtUp reports whether every durable frame has been read.
func (r *spoolReader) caughtUp() bool {
	synced, complete, next := r.s.readable(r.seg)
	return r.off >= synced && !(complete && next != nil)
}

// header opens the segment and checks its header.
func (r *spoolReader) header() error {
	if r.f == nil {
		f, err := os.Open(r.seg.path)
		if err != nil {
			return fmt.Errorf("recorder: spool read: %w", err)
		}
		r.f = f
	}
	var hdr [segHeaderSize]byte
	if _, err := r.f.ReadAt(hdr[:], 0); err != nil {
		return fmt.Errorf("recorder: spool read %s: %w", r.seg.path, err)
	}
	if err := parseSegHeader(hdr[:], r.seg.no); err != nil {
		return err
	}
	r.off = segHeaderSize
	return nil
}

// load reads the durable bytes from r.off into buf: up to readBlock, and
// always the whole next frame.
func (r *spoolReader) load(synced int64) error {
	if r.f == nil {
		f, err := os.Open(r.seg.path)
		if err != nil {
			return fmt.Errorf("recorder: spool read: %w", err)
		}
		r.f = f
	}
	avail := synced - r.off
	n := min(avail, readBlock)
	if avail >= frameHeaderSize {
		var hdr [frameHeaderSize]byte
		if _, err := r.f.ReadAt(hdr[:], r.off); err != nil {
			return fmt.Errorf("recorder: spool read %s: %w", r.seg.path, err)
		}
		if need := frameHeaderSize + int64(binary.BigEndian.Uint32(hdr[:])); need > n && need <= avail {
			n = need
		}
	}
	if int64(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	if _, err := r.f.ReadAt(r.buf, r.off); err != nil {
		return fmt.Errorf("recorder: spool read %s: %w", r.seg.path, err)
	}
	return nil
}

// closeFile closes the read handle.
func (r *spoolReader) closeFile() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}
