package event

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
)

// SealWindow is how far back (in events) a chain.seal may name the point
// it signs. The recorder never writes a seal lagging more than MaxSealLag
// behind its own position; the verifier remembers the hashes of the last
// SealWindow events, so it checks a stream of any length in constant
// memory.
const (
	SealWindow = 4096
	MaxSealLag = 1024
)

// StreamVerifier checks one stream event by event, in constant memory:
// the hash chain from seq 0 (as Verify does), every chain.seal and the
// signature of the session.end against a Keyring, and that nothing follows
// the end. Feed it the events in seq order, one per seq, with Add; read
// the verdict with Result. The zero value is not usable; see
// NewStreamVerifier.
type StreamVerifier struct {
	keys  *Keyring
	first uint64 // the first seq checked: 0, or where StartAt began
	next  uint64
	prev  Hash
	ring  []Hash
	buf   []byte
	brk   *Break
	res   StreamResult
	keyed map[string]bool
}

// StreamResult is what a StreamVerifier found.
type StreamResult struct {
	Events   uint64 // events read
	LastSeq  uint64 // seq of the last event read
	LastHash Hash
	LastType Type
	// Ended reports that the last event is a session.end.
	Ended bool
	// Signed reports that a trusted signature covers seq 0..SignedThrough.
	Signed        bool
	SignedThrough uint64
	// EndSigned reports that the session.end carries a valid signature.
	EndSigned bool
	// Seals counts the valid signatures; Keys lists their key ids.
	Seals int
	Keys  []string
	// Break is the first failure, nil when everything read verified.
	Break *Break
}

// NewStreamVerifier returns a verifier trusting keys. Without any key
// (nil or empty) signatures are not checked: seals and signed ends are
// verified as chain events only, and Result reports nothing signed.
func NewStreamVerifier(keys *Keyring) *StreamVerifier {
	return &StreamVerifier{keys: keys, ring: make([]Hash, SealWindow), buf: make([]byte, 0, 1024), keyed: map[string]bool{}}
}

// StartAt makes the verifier accept e as the first event of the stream
// although its seq is not 0: its predecessors were removed (retention
// drops whole days) and its prev cannot be checked. Seals naming points
// before e cannot be checked either and are skipped. The caller decides
// that the missing front is legitimate. Call it before Add(e).
func (v *StreamVerifier) StartAt(e *Event) {
	v.first, v.next, v.prev = e.Seq, e.Seq, e.Prev
}

// Add checks the next event. After the first failure it only counts.
func (v *StreamVerifier) Add(e *Event) {
	v.res.Events++
	v.res.LastSeq, v.res.LastHash, v.res.LastType = e.Seq, e.Hash, e.Type
	if v.brk != nil {
		return
	}
	want := v.next
	switch {
	case e.Seq > want:
		v.brk = &Break{Seq: want, Reason: fmt.Sprintf("missing event (next present is seq %d)", e.Seq)}
		return
	case e.Seq < want:
		v.brk = &Break{Seq: e.Seq, Reason: "duplicate or out-of-order event"}
		return
	case e.Prev != v.prev && want == v.first:
		v.brk = &Break{Seq: 0, Reason: "first event does not start the chain (prev hash is not zero)"}
		return
	case e.Prev != v.prev:
		v.brk = &Break{Seq: e.Seq, Reason: fmt.Sprintf("prev hash %s does not match hash of seq %d (%s)", short(e.Prev), want-1, short(v.prev))}
		return
	case v.res.Ended:
		v.brk = &Break{Seq: e.Seq, Reason: "event after the session's end"}
		return
	}
	v.buf = AppendCanonical(v.buf[:0], e)
	if got := Hash(sha256.Sum256(v.buf)); got != e.Hash {
		v.brk = &Break{Seq: e.Seq, Reason: fmt.Sprintf("content altered: stored hash %s, recomputed %s", short(e.Hash), short(got))}
		return
	}
	v.ring[e.Seq%SealWindow] = e.Hash
	v.prev = e.Hash
	v.next++
	switch e.Type {
	case ChainSeal:
		if v.keys.Len() > 0 {
			v.seal(e)
		}
	case SessionEnd:
		v.res.Ended = true
		if v.keys.Len() > 0 {
			v.end(e)
		}
	}
}

func (v *StreamVerifier) seal(e *Event) {
	s, h, err := v.keys.VerifySeal(e)
	if err != nil {
		v.brk = &Break{Seq: e.Seq, Reason: "seal: " + sealReason(err)}
		return
	}
	if s.Seq < v.first {
		return // names a point retention removed
	}
	if e.Seq-s.Seq > SealWindow-1 {
		v.brk = &Break{Seq: e.Seq, Reason: fmt.Sprintf("seal names seq %d, too far back to check", s.Seq)}
		return
	}
	if v.ring[s.Seq%SealWindow] != h {
		v.brk = &Break{Seq: e.Seq, Reason: fmt.Sprintf("seal signs hash %s for seq %d, but the stored chain has %s there (chain rewritten)", short(h), s.Seq, short(v.ring[s.Seq%SealWindow]))}
		return
	}
	v.signed(s)
}

func (v *StreamVerifier) end(e *Event) {
	s, err := v.keys.VerifyEnd(e)
	switch {
	case errors.Is(err, ErrNotSigned):
		return // Result reports an unsigned end
	case err != nil:
		v.brk = &Break{Seq: e.Seq, Reason: "end signature: " + sealReason(err)}
		return
	}
	v.res.EndSigned = true
	v.signed(s)
}

func (v *StreamVerifier) signed(s Seal) {
	if !v.res.Signed || s.Seq > v.res.SignedThrough {
		v.res.Signed, v.res.SignedThrough = true, s.Seq
	}
	v.res.Seals++
	v.keyed[s.Key] = true
}

func sealReason(err error) string {
	switch {
	case errors.Is(err, ErrUnknownKey):
		return "signed by an untrusted key (" + err.Error() + ")"
	case errors.Is(err, ErrBadSignature):
		return "invalid signature, forged or altered (" + err.Error() + ")"
	}
	return err.Error()
}

// Broken returns the first failure so far, nil when everything added
// verified. Unlike Result it does not allocate, so a reader can ask after
// every Add.
func (v *StreamVerifier) Broken() *Break { return v.brk }

// Result returns the verdict so far.
func (v *StreamVerifier) Result() StreamResult {
	r := v.res
	r.Break = v.brk
	r.Keys = make([]string, 0, len(v.keyed))
	for k := range v.keyed {
		r.Keys = append(r.Keys, k)
	}
	sort.Strings(r.Keys)
	return r
}
