package transfer

import (
	"encoding/binary"
	"sync/atomic"
)

// Bounds of the protocol version rsync sends first: every release
// speaks 20 (rsync 2.6) to 32 (3.3); rsync itself refuses anything
// outside MIN_PROTOCOL_VERSION 20 and MAX_PROTOCOL_VERSION 40.
const (
	rsyncMinVersion = 20
	rsyncMaxVersion = 40
)

// RsyncGreeting checks how one direction of an rsync stream opens: both
// ends first send their protocol version, a little-endian 32-bit
// integer. rsync's protocol is followed no further, but a shell that a
// host's startup files run instead of `rsync --server` fails this at
// once: what is typed into it, or printed by it, is text. The zero value
// is ready.
type RsyncGreeting struct {
	buf    [4]byte
	n      int
	broken bool
	past   bool        // bytes after the version passed
	done   atomic.Bool // the version passed whole; another goroutine may read it
}

// Done reports whether the direction's version passed whole and valid.
// Safe to call from another goroutine.
func (g *RsyncGreeting) Done() bool { return g.done.Load() }

// Past reports whether bytes after the version passed.
func (g *RsyncGreeting) Past() bool { return g.past }

// Write feeds bytes of the direction and reports whether it still opens
// as rsync's does.
func (g *RsyncGreeting) Write(p []byte) bool {
	if g.broken || g.n == len(g.buf) {
		g.past = g.past || len(p) > 0
		return !g.broken
	}
	c := copy(g.buf[g.n:], p)
	g.n += c
	g.past = c < len(p)
	if g.n == len(g.buf) {
		v := binary.LittleEndian.Uint32(g.buf[:])
		g.broken = v < rsyncMinVersion || v > rsyncMaxVersion
		g.done.Store(!g.broken)
	}
	return !g.broken
}
