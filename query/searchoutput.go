package query

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// escapeSeqs matches the terminal escape sequences removed from output
// before it is searched (CSI, OSC, two-byte escapes), in RE2 syntax for
// both Go and ClickHouse: a colour code between two words does not hide
// them.
const escapeSeqs = `\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b[@-Z\\-_]`

var escapeRe = regexp.MustCompile(escapeSeqs)

// maxHitLine bounds the characters of an output line in a hit.
const maxHitLine = 400

func (s *Store) searchOutput(ctx context.Context, f SearchFilter, cur *cursor) (SearchPage, error) {
	if f.Since.IsZero() && f.Host == "" && f.Session == "" {
		return SearchPage{}, fmt.Errorf("%w: --output scans recorded output: give a window (--since), --host or --session", ErrSearch)
	}
	pattern := textPattern(f.Output)
	where := []string{"type = 'output'", "match(lowerUTF8(replaceRegexpAll(data, ?, '')), ?)"}
	args := []any{escapeSeqs, pattern}
	// Owner, host and kind live in the sessions rows.
	var sw []string
	var sa []any
	switch f.Kind {
	case "shell", "exec":
		sw, sa = append(sw, "kind = ?"), append(sa, f.Kind)
	case "":
		sw = append(sw, "kind IN ('shell', 'exec')")
	}
	if f.User != "" {
		sw, sa = append(sw, "user = ?"), append(sa, f.User)
	}
	if f.Host != "" {
		sw, sa = append(sw, "host = ?"), append(sa, f.Host)
	}
	if f.Session != "" {
		sw, sa = append(sw, "session = ?"), append(sa, f.Session)
	}
	// The window: output at or after since and before until. A session
	// that started at or after until has no output before it; its rows
	// are not read (the bound prunes the sessions' day partitions).
	since, until := f.Since, f.Until
	if until.IsZero() {
		until = s.now().Add(time.Minute)
	}
	if cur != nil && time.Unix(0, cur.tsNs+1).Before(until) {
		until = time.Unix(0, cur.tsNs+1)
	}
	sw = append(sw, "started <= toDateTime(?)", "started_ns < ?")
	sa = append(sa, clampUnix(until.Unix()), until.UnixNano())
	sc := whereClause(sw)
	// A session that ended before since has no output in the window. One
	// that started before since may have (a long session): its start does
	// not bound it, only its end does, so the lower side is a condition
	// on each session's rows together (HAVING), not on the start days.
	having, ha := "", []any(nil)
	if !since.IsZero() {
		having, ha = " HAVING max(ended_ns) = 0 OR max(ended_ns) >= ?", []any{since.UnixNano()}
	}
	sel, err := s.outputSessions(ctx, sc, having, append(append(append([]any{}, sa...), sa...), ha...))
	if err != nil {
		return SearchPage{}, err
	}
	if sel.n == 0 {
		return SearchPage{}, nil
	}
	if sel.set != nil {
		// Few sessions: their ids as a literal set, which the events'
		// (session, seq) order finds without a scan of the day.
		where = append(where, "session IN ?")
		args = append(args, *sel.set)
	} else {
		where = append(where, "session IN (SELECT session FROM ("+windowSessions(sc)+") GROUP BY session"+having+")")
		args = append(args, sa...)
		args = append(args, sa...)
		args = append(args, ha...)
	}
	w, a := commonCondsIdx(SearchFilter{Class: f.Class}, cur, "0")
	where, args = append(where, w...), append(args, a...)

	// The window, scanned a day at a time from its newest end: the scan
	// stops at MaxScan rows, with the newest hits found.
	// Output lies between the first start and the last end of the
	// sessions selected: the days outside are not visited.
	if t := time.Unix(0, sel.first); since.Before(t) {
		since = t
	}
	if t := time.Unix(0, sel.last+1); !sel.open && t.Before(until) {
		until = t
	}
	limit := clampLimit(f.Limit)
	maxScan := f.MaxScan
	if maxScan == 0 {
		maxScan = DefaultMaxScan
	}
	var read atomic.Uint64
	// The cap is checked after each day from the server's progress
	// reports, not with max_rows_to_read: the auditor's ClickHouse user
	// is read-only (readonly = 1), which may not change settings.
	qctx := clickhouse.Context(ctx, clickhouse.WithProgress(func(p *clickhouse.Progress) { read.Add(p.Rows) }))
	goPattern := regexp.MustCompile("(?i)" + pattern) // textPattern quotes every word
	var page SearchPage
	for hi := until; hi.After(since); hi = hi.Add(-24 * time.Hour) {
		lo := hi.Add(-24 * time.Hour)
		if lo.Before(since) {
			lo = since
		}
		dw, da := commonCondsIdx(SearchFilter{Since: lo, Until: hi}, nil, "0")
		dwhere, dargs := append(append([]string{}, where...), dw...), append(append([]any{}, args...), da...)
		var err error
		if len(page.Hits) < limit {
			err = s.outputDay(qctx, dwhere, dargs, limit-len(page.Hits)+1, goPattern, &page)
			if err == nil && len(page.Hits) > limit {
				// Full: count the rest of this day after the last hit.
				page.Hits = page.Hits[:limit]
				lc, _ := parseCursor(page.Hits[limit-1].Cursor())
				cw, ca := commonCondsIdx(SearchFilter{}, &lc, "0")
				err = s.outputCount(qctx, append(dwhere, cw...), append(dargs, ca...), &page)
			}
		} else {
			err = s.outputCount(qctx, dwhere, dargs, &page)
		}
		if err != nil {
			return SearchPage{}, err
		}
		if read.Load() >= maxScan && lo.After(since) {
			page.StoppedEarly = true
			break
		}
	}
	if sel.owners != nil {
		for i := range page.Hits {
			o := sel.owners[page.Hits[i].Session]
			page.Hits[i].Host, page.Hits[i].User = o.host, o.user
		}
		return page, nil
	}
	return page, s.fillSessions(ctx, page.Hits)
}

