package ingest

import (
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/chserver"
)

// TestClickHouseOutage kills ClickHouse under a running ingester twice:
// once it comes back while the ingester keeps retrying, once the ingester
// itself is stopped meanwhile and a new one takes over. Offsets never move
// while ClickHouse is down, and every event arrives exactly once after
// deduplication.
func TestClickHouseOutage(t *testing.T) {
	srv := chserver.StartForTest(t)
	conn, db := newDatabase(t, srv)
	const partitions = 3
	addr := startBroker(t, testTopic, partitions)
	cfg := Config{Brokers: []string{addr}, Topic: testTopic, Group: "outage", BatchRows: 200,
		BatchInterval: 20 * time.Millisecond, Database: db, Logger: testLogger(t)}
	newIngester := func() *Ingester {
		in := New(conn, cfg)
		in.backoffMin, in.backoffMax = 20*time.Millisecond, 200*time.Millisecond
		in.shutdownTimeout = time.Second
		return in
	}
	distinct := func() uint64 { return storedEvents(conn, db) }

	a, _ := workload("a", 5, 0, 40)
	b, _ := workload("b", 5, 0, 40)
	c, _ := workload("c", 5, 0, 40)
	produceEvents(t, addr, testTopic, a)
	in := newIngester()
	r := startIngester(t, in)
	waitFor(t, "batch A committed", 60*time.Second, func() bool { return committed(t, addr, cfg.Group, testTopic, partitions) == int64(len(a)) })

	// Outage 1: the ingester retries until the server is back.
	srv.Kill()
	produceEvents(t, addr, testTopic, b)
	waitFor(t, "batch B fetched and failing", 60*time.Second, func() bool {
		s := in.Stats()
		return s.Fetched >= uint64(len(a)+len(b)) && s.InsertErrors >= 2
	})
	if got := committed(t, addr, cfg.Group, testTopic, partitions); got != int64(len(a)) {
		t.Fatalf("committed %d while ClickHouse was down; want %d", got, len(a))
	}
	srv = restartClickHouse(t, srv)
	waitFor(t, "batch B inserted after restart", 60*time.Second, func() bool { return distinct() == uint64(len(a)+len(b)) })
	waitFor(t, "batch B committed", 30*time.Second, func() bool {
		return committed(t, addr, cfg.Group, testTopic, partitions) == int64(len(a)+len(b))
	})

	// Outage 2: the ingester stops while the server is down; its successor
	// gets the uncommitted messages again.
	srv.Kill()
	produceEvents(t, addr, testTopic, c)
	waitFor(t, "batch C fetched and failing", 60*time.Second, func() bool {
		s := in.Stats()
		return s.Fetched >= uint64(len(a)+len(b)+len(c)) && s.InsertErrors >= 4
	})
	r.stop(t)
	if got := committed(t, addr, cfg.Group, testTopic, partitions); got != int64(len(a)+len(b)) {
		t.Fatalf("committed %d after stopping with ClickHouse down; want %d", got, len(a)+len(b))
	}
	srv = restartClickHouse(t, srv)
	startIngester(t, newIngester())
	waitFor(t, "batch C inserted by the successor", 60*time.Second, func() bool { return distinct() == uint64(len(a)+len(b)+len(c)) })
	waitFor(t, "batch C committed", 30*time.Second, func() bool {
		return committed(t, addr, cfg.Group, testTopic, partitions) == int64(len(a)+len(b)+len(c))
	})
}
