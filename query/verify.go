package query

import (
	"context"
	"fmt"

	"github.com/foureyes/foureyes/event"
)

// VerifyResult is the outcome of verifying one session's hash chain.
type VerifyResult struct {
	Session  string
	Events   int    // distinct seqs read
	LastSeq  uint64 // seq of the last event read
	LastHash string // hash of the last event read (hex)
	// Break is the first failure, nil when the recording is intact.
	Break *event.Break
	// Conflicts lists seqs stored with different hashes (tampering or a
	// writer bug; harmless redeliveries have identical hashes).
	Conflicts []uint64
	// Summary reports whether a sessions row exists to check the tail against.
	Summary bool
	// Open reports that the session has not ended — per the summary row when
	// there is one, else for want of a session.end event: the chain is
	// verified up to LastSeq.
	Open bool
}

// OK reports whether the recording verified.
func (r *VerifyResult) OK() bool { return r.Break == nil }

// Verify loads the events of session id and checks, in order: that no seq
// is stored with conflicting hashes, the hash chain from seq 0 (event.Verify:
// gaps, order, prev links, content), and the tail against the summary row —
// fewer events than sessions.last_seq means the tail was lost, and the hash
// at last_seq must equal sessions.last_hash. It returns ErrNotFound when
// there is neither a summary row nor an event.
func (s *Store) Verify(ctx context.Context, id string) (VerifyResult, error) {
	res := VerifyResult{Session: id}
	evs, conflicts, err := s.events(ctx, id)
	if err != nil {
		return res, err
	}
	sess, found, err := s.session(ctx, id)
	if err != nil {
		return res, err
	}
	if len(evs) == 0 && !found {
		return res, s.notFound(ctx, id)
	}
	res.Summary = found
	res.Conflicts = conflicts
	verifyEvents(&res, evs, sess, found)
	return res, nil
}

// verifyEvents fills res from the deduplicated events, the conflicting seqs
// already in res and the summary row (when found).
func verifyEvents(res *VerifyResult, evs []event.Event, sess Session, found bool) {
	res.Events = len(evs)
	if n := len(evs); n > 0 {
		res.LastSeq = evs[n-1].Seq
		res.LastHash = evs[n-1].Hash.String()
		res.Open = evs[n-1].Type != event.SessionEnd
	}
	if found {
		res.Open = sess.Open // the summary knows about an end even when its event is lost
	}
	b := event.Verify(evs)
	if len(res.Conflicts) > 0 && (b == nil || res.Conflicts[0] <= b.Seq) {
		b = &event.Break{Seq: res.Conflicts[0], Reason: "stored twice with different hashes (conflicting copies)"}
	}
	if b == nil {
		b = checkTail(evs, sess, found)
	}
	res.Break = b
}

// checkTail compares an intact chain with the summary row.
func checkTail(evs []event.Event, sess Session, found bool) *event.Break {
	if !found {
		return nil
	}
	if len(evs) == 0 {
		return &event.Break{Seq: 0, Reason: fmt.Sprintf("no events stored, but the summary records last seq %d", sess.LastSeq)}
	}
	last := evs[len(evs)-1].Seq
	switch {
	case last < sess.LastSeq:
		return &event.Break{Seq: last + 1, Reason: fmt.Sprintf("missing events %d..%d: the summary records last seq %d (truncated tail)", last+1, sess.LastSeq, sess.LastSeq)}
	case !sess.Open && last > sess.LastSeq:
		return &event.Break{Seq: sess.LastSeq + 1, Reason: fmt.Sprintf("events after the recorded end (summary last seq %d, stored up to %d)", sess.LastSeq, last)}
	}
	if sess.LastHash == "" {
		return nil
	}
	// evs is gapless from 0 here, so the event at LastSeq is at that index.
	if got := evs[sess.LastSeq].Hash.String(); got != sess.LastHash {
		return &event.Break{Seq: sess.LastSeq, Reason: fmt.Sprintf("hash %s differs from the summary's last hash %s", got[:16], shortHex(sess.LastHash))}
	}
	return nil
}

func shortHex(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}
