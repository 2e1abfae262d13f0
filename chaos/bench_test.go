package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/chserver"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
	gossh "golang.org/x/crypto/ssh"
)

// BenchmarkBacklogDrain puts a steady session load on a gateway while the
// broker is down for CHAOS_OUTAGE (default 10s), ends the sessions, restarts
// the broker and measures the time until every event is queryable (the
// op). It reports the backlog, the stall (restart until the first backlog
// event is stored: reconnects and the consumer group's rejoin) and the
// drain rate after the stall.
func BenchmarkBacklogDrain(b *testing.B) {
	d := outage(b, benchOutage)
	var drained float64
	var elapsed, stalled time.Duration
	for range b.N {
		b.StopTimer()
		s := newStack(b, stackOptions{chunkBytes: 256, outage: d})
		g := s.gateways[0]
		l := s.newLoad()
		for range 4 {
			l.paced(g)
		}
		for range 2 {
			l.typist(g)
		}
		l.waitOutput(200)
		s.stopBroker()
		for range 4 {
			l.bulk(g, 100000)
		}
		hold(b, "Kafka down", d)
		l.finish()
		base := s.count()

		s.startBroker()
		start := time.Now()
		var first time.Time
		b.StartTimer()
		waitFor(b, "backlog drained", s.opt.convergeTimeout(), func() (bool, string) {
			if first.IsZero() {
				ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
				n, err := s.db.count(ctx)
				cancel()
				if err == nil && n > base {
					first = time.Now()
				}
			}
			return s.settled(true)
		})
		b.StopTimer()
		elapsed += time.Since(start)
		stalled += first.Sub(start)
		drained += float64(s.count() - base)
	}
	b.ReportMetric(drained/float64(b.N), "backlog-events")
	b.ReportMetric(stalled.Seconds()/float64(b.N), "stall-s")
	// The polls see the drain with pollInterval resolution.
	b.ReportMetric(drained/max(elapsed-stalled, pollInterval).Seconds(), "events/s")
}

// ingestBenchEvents is the size of BenchmarkIngestInstances' topic.
const ingestBenchEvents = 500000

// BenchmarkIngestInstances drains a topic pre-filled with 500k events into
// ClickHouse with one and with two ingest processes in one group. Each run
// uses a new database and consumer group; the op is from starting the
// processes until every event is stored. events/s counts the whole op;
// steady-events/s starts at the first stored row (after connecting,
// migrating and joining the group).
func BenchmarkIngestInstances(b *testing.B) {
	env := newIngestBench(b)
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("ingests=%d", n), func(b *testing.B) {
			var total, steady time.Duration
			for range b.N {
				b.StopTimer()
				env.runs++
				name := fmt.Sprintf("bench%d", env.runs)
				cfg := env.config(b, name)
				db := &database{addr: env.ch.Addr, name: name}
				b.Cleanup(db.close)
				b.StartTimer()
				start := time.Now()
				var procs []*child
				for i := range n {
					procs = append(procs, startChild(b, fmt.Sprintf("ingest-%d", i+1), env.logPath(fmt.Sprintf("%s-ingest-%d.log", name, i+1)),
						"ingest", "--config", cfg, "--log-level", "warn"))
				}
				var first time.Time
				waitFor(b, "topic drained", 10*time.Minute, func() (bool, string) {
					ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
					defer cancel()
					rows, err := db.rows(ctx)
					if err != nil {
						return false, err.Error()
					}
					if rows > 0 && first.IsZero() {
						first = time.Now()
					}
					if rows < ingestBenchEvents {
						return false, fmt.Sprintf("%d rows", rows)
					}
					n, err := db.count(ctx)
					return err == nil && n == ingestBenchEvents, fmt.Sprintf("%d distinct events (%v)", n, err)
				})
				b.StopTimer()
				total += time.Since(start)
				steady += time.Since(first)
				for _, c := range procs {
					c.stop(b)
				}
			}
			b.ReportMetric(float64(b.N*ingestBenchEvents)/total.Seconds(), "events/s")
			b.ReportMetric(float64(b.N*ingestBenchEvents)/steady.Seconds(), "steady-events/s")
		})
	}
}

