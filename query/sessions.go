package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// DefaultLimit is the number of sessions Sessions returns when Filter.Limit
// is zero; MaxLimit caps larger requests.
const (
	DefaultLimit = 100
	MaxLimit     = 100000
)

// KindAll in Filter.Kind selects sessions of every kind.
const KindAll = "all"

// Filter selects sessions. Zero fields do not filter.
type Filter struct {
	User  string    // exact user name
	Host  string    // exact host name
	Since time.Time // started at or after
	Until time.Time // started before
	// Kind is an exact kind ("shell", "exec", "audit", "gateway") or
	// KindAll. Empty means the admin sessions: shell, exec, sftp and
	// tunnel (approval windows, audit and gateway streams are not).
	Kind  string
	Limit int // default DefaultLimit, at most MaxLimit
	// Participant selects the sessions the named user started, approved,
	// denied, viewed pending, joined, typed in, terminated or was refused
	// joining; Approver those they approved (the participants table).
	Participant string
	Approver    string
	// Before is the ID of a session listed earlier (the cursor of the
	// next page): only the sessions listed after it match, those that
	// started before it or at the same nanosecond with a smaller ID.
	Before string
	// Transfers selects the sessions that moved or changed files: with
	// a transfer (scp, rsync, git, SFTP) or an SFTP file operation.
	Transfers bool
	// HostChannelOpen selects the sessions whose session.end records
	// that the host kept the session's channel open after the bastion
	// ended it (gateway: host_channel_open): a process may have run on.
	HostChannelOpen bool
}

// Page is one page of sessions and how many more match after it.
type Page struct {
	Sessions []Session
	// More counts the matching sessions after the last one listed; 0
	// when this is the last page. The next page is the same Filter with
	// Before set to the last session's ID.
	More int
	// MoreAtMost reports that More is an upper bound: the filter's
	// condition was broader than the filter on this path, and the page
	// leaves out what it should not list (dropHostChannelDecoys), so
	// the count may include sessions no page will show.
	MoreAtMost bool
}

// Session is the summary row of one recorded stream.
type Session struct {
	ID            string
	Kind          string
	User          string
	Host          string
	Login         string
	Remote        string
	Gateway       string
	Command       string // exec sessions: the command
	Reason        string // the reason given for the session (four-eyes)
	Class         string
	Started       time.Time
	Ended         time.Time // zero while open
	Open          bool
	ExitStatus    int
	Interrupted   bool // ended by the recorder after a crash, not by the session
	BytesIn       uint64
	BytesOut      uint64
	Approvers     []string
	LastSeq       uint64
	LastHash      string
	RetentionDays int
	// version is the row's version: the seq of the event ingest made it
	// from, 0 (the session.start) for every row of an open session.
	version uint64
}

// Duration returns Ended-Started, or zero while the session is open.
func (s *Session) Duration() time.Duration {
	if s.Open || s.Ended.IsZero() {
		return 0
	}
	return s.Ended.Sub(s.Started)
}

// sessionColumns is the select list scanned by scanSession.
const sessionColumns = `session, kind, user, host, login, remote, gateway, command, reason, class,
	started_ns, ended_ns, exit_status, interrupted, bytes_in, bytes_out, approvers,
	last_seq, last_hash, retention_days, version`

type rowScanner interface {
	Scan(dest ...any) error
}

func scanSession(r rowScanner) (Session, error) {
	var (
		s                  Session
		startedNs, endedNs int64
		exit               int32
		interrupted        uint8
		retention          uint16
	)
	err := r.Scan(&s.ID, &s.Kind, &s.User, &s.Host, &s.Login, &s.Remote, &s.Gateway, &s.Command, &s.Reason, &s.Class,
		&startedNs, &endedNs, &exit, &interrupted, &s.BytesIn, &s.BytesOut, &s.Approvers,
		&s.LastSeq, &s.LastHash, &retention, &s.version)
	if err != nil {
		return Session{}, err
	}
	s.Started = time.Unix(0, startedNs).UTC()
	if endedNs != 0 {
		s.Ended = time.Unix(0, endedNs).UTC()
	} else {
		s.Open = true
	}
	s.ExitStatus = int(exit)
	s.Interrupted = interrupted != 0
	s.RetentionDays = int(retention)
	return s, nil
}

