package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A segment file starts with a 16-byte header
//
//	"4EYSPOOL" | u32 format version (1) | u32 segment number
//
// followed by a checkpoint frame and then event frames.
//
// Version 2 marks a segment rewritten by compaction: it may hold padding
// and tombstone frames, which a version-1 reader would take for
// corruption; such a reader sets the whole segment aside instead.
const (
	segHeaderSize = 16
	segVersion    = 1
	segVersion2   = 2
	segPrefix     = "seg-"
	segSuffix     = ".log"
)

var segMagic = []byte("4EYSPOOL")

var errSegHeader = errors.New("recorder: spool segment: bad header")

// segment is one spool file. Fields are guarded by spool.mu except f,
// which only the syncer goroutine touches.
type segment struct {
	no     uint32
	path   string
	base   int64 // spool position of its first byte (spool.pos when it was started)
	size   int64 // bytes appended, written or not
	synced int64 // bytes written and fsync'd
	sealed bool  // no more appends; a newer segment exists
	events int64 // event frames appended
	// expiresAt is the earliest time (unix ns) one of the segment's events
	// expires, noExpiry when none does; meaningful when expKnown, which is
	// false for segments found at startup until a pass scanned them.
	expiresAt int64
	expKnown  bool

	f *os.File // write handle; owned by the syncer
}

// segName returns the file name of segment no.
func segName(no uint32) string { return fmt.Sprintf("%s%08d%s", segPrefix, no, segSuffix) }

// parseSegName returns the number of a segment file name.
func parseSegName(name string) (uint32, bool) {
	if !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
		return 0, false
	}
	n, err := strconv.ParseUint(name[len(segPrefix):len(name)-len(segSuffix)], 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint32(n), true
}

// appendSegHeader appends the header of segment no.
func appendSegHeader(b []byte, no uint32) []byte {
	b = append(b, segMagic...)
	b = binary.BigEndian.AppendUint32(b, segVersion)
	return binary.BigEndian.AppendUint32(b, no)
}

// parseSegHeader checks the header of segment no.
func parseSegHeader(b []byte, no uint32) error {
	switch {
	case len(b) < segHeaderSize:
		return fmt.Errorf("%w: %d bytes", errSegHeader, len(b))
	case string(b[:8]) != string(segMagic):
		return fmt.Errorf("%w: magic %q", errSegHeader, b[:8])
	case binary.BigEndian.Uint32(b[8:]) != segVersion && binary.BigEndian.Uint32(b[8:]) != segVersion2:
		return fmt.Errorf("%w: version %d", errSegHeader, binary.BigEndian.Uint32(b[8:]))
	case binary.BigEndian.Uint32(b[12:]) != no:
		return fmt.Errorf("%w: number %d in file %s", errSegHeader, binary.BigEndian.Uint32(b[12:]), segName(no))
	}
	return nil
}

// scanFrames decodes the frames of b (a segment image after its header),
// calling fn with each frame and its offset in b. It returns the length of
// the valid prefix and, when it is shorter than b, why the rest is not
// valid. An error from fn stops the scan and is returned.
func scanFrames(b []byte, fn func(off int, f frame) error) (int, error) {
	off := 0
	for off < len(b) {
		f, n, err := decodeFrame(b[off:])
		if err != nil {
			return off, err
		}
		if fn != nil {
			if err := fn(off, f); err != nil {
				return off, err
			}
		}
		off += n
	}
	return off, nil
}

// listSegments returns the numbers of the segment files in dir, ascending.
func listSegments(dir string) ([]uint32, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("recorder: spool: %w", err)
	}
	var nos []uint32
	for _, e := range ents {
		if no, ok := parseSegName(e.Name()); ok && e.Type().IsRegular() {
			nos = append(nos, no)
		}
	}
	sort.Slice(nos, func(i, j int) bool { return nos[i] < nos[j] })
	return nos, nil
}

// syncDir fsyncs a directory so that created and removed entries persist.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// segPath returns the path of segment no in dir.
func segPath(dir string, no uint32) string { return filepath.Join(dir, segName(no)) }