// maxLiteralSessions bounds the session ids an output search sends as a
// literal set (about 40 bytes each, well under 18.16's 256 KiB query
// size); more are selected by a subquery. A variable: tests take both
// paths.
var maxLiteralSessions uint64 = 2000

// outputSelection is what outputSessions found.
type outputSelection struct {
	n           uint64               // sessions
	open        bool                 // one of them has not ended
	first, last int64                // earliest start, latest end (ns)
	set         *clickhouse.GroupSet // their ids, when at most maxLiteralSessions
	owners      map[string]hostUser  // with set: each one's host and user
}

// hostUser is a session's host and owner.
type hostUser struct{ host, user string }

// windowSessions is the UNION of the sessions rows and their held
// copies matching cond, with the columns outputSessions reads.
func windowSessions(cond string) string {
	return "SELECT session, host, user, started_ns, ended_ns FROM sessions" + cond +
		" UNION ALL SELECT session, host, user, started_ns, ended_ns FROM held_sessions" + cond
}

// outputSessions selects the sessions an output search covers (those
// whose rows match cond, grouped by session and kept by having): how
// many, their time span and, when few, their ids with their hosts and
// owners — one read of the sessions tables, which also names the hits'
// sessions without another. args are cond's twice, then having's.
func (s *Store) outputSessions(ctx context.Context, cond, having string, args []any) (outputSelection, error) {
	var sel outputSelection
	rows, err := s.conn.Query(ctx, fmt.Sprintf(`SELECT session, any(host), any(user), min(started_ns), max(ended_ns) FROM (%s)
		GROUP BY session%s LIMIT %d`, windowSessions(cond), having, maxLiteralSessions+1), args...)
	if err != nil {
		return sel, fmt.Errorf("query: search output: %w", err)
	}
	defer rows.Close()
	set := clickhouse.GroupSet{}
	owners := map[string]hostUser{}
	for rows.Next() {
		var (
			id, host, user string
			started, ended int64
		)
		if err := rows.Scan(&id, &host, &user, &started, &ended); err != nil {
			return sel, fmt.Errorf("query: search output: scan: %w", err)
		}
		if sel.n == 0 || started < sel.first {
			sel.first = started
		}
		sel.last = max(sel.last, ended)
		sel.open = sel.open || ended == 0 // no row of the session has its end
		sel.n++
		set.Value = append(set.Value, id)
		owners[id] = hostUser{host, user}
	}
	if err := rows.Err(); err != nil {
		return sel, fmt.Errorf("query: search output: %w", err)
	}
	if sel.n <= maxLiteralSessions {
		sel.set, sel.owners = &set, owners
		return sel, nil
	}
	// Many: their span from one aggregate, the ids by the subquery.
	var open uint64
	err = s.conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(), min(lo), max(hi), countIf(hi = 0) FROM (
		SELECT session, min(started_ns) AS lo, max(ended_ns) AS hi FROM (%s) GROUP BY session%s)`, windowSessions(cond), having),
		args...).Scan(&sel.n, &sel.first, &sel.last, &open)
	if err != nil {
		return sel, fmt.Errorf("query: search output: %w", err)
	}
	sel.open = open > 0
	return sel, nil
}

// outputDay appends the newest n output hits matching where to page.
func (s *Store) outputDay(ctx context.Context, where []string, args []any, n int, re *regexp.Regexp, page *SearchPage) error {
	cond := whereClause(where)
	q := fmt.Sprintf(`SELECT session, seq, ts_ns, data FROM (
		SELECT session, seq, ts_ns, data FROM events%[1]s UNION ALL SELECT session, seq, ts_ns, data FROM held_events%[1]s)
		ORDER BY ts_ns DESC, session DESC, seq DESC LIMIT 1 BY session, seq LIMIT %[2]d`, cond, n)
	rows, err := s.conn.Query(ctx, q, append(append([]any{}, args...), args...)...)
	if err != nil {
		return fmt.Errorf("query: search output: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			h    Hit
			tsNs int64
			data string
		)
		if err := rows.Scan(&h.Session, &h.Seq, &tsNs, &data); err != nil {
			return fmt.Errorf("query: search output: scan: %w", err)
		}
		h.Kind, h.Time, h.Line = HitOutput, time.Unix(0, tsNs).UTC(), matchingLine(data, re)
		page.Hits = append(page.Hits, h)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: search output: %w", err)
	}
	return nil
}

// outputCount adds the output hits matching where to page.More.
func (s *Store) outputCount(ctx context.Context, where []string, args []any, page *SearchPage) error {
	cond := whereClause(where)
	var n uint64
	err := s.conn.QueryRow(ctx, fmt.Sprintf(`SELECT count() FROM (SELECT session, seq FROM (
		SELECT session, seq FROM events%[1]s UNION ALL SELECT session, seq FROM held_events%[1]s) LIMIT 1 BY session, seq)`, cond),
		append(append([]any{}, args...), args...)...).Scan(&n)
	if err != nil {
		return fmt.Errorf("query: search output: count: %w", err)
	}
	page.More += int(n)
	return nil
}

// matchingLine returns the first line of an output chunk that matches re,
// escape sequences removed, or the chunk itself (trimmed) when the match
// spans lines.
func matchingLine(data string, re *regexp.Regexp) string {
	clean := escapeRe.ReplaceAllString(data, "")
	line := strings.TrimSpace(clean)
	for _, l := range strings.FieldsFunc(clean, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if re.MatchString(l) {
			line = strings.TrimSpace(l)
			break
		}
	}
	if r := []rune(line); len(r) > maxHitLine {
		line = string(r[:maxHitLine]) + "…"
	}
	return line
}

// fillSessions sets the host and owner of output hits from their
// sessions rows.
func (s *Store) fillSessions(ctx context.Context, hits []Hit) error {
	if len(hits) == 0 {
		return nil
	}
	set := clickhouse.GroupSet{}
	seen := map[string]bool{}
	for _, h := range hits {
		if !seen[h.Session] {
			seen[h.Session] = true
			set.Value = append(set.Value, h.Session)
		}
	}
	rows, err := s.conn.Query(ctx, `SELECT session, any(host), any(user) FROM (
		SELECT session, host, user FROM sessions WHERE session IN ? UNION ALL SELECT session, host, user FROM held_sessions WHERE session IN ?)
		GROUP BY session`, set, set)
	if err != nil {
		return fmt.Errorf("query: search output: sessions: %w", err)
	}
	defer rows.Close()
	m := map[string]hostUser{}
	for rows.Next() {
		var id string
		var v hostUser
		if err := rows.Scan(&id, &v.host, &v.user); err != nil {
			return fmt.Errorf("query: search output: sessions: %w", err)
		}
		m[id] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: search output: sessions: %w", err)
	}
	for i := range hits {
		v := m[hits[i].Session]
		hits[i].Host, hits[i].User = v.host, v.user
	}
	return nil
}
