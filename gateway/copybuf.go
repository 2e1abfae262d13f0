package gateway

// Copy buffers. Each direction of a session starts with a small buffer
// and grows when a read fills it: an idle session holds a few KiB instead
// of 3×32 KiB, interactive bursts read 32 KiB, and a bulk transfer reads
// up to 256 KiB at once. A larger read costs nothing per byte but saves
// per read: x/crypto sends the sender a window adjustment on a channel
// Read whenever more than 96 KiB of its 2 MiB window is in flight, which
// under bulk output is nearly every Read (a packet, a write(2), a wakeup
// of the host or client), and every read is a recorder call, a throttle
// check and a lock round. (The window adjustments' share of the
// gateway's profile fell from 7 % to under 1 %, and the whole machine's
// CPU per GB of bulk exec by about 7 %: BENCHMARKS.md, "Relay CPU per
// byte".)
// A bulk-sized buffer goes back to 32 KiB after quietReads reads that
// did not need it, so a session that once moved a file does not keep it.
// The copiers of a four-eyes session stay at 32 KiB reads: each read of
// the host's output, and of the requester's input an exec session shows
// reviewers, is a chunk in every reviewer's queue (queueChunks), which
// would otherwise hold 8 times the bytes.
const (
	smallBufSize = 2 << 10
	bufSize      = 32 << 10
	bulkBufSize  = 256 << 10
	quietReads   = 64
)

// copyBuf is a copier's read buffer: it grows when a read fills it (2
// KiB, 32 KiB, then up to its limit) and gives a bulk-sized buffer back
// after quietReads reads under bufSize.
type copyBuf struct {
	b     []byte
	limit int // bufSize or bulkBufSize
	quiet int // consecutive reads under bufSize into a bulk-sized b
}

// newCopyBuf returns the read buffer of one of the session's copiers:
// up to bulkBufSize, or bufSize in a four-eyes session, whose reads
// (the host's output, and the requester's input that exec sessions show
// reviewers) become chunks in every reviewer's queue.
func (sess *clientSession) newCopyBuf() copyBuf {
	if sess.hub != nil {
		return newCopyBuf(bufSize)
	}
	return newCopyBuf(bulkBufSize)
}

// newCopyBuf returns a small buffer that grows up to limit.
func newCopyBuf(limit int) copyBuf {
	return copyBuf{b: make([]byte, smallBufSize), limit: limit}
}

// after adjusts the buffer to the n bytes the last read returned.
func (c *copyBuf) after(n int) {
	switch {
	case n == len(c.b) && len(c.b) < c.limit:
		c.b, c.quiet = make([]byte, min(16*len(c.b), c.limit)), 0
	case len(c.b) > bufSize && n < bufSize:
		if c.quiet++; c.quiet >= quietReads {
			c.b, c.quiet = make([]byte, bufSize), 0
		}
	default:
		c.quiet = 0
	}
}