// ingestBench is the shared state of BenchmarkIngestInstances: a
// ClickHouse server and a broker whose topic holds ingestBenchEvents.
type ingestBench struct {
	dir    string
	ch     *chserver.Server
	broker string
	vals   configValues
	runs   int
	logs   []string
}

// newIngestBench starts ClickHouse and the broker and fills the topic
// through the recorder package: 100 sessions of 5000 events (a start,
// 4998 output chunks of 256 bytes, an end).
func newIngestBench(b *testing.B) *ingestBench {
	b.Helper()
	e := &ingestBench{dir: b.TempDir()}
	b.Cleanup(func() {
		if b.Failed() {
			for _, p := range e.logs {
				b.Logf("--- %s (last 40 lines) ---\n%s", p, tail(p, 40))
			}
		}
	})
	e.ch = startClickHouse(b, filepath.Join(e.dir, "clickhouse"), 0, 0)
	b.Cleanup(func() { e.ch.Stop() })
	e.broker = freeAddr(b)
	br := startChild(b, "broker", e.logPath("broker.log"), "broker", "--data", filepath.Join(e.dir, "kafka"), "--addr", e.broker)
	waitListening(b, br, e.broker)

	_, alice := sshtest.Keygen(b, e.dir, "alice")
	_, host := sshtest.Keygen(b, e.dir, "host")
	e.vals = configValues{
		GatewayID: "unused", Listen: "127.0.0.1:1", DataDir: e.dir, ChunkBytes: 256,
		Broker: e.broker, Partitions: 6, ClickHouse: e.ch.Addr, BatchRows: 100000,
		AliceKey:  strings.TrimSpace(string(gossh.MarshalAuthorizedKey(alice))),
		Target:    "127.0.0.1:1",
		TargetKey: strings.TrimSpace(string(gossh.MarshalAuthorizedKey(host))),
	}
	start := time.Now()
	prefill(b, filepath.Join(e.dir, "spool"), e.broker)
	b.Logf("pre-filled %s with %d events in %v", topic, ingestBenchEvents, time.Since(start).Round(time.Millisecond))
	return e
}

// logPath names a log file of the benchmark.
func (e *ingestBench) logPath(name string) string {
	p := filepath.Join(e.dir, name)
	e.logs = append(e.logs, p)
	return p
}

// config writes the configuration of one run: database and group name.
func (e *ingestBench) config(tb testing.TB, name string) string {
	v := e.vals
	v.Database, v.Group = name, name
	p := filepath.Join(e.dir, name+".yaml")
	writeConfig(tb, p, v)
	return p
}

// prefill publishes ingestBenchEvents events to the broker with a recorder
// and waits until Kafka acknowledged all of them.
func prefill(tb testing.TB, spool, broker string) {
	tb.Helper()
	const sessions = 100
	rec, err := recorder.New(recorder.Config{
		Gateway: "bench", SpoolDir: spool, SpoolMaxBytes: 4 << 30, ChunkBytes: 256,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	defer rec.Close()
	ctx, cancel := context.WithCancel(context.Background())
	published := make(chan error, 1)
	go func() {
		published <- rec.Publish(ctx, recorder.PublisherConfig{Brokers: []string{broker}, Topic: topic, Partitions: 6})
	}()
	defer func() {
		cancel()
		if err := <-published; err != nil {
			tb.Errorf("publish: %v", err)
		}
	}()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 16)
	chunk[255] = '\n'
	for i := range sessions {
		s, err := rec.Start(recorder.StartInfo{Kind: "exec", User: "alice", Host: "demo", Command: fmt.Sprintf("bench %d", i), Class: "logs", Retention: 3})
		if err != nil {
			tb.Fatal(err)
		}
		for range ingestBenchEvents/sessions - 2 {
			s.Output(chunk) // exactly ChunkBytes: one event per call
		}
		if err := s.End(0, nil); err != nil {
			tb.Fatal(err)
		}
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer dcancel()
	if err := rec.Drain(dctx); err != nil {
		tb.Fatalf("drain the pre-fill to Kafka: %v", err)
	}
}
