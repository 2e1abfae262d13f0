package query

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/foureyes/foureyes/event"
)

// checkRows checks each ended sessions row of list against its stored
// session.end (the end carries the start fields, the exit status, the
// approvers; its own hash and signature authenticate it), without reading
// the rest of the streams. It returns the problems by session id; rows of
// open sessions are not checked (absent from the map), checked rows that
// agree map to an empty list.
func (s *Store) checkRows(ctx context.Context, list []Session) (map[string][]string, error) {
	var ids []string
	for i := range list {
		if !list[i].Open {
			ids = append(ids, list[i].ID)
		}
	}
	out := make(map[string][]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	set := clickhouse.GroupSet{Value: make([]any, len(ids))}
	for i, id := range ids {
		set.Value[i] = id
	}
	const where = " WHERE session IN ? AND type = 'session.end'"
	rows, err := s.conn.Query(ctx, "SELECT session, "+eventColumns+" FROM events"+where+" UNION ALL SELECT session, "+eventColumns+" FROM held_events"+where, set, set)
	if err != nil {
		return nil, fmt.Errorf("query: session ends: %w", err)
	}
	defer rows.Close()
	ends := map[string]*event.Event{}
	bad := map[string]string{}
	for rows.Next() {
		e := event.Event{}
		if err := s.scanInto(ctx, rows, &e, &e.Session); err != nil {
			return nil, fmt.Errorf("query: session ends: scan: %w", err)
		}
		if why := s.endProblem(&e); why != "" {
			bad[e.Session] = why
			continue
		}
		ends[e.Session] = &e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query: session ends: %w", err)
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
	return out, nil
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
