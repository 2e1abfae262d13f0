package retention

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"
)

// Report is what a run did.
type Report struct {
	// Run identifies the run in retention_log.
	Run string
	// Plan is what the run set out to do; every Drop and Release in it was done.
	Plan *Plan
	// Rows and Bytes total the dropped partitions.
	Rows, Bytes uint64
	// HeldRows counts the rows of held sessions copied before the drops.
	HeldRows uint64
}

// logEntry is one retention_log row.
type logEntry struct {
	action, table, class, session, detail string
	days                                  uint16
	day                                   uint32
	rows, bytes                           uint64
}

// Log actions.
const (
	ActionDrop    = "drop"    // a partition dropped
	ActionHold    = "hold"    // rows of held sessions copied before a drop
	ActionRelease = "release" // a held copy deleted after its hold ended
	// ActionHoldLate: a hold placed while its session's rows were being
	// dropped, too late for the copy; the rows are gone.
	ActionHoldLate = "hold_late"
)

// Apply carries out p: for each Drop it records the sessions without an
// active hold in expired_sessions, copies the rows of held sessions to the
// held table, drops the partition and logs it (drop); then it deletes the
// held copies of ended holds (release). The holds are read when each step
// runs, not taken from p. Every step is idempotent, so a run that failed half-way is
// completed by the next one. Apply stops at the first error.
func (j *Job) Apply(ctx context.Context, p *Plan) (Report, error) {
	rep := Report{Run: uuid.NewString(), Plan: p}
	if s := j.cfg.Signer; s != nil && (len(p.Drops) > 0 || len(p.Releases) > 0) {
		head, err := j.chainHead(ctx, s.KeyID())
		if err != nil {
			return rep, err
		}
		j.chain = head
	}
	for _, d := range p.Drops {
		if err := j.drop(ctx, &rep, p.At, d); err != nil {
			return rep, err
		}
	}
	for _, r := range p.Releases {
		if err := j.release(ctx, rep.Run, p.At, r); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// drop drops the partition of d, keeping the rows of the sessions held
// at at. The holds are read when each step runs, not from the plan: a
// hold placed while the run is under way counts. The order keeps the
// window in which a new hold is missed as small as ClickHouse 18.16
// allows, which has no transaction to make a copy and a drop one step:
//
//  1. the partition's sessions are listed (for step 6);
//  2. the sessions without an active hold are recorded in
//     expired_sessions: a session held from here on is also copied;
//  3. the rows of held sessions are copied to the held table;
//  4. right before the DROP, sessions held meanwhile and not yet copied
//     are copied, until none is left (heldMissing);
//  5. the partition is dropped;
//  6. a session of the partition held between step 4 and the DROP lost
//     its rows: it is logged at ERROR, recorded in expired_sessions (it
//     answers "expired", not "not found") and in retention_log
//     (ActionHoldLate).
func (j *Job) drop(ctx context.Context, rep *Report, at time.Time, d Drop) error {
	t := tableNamed(d.Table)
	sec := unixSec(at)
	// The key columns select the partition exactly; the time range lets
	// every server version prune the other partitions.
	cond := fmt.Sprintf("retention_days = %d AND toYYYYMMDD(%s) = %d AND %s >= toDateTime(%d) AND %s < toDateTime(%d)",
		d.key.days, t.timeCol, d.key.day, t.timeCol, unixSec(d.Day), t.timeCol, unixSec(d.Day.AddDate(0, 0, 1)))
	inPart, err := j.sessionsIn(ctx, t, cond)
	if err != nil {
		return err
	}
	q := fmt.Sprintf(`INSERT INTO expired_sessions (session, class, retention_days, expired_at)
		SELECT session, any(class), any(retention_days), toDateTime(?) FROM %s WHERE %s AND session NOT IN (%s) GROUP BY session`, t.name, cond, activeHolds)
	if err := j.conn.Exec(ctx, q, sec, sec); err != nil {
		return fmt.Errorf("retention: record expired sessions of %s %s: %w", t.name, d.key, err)
	}
	q = fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s WHERE %s AND session IN (%s)", t.held, t.cols, t.cols, t.name, cond, activeHolds)
	if err := j.conn.Exec(ctx, q, sec); err != nil {
		return fmt.Errorf("retention: copy held rows of %s %s: %w", t.name, d.key, err)
	}
	if j.afterCopy != nil {
		j.afterCopy(t.name)
	}
	for range maxRecopies {
		missing, err := j.heldMissing(ctx, t, cond, sec)
		if err != nil || len(missing) == 0 {
			if err != nil {
				return fmt.Errorf("retention: check held rows of %s %s: %w", t.name, d.key, err)
			}
			break
		}
		j.log.WarnContext(ctx, "retention: sessions held during the run; copying them before the drop", "table", t.name, "partition", d.key.String(), "sessions", missing)
		set := clickhouse.GroupSet{Value: make([]any, len(missing))} // ('a', 'b'): a slice would bind as an array
		for i, id := range missing {
			set.Value[i] = id
		}
		q := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s WHERE %s AND session IN ?", t.held, t.cols, t.cols, t.name, cond)
		if err := j.conn.Exec(ctx, q, set); err != nil {
			return fmt.Errorf("retention: copy held rows of %s %s: %w", t.name, d.key, err)
		}
	}
	var n uint64
	if err := j.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s WHERE %s", t.held, cond)).Scan(&n); err != nil {
		return fmt.Errorf("retention: count held rows of %s %s: %w", t.name, d.key, err)
	}
	if j.beforeDrop != nil {
		j.beforeDrop(t.name)
	}
	if err := j.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION %s", t.name, d.key)); err != nil {
		return fmt.Errorf("retention: drop %s partition %s: %w", t.name, d.key, err)
	}
	if n > 0 {
		rep.HeldRows += n
		if err := j.log1(ctx, rep.Run, at, logEntry{action: ActionHold, table: t.held, class: d.Class, days: d.key.days, day: d.key.day, rows: n,
			detail: "rows of held sessions copied before the partition drop"}); err != nil {
			return err
		}
	}
	rep.Rows += d.Rows
	rep.Bytes += d.Bytes
	j.log.InfoContext(ctx, "retention dropped a partition", "run", rep.Run, "table", t.name, "class", d.Class,
		"retention_days", d.RetentionDays, "day", d.Day.Format(time.DateOnly), "rows", d.Rows, "bytes", d.Bytes)
	if err := j.log1(ctx, rep.Run, at, logEntry{action: ActionDrop, table: t.name, class: d.Class, days: d.key.days, day: d.key.day,
		rows: d.Rows, bytes: d.Bytes, detail: fmt.Sprintf("day %s older than %d days (due %s)", d.Day.Format(time.DateOnly), d.RetentionDays, d.Due.Format(time.RFC3339))}); err != nil {
		return err
	}
	late, err := j.lateHolds(ctx, fmt.Sprintf("SELECT session FROM %s WHERE %s", t.held, cond), sec, inPart)
	if err != nil {
		return fmt.Errorf("retention: check holds after dropping %s %s: %w", t.name, d.key, err)
	}
	for _, h := range late {
		q := "INSERT INTO expired_sessions (session, class, retention_days, expired_at) SELECT ?, ?, toUInt16(?), toDateTime(?)"
		if err := j.conn.Exec(ctx, q, h.Session, d.Class, d.key.days, sec); err != nil {
			return fmt.Errorf("retention: record expired session %s: %w", h.Session, err)
		}
		if err := j.logLate(ctx, rep.Run, at, h, logEntry{table: t.name, class: d.Class, days: d.key.days, day: d.key.day,
			detail: fmt.Sprintf("partition %s dropped", d.key)}); err != nil {
			return err
		}
	}
	return nil
}

