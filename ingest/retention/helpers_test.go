package retention

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/ingest"
	"github.com/foureyes/foureyes/internal/chserver"
)

// One clickhouse-server serves the package's tests, each in a database of
// its own.
var shared chserver.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// testDB returns a connection whose default database is a fresh, migrated
// one. Without clickhouse-server the test is skipped, except under
// CI=true, where it fails.
func testDB(tb testing.TB) driver.Conn {
	tb.Helper()
	shared.Server(tb)
	ctx := context.Background()
	db := shared.DatabaseName("retention")
	admin := open(tb, "default")
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { admin.Exec(context.Background(), "DROP DATABASE "+db) })
	conn := open(tb, db)
	if err := ingest.Migrate(ctx, conn, db); err != nil {
		tb.Fatal(err)
	}
	return conn
}

func open(tb testing.TB, db string) driver.Conn {
	tb.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{shared.Server(tb).Addr},
		Auth:        clickhouse.Auth{Database: db},
		DialTimeout: 5 * time.Second,
		ReadTimeout: 5 * time.Minute,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// session is a recorded stream for tests: a start, output every gap and
// an end, all of one class.
type session struct {
	id    string
	class string
	days  uint16
	start time.Time
	evs   []event.Event
}

// record builds a sealed session of n events spaced gap apart.
func record(id, class string, days uint16, start time.Time, n int, gap time.Duration) session {
	s := session{id: id, class: class, days: days, start: start}
	var ch event.Chain
	for i := range n {
		e := event.Event{V: event.Version, Session: id, Time: start.Add(time.Duration(i) * gap).UnixNano(), Type: event.Output,
			Gateway: "gw1", Data: []byte(fmt.Sprintf("line %d\r\n", i)), Class: class, Retention: days}
		switch i {
		case 0:
			e.Type, e.Data = event.SessionStart, nil
			e.Meta = map[string]string{"user": "alice", "host": "demo", "kind": "shell"}
		case n - 1:
			e.Type, e.Data = event.SessionEnd, nil
			e.Meta = map[string]string{"exit_status": "0"}
		}
		ch.Seal(&e)
		s.evs = append(s.evs, e)
	}
	return s
}

// insert writes the events and the summary row of sessions, as ingest does.
func insert(tb testing.TB, conn driver.Conn, sessions ...session) {
	tb.Helper()
	ctx := context.Background()
	eb, err := conn.PrepareBatch(ctx, "INSERT INTO events ("+eventCols+")")
	if err != nil {
		tb.Fatal(err)
	}
	sb, err := conn.PrepareBatch(ctx, "INSERT INTO sessions ("+sessionCols+")")
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range sessions {
		for i := range s.evs {
			e := &s.evs[i]
			if err := eb.Append(e.Session, e.Seq, time.Unix(0, e.Time), e.Time, string(e.Type), e.Gateway, e.Actor, string(e.Data),
				e.MetaText(), e.Class, e.Retention, e.V, e.Prev.String(), e.Hash.String()); err != nil {
				tb.Fatal(err)
			}
		}
		last := s.evs[len(s.evs)-1]
		if err := sb.Append(s.id, last.Seq, "shell", "alice", "demo", "root", "192.0.2.1:1", "gw1", s.start, s.start.UnixNano(), last.Time,
			int32(0), uint8(0), "", uint64(0), uint64(0), []string{}, "", last.Seq, last.Hash.String(), s.class, s.days); err != nil {
			tb.Fatal(err)
		}
	}
	if err := eb.Send(); err != nil {
		tb.Fatal(err)
	}
	if err := sb.Send(); err != nil {
		tb.Fatal(err)
	}
}

// testLogger logs to the test at warn level (debug with RETENTION_TEST_DEBUG=1).
func testLogger(tb testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("RETENTION_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: level}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}
