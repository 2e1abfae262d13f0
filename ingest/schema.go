package ingest

// migration is one versioned change of the schema. Its steps must be
// idempotent and valid on ClickHouse 18.16 and on current releases: two
// ingest processes may run the same migration at the same time, and a
// migration interrupted half-way is run again whole.
type migration struct {
	version uint32
	name    string
	// steps returns the steps for database db on a server with features f.
	steps func(db string, f features) []step
}

// migrations is the whole schema history, in version order. Append new
// steps; never edit or renumber a released one (docs/storage.md).
var migrations = []migration{
	{version: 1, name: "events", steps: func(db string, _ features) []step {
		return []step{ddlf(`CREATE TABLE IF NOT EXISTS %s.events (
    session String,
    seq UInt64,
    ts DateTime,
    ts_ns Int64,
    type String,
    gateway String,
    actor String,
    data String,
    meta String,
    class String,
    retention_days UInt16,
    version UInt16,
    prev_hash String,
    hash String,
    ingested_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY (retention_days, toYYYYMMDD(ts))
ORDER BY (session, seq)`, db)}
	}},
	{version: 2, name: "sessions", steps: func(db string, _ features) []step {
		return []step{ddlf(`CREATE TABLE IF NOT EXISTS %s.sessions (
    session String,
    version UInt64,
    kind String,
    user String,
    host String,
    login String,
    remote String,
    gateway String,
    started DateTime,
    started_ns Int64,
    ended_ns Int64,
    exit_status Int32,
    interrupted UInt8,
    command String,
    bytes_in UInt64,
    bytes_out UInt64,
    approvers Array(String),
    reason String,
    last_seq UInt64,
    last_hash String,
    class String,
    retention_days UInt16
) ENGINE = ReplacingMergeTree(version)
PARTITION BY (retention_days, toYYYYMMDD(started))
ORDER BY session`, db)}
	}},
	{version: 3, name: "rejected", steps: func(db string, _ features) []step {
		return []step{ddlf(`CREATE TABLE IF NOT EXISTS %s.rejected (
    topic String,
    partition Int32,
    offset Int64,
    error String,
    raw String,
    at DateTime
) ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (topic, partition, offset)`, db)}
	}},
	{version: 4, name: "retention and holds", steps: func(db string, _ features) []step {
		return []step{
			// One row per hold and change; the highest version is current.
			ddlf(`CREATE TABLE IF NOT EXISTS %s.holds (
    session String,
    placed_ns Int64,
    placed_by String,
    reason String,
    until DateTime,
    class String,
    released_ns Int64,
    released_by String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (session, placed_ns)`, db),
			// Copies of held sessions, made by the retention job before it
			// drops their partitions; one partition per session, dropped
			// when the hold ends.
			ddlf(`CREATE TABLE IF NOT EXISTS %s.held_events (
    session String,
    seq UInt64,
    ts DateTime,
    ts_ns Int64,
    type String,
    gateway String,
    actor String,
    data String,
    meta String,
    class String,
    retention_days UInt16,
    version UInt16,
    prev_hash String,
    hash String,
    ingested_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY session
ORDER BY (session, seq)`, db),
			ddlf(`CREATE TABLE IF NOT EXISTS %s.held_sessions (
    session String,
    version UInt64,
    kind String,
    user String,
    host String,
    login String,
    remote String,
    gateway String,
    started DateTime,
    started_ns Int64,
    ended_ns Int64,
    exit_status Int32,
    interrupted UInt8,
    command String,
    bytes_in UInt64,
    bytes_out UInt64,
    approvers Array(String),
    reason String,
    last_seq UInt64,
    last_hash String,
    class String,
    retention_days UInt16
) ENGINE = ReplacingMergeTree(version)
PARTITION BY session
ORDER BY session`, db),
			// Sessions removed by retention, so that a lookup answers
			// "expired on DATE by class X" rather than "not found".
			ddlf(`CREATE TABLE IF NOT EXISTS %s.expired_sessions (
    session String,
    class String,
    retention_days UInt16,
    expired_at DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(expired_at)
ORDER BY session`, db),
			// Every drop and every expired held copy: the proof that
			// retention ran.
			ddlf(`CREATE TABLE IF NOT EXISTS %s.retention_log (
    at DateTime,
    at_ns Int64,
    run String,
    action String,
    tbl String,
    class String,
    retention_days UInt16,
    day UInt32,
    session String,
    rows UInt64,
    bytes UInt64,
    detail String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY at_ns`, db),
		}
	}},
	{version: 5, name: "retention ttl backstop", steps: func(db string, f features) []step {
		if !f.TTL {
			return nil // 18.16: the retention job alone enforces retention
		}
		// Two days after the job would have dropped the partition: the
		// job (which keeps held sessions) always goes first.
		return []step{
			ddlf(`ALTER TABLE %s.events MODIFY TTL ts + toIntervalDay(retention_days + 2)`, db),
			ddlf(`ALTER TABLE %s.sessions MODIFY TTL started + toIntervalDay(retention_days + 2)`, db),
		}
	}},
	{version: 6, name: "signed retention log", steps: func(string, features) []step {
		// Each retention_log row is chained per signing key and signed by
		// the retention job (ingest/retention/logchain.go). Rows written
		// before keep the defaults: key '' means "not signed".
		return []step{
			addColumn{table: "retention_log", column: "seq", typ: "UInt64 DEFAULT 0"},
			addColumn{table: "retention_log", column: "prev_hash", typ: "String DEFAULT ''"},
			addColumn{table: "retention_log", column: "hash", typ: "String DEFAULT ''"},
			addColumn{table: "retention_log", column: "key", typ: "String DEFAULT ''"},
			addColumn{table: "retention_log", column: "sig", typ: "String DEFAULT ''"},
		}
	}},
	{version: 7, name: "search tables", steps: func(db string, f features) []step {
		steps := []step{
			// One row per command reconstructed at ingest (cmdline): a
			// typed line, an exec command, a file transfer or operation.
			// The key (session, seq, idx) names a row; host and ts lead
			// the order for the host and time filters and depend only on
			// it, so redelivered rows collapse. Partitioned like events:
			// retention drops a day of commands with its events.
			ddlf(`CREATE TABLE IF NOT EXISTS %s.commands (`+commandsColumnsDDL+`
) ENGINE = ReplacingMergeTree
PARTITION BY (retention_days, toYYYYMMDD(ts))
ORDER BY (host, ts, session, seq, idx)`, db),
			// One row per (session, name, role): who started, approved,
			// denied, viewed, joined, typed in or terminated a session,
			// at their first such event.
			ddlf(`CREATE TABLE IF NOT EXISTS %s.participants (`+participantsColumnsDDL+`
) ENGINE = ReplacingMergeTree
PARTITION BY (retention_days, toYYYYMMDD(ts))
ORDER BY (name, role, session)`, db),
			// The held copies, like held_events: one partition per session.
			ddlf(`CREATE TABLE IF NOT EXISTS %s.held_commands (`+commandsColumnsDDL+`
) ENGINE = ReplacingMergeTree
PARTITION BY session
ORDER BY (host, ts, session, seq, idx)`, db),
			ddlf(`CREATE TABLE IF NOT EXISTS %s.held_participants (`+participantsColumnsDDL+`
) ENGINE = ReplacingMergeTree
PARTITION BY session
ORDER BY (name, role, session)`, db),
		}
		if f.TTL {
			steps = append(steps,
				ddlf(`ALTER TABLE %s.commands MODIFY TTL ts + toIntervalDay(retention_days + 2)`, db),
				ddlf(`ALTER TABLE %s.participants MODIFY TTL ts + toIntervalDay(retention_days + 2)`, db))
		}
		return steps
	}},
	{version: 8, name: "normalized command lines", steps: func(string, features) []step {
		// norm is what a command search compares: the line lower-cased,
		// without shell quotes and backslashes, blanks collapsed. The
		// server computes it at insert (MATERIALIZED: no INSERT names it,
		// so every writer keeps working), and search is then one
		// substring test instead of two regular expressions per row.
		return []step{
			addColumn{table: "commands", column: "norm", typ: "String MATERIALIZED " + normExpr},
			addColumn{table: "held_commands", column: "norm", typ: "String MATERIALIZED " + normExpr},
		}
	}},
	{version: 9, name: "event data lengths", steps: func(string, features) []step {
		// data_len lets a reader plan its pages of a session without
		// reading the data: bulk output comes in events of up to 256 KiB,
		// and summing length(data) over a window of 8192 of them read
		// 2 GiB at once. Computed at insert (MATERIALIZED); rows stored
		// before the migration compute it when read.
		return []step{
			addColumn{table: "events", column: "data_len", typ: "UInt64 MATERIALIZED length(data)"},
			addColumn{table: "held_events", column: "data_len", typ: "UInt64 MATERIALIZED length(data)"},
		}
	}},
}