// maxRecopies bounds the copies of sessions held while a drop is under
// way; each takes a hold placed in the last moments.
const maxRecopies = 3

// sessionsIn lists the sessions with rows in the partition cond selects.
func (j *Job) sessionsIn(ctx context.Context, t table, cond string) (map[string]bool, error) {
	rows, err := j.conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT session FROM %s WHERE %s", t.name, cond))
	if err != nil {
		return nil, fmt.Errorf("retention: sessions of %s: %w", t.name, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("retention: sessions of %s: %w", t.name, err)
		}
		out[s] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention: sessions of %s: %w", t.name, err)
	}
	return out, nil
}

// heldMissing lists the sessions of the partition cond selects that are
// held at sec but have no rows of it in the held table.
func (j *Job) heldMissing(ctx context.Context, t table, cond string, sec uint32) ([]string, error) {
	rows, err := j.conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT session FROM %s WHERE %s AND session IN (%s) AND session NOT IN (SELECT session FROM %s WHERE %s)",
		t.name, cond, activeHolds, t.held, cond), sec)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// lateHolds returns the holds active at sec on sessions of among that
// kept (a subquery of sessions; empty: none) does not list: the
// sessions whose rows were dropped although held.
func (j *Job) lateHolds(ctx context.Context, kept string, sec uint32, among map[string]bool) ([]Hold, error) {
	where := "WHERE session IN (" + activeHolds + ")"
	if kept != "" {
		where += " AND session NOT IN (" + kept + ")"
	}
	hs, err := holds(ctx, j.conn, where, sec)
	if err != nil {
		return nil, err
	}
	var out []Hold
	for _, h := range hs {
		if among[h.Session] {
			out = append(out, h)
		}
	}
	return out, nil
}

// logLate reports a hold placed too late to keep its session's rows: at
// ERROR, and as an ActionHoldLate row in retention_log.
func (j *Job) logLate(ctx context.Context, run string, at time.Time, h Hold, e logEntry) error {
	j.log.ErrorContext(ctx, "retention: a hold came while its session's rows were being dropped; those rows are gone",
		"run", run, "session", h.Session, "table", e.table, "placed", h.Placed, "placed_by", h.PlacedBy, "reason", h.Reason, "detail", e.detail)
	e.action, e.session = ActionHoldLate, h.Session
	e.detail = fmt.Sprintf("hold by %s placed at %s came after the last check before the drop: %s; rows lost",
		h.PlacedBy, h.Placed.UTC().Format(time.RFC3339Nano), e.detail)
	return j.log1(ctx, run, at, e)
}

