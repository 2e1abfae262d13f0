package retention_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/ingest/retention"
	"github.com/foureyes/foureyes/query"
)

// day0 is the day the test sessions were recorded.
var day0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

func run(t *testing.T, j *retention.Job, at time.Time) retention.Report {
	t.Helper()
	p, err := j.Plan(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := j.Apply(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestHeldSessionSurvives places holds on sessions of the 3-day class,
// runs retention past their class and checks that the held ones are still
// readable and verify, the others answer "expired by class logs", and that
// a release (or an until that passed) makes a held session expire at the
// next run.
func TestHeldSessionSurvives(t *testing.T) {
	ctx := context.Background()
	conn := retention.TestDB(t)
	held := retention.Record("held", "logs", 3, day0, 6, 20*time.Minute)
	short := retention.Record("short", "logs", 3, day0, 4, time.Minute)
	free := retention.Record("free", "logs", 3, day0, 4, time.Minute)
	prod := retention.Record("prod", "production", 90, day0, 4, time.Minute)
	retention.Insert(t, conn, held, short, free, prod)
	st := query.NewStore(conn)
	j := retention.New(conn, retention.Config{Classes: map[string]int{"logs": 3, "production": 90}, Logger: retention.TestLog(t)})

	placed := day0.Add(24 * time.Hour)
	if _, err := st.Hold(ctx, "held", "carol", "legal request 2026-17 from the school board", time.Time{}, placed); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Hold(ctx, "short", "carol", "incident review INC-42, needs two more days", time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), placed); err != nil {
		t.Fatal(err)
	}

	// Day 0 of the logs class goes at the start of 2026-03-14.
	rep := run(t, j, time.Date(2026, 3, 14, 1, 0, 0, 0, time.UTC))
	if len(rep.Plan.Drops) != 2 || rep.HeldRows == 0 {
		t.Fatalf("run: %d drops, %d held rows; want 2 drops (events, sessions) and held rows", len(rep.Plan.Drops), rep.HeldRows)
	}
	for _, id := range []string{"held", "short", "prod"} {
		res, err := st.Verify(ctx, id)
		if err != nil || !res.OK() || !res.Summary || res.Events == 0 {
			t.Errorf("Verify(%s) = %+v, %v; want intact with summary", id, res, err)
		}
	}
	var exp *query.ExpiredError
	if _, err := st.Session(ctx, "free"); !errors.As(err, &exp) || exp.Class != "logs" || !errors.Is(err, query.ErrNotFound) {
		t.Fatalf("Session(free) = %v; want *ExpiredError by class logs", err)
	}
	list, err := st.Sessions(ctx, query.Filter{Kind: query.KindAll})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	if got := strings.Join(ids, ","); got != "held,prod,short" && got != "short,prod,held" && len(ids) != 3 {
		t.Errorf("Sessions = %v; want held, prod and short once each", ids)
	}

	// "short" was held until 2026-03-15: the run after that deletes it.
	// "held" is released by two auditors: dave asks, erin confirms.
	if _, err := st.Release(ctx, "held", "dave", time.Date(2026, 3, 15, 11, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Release(ctx, "held", "erin", time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	all, err := st.Holds(ctx, time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Session != "held" || all[0].ReleasedBy != "dave" || all[0].ConfirmedBy != "erin" || all[0].PlacedBy != "carol" || all[0].Reason == "" {
		t.Errorf("Holds(all) = %+v; want the released hold with its author and reason first", all)
	}
	rep = run(t, j, time.Date(2026, 3, 15, 13, 0, 0, 0, time.UTC))
	if len(rep.Plan.Releases) != 2 {
		t.Errorf("run: %d releases; want 2", len(rep.Plan.Releases))
	}
	for _, id := range []string{"held", "short"} {
		if _, err := st.Events(ctx, id); !errors.As(err, &exp) || exp.Class != "logs" {
			t.Errorf("Events(%s) after its hold ended = %v; want expired by class logs", id, err)
		}
	}
	if res, err := st.Verify(ctx, "prod"); err != nil || !res.OK() {
		t.Errorf("Verify(prod) = %+v, %v; the 90-day session must be untouched", res, err)
	}
}

// TestHoldRefusals checks every way a hold is refused.
func TestHoldRefusals(t *testing.T) {
	ctx := context.Background()
	conn := retention.TestDB(t)
	retention.Insert(t, conn, retention.Record("s1", "logs", 3, day0, 3, time.Minute))
	st := query.NewStore(conn)
	now := day0.Add(time.Hour)
	reason := "incident review INC-42"
	tests := []struct {
		name, id, by, reason string
		until                time.Time
		want                 error
	}{
		{"no reason", "s1", "carol", "", time.Time{}, retention.ErrNoReason},
		{"blank reason", "s1", "carol", "   \t ", time.Time{}, retention.ErrNoReason},
		{"meaningless reason", "s1", "carol", "x.x.x.x.x.x", time.Time{}, retention.ErrNoReason},
		{"unknown auditor", "s1", "", reason, time.Time{}, retention.ErrNoIdentity},
		{"until in the past", "s1", "carol", reason, day0, retention.ErrUntilPast},
		// Class end 2026-03-14 plus 14 days: 2026-03-28.
		{"too long", "s1", "carol", reason, time.Date(2026, 3, 28, 0, 0, 1, 0, time.UTC), retention.ErrHoldTooLong},
		{"unknown session", "nope", "carol", reason, time.Time{}, query.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := st.Hold(ctx, tt.id, tt.by, tt.reason, tt.until, now); !errors.Is(err, tt.want) {
				t.Errorf("Hold = %v; want %v", err, tt.want)
			}
		})
	}
	h, err := st.Hold(ctx, "s1", "carol", reason, time.Time{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC); !h.Until.Equal(want) {
		t.Errorf("default until = %v; want %v (class end + max_hold)", h.Until, want)
	}
	if _, err := st.Release(ctx, "s1", "", now); !errors.Is(err, retention.ErrNoIdentity) {
		t.Errorf("Release without identity = %v; want ErrNoIdentity", err)
	}
	if _, err := st.Release(ctx, "s1", "carol", now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Release(ctx, "s1", "carol", now); !errors.Is(err, retention.ErrNoHold) {
		t.Errorf("second Release = %v; want ErrNoHold", err)
	}
}

// TestStatus checks the per-class view of `audit retention`.
func TestStatus(t *testing.T) {
	ctx := context.Background()
	conn := retention.TestDB(t)
	retention.Insert(t, conn,
		retention.Record("a", "logs", 3, day0, 3, time.Minute),
		retention.Record("b", "logs", 3, day0.AddDate(0, 0, 1), 3, time.Minute),
		retention.Record("c", "production", 90, day0.AddDate(0, 0, -30), 3, time.Minute))
	st, err := retention.ReadStatus(ctx, conn, map[string]int{"logs": 3, "production": 90, "week": 7}, day0.AddDate(0, 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Classes) != 3 {
		t.Fatalf("classes = %+v; want logs, week, production", st.Classes)
	}
	logs, week, prod := st.Classes[0], st.Classes[1], st.Classes[2]
	if logs.Class != "logs" || logs.Oldest.Format(time.DateOnly) != "2026-03-10" || logs.NextDrop.Format(time.DateOnly) != "2026-03-14" || logs.Partitions != 2 {
		t.Errorf("logs = %+v; want oldest 2026-03-10, next drop 2026-03-14, 2 days", logs)
	}
	if week.Class != "week" || !week.Oldest.IsZero() {
		t.Errorf("week = %+v; want a class without data", week)
	}
	if prod.Class != "production" || prod.Oldest.Format(time.DateOnly) != "2026-02-08" || prod.NextDrop.Format(time.DateOnly) != "2026-05-10" {
		t.Errorf("production = %+v; want oldest 2026-02-08, next drop 2026-05-10", prod)
	}
}

// TestReleaseNeedsSecondAuditor is the regression test of hole 9: one
// auditor released another auditor's hold and the next run dropped the
// data. On the old code dave's release ends carol's hold at once and the
// run deletes the held copy; now it is only a request, the same auditor
// cannot confirm it, a row claiming a one-person release (as a database
// writer could insert) does not end the hold, and only a different
// auditor's confirmation does.
func TestReleaseNeedsSecondAuditor(t *testing.T) {
	ctx := context.Background()
	conn := retention.TestDB(t)
	retention.Insert(t, conn, retention.Record("held", "logs", 3, day0, 6, time.Minute))
	st := query.NewStore(conn)
	j := retention.New(conn, retention.Config{Classes: map[string]int{"logs": 3}, Logger: retention.TestLog(t)})
	if _, err := st.Hold(ctx, "held", "carol", "legal request 2026-17 from the school board", time.Time{}, day0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	run(t, j, time.Date(2026, 3, 14, 1, 0, 0, 0, time.UTC)) // the class drops the day; the held copy stays
	at := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	readable := func(when string) {
		t.Helper()
		if res, err := st.Verify(ctx, "held"); err != nil || !res.OK() {
			t.Fatalf("%s: Verify(held) = %+v, %v; want the held copy intact", when, res.Integrity.Problems, err)
		}
	}

	hs, err := st.Release(ctx, "held", "dave", at)
	if err != nil || len(hs) != 1 || !hs[0].Released.IsZero() || hs[0].RequestedBy != "dave" {
		t.Fatalf("Release by dave = %+v, %v; want a pending request", hs, err)
	}
	run(t, j, at.Add(time.Minute))
	readable("after dave's request")
	if _, err := st.Release(ctx, "held", "dave", at.Add(2*time.Minute)); !errors.Is(err, retention.ErrSecondAuditor) {
		t.Fatalf("dave confirming his own request = %v; want ErrSecondAuditor", err)
	}

	// A row claiming dave alone released carol's hold.
	if err := conn.Exec(ctx, "INSERT INTO holds (session, placed_ns, placed_by, reason, until, class, released_ns, released_by, version) "+
		"SELECT session, placed_ns, placed_by, reason, until, class, ?, 'dave', version + 1000 FROM holds FINAL WHERE session = 'held'",
		at.Add(3*time.Minute).UnixNano()); err != nil {
		t.Fatal(err)
	}
	run(t, j, at.Add(4*time.Minute))
	readable("after a forged one-person release")

	// The forged row replaced dave's request: erin asks anew, dave
	// confirms.
	if hs, err = st.Release(ctx, "held", "erin", at.Add(5*time.Minute)); err != nil || hs[0].RequestedBy != "erin" {
		t.Fatalf("Release by erin = %+v, %v; want a request", hs, err)
	}
	hs, err = st.Release(ctx, "held", "dave", at.Add(5*time.Minute+time.Second))
	if err != nil || len(hs) != 1 || hs[0].Released.IsZero() {
		t.Fatalf("Release by dave = %+v, %v; want erin's request confirmed", hs, err)
	}
	all, err := st.Holds(ctx, at.Add(6*time.Minute), true)
	if err != nil || len(all) != 1 || all[0].ReleasedBy != "erin" || all[0].ConfirmedBy != "dave" {
		t.Fatalf("Holds(all) = %+v, %v; want released by erin, confirmed by dave", all, err)
	}
	run(t, j, at.Add(7*time.Minute))
	var exp *query.ExpiredError
	if _, err := st.Events(ctx, "held"); !errors.As(err, &exp) {
		t.Fatalf("Events(held) after two auditors released it = %v; want expired", err)
	}
}

// TestHoldUntilInDateTimeRange: holds.until is a DateTime (UInt32
// seconds), which wraps past 2106-02-07: a class of 65535 days, which the
// configuration allows, gave a hold printed "until 2205" and stored as
// 2069. The until a hold is placed with, and returns, is the one stored.
func TestHoldUntilInDateTimeRange(t *testing.T) {
	ctx := context.Background()
	conn := retention.TestDB(t)
	now := day0.Add(time.Hour)
	last := time.Unix(1<<32-1, 0)
	req := retention.HoldRequest{Session: "s1", By: "carol", Reason: "legal request 2026-17 from the board",
		Class: "forever", RetentionDays: 65535, Started: day0, MaxHold: 365 * 24 * time.Hour}
	h, err := retention.PlaceHold(ctx, conn, req, now)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Until.Equal(last) {
		t.Errorf("default until = %v; want %v (the last DateTime)", h.Until.UTC(), last.UTC())
	}
	req.Until = time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := retention.PlaceHold(ctx, conn, req, now); !errors.Is(err, retention.ErrHoldTooLong) {
		t.Errorf("until 2107 = %v; want ErrHoldTooLong", err)
	}
	// A sub-second until is stored in whole seconds.
	req.Session, req.Until = "s2", now.Add(48*time.Hour+500*time.Millisecond)
	h2, err := retention.PlaceHold(ctx, conn, req, now)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := retention.ListHolds(ctx, conn, now, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{"s1": h.Until, "s2": h2.Until}
	if len(stored) != len(want) {
		t.Fatalf("stored %d holds; want %d", len(stored), len(want))
	}
	for _, s := range stored {
		if !s.Until.Equal(want[s.Session]) || !s.Active(now) {
			t.Errorf("hold %s stored until %v (active %v); PlaceHold said %v", s.Session, s.Until.UTC(), s.Active(now), want[s.Session].UTC())
		}
	}
}
