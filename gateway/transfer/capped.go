package transfer

import "strconv"

// TailBytes is how much of a stream's end an output summary keeps.
const TailBytes = 1 << 10

// Capped decides which bytes of one output stream of an ordinary command
// are stored: the first Cap bytes; the rest pass unstored and are
// counted, hashed, and their last TailBytes kept for the summary. With
// Cap 0 nothing is ever summarised and Take only counts. It is safe for
// concurrent use.
type Capped struct {
	// Cap is the number of bytes stored; 0 stores all.
	Cap    int64
	all    Meter
	stored int64
	tail   [TailBytes]byte
	end    int   // next write position in tail (a ring)
	filled bool  // tail wrapped at least once
	over   bool  // some bytes were not stored
	skip   int64 // bytes past the cap
}

// Take counts p and returns the part of it to store (p itself while
// under the cap, a prefix at the cap, nothing past it).
func (c *Capped) Take(p []byte) []byte {
	c.all.mu.Lock()
	defer c.all.mu.Unlock()
	if c.Cap == 0 {
		// Everything is stored, so no summary is ever written: counting
		// is enough. Hashing here would run SHA-256 a second time over
		// every byte the recorder's hash chain already covers.
		c.all.n += int64(len(p))
		c.stored += int64(len(p))
		return p
	}
	c.all.writeLocked(p)
	keep := p
	if c.Cap > 0 {
		room := c.Cap - c.stored
		if room < int64(len(p)) {
			keep = p[:max(room, 0)]
			c.over = true
			c.skip += int64(len(p) - len(keep))
		}
	}
	c.stored += int64(len(keep))
	c.ring(p)
	return keep
}

// ring keeps the last TailBytes of the stream.
func (c *Capped) ring(p []byte) {
	if len(p) >= TailBytes {
		copy(c.tail[:], p[len(p)-TailBytes:])
		c.end, c.filled = 0, true
		return
	}
	n := copy(c.tail[c.end:], p)
	if n < len(p) {
		copy(c.tail[:], p[n:])
		c.filled = true
	}
	c.end = (c.end + len(p)) % TailBytes
	if c.end == 0 && len(p) > 0 {
		c.filled = true
	}
}

// Over reports whether some bytes of the stream were not stored.
func (c *Capped) Over() bool {
	c.all.mu.Lock()
	defer c.all.mu.Unlock()
	return c.over
}

// Tail returns the last bytes of the stream, at most TailBytes.
func (c *Capped) Tail() []byte {
	c.all.mu.Lock()
	defer c.all.mu.Unlock()
	if !c.filled {
		return append([]byte(nil), c.tail[:c.end]...)
	}
	out := make([]byte, 0, TailBytes)
	out = append(out, c.tail[c.end:]...)
	return append(out, c.tail[:c.end]...)
}

// SummaryMeta returns the event.OutputSummary meta of the stream named
// stream ("stdout", "stderr").
func (c *Capped) SummaryMeta(stream string) map[string]string {
	c.all.mu.Lock()
	defer c.all.mu.Unlock()
	return map[string]string{
		"stream": stream,
		"bytes":  strconv.FormatInt(c.all.n, 10),
		"stored": strconv.FormatInt(c.stored, 10),
		"sha256": c.all.sumLocked(),
		"cap":    strconv.FormatInt(c.Cap, 10),
	}
}
