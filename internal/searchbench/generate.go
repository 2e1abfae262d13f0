package searchbench

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/ingest"
)

// End is the pinned end of the generated window (exclusive): the last day
// generated is the day before.
var End = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// Config is the shape of the generated data. The zero value of a field
// takes the default written beside it.
type Config struct {
	Events int // about this many events in all; default 1,000,000
	Users  int // distinct user names drawn (skewed: a few are busy); default 3,000
	Hosts  int // distinct hosts; default 5,000
	Days   int // days ending at End; default 90
	// RetentionDays of every row (both classes); default 90.
	RetentionDays int
	// Progress receives a line per day; nil prints nothing.
	Progress io.Writer
}

// meanLen is the mean number of events of a session drawn by sessionsSQL:
// 85% shell sessions of 8 + U(0..99) + (1 in 10: U(0..1990) step 10)
// events, 15% exec sessions of 6 + U(0..29).
const meanLen = 0.85*(8+49.5+0.1*995) + 0.15*(6+14.5)

func (c Config) withDefaults() Config {
	if c.Events <= 0 {
		c.Events = 1_000_000
	}
	if c.Users <= 1 {
		c.Users = 3000
	}
	if c.Hosts <= 0 {
		c.Hosts = 5000
	}
	if c.Days <= 0 {
		c.Days = 90
	}
	if c.RetentionDays <= 0 {
		c.RetentionDays = 90
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Start returns the first second of the window of c.
func (c Config) Start() time.Time {
	return End.AddDate(0, 0, -c.withDefaults().Days)
}

// SessionsPerDay returns how many sessions a day of c holds.
func (c Config) SessionsPerDay() int {
	c = c.withDefaults()
	return max(1, int(math.Round(float64(c.Events)/float64(c.Days)/meanLen)))
}

// Generate fills database db (created if missing, migrated with
// ingest.Migrate) with the data of c, a day at a time, skipping the days
// already generated. conn may have any default database.
func Generate(ctx context.Context, conn driver.Conn, db string, c Config) error {
	c = c.withDefaults()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		return fmt.Errorf("searchbench: %w", err)
	}
	if err := ingest.Migrate(ctx, conn, db); err != nil {
		return fmt.Errorf("searchbench: %w", err)
	}
	if err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.searchbench_days (
    day UInt32, sessions UInt64, events UInt64, generated DateTime
) ENGINE = MergeTree ORDER BY day`, db)); err != nil {
		return fmt.Errorf("searchbench: %w", err)
	}
	done, err := doneDays(ctx, conn, db)
	if err != nil {
		return err
	}
	perDay := c.SessionsPerDay()
	start := c.Start()
	began := time.Now()
	var total uint64
	for d := 0; d < c.Days; d++ {
		day := start.AddDate(0, 0, d)
		ymd := uint32(day.Year()*10000 + int(day.Month())*100 + day.Day())
		if n, ok := done[ymd]; ok {
			total += n
			continue
		}
		t := time.Now()
		n, err := generateDay(ctx, conn, db, c, d, day.Unix(), ymd, perDay)
		if err != nil {
			return fmt.Errorf("searchbench: day %d (%d): %w", d, ymd, err)
		}
		total += n
		fmt.Fprintf(c.Progress, "searchbench: day %d/%d %d: %d sessions, %d events in %.1fs (total %d events, %s elapsed)\n",
			d+1, c.Days, ymd, perDay, n, time.Since(t).Seconds(), total, time.Since(began).Round(time.Second))
	}
	return nil
}

// doneDays returns the days already generated and their event counts.
func doneDays(ctx context.Context, conn driver.Conn, db string) (map[uint32]uint64, error) {
	rows, err := conn.Query(ctx, "SELECT day, max(events) FROM "+db+".searchbench_days GROUP BY day")
	if err != nil {
		return nil, fmt.Errorf("searchbench: %w", err)
	}
	defer rows.Close()
	done := map[uint32]uint64{}
	for rows.Next() {
		var day uint32
		var n uint64
		if err := rows.Scan(&day, &n); err != nil {
			return nil, fmt.Errorf("searchbench: %w", err)
		}
		done[day] = n
	}
	return done, rows.Err()
}

// generateDay drops whatever an interrupted run left of the day, inserts
// its events, derives the other tables and marks the day done.
func generateDay(ctx context.Context, conn driver.Conn, db string, c Config, d int, dayStart int64, ymd uint32, perDay int) (uint64, error) {
	for _, tbl := range []string{"events", "sessions", "commands", "participants"} {
		// Dropping a partition that does not exist is no error.
		err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION (%d, %d)", db, tbl, c.RetentionDays, ymd))
		if err != nil {
			return 0, fmt.Errorf("drop %s: %w", tbl, err)
		}
	}
	steps := []struct{ name, sql string }{
		{"events", eventsSQL(c, db, d, dayStart, perDay)},
		{"sessions", sessionRowsSQL(db, dayStart)},
		{"commands", commandRowsSQL(db, dayStart)},
		{"participants", participantRowsSQL(db, dayStart)},
	}
	for _, st := range steps {
		if err := conn.Exec(ctx, st.sql); err != nil {
			return 0, fmt.Errorf("%s: %w", st.name, err)
		}
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".events WHERE "+dayCond("ts", dayStart)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s.searchbench_days (day, sessions, events, generated) SELECT %d, %d, %d, now()",
		db, ymd, perDay, n))
	if err != nil {
		return 0, fmt.Errorf("mark done: %w", err)
	}
	return n, nil
}

// DiskSizes returns a table of the rows and bytes on disk (compressed) of
// each table in db.
func DiskSizes(ctx context.Context, conn driver.Conn, db string) (string, error) {
	rows, err := conn.Query(ctx, `SELECT table, sum(rows), sum(bytes) FROM system.parts
		WHERE database = ? AND active GROUP BY table ORDER BY table`, db)
	if err != nil {
		return "", fmt.Errorf("searchbench: %w", err)
	}
	defer rows.Close()
	var out string
	var all uint64
	for rows.Next() {
		var tbl string
		var n, b uint64
		if err := rows.Scan(&tbl, &n, &b); err != nil {
			return "", fmt.Errorf("searchbench: %w", err)
		}
		all += b
		out += fmt.Sprintf("%-20s %12d rows %10.1f MiB\n", tbl, n, float64(b)/(1<<20))
	}
	out += fmt.Sprintf("%-20s %12s      %10.1f MiB\n", "total", "", float64(all)/(1<<20))
	return out, rows.Err()
}
