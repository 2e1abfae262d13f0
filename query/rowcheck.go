package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/foureyes/foureyes/event"
)

// A listing shows the sessions rows, which a database writer can insert
// at will (the highest version wins), so it checks every row it shows
// against the authenticated parts of its recording, without reading the
// rest of the streams:
//
//   - a row that says the session ended against the stored session.end,
//     which carries the start fields, the exit status and the approvers
//     and authenticates itself (its hash, its signature);
//   - a row that says the session is open against the stored
//     session.start: ingest writes an open row from the start alone
//     (ingest/sessionrow.go), so every field of it must be the start's
//     and its version and last seq must be 0 (openRowDiffs); and no
//     authenticated end may be stored, since the open row would hide the
//     end's exit status and approvers. The start is not signed itself: the
//     stream must carry a seal of a trusted key once it is older than
//     unsignedGrace, as verify requires of an open stream's tail.

// checkRows checks every sessions row of list against its recording and
// returns the problems by session id: every row of list has an entry,
// an empty list when it agrees. ends holds the authenticated ends by
// session id, for what else a listing shows of them. It reads the ends of
// all the rows and the starts of the open ones, one query each.
func (s *Store) checkRows(ctx context.Context, list []Session) (out map[string][]string, ends map[string]*event.Event, err error) {
	ids := make([]string, 0, len(list))
	var open []string
	for i := range list {
		ids = append(ids, list[i].ID)
		if list[i].Open {
			open = append(open, list[i].ID)
		}
	}
	out = make(map[string][]string, len(ids))
	ends, bad, err := s.sessionEnds(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	heads, err := s.streamHeads(ctx, open)
	if err != nil {
		return nil, nil, err
	}
	for i := range list {
		row := &list[i]
		end := ends[row.ID]
		if row.Open {
			out[row.ID] = s.openRowProblems(row, end, bad[row.ID], heads[row.ID])
			continue
		}
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

// streamHead is what a listing reads of an open session's stream: every
// stored copy of seq 0 and its first chain.seal.
type streamHead struct {
	starts []*event.Event
	seal   *event.Event
}

// streamHeads reads the stream heads of ids (held copies too) in one
// query: seq 0 by key, and the chain.seal with the lowest seq.
func (s *Store) streamHeads(ctx context.Context, ids []string) (map[string]*streamHead, error) {
	heads := make(map[string]*streamHead, len(ids))
	if len(ids) == 0 {
		return heads, nil
	}
	set := clickhouse.GroupSet{Value: make([]any, len(ids))}
	for i, id := range ids {
		set.Value[i] = id
	}
	const (
		cols  = "session, " + eventColumns
		start = " WHERE session IN ? AND seq = 0"
		seal  = " WHERE session IN ? AND type = 'chain.seal'"
	)
	q := "SELECT " + cols + " FROM events" + start + " UNION ALL SELECT " + cols + " FROM held_events" + start +
		" UNION ALL SELECT " + cols + " FROM (SELECT " + cols + " FROM events" + seal + " UNION ALL SELECT " + cols + " FROM held_events" + seal +
		") ORDER BY session, seq LIMIT 1 BY session"
	rows, err := s.conn.Query(ctx, q, set, set, set, set)
	if err != nil {
		return nil, fmt.Errorf("query: session starts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e := &event.Event{}
		if err := s.scanInto(ctx, rows, e, &e.Session); err != nil {
			return nil, fmt.Errorf("query: session starts: scan: %w", err)
		}
		h := heads[e.Session]
		if h == nil {
			h = &streamHead{}
			heads[e.Session] = h
		}
		if e.Seq == 0 {
			h.starts = append(h.starts, e)
		} else {
			h.seal = e
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query: session starts: %w", err)
	}
	return heads, nil
}

// openRowProblems checks the open row against the stream's head and the
// session's stored end (end authenticated, else badEnd says why a stored
// end cannot vouch for anything).
func (s *Store) openRowProblems(row *Session, end *event.Event, badEnd string, h *streamHead) []string {
	var out []string
	switch {
	case end != nil:
		out = append(out, fmt.Sprintf("the row says the session is open, but the recording ended at seq %d (signed end, exit %s)",
			end.Seq, printable(end.Meta["exit_status"])))
	case badEnd != "":
		out = append(out, "the row says the session is open, and a session.end is stored that does not authenticate: "+badEnd)
	}
	if h == nil || len(h.starts) == 0 {
		return append(out, "the row says the session is open, but no session.start is stored")
	}
	start := h.starts[0]
	for _, c := range h.starts {
		if event.ComputeHash(c) != c.Hash {
			return append(out, "the stored start was altered (its hash does not match)")
		}
		if c.Hash != start.Hash {
			return append(out, "seq 0 stored twice with different content (conflicting copies)")
		}
	}
	if start.Type != event.SessionStart {
		return append(out, fmt.Sprintf("seq 0 is a %s, not a session.start", printable(string(start.Type))))
	}
	if d := openRowDiffs(row, start); len(d) > 0 {
		out = append(out, "the sessions row disagrees with the recording's start: "+strings.Join(d, "; "))
	}
	if s.keys.Len() > 0 {
		age := s.now().Sub(time.Unix(0, start.Time))
		switch {
		case h.seal != nil:
			if _, _, err := s.keys.VerifySeal(h.seal); err != nil {
				out = append(out, fmt.Sprintf("seq %d: the stream's first seal does not verify with a trusted key", h.seal.Seq))
			}
		case age > unsignedGrace:
			out = append(out, fmt.Sprintf("no trusted key sealed the stream, though it started %s ago (written by someone without the key)", age.Round(time.Minute)))
		}
	}
	return out
}

// openRowDiffs lists the fields where row, a row that says its session
// is open, differs from the row ingest writes from the session's
// session.start (ingest/sessionrow.go): the start's meta, time, class,
// seq (its version and last seq, 0) and hash, no end, no bytes. A row
// that differs was not written by ingest, or not from this start: a
// database writer's, as a higher version that hides the session's end
// (with approvers, a reason and a command the recording does not hold).
// Each entry reads `field "row" (recording: "start")`, escaped.
func openRowDiffs(row *Session, start *event.Event) []string {
	m := start.Meta
	gateway := m["gateway"]
	if gateway == "" {
		gateway = start.Gateway
	}
	var diffs []string
	for _, f := range []struct{ name, row, start string }{
		{"kind", row.Kind, m["kind"]}, {"user", row.User, m["user"]}, {"host", row.Host, m["host"]},
		{"login", row.Login, m["login"]}, {"remote", row.Remote, m["remote"]}, {"gateway", row.Gateway, gateway},
		{"command", row.Command, m["command"]}, {"reason", row.Reason, m["reason"]},
		{"approvers", strings.Join(row.Approvers, ","), strings.Join(splitNames(m["approvers"]), ",")},
		{"class", row.Class, start.Class},
		{"retention_days", strconv.Itoa(row.RetentionDays), strconv.Itoa(int(start.Retention))},
		{"started", strconv.FormatInt(row.Started.UnixNano(), 10), strconv.FormatInt(start.Time, 10)},
		{"version", strconv.FormatUint(row.version, 10), strconv.FormatUint(start.Seq, 10)},
		{"last_seq", strconv.FormatUint(row.LastSeq, 10), strconv.FormatUint(start.Seq, 10)},
		{"last_hash", row.LastHash, start.Hash.String()},
		{"exit", strconv.Itoa(row.ExitStatus), "-1"},
		{"interrupted", strconv.FormatBool(row.Interrupted), "false"},
		{"bytes_in", strconv.FormatUint(row.BytesIn, 10), "0"},
		{"bytes_out", strconv.FormatUint(row.BytesOut, 10), "0"},
	} {
		if f.row != f.start {
			diffs = append(diffs, fmt.Sprintf("%s %q (recording: %q)", f.name, printable(f.row), printable(f.start)))
		}
	}
	slices.Sort(diffs)
	return diffs
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
