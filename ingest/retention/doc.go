// Package retention enforces the retention classes on the ClickHouse store
// and keeps the auditors' holds.
//
// Every event and session summary carries its class' retention in days,
// and the events and sessions tables are partitioned by
// (retention_days, day). A partition is therefore one day of one class,
// and retention is enforced by dropping whole partitions — cheap, exact
// and available on every server version (ClickHouse 18.16 has no TTL).
//
// The data of day D in a class of N days is dropped at the start of day
// D+N+1 (server time zone): every row is kept at least N days and at most
// N+1 days plus the job's interval.
//
// A run of the Job:
//
//	Plan:  system.parts ──> partitions past their class (Drop)
//	       holds ─────────> held copies whose hold ended (Release)
//	Apply: for each Drop: copy the rows of held sessions to held_events /
//	       held_sessions, record the other sessions in expired_sessions,
//	       ALTER TABLE … DROP PARTITION (days, YYYYMMDD), log it in
//	       retention_log; then drop the held copies of ended holds.
//
// Holds (PlaceHold, ReleaseHolds, ListHolds) keep a session beyond its
// class by up to a configured maximum (retention.max_hold, default 14
// days). A hold needs a reason; who placed it, when, why and until when are
// recorded, and so is who released it. Readers (package query) union the
// held tables with the main ones and deduplicate.
//
// Status answers "what does retention look like now": per class the
// oldest data present and the next drop, the active holds and the last
// run. docs/retention.md describes the whole design, including Kafka and
// the gateway's spool.
package retention
