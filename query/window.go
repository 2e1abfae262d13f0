package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/foureyes/foureyes/event"
)

// WindowResult is the outcome of verifying every stream of a time window.
type WindowResult struct {
	Streams  int    // streams verified
	Gateways int    // of which gateway streams
	Events   uint64 // events verified
	Anchors  int    // gateway stream anchors checked
	Releases int    // hold releases checked against the audit streams
	Keys     []string
	// Failures lists the streams that did not verify, by id.
	Failures []StreamFailure
	// Unrecorded counts streams no verified gateway stream records (their
	// gateway stream is older than the window, or they were inserted).
	Unrecorded int
	// Unsigned is set when no trusted keys are configured.
	Unsigned bool
	// LogRows counts the retention_log rows of the window checked;
	// LogUnsigned those written unsigned before the retention job signed
	// its log (not a failure).
	LogRows, LogUnsigned int
	// LogFailures lists the retention_log chains that did not verify, by
	// "retention_log chain KEY" ("retention_log (unsigned rows)" for rows
	// without a key).
	LogFailures []StreamFailure
}

// StreamFailure names a stream and what is wrong with it.
type StreamFailure struct {
	ID       string
	Problems []string
}

// OK reports whether every stream and the retention log verified.
func (r *WindowResult) OK() bool { return len(r.Failures) == 0 && len(r.LogFailures) == 0 }

// windowStream is what the window keeps of one verified stream: no
// events, only its verdict and tail.
type windowStream struct {
	in   Integrity
	kind string
}

// VerifyWindow verifies every stream with events in [since, until) (a
// zero until: no upper bound) as Verify does, one at a time in bounded
// memory, then checks the gateway streams' records against the streams:
// every stream a verified gateway stream records as started or ended must
// be stored and end where recorded (a deleted session, a cut-off tail),
// and every gateway stream's anchor must name a stored predecessor with
// the anchored hash (a deleted gateway stream). Every hold released in
// the window must be backed by the `audit release` commands of its
// auditors in audit streams that verify (a forged holds row). Memory grows with the
// number of streams in the window (ids and verdicts), not their size.
func (s *Store) VerifyWindow(ctx context.Context, since, until time.Time) (WindowResult, error) {
	var res WindowResult
	ids, err := s.windowStreams(ctx, since, until)
	if err != nil {
		return res, err
	}
	streams := make(map[string]*windowStream, len(ids))
	var logs []*verifiedLog
	keys := map[string]bool{}
	verifyOne := func(id string) (*windowStream, error) {
		row, found, err := s.session(ctx, id)
		if err != nil {
			return nil, err
		}
		c := newStreamCheck(id, s)
		tail := tailCheck{sess: row, found: found}
		st, err := s.walkEvents(ctx, id, func(e *event.Event) error { c.add(e); tail.add(e); return nil })
		if err != nil {
			return nil, err
		}
		in := c.finish(st, row, found, s.now())
		if b := tail.result(); b != nil && in.Stream.Break == nil {
			in.problem("seq %d: %s", b.Seq, b.Reason)
		}
		if st.Events == 0 {
			var exp *ExpiredError
			in.expired = errors.As(s.notFound(ctx, id), &exp)
		}
		res.Streams++
		res.Events += st.Events
		for _, k := range in.Stream.Keys {
			keys[k] = true
		}
		ws := &windowStream{in: in, kind: c.head.Kind}
		if c.gw != nil {
			res.Gateways++
			if in.OK() {
				logs = append(logs, &verifiedLog{log: c.gw, signed: c.keyed, signedThrough: signedThrough(in.Stream)})
			}
		}
		streams[id] = ws
		return ws, nil
	}
	for _, id := range ids {
		if _, err := verifyOne(id); err != nil {
			return res, err
		}
	}
	// Streams the gateway streams recorded but the window did not hold:
	// read them too (they may have no events at all: deleted).
	for _, l := range logs {
		for _, m := range []map[string]uint64{l.log.started, endedAt(l.log.ended)} {
			for id := range m {
				if _, ok := streams[id]; !ok {
					if _, err := verifyOne(id); err != nil {
						return res, err
					}
				}
			}
		}
	}
	// The oldest gateway streams of the window name predecessors before it.
	for _, l := range slices.Clone(logs) {
		if a := l.log.anchor; a != nil {
			if _, ok := streams[a.stream]; !ok {
				if _, err := verifyOne(a.stream); err != nil {
					return res, err
				}
			}
		}
	}
	for id, ws := range streams {
		if ws.kind == "gateway" {
			continue
		}
		checkRecorded(&ws.in, id, ws.in.Stream, logs, s.now())
		if !recordedBy(id, logs) && ws.in.Stream.Events > 0 {
			res.Unrecorded++
		}
	}
	for _, l := range logs {
		a := l.log.anchor
		if a == nil {
			continue
		}
		res.Anchors++
		if p := s.checkAnchor(ctx, a, streams); p != "" {
			ws := streams[l.log.stream]
			ws.in.problem("%s", p)
		}
	}
	for id, ws := range streams {
		if !ws.in.OK() {
			res.Failures = append(res.Failures, StreamFailure{ID: id, Problems: ws.in.Problems})
		}
	}
	if f, ok := s.checkLocalAnchor(ctx); ok {
		res.Anchors++
		if f != nil {
			res.Failures = append(res.Failures, *f)
		}
	}
	if err := s.checkReleases(ctx, &res, since); err != nil {
		return res, err
	}
	if err := s.checkRetentionLog(ctx, &res, since, until); err != nil {
		return res, err
	}
	slices.SortFunc(res.Failures, func(a, b StreamFailure) int { return strings.Compare(a.ID, b.ID) })
	for k := range keys {
		res.Keys = append(res.Keys, k)
	}
	slices.Sort(res.Keys)
	res.Unsigned = s.keys.Len() == 0
	return res, nil
}

