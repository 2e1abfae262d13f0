package query

import (
	"context"
	"errors"

	"github.com/foureyes/foureyes/event"
)

// checkRows checks each ended sessions row of list against its stored
// session.end (the end carries the start fields, the exit status, the
// approvers; its own hash and signature authenticate it), without reading
// the rest of the streams. It returns the problems by session id; rows of
// open sessions are not checked (absent from the map), checked rows that
// agree map to an empty list. ends holds the authenticated ends by
// session id, for what else a listing shows of them.
func (s *Store) checkRows(ctx context.Context, list []Session) (out map[string][]string, ends map[string]*event.Event, err error) {
	var ids []string
	for i := range list {
		if !list[i].Open {
			ids = append(ids, list[i].ID)
		}
	}
	out = make(map[string][]string, len(ids))
	ends, bad, err := s.sessionEnds(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	for i := range list {
		row := &list[i]
		if row.Open {
			continue
		}
		end := ends[row.ID]
		if end == nil {
			why := bad[row.ID]
			if why == "" {
				why = "the row says the session ended, but no end is stored"
			}
			out[row.ID] = []string{why}
			continue
		}
		c := newStreamCheck(row.ID, s)
		applyHeader(&c.head, end)
		c.end = end.Meta
		var in Integrity
		c.compareSummary(&in, *row)
		if end.Seq != row.LastSeq || end.Hash.String() != row.LastHash {
			in.problem("the row's last seq %d differs from the stored end at seq %d", row.LastSeq, end.Seq)
		}
		out[row.ID] = in.Problems
	}
	return out, ends, nil
}

// endProblem says why a stored session.end cannot vouch for a row, or "".
func (s *Store) endProblem(e *event.Event) string {
	if event.ComputeHash(e) != e.Hash {
		return "the stored end was altered (its hash does not match)"
	}
	if s.keys.Len() == 0 {
		return ""
	}
	if _, err := s.keys.VerifyEnd(e); err != nil {
		if errors.Is(err, event.ErrNotSigned) {
			return "the stored end is not signed by a trusted key"
		}
		return "the stored end's signature does not verify"
	}
	return ""
}
