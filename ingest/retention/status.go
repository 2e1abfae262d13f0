package retention

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Status is what retention looks like at At.
type Status struct {
	At      time.Time
	Classes []ClassStatus // by retention days, shortest first
	Holds   []Hold        // active at At
	// LastDrop is the time of the most recent drop in retention_log (zero
	// when there has been none), LastDropWhat says what it dropped.
	LastDrop     time.Time
	LastDropWhat string
}

// ClassStatus describes the data of one retention length.
type ClassStatus struct {
	Class         string // class name(s), comma-separated
	RetentionDays int
	// Oldest is the start of the oldest day present (zero when the class
	// holds no data); NextDrop is when that day goes (DropTime). A
	// NextDrop not after At means the next run drops it.
	Oldest, NextDrop time.Time
	Partitions       int    // days present in the events and sessions tables
	Rows             uint64 // event and session rows
	Bytes            uint64
}

// ReadStatus reads the status at now. classes (name → days) names the
// configured classes, including those without data; retention lengths
// found in the data but in no class are named after their session rows.
func ReadStatus(ctx context.Context, conn driver.Conn, classes map[string]int, now time.Time) (Status, error) {
	st := Status{At: now}
	loc, err := serverLocation(ctx, conn)
	if err != nil {
		return st, err
	}
	byDays := map[int]*ClassStatus{}
	get := func(days int) *ClassStatus {
		if c, ok := byDays[days]; ok {
			return c
		}
		c := &ClassStatus{RetentionDays: days}
		byDays[days] = c
		return c
	}
	names := map[int][]string{}
	for name, d := range classes {
		get(d)
		names[d] = append(names[d], name)
	}
	rows, err := conn.Query(ctx, `SELECT partition, sum(rows), sum(bytes_on_disk) FROM system.parts
		WHERE database = currentDatabase() AND table IN ('events', 'sessions') AND active GROUP BY partition`)
	if err != nil {
		return st, fmt.Errorf("retention: status: %w", err)
	}
	defer rows.Close()
	seen := map[partitionKey]bool{}
	for rows.Next() {
		var (
			part        string
			nrows, size uint64
		)
		if err := rows.Scan(&part, &nrows, &size); err != nil {
			return st, fmt.Errorf("retention: status: %w", err)
		}
		k, err := parsePartition(part)
		if err != nil {
			continue
		}
		c := get(int(k.days))
		c.Rows += nrows
		c.Bytes += size
		if !seen[k] {
			seen[k] = true
			c.Partitions++
		}
		day, _ := k.date(loc)
		if c.Oldest.IsZero() || day.Before(c.Oldest) {
			c.Oldest = day
			c.NextDrop = DropTime(day, c.RetentionDays)
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("retention: status: %w", err)
	}
	if err := dataClassNames(ctx, conn, byDays, names); err != nil {
		return st, err
	}
	for d, c := range byDays {
		n := names[d]
		slices.Sort(n)
		c.Class = strings.Join(slices.Compact(n), ",")
		if c.Class == "" {
			c.Class = fmt.Sprintf("%dd", d)
		}
		st.Classes = append(st.Classes, *c)
	}
	sort.Slice(st.Classes, func(a, b int) bool { return st.Classes[a].RetentionDays < st.Classes[b].RetentionDays })
	if st.Holds, err = ListHolds(ctx, conn, now, false); err != nil {
		return st, err
	}
	var (
		at                       time.Time
		tbl, class, detail, what string
	)
	err = conn.QueryRow(ctx, `SELECT at, tbl, class, detail FROM retention_log WHERE action = 'drop' ORDER BY at_ns DESC LIMIT 1`).Scan(&at, &tbl, &class, &detail)
	if err == nil {
		what = fmt.Sprintf("%s, class %s: %s", tbl, class, detail)
		st.LastDrop, st.LastDropWhat = at, what
	}
	return st, nil
}

// dataClassNames names, from the session rows, the retention lengths that
// no configured class names.
func dataClassNames(ctx context.Context, conn driver.Conn, byDays map[int]*ClassStatus, names map[int][]string) error {
	need := false
	for d := range byDays {
		if len(names[d]) == 0 {
			need = true
		}
	}
	if !need {
		return nil
	}
	rows, err := conn.Query(ctx, "SELECT retention_days, groupUniqArray(class) FROM sessions GROUP BY retention_days")
	if err != nil {
		return fmt.Errorf("retention: status: class names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			d  uint16
			cs []string
		)
		if err := rows.Scan(&d, &cs); err != nil {
			return fmt.Errorf("retention: status: class names: %w", err)
		}
		if len(names[int(d)]) == 0 {
			names[int(d)] = cs
		}
	}
	return rows.Err()
}
