// Package searchbench fills a ClickHouse database with generated session
// recordings of realistic shape, for benchmarking `audit search` and
// `audit sessions` at 100M events (issue 12).
//
// The data is made inside ClickHouse with INSERT … SELECT … FROM numbers(…),
// one day per statement group, so that generation is fast (no rows cross
// the network) and resumable: a day is recorded in the generator's own
// table searchbench_days when all its rows are in, and a day found there is
// skipped; a half-generated day is dropped (its partitions) and made again.
//
// The schema is the real one (ingest.Migrate). The generator writes the
// events the gateway would record, then derives the sessions, commands and
// participants rows from those events with the rules ingest applies
// (ingest/sessionrow.go, ingest/searchrows.go), so the derived tables agree
// with the events and the query package reads them as it reads real ones.
//
// Everything is a function of the day number and the session number within
// the day (cityHash64), and the 90 days end at a pinned date (End): two
// generations with the same Config produce the same rows.
package searchbench