// Sessions returns the sessions matching f, newest first. Redelivered or
// updated summary rows are collapsed to the highest version
// (ReplacingMergeTree by version) with LIMIT 1 BY. Every filtered column is fixed for the life of a session, so
// the matching ids can be chosen from the raw rows before the collapse.
// f.Before naming no stored session is ErrNotFound.
func (s *Store) Sessions(ctx context.Context, f Filter) ([]Session, error) {
	where, args, ids, _, err := s.sessionConds(ctx, f)
	if err != nil {
		return nil, err
	}
	list, _, err := s.sessions(ctx, where, args, ids, clampLimit(f.Limit), nil)
	return list, err
}

// SessionsPage is Sessions that also counts the matching sessions after
// the page (one more query, made only when the page is full).
func (s *Store) SessionsPage(ctx context.Context, f Filter) (Page, error) {
	where, args, ids, broad, err := s.sessionConds(ctx, f)
	if err != nil {
		return Page{}, err
	}
	limit := clampLimit(f.Limit)
	// The count of the rest starts once the ids show there is more, and
	// runs beside reading the page's rows (sessions' onMore).
	count := make(chan uint64Result, 1)
	cctx, stopCount := context.WithCancel(ctx)
	defer stopCount()
	onMore := func() {
		go func() {
			n, err := s.countSessions(cctx, where, args, ids)
			count <- uint64Result{uint64(n), err}
		}()
	}
	list, more, err := s.sessions(ctx, where, args, ids, limit, onMore)
	if err != nil || !more {
		return Page{Sessions: list}, err
	}
	c := <-count
	// The page holds distinct matching sessions; More is the rest.
	return Page{Sessions: list, More: max(1, int(c.n)-len(list)), MoreAtMost: broad}, c.err
}

// clampLimit applies the default and the cap of Filter.Limit.
func clampLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultLimit
	case limit > MaxLimit:
		return MaxLimit
	}
	return limit
}

