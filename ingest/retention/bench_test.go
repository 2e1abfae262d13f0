package retention

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkRun measures a retention run over 30 days × 2 classes × 1M
// events a day (60M event rows, 60k sessions), every partition past its
// class: the run drops 120 partitions (events and sessions) after
// recording each day's sessions as expired. The rows are generated inside
// ClickHouse (INSERT … SELECT FROM numbers), outside the timer.
//
//	go test -run '^$' -bench Run -benchtime 1x ./ingest/retention/
func BenchmarkRun(b *testing.B) {
	const (
		days      = 30
		perDay    = 1_000_000
		sessPerDy = 1000
	)
	ctx := context.Background()
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	classes := map[string]int{"logs": 3, "production": 90}
	var rows, bytes uint64
	for range b.N {
		b.StopTimer()
		conn := testDB(b)
		for class, keep := range classes {
			for d := range days {
				base := first.AddDate(0, 0, d).Unix()
				q := fmt.Sprintf(`INSERT INTO events (%s) SELECT
					concat('%[2]s-%[3]d-', toString(number %% %[4]d)), intDiv(number, %[4]d),
					toDateTime(%[5]d + intDiv(number, 12)), (%[5]d + intDiv(number, 12)) * 1000000000, 'output', 'gw1', '',
					'some output of a terminal session, about a line', '{}', '%[2]s', %[6]d, 1, '', ''
					FROM numbers(%[7]d)`, eventCols, class, d, sessPerDy, base, keep, perDay)
				if err := conn.Exec(ctx, q); err != nil {
					b.Fatal(err)
				}
				q = fmt.Sprintf(`INSERT INTO sessions (session, version, kind, user, host, started, started_ns, class, retention_days, approvers)
					SELECT concat('%[1]s-%[2]d-', toString(number)), 1, 'shell', 'alice', 'demo', toDateTime(%[3]d), %[3]d * 1000000000, '%[1]s', %[4]d, []
					FROM numbers(%[5]d)`, class, d, base, keep, sessPerDy)
				if err := conn.Exec(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		}
		j := New(conn, Config{Classes: classes, Logger: testLogger(b)})
		j.now = func() time.Time { return first.AddDate(1, 0, 0) }
		b.StartTimer()
		rep, err := j.RunOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if got := len(rep.Plan.Drops); got != 2*2*days {
			b.Fatalf("dropped %d partitions; want %d", got, 2*2*days)
		}
		rows, bytes = rep.Rows, rep.Bytes
	}
	b.ReportMetric(float64(rows), "rows/run")
	b.ReportMetric(float64(bytes)/(1<<20), "MiB/run")
}