func endedAt(m map[string]endRecord) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for id, r := range m {
		out[id] = r.at
	}
	return out
}

func recordedBy(id string, logs []*verifiedLog) bool {
	for _, l := range logs {
		if _, ok := l.log.started[id]; ok {
			return true
		}
		if _, ok := l.log.ended[id]; ok {
			return true
		}
	}
	return false
}

// checkAnchor checks that the gateway stream a names is stored, verified
// and has the anchored hash at the anchored seq. It returns the problem,
// or "".
func (s *Store) checkAnchor(ctx context.Context, a *anchorRef, streams map[string]*windowStream) string {
	prev, ok := streams[a.stream]
	if !ok || prev.in.Stream.Events == 0 {
		var exp *ExpiredError
		if errors.As(s.notFound(ctx, a.stream), &exp) {
			return "" // retention removed it, as its class says
		}
		return fmt.Sprintf("deleted: its predecessor gateway stream %s (named by its anchor) is not stored", printable(a.stream))
	}
	var hash string
	err := s.conn.QueryRow(ctx, `SELECT any(hash) FROM (SELECT hash FROM events WHERE session = ? AND seq = ?
		UNION ALL SELECT hash FROM held_events WHERE session = ? AND seq = ?)`, a.stream, a.seq, a.stream, a.seq).Scan(&hash)
	if err != nil {
		return fmt.Sprintf("its anchor could not be read: %v", err)
	}
	if stored, ok := storedHashText(hash); !ok || stored != a.hash {
		return fmt.Sprintf("rewritten: its anchor names hash %s at seq %d of gateway stream %s, stored %s", shortHex(printable(a.hash)), a.seq, printable(a.stream), shortHex(stored))
	}
	return ""
}

// storedHashText returns the hex form of a hash as an events table stores
// it (event.ParseStoredHash) and whether it parsed; one that does not is
// returned printable, for the report.
func storedHashText(s string) (string, bool) {
	h, err := event.ParseStoredHash(s)
	if err != nil {
		return printable(s), false
	}
	return h.String(), true
}

// localAnchorGrace is how old the serving gateway's newest seal must be
// before the database must hold it: the spool, Kafka and ingest take
// about a second; a minute leaves room for a short outage.
const localAnchorGrace = time.Minute

// checkLocalAnchor checks that the database holds the newest point the
// serving gateway sealed in its own stream (WithLocalAnchor), once it is
// older than localAnchorGrace. It reports whether a point was checked,
// and the failure when the point is missing or differs.
func (s *Store) checkLocalAnchor(ctx context.Context) (*StreamFailure, bool) {
	if s.local == nil {
		return nil, false
	}
	stream, seq, h, at, ok := s.local()
	if !ok || s.now().Sub(at) < localAnchorGrace {
		return nil, false
	}
	var raw string
	err := s.conn.QueryRow(ctx, `SELECT any(hash) FROM (SELECT hash FROM events WHERE session = ? AND seq = ?
		UNION ALL SELECT hash FROM held_events WHERE session = ? AND seq = ?)`, stream, seq, stream, seq).Scan(&raw)
	stored, parsed := storedHashText(raw)
	switch {
	case err != nil:
		return &StreamFailure{ID: stream, Problems: []string{fmt.Sprintf("this gateway's own stream could not be checked: %v", err)}}, true
	case raw == "":
		return &StreamFailure{ID: stream, Problems: []string{fmt.Sprintf(
			"deleted: this gateway sealed seq %d of its own stream at %s, and the database does not hold it", seq, at.UTC().Format(time.RFC3339))}}, true
	case !parsed || stored != h.String():
		return &StreamFailure{ID: stream, Problems: []string{fmt.Sprintf(
			"rewritten: this gateway sealed seq %d of its own stream with hash %s, the database holds %s", seq, shortHex(h.String()), shortHex(stored))}}, true
	}
	return nil, true
}

