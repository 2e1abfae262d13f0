package event

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// AppendCanonical appends the canonical encoding of e to b and returns the
// extended slice. The encoding covers every field except Hash:
//
//	"foureyes-event" 0x00 | u16 V | str Session | u64 Seq | i64 Time |
//	str Type | str Gateway | str Actor | bytes Data |
//	u32 len(Meta) { str key | str value } (keys ascending) |
//	str Class | u16 Retention | Prev[32]
//
// where integers are big-endian and str/bytes are a u32 big-endian length
// followed by the bytes. It is deliberately independent of JSON so that any
// store that keeps the field values can recompute it.
func AppendCanonical(b []byte, e *Event) []byte {
	b = append(b, "foureyes-event\x00"...)
	b = binary.BigEndian.AppendUint16(b, e.V)
	b = appendString(b, e.Session)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time))
	b = appendString(b, string(e.Type))
	b = appendString(b, e.Gateway)
	b = appendString(b, e.Actor)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Data)))
	b = append(b, e.Data...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Meta)))
	for _, k := range sortedKeys(e.Meta) {
		b = appendString(b, k)
		b = appendString(b, e.Meta[k])
	}
	b = appendString(b, e.Class)
	b = binary.BigEndian.AppendUint16(b, e.Retention)
	b = append(b, e.Prev[:]...)
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// ComputeHash returns SHA-256 over the canonical encoding of e, which
// includes e.Prev. It does not modify e.
func ComputeHash(e *Event) Hash {
	return sha256.Sum256(AppendCanonical(make([]byte, 0, 128+len(e.Data)), e))
}

// Chain assigns sequence numbers and hashes to the events of one stream.
// The zero value starts a new stream at seq 0 with an all-zero Prev.
// A Chain is not safe for concurrent use.
type Chain struct {
	next uint64
	prev Hash
	buf  []byte
}

// Resume returns a Chain that continues after an event with the given seq and hash.
func Resume(lastSeq uint64, lastHash Hash) Chain {
	return Chain{next: lastSeq + 1, prev: lastHash}
}

// Seal sets e.Seq, e.Prev and e.Hash so that e follows the previous event
// sealed by c.
func (c *Chain) Seal(e *Event) {
	e.Seq = c.next
	e.Prev = c.prev
	c.buf = AppendCanonical(c.buf[:0], e)
	e.Hash = sha256.Sum256(c.buf)
	c.next++
	c.prev = e.Hash
}

// Next returns the seq the next sealed event will get.
func (c *Chain) Next() uint64 { return c.next }

// Last returns the hash of the last sealed event (zero before the first).
func (c *Chain) Last() Hash { return c.prev }

// Break describes the first place a stream fails verification.
type Break struct {
	Seq    uint64 // seq of the first event that does not verify (or the missing seq)
	Reason string
}

func (b *Break) Error() string { return fmt.Sprintf("seq %d: %s", b.Seq, b.Reason) }

// Verify checks that events (sorted by seq) form an unbroken chain from seq
// 0: gapless seqs, each Prev equal to the previous Hash, and each Hash equal
// to the recomputed hash. It returns nil or the first *Break.
func Verify(events []Event) *Break {
	var prev Hash
	buf := make([]byte, 0, 1024)
	for i := range events {
		e := &events[i]
		want := uint64(i)
		switch {
		case e.Seq > want:
			return &Break{Seq: want, Reason: fmt.Sprintf("missing event (next present is seq %d)", e.Seq)}
		case e.Seq < want:
			return &Break{Seq: e.Seq, Reason: "duplicate or out-of-order event"}
		case e.Prev != prev && i == 0:
			return &Break{Seq: 0, Reason: "first event does not start the chain (prev hash is not zero)"}
		case e.Prev != prev:
			return &Break{Seq: e.Seq, Reason: fmt.Sprintf("prev hash %s does not match hash of seq %d (%s)", short(e.Prev), want-1, short(prev))}
		}
		buf = AppendCanonical(buf[:0], e)
		if got := Hash(sha256.Sum256(buf)); got != e.Hash {
			return &Break{Seq: e.Seq, Reason: fmt.Sprintf("content altered: stored hash %s, recomputed %s", short(e.Hash), short(got))}
		}
		prev = e.Hash
	}
	return nil
}

func short(h Hash) string { return h.String()[:16] }
