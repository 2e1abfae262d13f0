package retention

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestParsePartition(t *testing.T) {
	tests := []struct {
		in   string
		want partitionKey
		ok   bool
	}{
		{"(3,20261119)", partitionKey{3, 20261119}, true},
		{"(90, 20260101)", partitionKey{90, 20260101}, true},
		{" (1,19700101) ", partitionKey{1, 19700101}, true},
		{"(3,20261131)", partitionKey{}, false}, // no such day
		{"(70000,20261119)", partitionKey{}, false},
		{"202611", partitionKey{}, false},
		{"(3,2026-11-19)", partitionKey{}, false},
		{"tuple()", partitionKey{}, false},
		{"", partitionKey{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePartition(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parsePartition(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestDropTime(t *testing.T) {
	day := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		days int
		want time.Time
	}{
		{1, time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)},
		{3, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{90, time.Date(2027, 2, 18, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := DropTime(day, tt.days); !got.Equal(tt.want) {
			t.Errorf("DropTime(%v, %d) = %v; want %v", day, tt.days, got, tt.want)
		}
		// The last second of the day is kept at least days days.
		if kept := DropTime(day, tt.days).Sub(day.Add(24*time.Hour - time.Second)); kept < time.Duration(tt.days)*24*time.Hour {
			t.Errorf("days %d: last row kept %v", tt.days, kept)
		}
	}
}

// partitions returns the (days, day) partitions present in table with
// their row counts.
func partitions(t *testing.T, j *Job, table string) map[partitionKey]uint64 {
	t.Helper()
	rows, err := j.conn.Query(context.Background(), `SELECT partition, sum(rows) FROM system.parts
		WHERE database = currentDatabase() AND table = ? AND active GROUP BY partition`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[partitionKey]uint64{}
	for rows.Next() {
		var (
			p string
			n uint64
		)
		if err := rows.Scan(&p, &n); err != nil {
			t.Fatal(err)
		}
		k, err := parsePartition(p)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	return out
}

// expiredSet returns the sessions recorded in expired_sessions.
func expiredSet(t *testing.T, j *Job) map[string]string {
	t.Helper()
	rows, err := j.conn.Query(context.Background(), "SELECT session, any(class) FROM expired_sessions GROUP BY session")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, class string
		if err := rows.Scan(&id, &class); err != nil {
			t.Fatal(err)
		}
		out[id] = class
	}
	return out
}

// TestRunDropsExactlyExpiredDays is a property test: sessions of random
// classes on random days; after a run at a random time, a partition is
// gone exactly when its whole day is older than its class, every
// expired session is recorded as such, and nothing else changed.
func TestRunDropsExactlyExpiredDays(t *testing.T) {
	classes := map[string]int{"hour": 1, "logs": 3, "week": 7, "production": 90}
	names := slices.Sorted(maps.Keys(classes))
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 42))
			conn := testDB(t)
			now := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
			var all []session
			for i := range 40 + rng.IntN(40) {
				class := names[rng.IntN(len(names))]
				age := time.Duration(rng.Int64N(int64(100 * 24 * time.Hour)))
				// Some sessions span midnight: their events sit in two days.
				gap := time.Duration(1+rng.IntN(120)) * time.Minute
				all = append(all, record(fmt.Sprintf("s%02d", i), class, uint16(classes[class]), now.Add(-age), 3+rng.IntN(5), gap))
			}
			insert(t, conn, all...)
			j := New(conn, Config{Classes: classes, Logger: testLogger(t)})
			j.now = func() time.Time { return now }
			want := map[string]map[partitionKey]uint64{"events": {}, "sessions": {}}
			wantExpired := map[string]string{}
			for _, s := range all {
				for _, e := range s.evs {
					k := partitionKey{s.days, yyyymmdd(time.Unix(0, e.Time), time.UTC)}
					d, _ := k.date(time.UTC)
					if now.Before(DropTime(d, int(s.days))) {
						want["events"][k]++
					} else {
						wantExpired[s.id] = s.class
					}
				}
				k := partitionKey{s.days, yyyymmdd(s.start, time.UTC)}
				d, _ := k.date(time.UTC)
				if now.Before(DropTime(d, int(s.days))) {
					want["sessions"][k]++
				} else {
					wantExpired[s.id] = s.class
				}
			}
			dry, err := j.Plan(context.Background(), now)
			if err != nil {
				t.Fatal(err)
			}
			if got := partitions(t, j, "events"); len(got) < len(want["events"]) {
				t.Fatalf("Plan changed the data: %d event partitions, want at least %d", len(got), len(want["events"]))
			}
			rep, err := j.RunOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Plan.Drops) == 0 {
				t.Error("the run dropped nothing; the mix must include expired days")
			}
			if len(rep.Plan.Drops) != len(dry.Drops) {
				t.Errorf("run dropped %d partitions; the dry run listed %d", len(rep.Plan.Drops), len(dry.Drops))
			}
			for _, table := range []string{"events", "sessions"} {
				if got := partitions(t, j, table); !maps.Equal(got, want[table]) {
					t.Errorf("%s partitions after the run = %v; want %v", table, got, want[table])
				}
			}
			if got := expiredSet(t, j); !maps.Equal(got, wantExpired) {
				t.Errorf("expired_sessions = %v; want %v", got, wantExpired)
			}
			var logged uint64
			if err := conn.QueryRow(context.Background(), "SELECT count() FROM retention_log WHERE action = 'drop' AND run = ?", rep.Run).Scan(&logged); err != nil {
				t.Fatal(err)
			}
			if int(logged) != len(rep.Plan.Drops) {
				t.Errorf("retention_log has %d drops; the run made %d", logged, len(rep.Plan.Drops))
			}
			// A second run at the same time finds nothing to do.
			again, err := j.RunOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Plan.Drops) != 0 {
				t.Errorf("second run dropped %d partitions; want 0", len(again.Plan.Drops))
			}
		})
	}
}

// TestRunStopsWithContext checks that Run's loop exits when its context ends.
func TestRunStopsWithContext(t *testing.T) {
	conn := testDB(t)
	j := New(conn, Config{Interval: time.Hour, Logger: testLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v; want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