// windowStreams returns the ids of the streams with events in the window.
func (s *Store) windowStreams(ctx context.Context, since, until time.Time) ([]string, error) {
	cond := "ts >= toDateTime(?) AND ts_ns >= ?"
	args := []any{clampUnix(since.Unix()), since.UnixNano()}
	if !until.IsZero() {
		cond += " AND ts <= toDateTime(?) AND ts_ns < ?"
		args = append(args, clampUnix(until.Unix()), until.UnixNano())
	}
	q := "SELECT DISTINCT session FROM (SELECT session FROM events WHERE " + cond + " UNION ALL SELECT session FROM held_events WHERE " + cond + ") ORDER BY session"
	rows, err := s.conn.Query(ctx, q, append(args, args...)...)
	if err != nil {
		return nil, fmt.Errorf("query: streams of the window: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("query: streams of the window: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// verifyWindow is audit verify --since.
func (c *cli) verifyWindow(ctx context.Context, since, until time.Time, asJSON bool) int {
	res, err := c.st.VerifyWindow(ctx, since, until)
	if err != nil {
		return c.fail("", err)
	}
	if asJSON {
		for _, f := range res.Failures {
			if err := writeJSONLine(c.stdout, map[string]any{"record": "failure", "id": f.ID, "problems": f.Problems}); err != nil {
				return c.fail("", err)
			}
		}
		for _, f := range res.LogFailures {
			if err := writeJSONLine(c.stdout, map[string]any{"record": "retention_log_failure", "id": f.ID, "problems": f.Problems}); err != nil {
				return c.fail("", err)
			}
		}
		if err := writeJSONLine(c.stdout, map[string]any{"record": "window", "ok": res.OK(), "streams": res.Streams,
			"gateway_streams": res.Gateways, "events": res.Events, "anchors": res.Anchors, "releases": res.Releases, "keys": res.Keys,
			"unrecorded": res.Unrecorded, "signatures_checked": !res.Unsigned,
			"retention_log_rows": res.LogRows, "retention_log_unsigned": res.LogUnsigned}); err != nil {
			return c.fail("", err)
		}
	} else {
		writeFailures(c.stdout, res.Failures)
		writeFailures(c.stdout, res.LogFailures)
		verdict := "OK"
		switch {
		case len(res.Failures) > 0 && len(res.LogFailures) > 0:
			verdict = fmt.Sprintf("FAILED (%d of %d streams, and the retention log)", len(res.Failures), res.Streams)
		case len(res.Failures) > 0:
			verdict = fmt.Sprintf("FAILED (%d of %d streams)", len(res.Failures), res.Streams)
		case len(res.LogFailures) > 0:
			verdict = "FAILED (the retention log)"
		}
		fmt.Fprintf(c.stdout, "%s: %d streams (%d gateway streams), %d events, %d anchors, %d hold releases, %d retention_log rows checked",
			verdict, res.Streams, res.Gateways, res.Events, res.Anchors, res.Releases, res.LogRows)
		if len(res.Keys) > 0 {
			fmt.Fprintf(c.stdout, ", signed by %s", strings.Join(res.Keys, ", "))
		}
		fmt.Fprintln(c.stdout)
		if res.Unsigned {
			fmt.Fprintln(c.stdout, "note: signatures not checked: no trusted signing keys are configured (signing.trusted_keys)")
		}
		if res.LogUnsigned > 0 {
			fmt.Fprintf(c.stdout, "note: %d retention_log rows are not signed (written before the retention job signed its log)\n", res.LogUnsigned)
		}
		if res.Unrecorded > 0 {
			fmt.Fprintf(c.stdout, "note: %d streams are not recorded by a gateway stream of the window (started before it, or not written by a gateway)\n", res.Unrecorded)
		}
	}
	if !res.OK() {
		return ExitFailure
	}
	return ExitOK
}

// writeFailures prints one FAILED line per problem of failures. Both the
// id and the problem come from the database (a session id, a
// retention_log key) and are escaped here, the one place they are
// printed as text.
func writeFailures(w io.Writer, failures []StreamFailure) {
	for _, f := range failures {
		for _, p := range f.Problems {
			fmt.Fprintf(w, "FAILED: %s: %s\n", printable(f.ID), printable(p))
		}
	}
}
