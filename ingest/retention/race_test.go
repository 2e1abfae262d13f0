package retention_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/ingest/retention"
	"github.com/foureyes/foureyes/query"
)

const lateReason = "legal request 2026-17 from the school board"

// TestHoldPlacedBeforeRelease: a held copy whose hold ended is listed for
// deletion by a run's Plan; an auditor holds the session again before the
// Apply. The copy must survive.
func TestHoldPlacedBeforeRelease(t *testing.T) {
	ctx := context.Background()
	conn := retention.TestDB(t)
	retention.Insert(t, conn, retention.Record("copied", "logs", 3, day0, 4, time.Minute))
	st := query.NewStore(conn)
	j := retention.New(conn, retention.Config{Classes: map[string]int{"logs": 3}, Logger: retention.TestLog(t)})

	// "copied" gets a held copy under a hold that ends on 2026-03-15.
	placed := day0.Add(time.Hour)
	if _, err := st.Hold(ctx, "copied", "carol", lateReason, time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), placed); err != nil {
		t.Fatal(err)
	}
	run(t, j, time.Date(2026, 3, 14, 1, 0, 0, 0, time.UTC))

	at := time.Date(2026, 3, 16, 1, 0, 0, 0, time.UTC)
	p, err := j.Plan(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Holds) != 0 || len(p.Releases) != 1 {
		t.Fatalf("plan: %d holds, %d releases; want 0 and 1 (the ended hold's copy)", len(p.Holds), len(p.Releases))
	}
	if _, err := st.Hold(ctx, "copied", "dave", lateReason, time.Time{}, at); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Events(ctx, "copied"); err != nil {
		t.Errorf("held copy of a session held again after the plan was deleted: %v", err)
	}
}

// TestHoldPlacedBeforeCopy: a hold placed between a run's Plan and its
// Apply keeps a session whose partitions are due.
func TestHoldPlacedBeforeCopy(t *testing.T) {
	ctx := context.Background()
	conn := retention.TestDB(t)
	retention.Insert(t, conn, retention.Record("s", "logs", 3, day0, 6, 20*time.Minute))
	st := query.NewStore(conn)
	j := retention.New(conn, retention.Config{Classes: map[string]int{"logs": 3}, Logger: retention.TestLog(t)})
	at := time.Date(2026, 3, 14, 1, 0, 0, 0, time.UTC)
	p, err := j.Plan(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Hold(ctx, "s", "carol", lateReason, time.Time{}, at); err != nil {
		t.Fatal(err)
	}
	rep, err := j.Apply(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Plan.Drops) == 0 || rep.HeldRows == 0 {
		t.Errorf("apply: %d drops, %d held rows; want drops and the held session's rows copied", len(rep.Plan.Drops), rep.HeldRows)
	}
	if _, err := st.Events(ctx, "s"); err != nil {
		t.Errorf("session held after the plan was deleted: %v", err)
	}
}

// TestHoldPlacedAtDrop: the window that remains, a hold placed between
// the last check and the DROP, loses the session's rows; the run says so
// loudly (a hold_late retention_log row) and the session answers
// "expired", not "not found".
func TestHoldPlacedAtDrop(t *testing.T) {
	ctx := context.Background()
	conn := retention.TestDB(t)
	retention.Insert(t, conn, retention.Record("s", "logs", 3, day0, 6, 20*time.Minute))
	// The hold comes when the events are gone: the recording no longer
	// authenticates the class, and the hold takes the longest one.
	st := query.NewStore(conn, query.WithRetention(config.Retention{Classes: map[string]config.Duration{"logs": config.Duration(3 * 24 * time.Hour)}}))
	j := retention.New(conn, retention.Config{Classes: map[string]int{"logs": 3}, Logger: retention.TestLog(t)})
	at := time.Date(2026, 3, 14, 1, 0, 0, 0, time.UTC)
	held := false
	retention.BeforeDrop(j, func(table string) {
		if table == "sessions" && !held {
			held = true
			if _, err := st.Hold(ctx, "s", "carol", lateReason, time.Time{}, at); err != nil {
				t.Error(err)
			}
		}
	})
	run(t, j, at)
	if _, err := st.Events(ctx, "s"); !errors.As(err, new(*query.ExpiredError)) {
		t.Errorf("session held at the drop: %v; want expired", err)
	}
	if late := holdLateRows(t, conn, at); len(late) == 0 {
		t.Errorf("no %s row for s in retention_log", retention.ActionHoldLate)
	}
}

// TestHoldPlacedAfterCopy: a hold placed after a partition's held rows
// were copied and before its drop is found by the re-check, and the
// session's rows are copied then: it stays readable, and no hold_late
// row is written.
func TestHoldPlacedAfterCopy(t *testing.T) {
	ctx := context.Background()
	conn := retention.TestDB(t)
	retention.Insert(t, conn, retention.Record("s", "logs", 3, day0, 6, 20*time.Minute))
	st := query.NewStore(conn)
	j := retention.New(conn, retention.Config{Classes: map[string]int{"logs": 3}, Logger: retention.TestLog(t)})
	at := time.Date(2026, 3, 14, 1, 0, 0, 0, time.UTC)
	held := false
	retention.AfterCopy(j, func(table string) {
		if held {
			return
		}
		held = true
		if _, err := st.Hold(ctx, "s", "carol", lateReason, time.Time{}, at); err != nil {
			t.Error(err)
		}
	})
	run(t, j, at)
	if !held {
		t.Fatal("no partition was dropped: the hook never ran")
	}
	if _, err := st.Events(ctx, "s"); err != nil {
		t.Errorf("session held after the copy, before the drop: %v; want it kept", err)
	}
	if late := holdLateRows(t, conn, at); len(late) != 0 {
		t.Errorf("%s rows %+v; the re-check should have copied the session in time", retention.ActionHoldLate, late)
	}
}

// holdLateRows returns the retention_log rows of the run at at that say
// a hold came too late for session s.
func holdLateRows(t *testing.T, conn driver.Conn, at time.Time) []retention.LogRow {
	t.Helper()
	rows, err := retention.ReadLog(context.Background(), conn, at.Add(-time.Hour), at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var late []retention.LogRow
	for _, r := range rows {
		if r.Action == retention.ActionHoldLate && r.Session == "s" {
			late = append(late, r)
		}
	}
	return late
}
