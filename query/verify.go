package query

import (
	"context"
	"errors"
	"fmt"

	"github.com/foureyes/foureyes/event"
)

// VerifyResult is the outcome of verifying one stream.
type VerifyResult struct {
	Session  string
	Events   int    // distinct seqs read
	LastSeq  uint64 // seq of the last event read
	LastHash string // hash of the last event read (hex)
	// Break is the first failure of the chain or of its tail against the
	// summary row, nil when both are intact.
	Break *event.Break
	// Conflicts lists seqs stored as copies that differ (tampering or a
	// writer bug; harmless redeliveries have identical hashes).
	Conflicts []uint64
	// Summary reports whether a sessions row exists to check the tail against.
	Summary bool
	// Open reports that the session has not ended: false when the chain
	// ends with an authenticated session.end, else per the summary row
	// when there is one (it knows about an end whose event is lost), else
	// true. The chain is verified up to LastSeq.
	Open bool
	// Integrity holds the signature checks, the summary row against the
	// chain and the gateway streams' records of the stream; its Problems
	// include Break.
	Integrity Integrity
}

// OK reports whether the recording verified.
func (r *VerifyResult) OK() bool { return r.Break == nil && r.Integrity.OK() }

// Verify walks the events of session id in bounded memory and checks, in
// order: that no seq is stored with conflicting hashes; the hash chain
// from seq 0 (gaps, order, prev links, content); every chain.seal and the
// session.end's signature against the trusted keys (WithTrustedKeys); the
// tail against the summary row (fewer events than sessions.last_seq means
// the tail was lost, the hash at last_seq must equal sessions.last_hash)
// and every field of the summary row against the chain; and what the
// gateway streams recorded about the stream's start and end (a cut-off
// tail or a deleted session). It returns ErrNotFound when there is
// neither a summary row, nor an event, nor a gateway record of it.
func (s *Store) Verify(ctx context.Context, id string) (VerifyResult, error) {
	res := VerifyResult{Session: id}
	sess, found, err := s.session(ctx, id)
	if err != nil {
		return res, err
	}
	c := newStreamCheck(id, s)
	tail := tailCheck{sess: sess, found: found}
	st, err := s.walkEvents(ctx, id, func(e *event.Event) error {
		c.add(e)
		tail.add(e)
		return nil
	})
	if err != nil {
		return res, err
	}
	in := c.finish(st, sess, found, s.now())
	var exp *ExpiredError
	if st.Events == 0 {
		in.expired = errors.As(s.notFound(ctx, id), &exp)
	}
	logs, err := s.gatewayLogsOf(ctx, &in, id)
	if err != nil {
		return res, err
	}
	checkRecorded(&in, id, in.Stream, logs, s.now())
	if in.expired && in.OK() {
		return res, exp
	}
	if in.OK() && st.Events > 0 && !in.Stream.Ended && c.head.Kind != "gateway" {
		if err := s.checkStopped(ctx, &in, c.head.Gateway, c.lastNS); err != nil {
			return res, err
		}
	}
	if st.Events == 0 && !found && in.OK() {
		return res, s.notFound(ctx, id)
	}
	res.Events = int(st.Events)
	res.Summary = found
	res.Conflicts = st.Conflicts
	res.Integrity = in
	if st.Events > 0 {
		res.LastSeq, res.LastHash = in.Stream.LastSeq, in.Stream.LastHash.String()
		res.Open = in.Stream.LastType != event.SessionEnd
	}
	// An open row over a chain whose end authenticates (compareSummary
	// judged the row) says nothing about whether the session ended.
	endVerified := in.Stream.Ended && in.Stream.Break == nil && (in.Stream.EndSigned || !in.Signatures)
	if found && !endVerified {
		res.Open = sess.Open // the summary knows about an end even when its event is lost
	}
	b := in.Stream.Break
	if len(st.Conflicts) > 0 && (b == nil || st.Conflicts[0] <= b.Seq) {
		b = &event.Break{Seq: st.Conflicts[0], Reason: "stored twice with different content (conflicting copies)"}
	}
	if b == nil {
		b = tail.result()
		if b != nil {
			res.Integrity.problem("seq %d: %s", b.Seq, b.Reason)
		}
	}
	res.Break = b
	return res, nil
}

// tailCheck compares an intact chain with the summary row as the chain is
// walked: it keeps only the hash at the summary's last seq.
type tailCheck struct {
	sess    Session
	found   bool
	n       uint64
	last    uint64
	atLast  string
	hasLast bool
}

func (t *tailCheck) add(e *event.Event) {
	t.n++
	t.last = e.Seq
	if t.found && e.Seq == t.sess.LastSeq {
		t.atLast, t.hasLast = e.Hash.String(), true
	}
}

// result returns the break of the tail, or nil.
func (t *tailCheck) result() *event.Break {
	sess := t.sess
	if !t.found {
		return nil
	}
	if t.n == 0 {
		return &event.Break{Seq: 0, Reason: fmt.Sprintf("no events stored, but the summary records last seq %d", sess.LastSeq)}
	}
	last := t.last
	switch {
	case last < sess.LastSeq:
		return &event.Break{Seq: last + 1, Reason: fmt.Sprintf("missing events %d..%d: the summary records last seq %d (truncated tail)", last+1, sess.LastSeq, sess.LastSeq)}
	case !sess.Open && last > sess.LastSeq:
		return &event.Break{Seq: sess.LastSeq + 1, Reason: fmt.Sprintf("events after the recorded end (summary last seq %d, stored up to %d)", sess.LastSeq, last)}
	}
	if sess.LastHash == "" || !t.hasLast {
		return nil
	}
	if t.atLast != sess.LastHash {
		return &event.Break{Seq: sess.LastSeq, Reason: fmt.Sprintf("hash %s differs from the summary's last hash %s", t.atLast[:16], shortHex(sess.LastHash))}
	}
	return nil
}

func shortHex(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}
