package retention

import (
	"context"
	"fmt"
	"strings"
	"time"

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
)

// Apply carries out p: for each Drop it copies the rows of held sessions
// to the held table, records the other sessions in expired_sessions, drops
// the partition and logs it; then it deletes the held copies of ended
// holds. Every step is idempotent, so a run that failed half-way is
// completed by the next one. Apply stops at the first error.
func (j *Job) Apply(ctx context.Context, p *Plan) (Report, error) {
	rep := Report{Run: uuid.NewString(), Plan: p}
	at := unixSec(p.At)
	if s := j.cfg.Signer; s != nil && (len(p.Drops) > 0 || len(p.Releases) > 0) {
		head, err := j.chainHead(ctx, s.KeyID())
		if err != nil {
			return rep, err
		}
		j.chain = head
	}
	for _, d := range p.Drops {
		t := tableNamed(d.Table)
		// The key columns select the partition exactly; the time range lets
		// every server version prune the other partitions.
		cond := fmt.Sprintf("retention_days = %d AND toYYYYMMDD(%s) = %d AND %s >= toDateTime(%d) AND %s < toDateTime(%d)",
			d.key.days, t.timeCol, d.key.day, t.timeCol, unixSec(d.Day), t.timeCol, unixSec(d.Day.AddDate(0, 0, 1)))
		if len(p.Holds) > 0 {
			var n uint64
			if err := j.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s WHERE %s AND session IN (%s)", t.name, cond, activeHolds), at).Scan(&n); err != nil {
				return rep, fmt.Errorf("retention: count held rows in %s %s: %w", t.name, d.key, err)
			}
			if n > 0 {
				q := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s WHERE %s AND session IN (%s)", t.held, t.cols, t.cols, t.name, cond, activeHolds)
				if err := j.conn.Exec(ctx, q, at); err != nil {
					return rep, fmt.Errorf("retention: copy held rows of %s %s: %w", t.name, d.key, err)
				}
				rep.HeldRows += n
				if err := j.log1(ctx, rep.Run, p.At, logEntry{action: ActionHold, table: t.held, class: d.Class, days: d.key.days, day: d.key.day, rows: n,
					detail: "rows of held sessions copied before the partition drop"}); err != nil {
					return rep, err
				}
			}
		}
		q := fmt.Sprintf(`INSERT INTO expired_sessions (session, class, retention_days, expired_at)
			SELECT session, any(class), any(retention_days), toDateTime(?) FROM %s WHERE %s AND session NOT IN (%s) GROUP BY session`, t.name, cond, activeHolds)
		if err := j.conn.Exec(ctx, q, at, at); err != nil {
			return rep, fmt.Errorf("retention: record expired sessions of %s %s: %w", t.name, d.key, err)
		}
		if err := j.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION %s", t.name, d.key)); err != nil {
			return rep, fmt.Errorf("retention: drop %s partition %s: %w", t.name, d.key, err)
		}
		rep.Rows += d.Rows
		rep.Bytes += d.Bytes
		j.log.InfoContext(ctx, "retention dropped a partition", "run", rep.Run, "table", t.name, "class", d.Class,
			"retention_days", d.RetentionDays, "day", d.Day.Format(time.DateOnly), "rows", d.Rows, "bytes", d.Bytes)
		if err := j.log1(ctx, rep.Run, p.At, logEntry{action: ActionDrop, table: t.name, class: d.Class, days: d.key.days, day: d.key.day,
			rows: d.Rows, bytes: d.Bytes, detail: fmt.Sprintf("day %s older than %d days (due %s)", d.Day.Format(time.DateOnly), d.RetentionDays, d.Due.Format(time.RFC3339))}); err != nil {
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

// release deletes the held copy of a session whose holds ended.
func (j *Job) release(ctx context.Context, run string, at time.Time, r Release) error {
	// Recorded first: once the copy is gone, lookups answer "expired".
	// A session whose original rows remain is found there instead.
	q := `INSERT INTO expired_sessions (session, class, retention_days, expired_at)
		SELECT session, any(class), any(retention_days), toDateTime(?) FROM held_sessions WHERE session = ? GROUP BY session`
	if err := j.conn.Exec(ctx, q, unixSec(at), r.Session); err != nil {
		return fmt.Errorf("retention: record expired held session %s: %w", r.Session, err)
	}
	for _, t := range tables {
		if err := j.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION %s", t.held, quote(r.Session))); err != nil {
			return fmt.Errorf("retention: drop held copy of %s in %s: %w", r.Session, t.held, err)
		}
	}
	j.log.InfoContext(ctx, "retention deleted a held copy; its hold ended", "run", run, "session", r.Session, "class", r.Class, "rows", r.Rows)
	return j.log1(ctx, run, at, logEntry{action: ActionRelease, table: heldTables(), class: r.Class, session: r.Session,
		rows: r.Rows, detail: "hold released or past its until"})
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
