package ingest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"
)

func TestMigrateIsIdempotent(t *testing.T) {
	srv := sharedServer(t)
	conn, db := newDatabase(t, srv) // first Migrate
	ctx := context.Background()
	if err := Migrate(ctx, conn, db); err != nil {
		t.Fatalf("second Migrate = %v", err)
	}
	if n := count(t, conn, "SELECT count() FROM "+db+".schema_migrations"); n != uint64(len(migrations)) {
		t.Fatalf("schema_migrations has %d rows after two runs; want %d", n, len(migrations))
	}
	rows, err := conn.Query(ctx, "SELECT version, name FROM "+db+".schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v uint32
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s", v, name))
	}
	want := []string{"1 events", "2 sessions", "3 rejected", "4 retention and holds", "5 retention ttl backstop", "6 signed retention log", "7 search tables", "8 normalized command lines", "9 event data lengths"}
	if !slices.Equal(got, want) {
		t.Fatalf("schema_migrations = %v; want %v", got, want)
	}
}

func TestMigrateCreatesTables(t *testing.T) {
	srv := sharedServer(t)
	conn, db := newDatabase(t, srv)
	tests := []struct {
		table   string
		columns string
	}{
		{"events", eventColumns + ", ingested_at, data_len"},
		{"sessions", sessionColumns},
		{"rejected", rejectedColumns},
		{"schema_migrations", "version, name, applied_at"},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			rows, err := conn.Query(context.Background(), "SELECT name FROM system.columns WHERE database = ? AND table = ?", db, tt.table)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					t.Fatal(err)
				}
				got = append(got, name)
			}
			if want := strings.Split(tt.columns, ", "); !slices.Equal(got, want) {
				t.Fatalf("columns = %v; want %v", got, want)
			}
		})
	}
}

// TestMigrateConcurrently runs Migrate from several connections at once on
// a fresh database, as two ingest processes starting together would.
func TestMigrateConcurrently(t *testing.T) {
	srv := sharedServer(t)
	db := fmt.Sprintf("conc%d", os.Getpid())
	ctx := context.Background()
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		conn, err := Connect(ctx, config.ClickHouse{Addr: srv.Addr, Database: db})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = Migrate(ctx, conn, db)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d = %v", i, err)
		}
	}
	conn, err := Connect(ctx, config.ClickHouse{Addr: srv.Addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if n := count(t, conn, "SELECT uniqExact(version) FROM "+db+".schema_migrations"); n != uint64(len(migrations)) {
		t.Fatalf("distinct migrations = %d; want %d", n, len(migrations))
	}
	if n := count(t, conn, "SELECT count() FROM system.tables WHERE database = ?", db); n != 13 {
		t.Fatalf("tables = %d; want 13 (events, sessions, rejected, schema_migrations, holds, held_events, held_sessions, expired_sessions, retention_log, "+
			"commands, participants, held_commands, held_participants)", n)
	}
}

func TestMigrateRejectsBadDatabaseName(t *testing.T) {
	for _, name := range []string{"", "a-b", "x; DROP TABLE y", "1abc"} {
		if err := Migrate(context.Background(), nil, name); !errorsIs(err, ErrConfig) {
			t.Errorf("Migrate(%q) = %v; want ErrConfig", name, err)
		}
		if _, err := Connect(context.Background(), config.ClickHouse{Database: name}); name != "" && !errorsIs(err, ErrConfig) {
			t.Errorf("Connect(%q) = %v; want ErrConfig", name, err)
		}
	}
}

// TestMigrateAddColumn runs a later migration that adds a column, twice
// and from several connections at once: 18.16 has no ADD COLUMN IF NOT
// EXISTS, so addColumn must make it idempotent itself.
func TestMigrateAddColumn(t *testing.T) {
	srv := sharedServer(t)
	conn, db := newDatabase(t, srv)
	ctx := context.Background()
	list := append(slices.Clone(migrations), migration{version: 99, name: "test column", steps: func(string, features) []step {
		return []step{addColumn{table: "events", column: "extra", typ: "String DEFAULT 'x'"}}
	}})
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		c, err := Connect(ctx, config.ClickHouse{Addr: srv.Addr, Database: db})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = migrate(ctx, c, db, list)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrate #%d = %v", i, err)
		}
	}
	// Recorded or not, applying the step again is harmless.
	if err := (addColumn{table: "events", column: "extra", typ: "String DEFAULT 'x'"}).apply(ctx, conn, db); err != nil {
		t.Fatalf("addColumn again = %v", err)
	}
	if n := count(t, conn, "SELECT count() FROM system.columns WHERE database = ? AND table = 'events' AND name = 'extra'", db); n != 1 {
		t.Fatalf("extra column count = %d; want 1", n)
	}
	// Inserts that do not name the new column keep working.
	in := New(conn, Config{Brokers: []string{"unused:1"}, Database: db})
	b := newBatch(1)
	rec := decode(kafkaMessage(t, &sessionEvents("s", 1, false)[0]), time.Time{})
	b.add(&rec)
	if err := in.insertEvents(ctx, &b.events); err != nil {
		t.Fatalf("insert after the migration: %v", err)
	}
}
