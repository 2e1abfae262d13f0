package retention

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Plan is what a run will do at At: the partitions it drops and the held
// copies it deletes. A dry run prints it and stops.
type Plan struct {
	// At is the time the plan was made for (the job's clock).
	At time.Time
	// Drops are the partitions past their class, oldest first.
	Drops []Drop
	// Releases are the held copies whose hold has ended.
	Releases []Release
	// Holds are the holds active when the plan was made, for the report:
	// Apply reads the holds again at each step, so a session held since
	// survives too.
	Holds []Hold

	loc *time.Location
}

// Drop is one partition to drop: a day of one class in one table.
type Drop struct {
	Table         string // events or sessions
	Class         string // class name(s) keeping RetentionDays, comma-separated
	RetentionDays int
	Day           time.Time // start of the day, server time zone
	Due           time.Time // when the partition became due (DropTime)
	Rows, Bytes   uint64    // as reported by system.parts

	key partitionKey
}

// Release is the held copy of a session whose holds all ended (released or
// past their until): the next run deletes it.
type Release struct {
	Session string
	Class   string
	Rows    uint64 // rows in the held tables (held_events, held_sessions, held_commands, held_participants)
}

// Plan lists what a run at now would remove. It changes nothing.
func (j *Job) Plan(ctx context.Context, now time.Time) (*Plan, error) {
	loc, err := serverLocation(ctx, j.conn)
	if err != nil {
		return nil, err
	}
	p := &Plan{At: now, loc: loc}
	for _, t := range tables {
		drops, err := j.dueDrops(ctx, t, now, loc)
		if err != nil {
			return nil, err
		}
		p.Drops = append(p.Drops, drops...)
	}
	sort.SliceStable(p.Drops, func(a, b int) bool {
		x, y := p.Drops[a], p.Drops[b]
		if !x.Day.Equal(y.Day) {
			return x.Day.Before(y.Day)
		}
		if x.RetentionDays != y.RetentionDays {
			return x.RetentionDays < y.RetentionDays
		}
		return x.Table < y.Table
	})
	if p.Holds, err = ListHolds(ctx, j.conn, now, false); err != nil {
		return nil, err
	}
	if p.Releases, err = j.endedCopies(ctx, p.Holds); err != nil {
		return nil, err
	}
	return p, nil
}

// dueDrops lists the active partitions of t whose drop time has come.
func (j *Job) dueDrops(ctx context.Context, t table, now time.Time, loc *time.Location) ([]Drop, error) {
	rows, err := j.conn.Query(ctx, `SELECT partition, sum(rows), sum(bytes_on_disk) FROM system.parts
		WHERE database = currentDatabase() AND table = ? AND active GROUP BY partition`, t.name)
	if err != nil {
		return nil, fmt.Errorf("retention: partitions of %s: %w", t.name, err)
	}
	defer rows.Close()
	var out []Drop
	for rows.Next() {
		var (
			part        string
			nrows, size uint64
		)
		if err := rows.Scan(&part, &nrows, &size); err != nil {
			return nil, fmt.Errorf("retention: partitions of %s: %w", t.name, err)
		}
		k, err := parsePartition(part)
		if err != nil {
			// Not ours to judge: leave it and say so.
			j.log.WarnContext(ctx, "unexpected partition; left in place", "table", t.name, "partition", part, "err", err)
			continue
		}
		day, _ := k.date(loc) // parsePartition checked the date
		due := DropTime(day, int(k.days))
		if now.Before(due) {
			continue
		}
		out = append(out, Drop{Table: t.name, Class: j.className(int(k.days)), RetentionDays: int(k.days),
			Day: day, Due: due, Rows: nrows, Bytes: size, key: k})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention: partitions of %s: %w", t.name, err)
	}
	return out, nil
}

// className names the classes keeping days days, or "Nd" when none does.
func (j *Job) className(days int) string {
	var names []string
	for name, d := range j.cfg.Classes {
		if d == days {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("%dd", days)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// endedCopies lists the sessions with held copies but no active hold.
func (j *Job) endedCopies(ctx context.Context, active []Hold) ([]Release, error) {
	held := map[string]bool{}
	for _, h := range active {
		held[h.Session] = true
	}
	var union []string
	for _, t := range tables {
		union = append(union, "SELECT session, class FROM "+t.held)
	}
	rows, err := j.conn.Query(ctx, `SELECT session, any(class), count() FROM (`+strings.Join(union, " UNION ALL ")+`)
		GROUP BY session ORDER BY session`)
	if err != nil {
		return nil, fmt.Errorf("retention: held copies: %w", err)
	}
	defer rows.Close()
	var out []Release
	for rows.Next() {
		var r Release
		if err := rows.Scan(&r.Session, &r.Class, &r.Rows); err != nil {
			return nil, fmt.Errorf("retention: held copies: %w", err)
		}
		if !held[r.Session] {
			out = append(out, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention: held copies: %w", err)
	}
	return out, nil
}
