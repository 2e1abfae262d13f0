package recorder

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// The ack watermark file "acked" holds the spool position of the first
// event Kafka has not acknowledged:
//
//	u32 segment number | u64 offset in that segment | u32 CRC-32C of the 12 bytes
//
// It is rewritten in place after every acknowledged batch and never
// fsync'd: losing or tearing it only makes the next start resend events
// that ingest then deduplicates by (session, seq).
const (
	ackFileName = "acked"
	ackFileSize = 16
)

// ackFile is the open watermark file.
type ackFile struct {
	f   *os.File
	buf [ackFileSize]byte
}

// openAckFile opens or creates the watermark file in dir and returns the
// stored position; ok is false when there is none or it is torn.
func openAckFile(dir string) (a *ackFile, no uint32, off int64, ok bool, err error) {
	f, err := os.OpenFile(filepath.Join(dir, ackFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, 0, false, fmt.Errorf("recorder: ack file: %w", err)
	}
	a = &ackFile{f: f}
	var b [ackFileSize]byte
	if _, err := f.ReadAt(b[:], 0); err != nil && err != io.EOF {
		f.Close()
		return nil, 0, 0, false, fmt.Errorf("recorder: ack file: %w", err)
	}
	no, off, ok = decodeAck(b[:])
	return a, no, off, ok, nil
}

// decodeAck decodes a watermark record.
func decodeAck(b []byte) (no uint32, off int64, ok bool) {
	if len(b) < ackFileSize || crc32.Checksum(b[:12], castagnoli) != binary.BigEndian.Uint32(b[12:]) {
		return 0, 0, false
	}
	no = binary.BigEndian.Uint32(b)
	off = int64(binary.BigEndian.Uint64(b[4:]))
	if no == 0 || off < 0 {
		return 0, 0, false
	}
	return no, off, true
}

// store records position (no, off).
func (a *ackFile) store(no uint32, off int64) error {
	binary.BigEndian.PutUint32(a.buf[:], no)
	binary.BigEndian.PutUint64(a.buf[4:], uint64(off))
	binary.BigEndian.PutUint32(a.buf[12:], crc32.Checksum(a.buf[:12], castagnoli))
	if _, err := a.f.WriteAt(a.buf[:], 0); err != nil {
		return fmt.Errorf("recorder: ack file: %w", err)
	}
	return nil
}

// close closes the file.
func (a *ackFile) close() error { return a.f.Close() }
