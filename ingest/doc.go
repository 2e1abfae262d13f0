// Package ingest moves session events from Kafka into ClickHouse and owns
// the ClickHouse schema.
//
// Data flow:
//
//	Kafka topic (keyed by session) ──FetchMessage──> decoder goroutine
//	  ──> batch (events columns, one sessions row per session, rejected rows)
//	  ──> INSERT events, INSERT sessions, INSERT rejected (retried until acknowledged)
//	  ──> CommitMessages (highest offset per partition)
//
// Offsets are committed only after ClickHouse acknowledged every insert of
// the batch, so a crash or a ClickHouse outage causes redelivery, never
// loss. Redelivered events are inserted again; the tables are
// ReplacingMergeTree and every reader deduplicates at query time
// (LIMIT 1 BY session, seq for events; FINAL or argMax for sessions).
// A message that does not decode, or whose fields no gateway writes (a
// session id that is not a UUID, oversized names, with Config.Classes a
// class, retention or time no configured class keeps), goes to the
// rejected table, is counted and committed with the rest: garbage never
// stalls the pipeline and is never silently dropped. Events are not signed
// one by one, so the search tables are derived only from events that
// follow their session's hash chain, and only an outage is retried
// forever: a session whose stored content the server refuses derives no
// search rows, and its events are stored regardless.
//
// Usage:
//
//	conn, err := ingest.Connect(ctx, cfg.ClickHouse)
//	...
//	if err := ingest.Migrate(ctx, conn, cfg.ClickHouse.Database); err != nil { ... }
//	in := ingest.New(conn, ingest.FromConfig(cfg, logger))
//	err = in.Run(ctx) // until ctx is done
//
// The schema works on ClickHouse 18.16 (the oldest server we support) and on
// current releases; docs/storage.md describes the tables, the partitioning
// and the migration rules.
package ingest
