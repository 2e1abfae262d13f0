package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/foureyes/foureyes/event"
)

// checkedRead is what a read path knows after checking a stream: the
// summary derived from the chain (what it shows), the verdict, and the
// sessions row (compared, never shown instead of the chain).
type checkedRead struct {
	head    Session
	in      Integrity
	outputs int // output events with data
	events  uint64
	// first is the first event the check walked (seq and hash); from
	// the seq it verified from when retention removed the front (0:
	// none). A second walk must start at the same event.
	first struct {
		seq  uint64
		hash event.Hash
	}
	from uint64
}

// checkStream walks session id once, verifying it like Verify, and calls
// collect (when not nil) with every event. It returns ErrNotFound when
// there is neither an event nor a summary row.
func (s *Store) checkStream(ctx context.Context, id string, collect func(e *event.Event)) (checkedRead, error) {
	row, found, err := s.session(ctx, id)
	if err != nil {
		return checkedRead{}, err
	}
	c := newStreamCheck(id, s)
	tail := tailCheck{sess: row, found: found}
	var rd checkedRead
	st, err := s.walkEvents(ctx, id, func(e *event.Event) error {
		if c.n == 0 {
			rd.first.seq, rd.first.hash = e.Seq, e.Hash
		}
		c.add(e)
		tail.add(e)
		if collect != nil {
			collect(e)
		}
		return nil
	})
	if err != nil {
		return checkedRead{}, err
	}
	if st.Events == 0 {
		if !found {
			return checkedRead{}, s.notFound(ctx, id)
		}
		// Only a summary row: show it, but say that nothing backs it.
		in := Integrity{Signatures: s.keys.Len() > 0}
		in.problem("no events are stored: nothing backs the sessions row")
		row.ID = id
		return checkedRead{head: row, in: in}, nil
	}
	in := c.finish(st, row, found, s.now())
	if b := tail.result(); b != nil && in.Stream.Break == nil {
		in.problem("seq %d: %s", b.Seq, b.Reason)
	}
	logs, err := s.gatewayLogsOf(ctx, &in, id)
	if err != nil {
		return checkedRead{}, err
	}
	checkRecorded(&in, id, in.Stream, logs, s.now())
	if in.OK() && !in.Stream.Ended && c.head.Kind != "gateway" {
		if err := s.checkStopped(ctx, &in, c.head.Gateway, c.lastNS); err != nil {
			return checkedRead{}, err
		}
	}
	head := c.head
	if head.Kind == "" && found {
		// A chain without session.start (cut at the front): keep the
		// row's identity fields, flagged by the problems above.
		head.Kind, head.User, head.Host = row.Kind, row.User, row.Host
	}
	rd.head, rd.in, rd.outputs, rd.events, rd.from = head, in, c.outputs, st.Events, c.expiredFront
	return rd, nil
}

// A read that shows a stream (play, export) checks it in one walk and
// shows it from a second: the check must come first (the verdict goes
// before the replay), and holding the stream between the two would cost
// its size in memory. Between the walks a database writer can store
// rows. The second walk therefore shows only events it verified itself
// against the first: replayCheck holds it to the checked stream in
// constant memory, and the display stops at the first difference.

// replayCheck verifies a second walk of a stream, event by event before
// each is shown, against the walk that checked it (rd): the same first
// event; every event recomputing to its stored hash and chained to the
// one before (and every seal valid), as far as the check found the
// stream intact; no conflicting copies there; at the checked last seq
// the checked last hash, and nothing after it. Past the point where the
// check found the stream broken, events are shown unchecked: the verdict
// already says they cannot be vouched for.
type replayCheck struct {
	v      *event.StreamVerifier
	rd     *checkedRead
	strict uint64 // seqs below it verified in the check and must verify again
	n      uint64 // events passed
	last   uint64 // seq of the last event passed
	// more reports that the walk stopped at events stored after the
	// check of a stream that is still open (not shown, not a failure).
	more bool
}

// changedError reports where a second walk of a stream differs from the
// walk that checked it. Its text is a problem for the banner, without the
// package prefix: it never leaves the package as an error.
type changedError struct {
	Seq    uint64
	Reason string
}

func (e *changedError) Error() string {
	return fmt.Sprintf("seq %d: %s", e.Seq, e.Reason)
}

// errPastCheck ends a walk at the first event after the checked stream.
var errPastCheck = errors.New("query: past the checked stream")

