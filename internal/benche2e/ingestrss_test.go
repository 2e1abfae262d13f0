package benche2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/ingest"
	"github.com/foureyes/foureyes/internal/chserver"
)

// BenchmarkIngestRSS measures a `foureyes ingest` process of its own
// draining b.N events that are already in the broker (1000 sessions,
// 200-byte output events, as BenchmarkIngest in ingest/): its peak RSS
// (VmHWM, what issue 11 bounds at 300 MB) and its CPU per event. GOGC or
// GOMEMLIMIT in the environment reach the child and replace the
// collector settings the ingest command makes; INGESTRSS_BATCH_BYTES sets
// the ingest's batch_bytes.
//
//	go test -run '^$' -bench IngestRSS -benchtime 1000000x ./internal/benche2e/
func BenchmarkIngestRSS(b *testing.B) {
	dir := b.TempDir()
	ch, err := chserver.Start(context.Background(), filepath.Join(dir, "clickhouse"), chserver.Options{})
	if errors.Is(err, chserver.ErrNotInstalled) && os.Getenv("CI") != "true" {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ch.Stop() })
	broker := freeAddr(b)
	startChild(b, dir, "broker", "broker", "--data", filepath.Join(dir, "kafka"), "--addr", broker)
	waitDial(b, "broker", broker, nil, filepath.Join(dir, "broker.log"))
	const topic = "bench.events"
	c := &kafka.Client{Addr: kafka.TCP(broker), Timeout: 10 * time.Second}
	if _, err := c.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: topic, NumPartitions: 6, ReplicationFactor: 1}}}); err != nil {
		b.Fatal(err)
	}
	produceBench(b, broker, topic, b.N)

	cfg := filepath.Join(dir, "ingest.yaml")
	yaml := fmt.Sprintf("kafka:\n  brokers: [%q]\n  topic: %s\n  partitions: 6\nclickhouse:\n  addr: %s\n  database: foureyes\nretention:\n  classes: {logs: 3d}\n",
		broker, topic, ch.Addr)
	if n := os.Getenv("INGESTRSS_BATCH_BYTES"); n != "" {
		yaml += "ingest:\n  batch_bytes: " + n + "\n"
	}
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		b.Fatal(err)
	}
	db, err := ingest.Connect(context.Background(), config.ClickHouse{Addr: ch.Addr, Database: "default"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })

	b.ResetTimer()
	start := time.Now()
	pid := startChild(b, dir, "ingest", "ingest", "--config", cfg, "--log-level", "warn")
	for {
		var n uint64
		err := db.QueryRow(context.Background(), "SELECT count() FROM foureyes.events").Scan(&n)
		if err == nil && n >= uint64(b.N) {
			break
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("ingest did not store %d events in 10 minutes (%d, %v); see %s", b.N, n, err, filepath.Join(dir, "ingest.log"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(statusKiB(b, status, "VmHWM"))/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(statusKiB(b, status, "VmRSS"))/1024, "end-RSS-MiB")
	b.ReportMetric(float64(pidCPU(b, pid).Nanoseconds())/float64(b.N), "ingest-cpu-ns/event")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// produceBench writes n sealed events: 1000 sessions, each a
// session.start and then 200-byte output with 1% command input.
func produceBench(tb testing.TB, addr, topic string, n int) {
	tb.Helper()
	const sessions = 1000
	chains := make([]event.Chain, sessions)
	data := []byte(strings.Repeat("abcdefghijklmnopqrstuvwxyz", 8)[:200])
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.Murmur2Balancer{}, BatchTimeout: time.Millisecond, BatchSize: 10000}
	defer w.Close()
	msgs := make([]kafka.Message, 0, 50000)
	flush := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			tb.Fatal(err)
		}
		msgs = msgs[:0]
	}
	for i := 0; i < n; i++ {
		s := i % sessions
		e := event.Event{V: event.Version, Session: fmt.Sprintf("0b0f6a8e-1c1e-4a57-9d53-%012d", s), Time: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC).UnixNano() + int64(i),
			Type: event.Output, Gateway: "gw1", Data: data, Class: "logs", Retention: 3}
		switch {
		case i < sessions:
			e.Type, e.Data, e.Actor = event.SessionStart, nil, "alice"
			e.Meta = map[string]string{"user": "alice", "host": "db" + strconv.Itoa(s%50), "kind": "shell"}
		case i%100 == 0:
			e.Type, e.Data, e.Actor = event.Input, []byte("ls -la /var/log/postgresql\r"), "alice"
		}
		chains[s].Seal(&e)
		v, err := event.Marshal(&e)
		if err != nil {
			tb.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(e.Session), Value: v})
		if len(msgs) == cap(msgs) {
			flush()
		}
	}
	if len(msgs) > 0 {
		flush()
	}
}

// statusKiB returns a "Name: N kB" field of /proc/PID/status.
func statusKiB(tb testing.TB, status []byte, name string) int64 {
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatalf("no %s in /proc status", name)
	return 0
}

// pidCPU returns the user+system CPU time of pid.
func pidCPU(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
