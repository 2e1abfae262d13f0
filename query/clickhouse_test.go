package query

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/ingest"
	"github.com/foureyes/foureyes/internal/chserver"
)

// One clickhouse-server serves the whole package run; every test gets a
// database of its own.
var shared chserver.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// testConn returns a connection whose default database is a fresh one
// holding the empty tables of ingest.Migrate. Without clickhouse-server the
// test is skipped, except under CI=true, where it fails.
func testConn(tb testing.TB) driver.Conn {
	tb.Helper()
	shared.Server(tb)
	ctx := context.Background()
	db := shared.DatabaseName("query_test")
	admin := openConn(tb, "default")
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		tb.Fatal(err)
	}
	conn := openConn(tb, db)
	// The tables ingest writes are the contract of this package: tests
	// read the schema ingest's migrations create.
	if err := ingest.Migrate(ctx, conn, db); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { admin.Exec(context.Background(), "DROP DATABASE "+db) })
	return conn
}

func openConn(tb testing.TB, db string) driver.Conn {
	tb.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{shared.Server(tb).Addr},
		Auth:        clickhouse.Auth{Database: db},
		DialTimeout: 5 * time.Second,
		ReadTimeout: time.Minute,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// insertEvents writes events in one batch (one part: inserting the same
// events twice leaves duplicates until a merge).
func insertEvents(tb testing.TB, conn driver.Conn, evs []event.Event) {
	tb.Helper()
	insertEventsAs(tb, conn, evs, func(h event.Hash) string { return string(h[:]) })
}

// insertEventsHex stores evs as ingest did before 2026-12-05: hashes as 64
// hex digits.
func insertEventsHex(tb testing.TB, conn driver.Conn, evs []event.Event) {
	tb.Helper()
	insertEventsAs(tb, conn, evs, event.Hash.String)
}

// insertEventsAs stores evs with their hashes in the form stored returns.
func insertEventsAs(tb testing.TB, conn driver.Conn, evs []event.Event, stored func(event.Hash) string) {
	tb.Helper()
	ctx := context.Background()
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO events (session, seq, ts, ts_ns, type, gateway, actor, data, meta, class, retention_days, version, prev_hash, hash)")
	if err != nil {
		tb.Fatal(err)
	}
	for i := range evs {
		e := &evs[i]
		if err := batch.Append(e.Session, e.Seq, time.Unix(0, e.Time), e.Time, string(e.Type), e.Gateway, e.Actor, string(e.Data),
			e.MetaText(), e.Class, e.Retention, e.V, stored(e.Prev), stored(e.Hash)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		tb.Fatal(err)
	}
}

// insertSessions writes summary rows with the given version.
func insertSessions(tb testing.TB, conn driver.Conn, version uint64, rows ...Session) {
	tb.Helper()
	ctx := context.Background()
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO sessions (session, version, kind, user, host, login, remote, gateway, started, started_ns, ended_ns, "+
		"exit_status, interrupted, command, bytes_in, bytes_out, approvers, reason, last_seq, last_hash, class, retention_days)")
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range rows {
		var ended int64
		if !s.Open {
			ended = s.Ended.UnixNano()
		}
		var interrupted uint8
		if s.Interrupted {
			interrupted = 1
		}
		approvers := s.Approvers
		if approvers == nil {
			approvers = []string{}
		}
		if err := batch.Append(s.ID, version, s.Kind, s.User, s.Host, s.Login, s.Remote, s.Gateway, s.Started, s.Started.UnixNano(), ended,
			int32(s.ExitStatus), interrupted, s.Command, s.BytesIn, s.BytesOut, approvers, s.Reason, s.LastSeq, s.LastHash,
			s.Class, uint16(s.RetentionDays)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		tb.Fatal(err)
	}
}

// store records a session (events and summary) and returns its summary,
// with the commands rows ingest derives for its file transfers and
// operations (kind "file": what `sessions --transfers` reads).
func store(tb testing.TB, conn driver.Conn, r *rec) Session {
	tb.Helper()
	evs := r.events()
	insertEvents(tb, conn, evs)
	s := r.summary()
	version := uint64(1) // tests supersede it with a higher one
	if s.Open {
		version = 0 // as ingest: the seq of the session.start
	}
	insertSessions(tb, conn, version, s)
	insertFileRows(tb, conn, s, evs)
	return s
}

// insertFileRows inserts a commands row of kind "file" for each transfer
// and file.op of evs, as ingest does.
func insertFileRows(tb testing.TB, conn driver.Conn, s Session, evs []event.Event) {
	tb.Helper()
	batch, err := conn.PrepareBatch(context.Background(), "INSERT INTO commands (session, seq, idx, ts, ts_ns, kind, host, user, actor, line, class, retention_days)")
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type != event.Transfer && e.Type != event.FileOp {
			continue
		}
		n++
		if err := batch.Append(e.Session, e.Seq, uint32(0), time.Unix(0, e.Time), e.Time, "file", s.Host, s.User, e.Actor,
			e.Meta["path"], e.Class, e.Retention); err != nil {
			tb.Fatal(err)
		}
	}
	if n == 0 {
		batch.Abort()
		return
	}
	if err := batch.Send(); err != nil {
		tb.Fatal(err)
	}
}