// newReplayCheck returns the check of a second walk of the stream rd
// describes, trusting keys as the first walk did.
func newReplayCheck(rd *checkedRead, keys *event.Keyring) *replayCheck {
	strict := ^uint64(0)
	if b := rd.in.Stream.Break; b != nil {
		strict = b.Seq
	}
	if len(rd.in.Conflicts) > 0 {
		strict = min(strict, rd.in.Conflicts[0])
	}
	return &replayCheck{v: event.NewStreamVerifier(keys), rd: rd, strict: strict}
}

// page takes the conflicting seqs of the next page, before its events.
func (r *replayCheck) page(conflicts []uint64) error {
	for _, c := range conflicts {
		if c < r.strict && c <= r.rd.in.Stream.LastSeq {
			return &changedError{Seq: c, Reason: "a conflicting copy appeared"}
		}
	}
	return nil
}

// add takes the next event of the walk. It returns errPastCheck at the
// first event after the checked stream and a *changedError when e is not
// the checked event; only after nil may e be shown.
func (r *replayCheck) add(e *event.Event) error {
	rd := r.rd
	if rd.events == 0 || e.Seq > rd.in.Stream.LastSeq {
		if rd.events > 0 && !rd.in.Stream.Ended {
			r.more = true
			return errPastCheck
		}
		return &changedError{Seq: e.Seq, Reason: "an event after the checked end appeared"}
	}
	if r.n == 0 {
		if e.Seq != rd.first.seq || e.Hash != rd.first.hash {
			return &changedError{Seq: e.Seq, Reason: fmt.Sprintf("the walk no longer starts at the checked first event (seq %d)", rd.first.seq)}
		}
		if rd.from > 0 {
			r.v.StartAt(e)
		}
	}
	r.v.Add(e)
	if b := r.v.Broken(); b != nil && b.Seq < r.strict {
		return &changedError{Seq: b.Seq, Reason: b.Reason}
	}
	if e.Seq == rd.in.Stream.LastSeq && e.Hash != rd.in.Stream.LastHash {
		return &changedError{Seq: e.Seq, Reason: fmt.Sprintf("hash %s, but the check read %s", e.Hash, rd.in.Stream.LastHash)}
	}
	r.n++
	r.last = e.Seq
	return nil
}

// end reports whether the walk, ended by running out of events, reached
// the checked last event.
func (r *replayCheck) end() error {
	rd := r.rd
	if rd.events == 0 || r.n > 0 && r.last == rd.in.Stream.LastSeq {
		return nil
	}
	from := rd.first.seq
	if r.n > 0 {
		from = r.last + 1
	}
	return &changedError{Seq: from, Reason: fmt.Sprintf("seqs %d..%d, read by the check, are no longer stored", from, rd.in.Stream.LastSeq)}
}

// replaySeq yields the events of session id a second time, each only
// after rc verified it (see replayCheck), one page in memory at a time.
// It stops at the first event that is not the checked one and stores the
// *changedError, or a read error, in *errp.
func (s *Store) replaySeq(ctx context.Context, id string, rc *replayCheck, errp *error) iter.Seq[*event.Event] {
	return func(yield func(*event.Event) bool) {
		stopped := errors.New("stopped")
		_, err := s.walkPages(ctx, id, func(page []event.Event, conflicts []uint64) error {
			if err := rc.page(conflicts); err != nil {
				return err
			}
			for i := range page {
				if err := rc.add(&page[i]); err != nil {
					return err
				}
				if !yield(&page[i]) {
					return stopped
				}
			}
			return nil
		})
		switch {
		case errors.Is(err, stopped): // the consumer stopped: nothing to conclude
		case err == nil, errors.Is(err, errPastCheck):
			*errp = rc.end()
		default:
			*errp = err
		}
	}
}

// writeBanner prints the verdict of a read when it cannot vouch for what
// it shows: a loud block on w. It reports whether it printed one.
func writeBanner(w io.Writer, in *Integrity) bool {
	if in.OK() {
		return false
	}
	fmt.Fprintln(w, "WARNING: this recording does NOT verify; what follows cannot be vouched for:")
	for _, p := range in.Problems {
		fmt.Fprintf(w, "  - %s\n", printable(p))
	}
	fmt.Fprintln(w, "  (run audit verify for details)")
	return true
}
