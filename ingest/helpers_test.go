package ingest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/broker"
	"github.com/foureyes/foureyes/internal/chserver"
	"github.com/google/uuid"
)

// shared is the ClickHouse server most tests use, each in a database of
// its own.
var shared chserver.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// sharedServer returns the shared server; without clickhouse-server it
// skips the test, except under CI=true where it fails.
func sharedServer(tb testing.TB) *chserver.Server {
	tb.Helper()
	return shared.Server(tb)
}

// testLogger writes to the test log at warn level and above (debug with
// INGEST_TEST_DEBUG=1).
func testLogger(tb testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("INGEST_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: level}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}

// newDatabase connects to srv, creates a fresh database and migrates it.
func newDatabase(tb testing.TB, srv *chserver.Server) (driver.Conn, string) {
	tb.Helper()
	db := shared.DatabaseName("t")
	ctx := context.Background()
	conn, err := Connect(ctx, config.ClickHouse{Addr: srv.Addr, Database: db})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	if err := Migrate(ctx, conn, db); err != nil {
		tb.Fatal(err)
	}
	return conn, db
}

// startBroker starts a kfake broker with a topic of the given partitions.
func startBroker(tb testing.TB, topic string, partitions int) string {
	tb.Helper()
	b, err := broker.Start("127.0.0.1:0", tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := kafka.DialContext(ctx, "tcp", b.Addr())
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if err := c.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}); err != nil {
		tb.Fatal(err)
	}
	return b.Addr()
}

// produce writes the values to topic, keyed by key(i).
func produce(tb testing.TB, addr, topic string, keys []string, values [][]byte) {
	tb.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.Murmur2Balancer{}, BatchTimeout: time.Millisecond, BatchSize: 10000}
	defer w.Close()
	msgs := make([]kafka.Message, len(values))
	for i := range values {
		msgs[i] = kafka.Message{Key: []byte(keys[i]), Value: values[i]}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(msgs) > 0 {
		n := min(len(msgs), 50000)
		if err := w.WriteMessages(ctx, msgs[:n]...); err != nil {
			var we kafka.WriteErrors
			if errors.As(err, &we) {
				tb.Fatalf("produce: %d of %d failed, first: %v", we.Count(), len(we), firstErr(we))
			}
			tb.Fatal(err)
		}
		msgs = msgs[n:]
	}
}

// produceEvents marshals and writes evs keyed by session id.
func produceEvents(tb testing.TB, addr, topic string, evs []event.Event) {
	tb.Helper()
	keys := make([]string, len(evs))
	values := make([][]byte, len(evs))
	for i := range evs {
		b, err := event.Marshal(&evs[i])
		if err != nil {
			tb.Fatal(err)
		}
		keys[i], values[i] = evs[i].Session, b
	}
	produce(tb, addr, topic, keys, values)
}

// sid returns the session id tests name name: a UUID made from it
// (ingest rejects ids of any other form), or name if it is one.
func sid(name string) string {
	if isSessionID(name) {
		return name
	}
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(name)).String()
}

// baseTime is a fixed event time: tests never depend on the wall clock.
var baseTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC).UnixNano()

