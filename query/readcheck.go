package query

import (
	"context"
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
	st, err := s.walkEvents(ctx, id, func(e *event.Event) error {
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
	return checkedRead{head: head, in: in, outputs: c.outputs, events: st.Events}, nil
}

// eventSeq yields the events of session id in seq order, one page in
// memory at a time; a read error ends it and is stored in *errp.
func (s *Store) eventSeq(ctx context.Context, id string, errp *error) iter.Seq[*event.Event] {
	return func(yield func(*event.Event) bool) {
		stop := fmt.Errorf("stop")
		_, err := s.walkEvents(ctx, id, func(e *event.Event) error {
			if !yield(e) {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
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
