package transfer

import "encoding/binary"

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
}

// Write feeds bytes of the direction and reports whether it still opens
// as rsync's does.
func (g *RsyncGreeting) Write(p []byte) bool {
	if g.broken || g.n == len(g.buf) {
		return !g.broken
	}
	g.n += copy(g.buf[g.n:], p)
	if g.n == len(g.buf) {
		v := binary.LittleEndian.Uint32(g.buf[:])
		g.broken = v < rsyncMinVersion || v > rsyncMaxVersion
	}
	return !g.broken
}