// sessionEvents returns a sealed stream: session.start, n-2 output, input
// and resize events, and session.end when closed.
func sessionEvents(id string, n int, closed bool) []event.Event {
	id = sid(id)
	var c event.Chain
	evs := make([]event.Event, 0, n)
	add := func(e event.Event) {
		e.V, e.Session, e.Gateway, e.Class, e.Retention = event.Version, id, "gw1", "production", 90
		e.Time = baseTime + int64(len(evs))*int64(time.Millisecond)
		c.Seal(&e)
		evs = append(evs, e)
	}
	add(event.Event{Type: event.SessionStart, Meta: map[string]string{
		"user": "alice", "host": "db1", "login": "root", "remote": "10.0.0.7:50123", "kind": "shell", "term": "xterm"}})
	body := n - 1
	if closed {
		body--
	}
	for i := 0; i < body; i++ {
		switch i % 10 {
		case 3:
			add(event.Event{Type: event.Input, Actor: "alice", Data: []byte("ls -l\r")})
		case 7:
			add(event.Event{Type: event.Resize, Meta: map[string]string{"cols": "120", "rows": strconv.Itoa(40 + i)}})
		default:
			data := make([]byte, 200)
			for j := range data {
				data[j] = byte(i + j) // every byte value, escapes included
			}
			add(event.Event{Type: event.Output, Data: data})
		}
	}
	if closed {
		add(event.Event{Type: event.SessionEnd, Meta: map[string]string{
			"user": "alice", "host": "db1", "login": "root", "remote": "10.0.0.7:50123", "kind": "shell",
			"started_ns": strconv.FormatInt(evs[0].Time, 10), "exit_status": "3", "bytes_in": "6", "bytes_out": "1800",
			"duration_ms": "12", "approvers": "bob, dave", "reason": "ticket 42"}})
	}
	return evs
}

// runner runs an Ingester until stopped.
type runner struct {
	in     *Ingester
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startIngester runs in and stops it when the test ends.
func startIngester(tb testing.TB, in *Ingester) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{in: in, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(ctx) }()
	tb.Cleanup(func() { r.stop(tb) })
	return r
}

// stop cancels Run and checks that it returned nil.
func (r *runner) stop(tb testing.TB) {
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				tb.Errorf("Run = %v; want nil", err)
			}
		case <-time.After(60 * time.Second):
			tb.Errorf("Run did not return 60s after cancel")
		}
	})
}

// waitFor polls cond until it holds, failing the test after timeout. The
// timeout bounds a hang; it asserts nothing about speed.
func waitFor(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// count runs a SELECT count() style query returning one UInt64.
func count(tb testing.TB, conn driver.Conn, query string, args ...any) uint64 {
	tb.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// committed returns the group's committed offsets summed over partitions
// (-1 offsets, meaning none, count as 0).
func committed(tb testing.TB, addr, group, topic string, partitions int) int64 {
	tb.Helper()
	ps := make([]int, partitions)
	for i := range ps {
		ps[i] = i
	}
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	resp, err := c.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ps}})
	if err != nil {
		tb.Fatal(err)
	}
	if errors.Is(resp.Error, kafka.GroupIdNotFound) {
		return 0
	}
	if resp.Error != nil {
		tb.Fatal(resp.Error)
	}
	var sum int64
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			tb.Fatal(p.Error)
		}
		if p.CommittedOffset > 0 {
			sum += p.CommittedOffset
		}
	}
	return sum
}

// readEvents reads the deduplicated events of a session back.
func readEvents(tb testing.TB, conn driver.Conn, db, session string) []event.Event {
	tb.Helper()
	rows, err := conn.Query(context.Background(), `SELECT seq, ts_ns, type, gateway, actor, data, meta, class, retention_days, version, prev_hash, hash
		FROM `+db+`.events WHERE session = ? ORDER BY seq LIMIT 1 BY session, seq`, session)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var evs []event.Event
	for rows.Next() {
		e := event.Event{Session: session}
		var typ, meta, prev, hash string
		if err := rows.Scan(&e.Seq, &e.Time, &typ, &e.Gateway, &e.Actor, &e.Data, &meta, &e.Class, &e.Retention, &e.V, &prev, &hash); err != nil {
			tb.Fatal(err)
		}
		e.Type = event.Type(typ)
		if e.Meta, err = event.ParseMeta(meta); err != nil {
			tb.Fatal(err)
		}
		if e.Prev, err = event.ParseStoredHash(prev); err != nil {
			tb.Fatal(err)
		}
		if e.Hash, err = event.ParseStoredHash(hash); err != nil {
			tb.Fatal(err)
		}
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return evs
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
