package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Column lists of the copies into the held tables: the same columns as the
// main tables (docs/storage.md), named because readers and writers never
// use SELECT *.
const (
	eventCols   = "session, seq, ts, ts_ns, type, gateway, actor, data, meta, class, retention_days, version, prev_hash, hash"
	sessionCols = "session, version, kind, user, host, login, remote, gateway, started, started_ns, ended_ns, " +
		"exit_status, interrupted, command, bytes_in, bytes_out, approvers, reason, last_seq, last_hash, class, retention_days"
	commandCols = "session, seq, idx, ts, ts_ns, kind, host, user, actor, typists, approximate, blind, line, detail, class, retention_days"
	partCols    = "session, name, role, seq, ts, ts_ns, host, user, kind, class, retention_days"
	logCols     = "at, at_ns, run, action, tbl, class, retention_days, day, session, rows, bytes, detail"
	holdCols    = "session, placed_ns, placed_by, reason, until, class, released_ns, released_by, version"
	holdsTail   = "FROM holds FINAL"
)

// table describes one partitioned table retention applies to.
type table struct {
	name    string // events, sessions, commands or participants
	held    string // its held copy
	timeCol string // the DateTime column of the partition key
	cols    string
}

var tables = []table{
	{name: "events", held: "held_events", timeCol: "ts", cols: eventCols},
	{name: "sessions", held: "held_sessions", timeCol: "started", cols: sessionCols},
	// The search tables (ingest schema version 7) go with their sessions.
	{name: "commands", held: "held_commands", timeCol: "ts", cols: commandCols},
	{name: "participants", held: "held_participants", timeCol: "ts", cols: partCols},
}

// activeHolds is a subquery of the sessions held at the time bound to its
// one parameter (Unix seconds).
// A release counts only when valid (Hold.validRelease): by the hold's
// author, or requested and confirmed by two different auditors.
const activeHolds = "SELECT session FROM holds FINAL WHERE until > toDateTime(?) AND (released_ns = 0 OR NOT (" + validReleaseSQL + "))"

// serverLocation returns the server's time zone, in which toYYYYMMDD
// computes the partition days. An unknown zone falls back to UTC.
func serverLocation(ctx context.Context, conn driver.Conn) (*time.Location, error) {
	var tz string
	if err := conn.QueryRow(ctx, "SELECT timezone()").Scan(&tz); err != nil {
		return nil, fmt.Errorf("retention: server time zone: %w", err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC, nil //nolint:nilerr // no tzdata for the zone: UTC is the documented fallback
	}
	return loc, nil
}

// unixSec clamps t to the DateTime range.
func unixSec(t time.Time) uint32 {
	switch s := t.Unix(); {
	case s < 0:
		return 0
	case s > 1<<32-1:
		return 1<<32 - 1
	default:
		return uint32(s)
	}
}
