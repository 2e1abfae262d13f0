package searchbench

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// The same questions answered by scanning the raw events table, for
// comparison with the derived tables the query package reads. Hand-written
// SQL on purpose: this is what search would cost without the commands and
// participants tables. A raw scan takes seconds at 100M events, so fewer
// queries run: SEARCHBENCH_RAW_QUERIES (default 5; p99 is then the max).

func rawQueries() int {
	if n, err := strconv.Atoi(os.Getenv("SEARCHBENCH_RAW_QUERIES")); err == nil && n > 0 {
		return n
	}
	return 5
}

// rawScan measures q run with args(i) for rawQueries() values of i.
func rawScan(b *testing.B, q string, args func(i int) []any) {
	benchStore(b)
	ctx := context.Background()
	measure(b, rawQueries(), func(i int) error {
		rows, err := bench.conn.Query(ctx, q, args(i)...)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		return rows.Err()
	})
}

func BenchmarkRawCommand(b *testing.B) {
	qs := commandQueries()
	rawScan(b, `SELECT session, seq, ts_ns, data FROM events
		WHERE type IN ('input', 'exec') AND positionCaseInsensitive(data, ?) > 0
		ORDER BY ts_ns DESC LIMIT 100`, func(i int) []any { return []any{qs[i]} })
}

func BenchmarkRawParticipant(b *testing.B) {
	us := users(60)
	rawScan(b, `SELECT session FROM events
		WHERE (type = 'session.start' AND visitParamExtractString(meta, 'user') = ?)
		   OR (type IN ('approval.grant', 'participant.join', 'input') AND actor = ?)
		GROUP BY session ORDER BY max(ts_ns) DESC LIMIT 100`, func(i int) []any { return []any{us[i], us[i]} })
}

func BenchmarkRawApprover(b *testing.B) {
	us := users(60)
	rawScan(b, `SELECT session FROM events WHERE type = 'approval.grant' AND actor = ?
		GROUP BY session ORDER BY max(ts_ns) DESC LIMIT 100`, func(i int) []any { return []any{us[i]} })
}

func BenchmarkRawSessionsUser(b *testing.B) {
	us := users(60)
	rawScan(b, `SELECT session FROM events WHERE type = 'session.start' AND visitParamExtractString(meta, 'user') = ?
		ORDER BY ts_ns DESC LIMIT 100`, func(i int) []any { return []any{us[i]} })
}

func BenchmarkRawOutputDayHost(b *testing.B) {
	rawScan(b, `SELECT session, seq, data FROM events
		WHERE ts >= toDateTime(?) AND ts < toDateTime(?) AND type = 'output' AND positionCaseInsensitive(data, ?) > 0
		  AND session IN (SELECT session FROM events WHERE ts >= toDateTime(?) AND ts < toDateTime(?)
		      AND type = 'session.start' AND visitParamExtractString(meta, 'host') = ?)
		ORDER BY ts_ns DESC LIMIT 100`, func(i int) []any {
		hd := bench.hostDays[i]
		lo, hi := hd.day.Unix(), hd.day.Add(24*time.Hour).Unix()
		msg := outputMessages[i%len(outputMessages)]
		return []any{lo, hi, msg[:len(msg)/2], lo, hi, hd.host}
	})
}