// sessionConds returns the WHERE conditions of f on the raw rows of
// sessions and held_sessions, their arguments and the id tables they
// name (withIDTables). broad reports conditions that select more than f
// does (lookupCond's subquery path), which the caller narrows per page.
func (s *Store) sessionConds(ctx context.Context, f Filter) (where []string, args []any, ids []idTable, broad bool, err error) {
	switch f.Kind {
	case "":
		where = append(where, "kind IN ('shell', 'exec', 'sftp', 'tunnel')")
	case KindAll:
	default:
		where = append(where, "kind = ?")
		args = append(args, f.Kind)
	}
	if f.User != "" {
		where = append(where, "user = ?")
		args = append(args, f.User)
	}
	if f.Host != "" {
		where = append(where, "host = ?")
		args = append(args, f.Host)
	}
	for _, p := range []struct{ name, role, table string }{{f.Participant, "", "participant_ids"}, {f.Approver, roleApproved, "approver_ids"}} {
		if p.name == "" {
			continue
		}
		w, a, t, err := s.participantCond(ctx, p.name, p.role, p.table)
		if err != nil {
			return nil, nil, nil, false, err
		}
		where, args = append(where, w), append(args, a...)
		if t != nil {
			ids = append(ids, *t)
		}
	}
	// started (seconds) prunes partitions; started_ns is the exact bound.
	if !f.Since.IsZero() {
		where = append(where, "started >= toDateTime(?)", "started_ns >= ?")
		args = append(args, clampUnix(f.Since.Unix()), f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where = append(where, "started <= toDateTime(?)", "started_ns < ?")
		args = append(args, clampUnix(f.Until.Unix()), f.Until.UnixNano())
	}
	if f.Transfers {
		where = append(where, transferCond(f.Since))
	}
	if f.HostChannelOpen {
		w, a, t, unkept, err := s.lookupCond(ctx, "host channel", hostChannelSessions(f.Since), nil, "host_channel_ids", s.hostChannelCandidates)
		if err != nil {
			return nil, nil, nil, false, err
		}
		broad = broad || unkept
		where, args = append(where, w), append(args, a...)
		if t != nil {
			ids = append(ids, *t)
		}
	}
	if f.Before != "" {
		cur, found, err := s.session(ctx, f.Before)
		if err != nil {
			return nil, nil, nil, false, err
		}
		if !found {
			return nil, nil, nil, false, fmt.Errorf("query: sessions before %s: %w", f.Before, ErrNotFound)
		}
		w, a := afterCond(cur.Started.UnixNano(), cur.ID)
		where, args = append(where, w...), append(args, a...)
	}
	return where, args, ids, broad, nil
}

// roleApproved is the participants role of an approval.
const roleApproved = "approved"

// participantCond returns the condition selecting the sessions in which
// name took part, in role when it is not empty, its arguments and, for
// many sessions, the id table it names. The participants table is
// ordered by name, but a day's rows fill a granule or two, so a lookup
// reads much of it: it runs once here. Its session ids travel as a
// literal set when they are few (at most maxLiteralSessions, as an
// output search's do), else as the external table named table, which
// the queries using it read instead of running the lookup again; past
// maxTableSessions ids (megabytes sent with each query) the lookup runs
// again as a subquery.
func (s *Store) participantCond(ctx context.Context, name, role, table string) (string, []any, *idTable, error) {
	c := " WHERE name = ?"
	if role != "" {
		c += " AND role = '" + role + "'" // a constant of this package
	}
	sub := "SELECT session FROM participants" + c + " UNION ALL SELECT session FROM held_participants" + c
	cond, args, ids, _, err := s.lookupCond(ctx, "participants", sub, []any{name, name}, table, nil) // no keep: the condition is exact
	return cond, args, ids, err
}

// lookupCond runs sub (a query selecting session ids, with its
// arguments) once and returns the condition selecting those sessions,
// its arguments and the id table it names, as participantCond describes:
// a literal set for a few ids, the external table named table for more,
// sub itself as a subquery past maxTableSessions. keep, when not nil,
// narrows the ids sub found (not on the subquery path: unkept then
// reports that the condition selects more than keep would). what names
// the lookup in errors.
func (s *Store) lookupCond(ctx context.Context, what, sub string, subArgs []any, table string, keep func(context.Context, []string) ([]string, error)) (cond string, args []any, ids *idTable, unkept bool, err error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT session FROM (%s) LIMIT %d", sub, maxTableSessions+1), subArgs...)
	if err != nil {
		return "", nil, nil, false, fmt.Errorf("query: %s: %w", what, err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", nil, nil, false, fmt.Errorf("query: %s: scan: %w", what, err)
		}
		found = append(found, id)
	}
	if err := rows.Err(); err != nil {
		return "", nil, nil, false, fmt.Errorf("query: %s: %w", what, err)
	}
	if keep != nil && uint64(len(found)) <= maxTableSessions {
		if found, err = keep(ctx, found); err != nil {
			return "", nil, nil, false, err
		}
	}
	switch n := uint64(len(found)); {
	case n == 0:
		return "0", nil, nil, false, nil // no session matches
	case n <= maxLiteralSessions:
		set := clickhouse.GroupSet{Value: make([]any, len(found))}
		for i, id := range found {
			set.Value[i] = id
		}
		return "session IN ?", []any{set}, nil, false, nil
	case n <= maxTableSessions:
		return "session IN " + table, nil, &idTable{name: table, ids: found}, false, nil
	}
	return "session IN (" + sub + ")", subArgs, nil, keep != nil, nil
}

// maxTableSessions bounds the session ids a listing sends as an external
// table (about 40 bytes each: 8 MB); more are selected by a subquery.
// A variable: tests take every path.
var maxTableSessions uint64 = 200_000

// afterCond selects the sessions listed after the one that started at
// startedNs with id: the list is ordered by start, then id, descending.
func afterCond(startedNs int64, id string) ([]string, []any) {
	return []string{"started <= toDateTime(?)", "(started_ns < ? OR (started_ns = ? AND session < ?))"},
		[]any{clampUnix(time.Unix(0, startedNs).Unix()), startedNs, startedNs, id}
}

// whereClause joins conditions into " WHERE …", or "".
func whereClause(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}

// sessions runs the listing query; more reports a match after the page,
// and onMore (if not nil) is called as soon as that is known.
func (s *Store) sessions(ctx context.Context, where []string, args []any, tables []idTable, limit int, onMore func()) (list []Session, more bool, err error) {
	cond := whereClause(where)
	// The id tables go with the first step only: the second names ids.
	ictx, err := withIDTables(ctx, tables)
	if err != nil {
		return nil, false, err
	}
	// Two steps: pick the newest matching session ids from the raw rows
	// (cheap: two columns), then read those sessions whole by their key.
	// The ids travel back as a literal set rather than a subquery: the
	// filters (a --participant lookup among them) then run once, not
	// once more per table of the second step; FINAL over the whole table
	// costs 15-20 times more on 18.16. Held copies (held_sessions) are
	// read alike; a session present in both tables is listed once.
	ids, err := s.sessionIDs(ictx, fmt.Sprintf(`SELECT session, lo, hi FROM (SELECT session, min(started_ns) AS lo, max(started_ns) AS hi FROM (
		SELECT session, started_ns FROM sessions%[1]s UNION ALL SELECT session, started_ns FROM held_sessions%[1]s)
		GROUP BY session ORDER BY hi DESC, session DESC LIMIT %[2]d)`, cond, limit+1), append(append([]any{}, args...), args...))
	if err != nil || len(ids.set.Value) == 0 {
		return nil, false, err
	}
	if more = len(ids.set.Value) > limit; more {
		ids.set.Value = ids.set.Value[:limit]
		if onMore != nil {
			onMore()
		}
	}
	// The row of each session with the highest version is chosen with
	// LIMIT 1 BY rather than FINAL: the same rows
	// FINAL keeps, also across partitions and the held copy, and FINAL on
	// 18.16 cost 2x the whole listing at 26M events (BENCHMARKS.md,
	// "Search at 100M events"). The bounds of the ids' start times prune
	// the day partitions: a day's sessions fill about one granule, so
	// without them every day was read whole for a page of 100.
	q := fmt.Sprintf(`SELECT %[1]s FROM (SELECT %[1]s FROM (
		SELECT %[1]s FROM sessions WHERE started BETWEEN toDateTime(?) AND toDateTime(?) AND session IN ?
		UNION ALL SELECT %[1]s FROM held_sessions WHERE session IN ?)
		ORDER BY session, version DESC, last_seq DESC LIMIT 1 BY session)
		ORDER BY started_ns DESC, session DESC LIMIT %[2]d`, sessionColumns, limit)
	all := []any{clampUnix(ids.lo / 1e9), clampUnix(ids.hi / 1e9), ids.set, ids.set}
	rows, err := s.conn.Query(ctx, q, all...)
	if err != nil {
		return nil, false, fmt.Errorf("query: sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, false, fmt.Errorf("query: sessions: scan: %w", err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("query: sessions: %w", err)
	}
	return out, more, nil
}

// idSet is the result of sessionIDs.
type idSet struct {
	set    clickhouse.GroupSet // of session ids
	lo, hi int64               // the lowest and highest started_ns
}

// sessionIDs runs q, which selects session ids with the lowest and
// highest started_ns of their rows, and returns them as a set for
// `session IN ?` with the bounds.
func (s *Store) sessionIDs(ctx context.Context, q string, args []any) (idSet, error) {
	var ids idSet
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return ids, fmt.Errorf("query: sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id     string
			lo, hi int64
		)
		if err := rows.Scan(&id, &lo, &hi); err != nil {
			return ids, fmt.Errorf("query: sessions: scan: %w", err)
		}
		if len(ids.set.Value) == 0 || lo < ids.lo {
			ids.lo = lo
		}
		ids.hi = max(ids.hi, hi)
		ids.set.Value = append(ids.set.Value, id)
	}
	if err := rows.Err(); err != nil {
		return ids, fmt.Errorf("query: sessions: %w", err)
	}
	return ids, nil
}

// countSessions counts the distinct sessions whose raw rows match.
func (s *Store) countSessions(ctx context.Context, where []string, args []any, tables []idTable) (int, error) {
	cond := whereClause(where)
	ctx, err := withIDTables(ctx, tables)
	if err != nil {
		return 0, err
	}
	q := fmt.Sprintf(`SELECT uniqExact(session) FROM (
		SELECT session FROM sessions%[1]s UNION ALL SELECT session FROM held_sessions%[1]s)`, cond)
	var n uint64
	if err := s.conn.QueryRow(ctx, q, append(append([]any{}, args...), args...)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("query: count sessions: %w", err)
	}
	return int(n), nil
}

// clampUnix keeps a bound inside the DateTime range (UInt32 seconds).
func clampUnix(sec int64) uint32 {
	switch {
	case sec < 0:
		return 0
	case sec > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(sec)
}

// Session returns the summary row of session id, or ErrNotFound (an
// *ExpiredError when retention removed it and the Store knows when).
func (s *Store) Session(ctx context.Context, id string) (Session, error) {
	sess, found, err := s.session(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if !found {
		return Session{}, s.notFound(ctx, id)
	}
	return sess, nil
}

// session loads the summary row; found is false when there is none.
func (s *Store) session(ctx context.Context, id string) (Session, bool, error) {
	// Two steps, as for a listing: the start times of the session's rows
	// (two narrow columns), then its newest row within those days. FINAL
	// (or no bound) read one granule of every column in every day: 5 s at
	// 100M events (BENCHMARKS.md, "Search at 100M events").
	var (
		n      uint64
		lo, hi uint32
	)
	if err := s.conn.QueryRow(ctx, `SELECT count(), toUInt32(min(started)), toUInt32(max(started)) FROM (
		SELECT started FROM sessions WHERE session = ? UNION ALL SELECT started FROM held_sessions WHERE session = ?)`, id, id).Scan(&n, &lo, &hi); err != nil {
		return Session{}, false, fmt.Errorf("query: session %s: %w", id, err)
	}
	if n == 0 {
		return Session{}, false, nil
	}
	rows, err := s.conn.Query(ctx, "SELECT "+sessionColumns+" FROM (SELECT "+sessionColumns+" FROM sessions WHERE started BETWEEN toDateTime(?) AND toDateTime(?) AND session = ? UNION ALL SELECT "+
		sessionColumns+" FROM held_sessions WHERE session = ?) ORDER BY version DESC, last_seq DESC LIMIT 1", lo, hi, id, id)
	if err != nil {
		return Session{}, false, fmt.Errorf("query: session %s: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Session{}, false, fmt.Errorf("query: session %s: %w", id, err)
		}
		return Session{}, false, nil
	}
	sess, err := scanSession(rows)
	if err != nil {
		return Session{}, false, fmt.Errorf("query: session %s: scan: %w", id, err)
	}
	return sess, true, nil
}

// notFound builds the error for an absent session, asking the expiry
// lookup whether retention removed it.
func (s *Store) notFound(ctx context.Context, id string) error {
	if s.expiry != nil {
		when, ok, err := s.expiry(ctx, id)
		if err != nil {
			s.log.WarnContext(ctx, "expiry lookup failed", "session", id, "err", err)
		} else if ok {
			return &ExpiredError{ID: id, Expired: when}
		}
	} else if exp, ok, err := s.expired(ctx, id); err != nil {
		s.log.WarnContext(ctx, "expiry lookup failed", "session", id, "err", err)
	} else if ok {
		return exp
	}
	return fmt.Errorf("%w: %s", ErrNotFound, id)
}

// isNotFound reports whether err means the session does not exist.
func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
