package query

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/ingest/retention"
)

// The holds table is as writable as any other: a row claiming a
// two-auditor release could be forged. Each step of a release is an
// `audit release ID` command, recorded as audit.query in the auditor's
// audit stream, which is chained and signed. releaseTrail checks a
// release against those streams.

// auditCommandBacked reports whether actor ran `audit VERB ID` in an
// audit stream that verifies (chain, and signatures when trusted keys are
// configured).
func (s *Store) auditCommandBacked(ctx context.Context, actor, verb, id string) (bool, error) {
	const where = " WHERE type = 'audit.query' AND actor = ? AND position(data, ?) > 0"
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT session FROM (SELECT session, type, actor, data FROM events"+where+
		" UNION ALL SELECT session, type, actor, data FROM held_events"+where+")", actor, id, actor, id)
	if err != nil {
		return false, fmt.Errorf("query: audit commands of %s: %w", actor, err)
	}
	var streams []string
	for rows.Next() {
		var sid string
		if err := rows.Scan(&sid); err != nil {
			rows.Close()
			return false, fmt.Errorf("query: audit commands of %s: %w", actor, err)
		}
		streams = append(streams, sid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("query: audit commands of %s: %w", actor, err)
	}
	for _, sid := range streams {
		c := newStreamCheck(sid, s)
		found := false
		st, err := s.walkEvents(ctx, sid, func(e *event.Event) error {
			c.add(e)
			if e.Type == event.AuditQuery && e.Actor == actor && commandNames(string(e.Data), verb, id) {
				found = true
			}
			return nil
		})
		if err != nil {
			return false, err
		}
		in := c.finish(st, Session{}, false, s.now())
		if found && in.OK() && c.head.Kind == "audit" && (!c.keyed || in.Stream.EndSigned) {
			return true, nil
		}
	}
	return false, nil
}

// commandNames reports whether the command line "audit VERB ... ID ..."
// runs verb on id.
func commandNames(line, verb, id string) bool {
	f := strings.Fields(line)
	for i := range f {
		f[i] = strings.Trim(f[i], `'"`)
	}
	i := slices.Index(f, verb)
	return len(f) > 0 && f[0] == "audit" && i == 1 && slices.Contains(f[i+1:], id)
}

// releaseProblem says why the release of h is not backed by the signed
// audit streams, or "" when it is (or h was not released).
func (s *Store) releaseProblem(ctx context.Context, h retention.Hold) (string, error) {
	if h.Released.IsZero() {
		return "", nil
	}
	for _, who := range []string{h.ReleasedBy, h.ConfirmedBy} {
		if who == "" {
			continue
		}
		ok, err := s.auditCommandBacked(ctx, who, "release", h.Session)
		if err != nil || !ok {
			return fmt.Sprintf("the release of %s's hold on %s by %s is not backed by a signed `audit release` of %s (holds row forged?)",
				printable(h.PlacedBy), printable(h.Session), printable(h.ReleasedBy), printable(who)), err
		}
	}
	return "", nil
}

// checkReleases adds to res a failure for every hold released at or after
// since that the signed audit streams do not back.
func (s *Store) checkReleases(ctx context.Context, res *WindowResult, since time.Time) error {
	hs, err := retention.ListHolds(ctx, s.conn, s.now(), true)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	for _, h := range hs {
		if h.Released.IsZero() || h.Released.Before(since) {
			continue
		}
		res.Releases++
		p, err := s.releaseProblem(ctx, h)
		if err != nil {
			return err
		}
		if p != "" {
			res.Failures = append(res.Failures, StreamFailure{ID: "hold:" + h.Session, Problems: []string{p}})
		}
	}
	return nil
}
