// Package chaos is the fault-injection suite of foureyes: it checks that the
// recording pipeline
//
//	ssh client ─> gateway ─> spool ─> Kafka ─> ingest ─> ClickHouse ─> query
//
// loses no event and shows none twice while its parts fail. The package
// holds only tests and benchmarks; this file documents them.
//
// # Real processes
//
// Every scenario runs its own stack of real processes, started by the test
// and killed when it ends (Pdeathsig on Linux, and t.Cleanup):
//
//   - the foureyes binary, built once per test run with `go build` from
//     ./cmd/foureyes into a temporary directory;
//   - `foureyes broker --data DIR --addr 127.0.0.1:PORT` (kfake), which keeps
//     topics, records and committed offsets across restarts;
//   - clickhouse-server (internal/chserver), restarted on the same directory
//     and ports;
//   - one or two `foureyes gateway --config F` and `foureyes ingest --config F`
//     processes, with configurations written by the test;
//   - the upstream host: an in-process sshtarget in the test process;
//   - the clients: the real OpenSSH `ssh`, running exec commands (a bulk
//     `seq 1 N`, or a paced loop printing a line every 10ms until the test
//     creates a stop file) and interactive sessions in a pty that type a line
//     every 50ms.
//
// Each child's output goes to a log file in the test's temporary directory;
// the tail of every log is printed when a test fails.
//
// # What every scenario asserts
//
// After the fault, the test stops the gateways (so that every stream, the
// gateways' own included, has its session.end) and polls ClickHouse until the
// pipeline has converged, then checks, for every stream in the events table:
//
//   - the number of distinct seqs equals the session.end's seq + 1, from seq
//     0 with no gap, and there is exactly one session.end (raw duplicate rows
//     from redelivery are allowed in storage and counted in the log);
//   - query.Store.Events returns each seq exactly once, in order, ending with
//     the session.end;
//   - query.Store.Verify reports OK, closed, with a summary row and no
//     conflicting copies;
//   - query.Store.Sessions lists the stream exactly once, closed, with the
//     same last seq.
//
// And for the scripted sessions: each one is recorded exactly once (found by
// the tag in its command or typed input); an exec session that completed
// normally has exit status 0 and its recorded output equals, byte for byte,
// what the ssh client printed; a session cut by a fault has a session.end
// marked interrupted, and one of the recorded and the received output is a
// prefix of the other. The number of "gateway" streams equals the number of
// gateway process starts.
//
// # Scenarios (subtests of TestChaos)
//
//   - kafka-down: the broker is stopped (SIGTERM) for CHAOS_OUTAGE during
//     active sessions; sessions started during the outage complete; the
//     broker restarts on the same port and data directory.
//   - clickhouse-down: clickhouse-server is stopped for CHAOS_OUTAGE during
//     active sessions; ingest retries; the server restarts on the same
//     directory and ports.
//   - gateway-kill: the gateway is SIGKILLed mid-session and restarted on the
//     same data directory; each cut session (and the old gateway stream) has
//     a synthesized session.end with interrupted=true and last_durable_seq =
//     its seq - 1; a session through the restarted gateway is exact.
//   - ingest-kill: ingest is stopped, a backlog of about 18,000 events is
//     published (small chunks), ingest is started with small batches and
//     SIGKILLed as soon as its first rows are visible (mid-backlog, between
//     inserts and commits), then restarted.
//   - ingest-failover: two ingest processes share the consumer group (both
//     hold partitions); one is SIGKILLed under load; the other takes its
//     partitions once the group session times out.
//   - spool-limit: gateway.spool_max_bytes is 1 MiB and the broker is down;
//     a session printing more than that is terminated with "recording
//     failed"; after the broker returns, everything recorded, including the
//     session.end marked interrupted, arrives and verifies.
//   - spool-limit-best-effort: the same on a host whose recording policy is
//     best_effort: the session delivers every byte and exits 0, the user is
//     told it is no longer recorded, and a recording.failed event (state
//     ended, bytes_out_lost counted) arrives with everything recorded.
//   - two-gateways: two gateway processes publish to one topic; sessions
//     through both arrive and verify, each attributed to its gateway.
//
// CHAOS_OUTAGE (a Go duration) sets how long each outage lasts: 5s by
// default (`make test`), 60s for `make chaos`. Waits are polls with
// deadlines; no sleep is an assertion.
//
// # Benchmarks
//
//   - BenchmarkBacklogDrain: steady session load with the broker down for
//     CHAOS_OUTAGE (default 10s here); reports the seconds from the broker's
//     restart until every event is queryable, and the drain rate in events/s.
//   - BenchmarkIngestInstances/ingests=1 and =2: a topic pre-filled with
//     500k events by the recorder package is drained into ClickHouse by one
//     or two ingest processes; reports events/s.
package chaos
