package searchbench

import (
	"context"
	"slices"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/internal/chserver"
	"github.com/foureyes/foureyes/query"
)

// count runs a query returning one UInt64.
func count(t *testing.T, conn driver.Conn, q string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestGenerateShape(t *testing.T) {
	srv := chserver.StartForTest(t)
	ctx := context.Background()
	const db = "sbtest"
	boot, err := Dial(ctx, srv.Addr, "default")
	if err != nil {
		t.Fatal(err)
	}
	defer boot.Close()
	if err := boot.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	conn, err := Dial(ctx, srv.Addr, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cfg := Config{Events: 200_000}
	if err := Generate(ctx, conn, db, cfg); err != nil {
		t.Fatal(err)
	}

	events := count(t, conn, "SELECT count() FROM events")
	if events < 170_000 || events > 230_000 {
		t.Errorf("events = %d; want about 200,000", events)
	}
	sessions := uint64(cfg.SessionsPerDay() * 90)
	if n := count(t, conn, "SELECT uniqExact(session) FROM events"); n != sessions {
		t.Errorf("sessions in events = %d; want %d", n, sessions)
	}
	if n := count(t, conn, "SELECT count() FROM sessions"); n != sessions {
		t.Errorf("sessions rows = %d; want %d", n, sessions)
	}
	// Days: 90 of them, ending the day before End.
	if n := count(t, conn, "SELECT uniqExact(toDate(ts)) FROM events"); n != 90 {
		t.Errorf("days spanned = %d; want 90", n)
	}
	if n := count(t, conn, "SELECT countIf(ts < toDateTime(?) OR ts >= toDateTime(?)) FROM events",
		cfg.Start().Unix(), End.Unix()); n != 0 {
		t.Errorf("%d events outside [%s, %s)", n, cfg.Start(), End)
	}
	// Commands in about 1% of events, the rest mostly output.
	cmds := count(t, conn, "SELECT count() FROM commands")
	if frac := float64(cmds) / float64(events); frac < 0.007 || frac > 0.015 {
		t.Errorf("commands are %.4f of events; want about 0.01", frac)
	}
	if out := count(t, conn, "SELECT count() FROM events WHERE type = 'output'"); float64(out) < 0.9*float64(events) {
		t.Errorf("output events = %d of %d; want the great majority", out, events)
	}
	// Derived rows match their events.
	if n := count(t, conn, "SELECT count() FROM events WHERE type IN ('input', 'exec', 'transfer')"); n != cmds {
		t.Errorf("commands rows = %d; events that make one = %d", cmds, n)
	}
	for _, kind := range []string{"typed", "exec", "file"} {
		if n := count(t, conn, "SELECT count() FROM commands WHERE kind = ?", kind); n == 0 {
			t.Errorf("no %s commands", kind)
		}
	}
	parts := count(t, conn, "SELECT count() FROM participants")
	want := count(t, conn, `SELECT uniqExact(session, if(type = 'session.start', visitParamExtractString(meta, 'user'), actor), type)
		FROM events WHERE type IN ('session.start', 'approval.grant', 'participant.join', 'input')`)
	if parts != want {
		t.Errorf("participants rows = %d; want %d", parts, want)
	}
	if n := count(t, conn, "SELECT count() FROM participants WHERE role = 'approved'"); n < sessions/5 {
		t.Errorf("approvals = %d of %d sessions; want about 30%%", n, sessions)
	}
	if n := count(t, conn, `SELECT count() FROM sessions s ANY INNER JOIN
		(SELECT session, count() AS c, max(ts_ns) AS last FROM events GROUP BY session) USING session
		WHERE s.last_seq + 1 != c OR s.ended_ns != last OR s.started_ns >= s.ended_ns`); n != 0 {
		t.Errorf("%d sessions rows disagree with their events", n)
	}
	if n := count(t, conn, "SELECT uniqExact(user) FROM sessions"); n < 400 {
		t.Errorf("distinct users = %d; want hundreds at this size", n)
	}
	if n := count(t, conn, "SELECT uniqExact(host) FROM sessions"); n < 1000 {
		t.Errorf("distinct hosts = %d; want over a thousand at this size", n)
	}

	// Generating again skips every day and changes nothing.
	if err := Generate(ctx, conn, db, cfg); err != nil {
		t.Fatal(err)
	}
	if n := count(t, conn, "SELECT count() FROM events"); n != events {
		t.Errorf("after a second run: %d events; want %d", n, events)
	}

	// The query code finds the planted command, its typist and approver.
	store := query.NewStore(conn)
	page, err := store.Search(ctx, query.SearchFilter{Command: "drop  TABLE planted_XYZ"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Hits) != 1 {
		t.Fatalf("planted search: %d hits; want 1: %+v", len(page.Hits), page.Hits)
	}
	h := page.Hits[0]
	if h.Line != Planted || h.Actor != PlantTypist || h.User != PlantUser || h.Host != PlantHost || h.Kind != query.HitTyped {
		t.Errorf("planted hit = %+v; want %q typed by %s in %s's session on %s", h, Planted, PlantTypist, PlantUser, PlantHost)
	}
	for _, f := range []query.Filter{{Approver: PlantApprover}, {Participant: PlantTypist}, {User: PlantUser}, {Host: PlantHost}} {
		list, err := store.Sessions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != h.Session || !slices.Contains(list[0].Approvers, PlantApprover) {
			t.Errorf("sessions %+v = %+v; want only %s, approved by %s", f, list, h.Session, PlantApprover)
		}
	}
	// A search of a common command pages, newest first.
	page, err = store.Search(ctx, query.SearchFilter{Command: "systemctl status", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Hits) != 10 || page.More == 0 {
		t.Errorf("common search: %d hits, %d more; want a full page and more", len(page.Hits), page.More)
	}
	for i := 1; i < len(page.Hits); i++ {
		if page.Hits[i].Time.After(page.Hits[i-1].Time) {
			t.Errorf("hits not newest first: %v after %v", page.Hits[i].Time, page.Hits[i-1].Time)
		}
	}
}
