package transfer

import "sync/atomic"

// PktLines checks that one direction of a git transfer is pkt-line
// framed, as git's pack protocols are: packets of four hex digits of
// length (header included) and that many bytes, or the specials 0000
// (flush), 0001 (delimiter) and 0002 (response end). A shell's prompt,
// its output or typed commands are not. It does not look inside the
// packets. Not safe for concurrent use: one direction has one copier.
type PktLines struct {
	// RawAfterFlush stops the check at the first flush packet: what
	// follows is raw (git-receive-pack's client sends its pack so).
	RawAfterFlush bool

	hdr    [4]byte
	nh     int // header bytes read
	left   int // payload bytes still to skip
	raw    bool
	broken bool
	// flushed is set at the first flush packet; another goroutine may
	// read it (Flushed).
	flushed atomic.Bool
}

// Flushed reports whether a flush packet has passed: the host's
// advertisement ended. Safe to call from another goroutine.
func (k *PktLines) Flushed() bool { return k.flushed.Load() }

// Raw reports whether the check stopped at a flush (RawAfterFlush).
func (k *PktLines) Raw() bool { return k.raw }

// maxPktLen is the longest packet git sends (LARGE_PACKET_MAX).
const maxPktLen = 65520

// Write reports whether the stream, p included, is still pkt-lines.
func (k *PktLines) Write(p []byte) bool {
	for len(p) > 0 && !k.raw && !k.broken {
		if k.left > 0 {
			n := min(k.left, len(p))
			k.left -= n
			p = p[n:]
			continue
		}
		if _, ok := hexDigit(p[0]); !ok { // judged at once: a prompt is short
			k.broken = true
			return false
		}
		k.hdr[k.nh] = p[0]
		k.nh++
		p = p[1:]
		if k.nh < 4 {
			continue
		}
		k.nh = 0
		n := 0
		for _, c := range k.hdr {
			d, _ := hexDigit(c)
			n = n<<4 | d
		}
		switch {
		case n == 0:
			k.raw = k.RawAfterFlush
			k.flushed.Store(true)
		case n <= 2: // delimiter, response end
		case n == 3 || n > maxPktLen:
			k.broken = true
		default:
			k.left = n - 4
		}
	}
	return !k.broken
}

// hexDigit returns the value of a lower- or upper-case hex digit.
func hexDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}