// release deletes the held copy of a session whose holds ended. The
// holds are checked again before each DROP: a hold placed after the plan
// keeps the copy. One placed between a check and its DROP loses that
// held table's rows; it is reported as ActionHoldLate.
func (j *Job) release(ctx context.Context, run string, at time.Time, r Release) error {
	sec := unixSec(at)
	held, err := j.heldNow(ctx, r.Session, sec)
	if err != nil || held {
		if held {
			j.log.InfoContext(ctx, "retention kept a held copy: the session was held again since the plan", "run", run, "session", r.Session)
		}
		return err
	}
	// Recorded first: once the copy is gone, lookups answer "expired".
	// A session whose original rows remain is found there instead.
	q := `INSERT INTO expired_sessions (session, class, retention_days, expired_at)
		SELECT session, any(class), any(retention_days), toDateTime(?) FROM held_sessions WHERE session = ? GROUP BY session`
	if err := j.conn.Exec(ctx, q, sec, r.Session); err != nil {
		return fmt.Errorf("retention: record expired held session %s: %w", r.Session, err)
	}
	var dropped []string
	for _, t := range tables {
		held, err := j.heldNow(ctx, r.Session, sec)
		if err != nil {
			return err
		}
		if held {
			// Held again in the middle of the release: what is dropped is gone.
			return j.releaseLate(ctx, run, at, r, dropped)
		}
		if j.beforeDrop != nil {
			j.beforeDrop(t.held)
		}
		if err := j.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION %s", t.held, quote(r.Session))); err != nil {
			return fmt.Errorf("retention: drop held copy of %s in %s: %w", r.Session, t.held, err)
		}
		dropped = append(dropped, t.held)
	}
	j.log.InfoContext(ctx, "retention deleted a held copy; its hold ended", "run", run, "session", r.Session, "class", r.Class, "rows", r.Rows)
	if err := j.log1(ctx, run, at, logEntry{action: ActionRelease, table: heldTables(), class: r.Class, session: r.Session,
		rows: r.Rows, detail: "hold released or past its until"}); err != nil {
		return err
	}
	if held, err := j.heldNow(ctx, r.Session, sec); err != nil || !held {
		return err
	}
	return j.releaseLate(ctx, run, at, r, dropped)
}

// releaseLate reports the holds on r's session that came while its held
// copy was being deleted from the tables dropped.
func (j *Job) releaseLate(ctx context.Context, run string, at time.Time, r Release, dropped []string) error {
	if len(dropped) == 0 {
		return nil
	}
	late, err := j.lateHolds(ctx, "", unixSec(at), map[string]bool{r.Session: true})
	if err != nil {
		return fmt.Errorf("retention: check holds after deleting the held copy of %s: %w", r.Session, err)
	}
	for _, h := range late {
		if err := j.logLate(ctx, run, at, h, logEntry{table: strings.Join(dropped, ","), class: r.Class,
			detail: "held copy deleted from " + strings.Join(dropped, ",")}); err != nil {
			return err
		}
	}
	return nil
}

// heldNow reports whether session has an active hold at sec.
func (j *Job) heldNow(ctx context.Context, session string, sec uint32) (bool, error) {
	var n uint64
	if err := j.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM (%s) WHERE session = ?", activeHolds), sec, session).Scan(&n); err != nil {
		return false, fmt.Errorf("retention: holds of %s: %w", session, err)
	}
	return n > 0, nil
}

// heldTables names the held tables, comma-separated.
func heldTables() string {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.held
	}
	return strings.Join(names, ",")
}

// log1 appends one row to retention_log, chained and signed when the job
// has a signer.
func (j *Job) log1(ctx context.Context, run string, at time.Time, e logEntry) error {
	r := LogRow{At: at, AtNS: at.UnixNano(), Run: run, Action: e.action, Table: e.table, Class: e.class, RetentionDays: e.days,
		Day: e.day, Session: e.session, Rows: e.rows, Bytes: e.bytes, Detail: e.detail}
	cols, args := logCols, []any{at, r.AtNS, run, e.action, e.table, e.class, e.days, e.day, e.session, e.rows, e.bytes, e.detail}
	next := j.chain
	if s := j.cfg.Signer; s != nil {
		next.seal(&r, s)
		cols, args = LogColumns, append(args, r.Seq, r.Prev, r.Hash, r.Key, r.Sig)
	}
	b, err := j.conn.PrepareBatch(ctx, "INSERT INTO retention_log ("+cols+")")
	if err != nil {
		return fmt.Errorf("retention: log: %w", err)
	}
	defer b.Close()
	if err := b.Append(args...); err != nil {
		return fmt.Errorf("retention: log: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("retention: log: %w", err)
	}
	j.chain = next
	return nil
}

func tableNamed(name string) table {
	for _, t := range tables {
		if t.name == name {
			return t
		}
	}
	panic("retention: unknown table " + name)
}