// normExpr computes commands.norm from line (query.normText does the same
// to the search text).
const normExpr = `lowerUTF8(replaceRegexpAll(replaceRegexpAll(line, '[\'"\\\\]', ''), '\\s+', ' '))`

// commandsColumnsDDL and participantsColumnsDDL are the columns of the
// search tables and their held copies (docs/storage.md).
const (
	commandsColumnsDDL = `
    session String,
    seq UInt64,
    idx UInt32,
    ts DateTime,
    ts_ns Int64,
    kind String,
    host String,
    user String,
    actor String,
    typists Array(String),
    approximate UInt8,
    blind UInt32,
    line String,
    detail String,
    class String,
    retention_days UInt16,
    ingested_at DateTime DEFAULT now()`
	participantsColumnsDDL = `
    session String,
    name String,
    role String,
    seq UInt64,
    ts DateTime,
    ts_ns Int64,
    host String,
    user String,
    kind String,
    class String,
    retention_days UInt16,
    ingested_at DateTime DEFAULT now()`
)

// schemaMigrationsDDL creates the table that records applied migrations.
// MergeTree rather than TinyLog: two processes may insert at once.
func schemaMigrationsDDL(db string) ddl {
	return ddlf(`CREATE TABLE IF NOT EXISTS %s.schema_migrations (
    version UInt32,
    name String,
    applied_at DateTime
) ENGINE = MergeTree
ORDER BY version`, db)
}

// Column lists of the INSERT statements. clickhouse-go needs them
// explicitly against 18.16, and they keep old binaries working after a
// newer migration added columns with defaults.
const (
	eventColumns   = "session, seq, ts, ts_ns, type, gateway, actor, data, meta, class, retention_days, version, prev_hash, hash"
	sessionColumns = "session, version, kind, user, host, login, remote, gateway, started, started_ns, ended_ns, " +
		"exit_status, interrupted, command, bytes_in, bytes_out, approvers, reason, last_seq, last_hash, class, retention_days"
	rejectedColumns    = "topic, partition, offset, error, raw, at"
	commandColumns     = "session, seq, idx, ts, ts_ns, kind, host, user, actor, typists, approximate, blind, line, detail, class, retention_days"
	participantColumns = "session, name, role, seq, ts, ts_ns, host, user, kind, class, retention_days"
)
