package ingest

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/chserver"
)

// hasSession reports whether b holds an event of session id.
func hasSession(b *batch, id string) bool {
	return slices.Contains(b.events.session, id)
}

// TestCommitsInBatchOrder: the first batch's insert fails until a later
// batch has been acknowledged (and a few attempts more). The offsets of
// the later batch must not be committed before the first batch is in
// ClickHouse: a commit never passes an uninserted row.
func TestCommitsInBatchOrder(t *testing.T) {
	f := newFixture(t, 1)
	// Three batches cut by rows: 100 events of "first", 200 of "second".
	f.cfg.BatchRows = 100
	f.cfg.BatchInterval = time.Minute
	evs := append(sessionEvents("first", 100, false), sessionEvents("second", 200, false)...)
	produceEvents(t, f.addr, testTopic, evs)

	in := New(f.conn, f.cfg)
	in.insertWorkers = 2
	in.backoffMin, in.backoffMax = 10*time.Millisecond, 20*time.Millisecond
	var (
		commitAtRelease  int64
		laterAcknowledge uint64
	)
	first := failInserts(in, func(b *batch) bool { return hasSession(b, sid("first")) })
	// Failing until a later batch is acknowledged, and three attempts
	// more: time for a wrong commit to happen.
	first.releaseAfter(func() bool { return in.counters.batches.Load() > 0 }, 3, func() {
		commitAtRelease = in.counters.lastCommit.Load()
		laterAcknowledge = in.counters.events.Load()
	})
	startIngester(t, in)
	waitFor(t, "all events inserted", 60*time.Second, func() bool { return f.distinctEvents(t) == uint64(len(evs)) })
	waitFor(t, "all offsets committed", 30*time.Second, func() bool { return committed(t, f.addr, f.cfg.Group, testTopic, 1) == int64(len(evs)) })

	if !first.isReleased() {
		t.Fatal("the first batch was never failed and released")
	}
	if laterAcknowledge == 0 {
		t.Fatal("no later batch was acknowledged while the first one failed: the inserts did not overlap")
	}
	if commitAtRelease != 0 {
		t.Errorf("offsets were committed at %v, while the first batch was not yet inserted", time.Unix(0, commitAtRelease))
	}
	if st := in.Stats(); st.CommitErrors != 0 || st.InsertErrors < 4 {
		t.Errorf("CommitErrors = %d, InsertErrors = %d; want 0 and at least 4", st.CommitErrors, st.InsertErrors)
	}
}

// TestOutageWithBatchesInFlight: ClickHouse is down while two batches
// are being inserted at once; nothing is committed until it is back, and
// then every event arrives and every offset is committed.
func TestOutageWithBatchesInFlight(t *testing.T) {
	srv := chserver.StartForTest(t)
	conn, db := newDatabase(t, srv)
	addr := startBroker(t, testTopic, 1)
	cfg := Config{Brokers: []string{addr}, Topic: testTopic, Group: "inflight", BatchRows: 100,
		BatchInterval: time.Minute, Database: db, Logger: testLogger(t)}
	in := New(conn, cfg)
	in.insertWorkers = 2
	in.backoffMin, in.backoffMax = 20*time.Millisecond, 100*time.Millisecond
	trying := watchInserts(in) // attempts per batch while down
	srv.Kill()
	startIngester(t, in)
	evs, _ := workload("w", 3, 0, 100)
	produceEvents(t, addr, testTopic, evs)
	waitFor(t, "two batches failing at once", 60*time.Second, func() bool { return trying.batches(2) >= 2 })
	if got := committed(t, addr, cfg.Group, testTopic, 1); got != 0 {
		t.Fatalf("committed %d while ClickHouse was down; want 0", got)
	}
	trying.release()
	restartClickHouse(t, srv)
	waitFor(t, "every event inserted after the outage", 60*time.Second, func() bool { return storedEvents(conn, db) == uint64(len(evs)) })
	waitFor(t, "every offset committed", 30*time.Second, func() bool { return committed(t, addr, cfg.Group, testTopic, 1) == int64(len(evs)) })
	if got := count(t, conn, "SELECT count() FROM (SELECT session, seq FROM "+db+".events LIMIT 1 BY session, seq)"); got != uint64(len(evs)) {
		t.Fatalf("%d distinct events; want %d", got, len(evs))
	}
	for _, id := range []string{"w-000", "w-001", "w-002"} {
		if brk := event.Verify(readEvents(t, conn, db, id)); brk != nil {
			t.Errorf("%s: stored chain does not verify: %v", id, brk)
		}
	}
}

// TestBudgetCoversBatchesInFlight: while every insert fails, two batches
// are in flight and a third is being filled; the bytes held stay within
// BatchBytes and fetching waits, so nothing past the budget is read.
func TestBudgetCoversBatchesInFlight(t *testing.T) {
	f := newFixture(t, 1)
	var c event.Chain
	evs := make([]event.Event, 64)
	for i := range evs {
		evs[i] = event.Event{V: event.Version, Session: sid("big"), Time: baseTime + int64(i), Type: event.Output, Gateway: "gw1",
			Data: bytes.Repeat([]byte{byte(i)}, 64<<10), Class: "production", Retention: 90}
		c.Seal(&evs[i])
	}
	produceEvents(t, f.addr, testTopic, evs)
	f.cfg.BatchRows = 100000
	f.cfg.BatchBytes = 1 << 20
	// Two half-budget batches do not fit the budget together (their
	// messages carry more than the data): the second is cut by time.
	f.cfg.BatchInterval = 100 * time.Millisecond
	in := New(f.conn, f.cfg)
	in.insertWorkers = 2
	in.backoffMin, in.backoffMax = 10*time.Millisecond, 20*time.Millisecond
	failing := failInserts(in, func(*batch) bool { return true })
	startIngester(t, in)
	waitFor(t, "two batches in flight", 60*time.Second, func() bool { return failing.batches(1) >= 2 })
	// Nothing was released: the fetch is held at the budget.
	st := in.Stats()
	if st.PeakBytes > f.cfg.BatchBytes {
		t.Errorf("PeakBytes = %d with batches in flight; want at most BatchBytes %d", st.PeakBytes, f.cfg.BatchBytes)
	}
	// At most 16 messages of more than 64 KiB fit 1 MiB; a 17th may be
	// fetched and wait for the budget.
	if st.Fetched >= uint64(len(evs)) || st.Fetched > 2*8+1 {
		t.Errorf("Fetched = %d with every insert failing; want it held by the budget (at most 17 of %d)", st.Fetched, len(evs))
	}
	failing.release()
	waitFor(t, "all events inserted", 60*time.Second, func() bool { return f.distinctEvents(t) == uint64(len(evs)) })
	if st := in.Stats(); st.PeakBytes > f.cfg.BatchBytes {
		t.Errorf("PeakBytes = %d; want at most BatchBytes %d", st.PeakBytes, f.cfg.BatchBytes)
	}
}

// TestRebuildWaitsForBatchesInFlight: a session evicted from the search
// state goes on in a later batch while the batch with its start is still
// failing to insert. Its state is rebuilt from the store only once that
// batch is in, so its later commands still carry the host and user of its
// session.start.
func TestRebuildWaitsForBatchesInFlight(t *testing.T) {
	f := newFixture(t, 1)
	f.cfg.BatchRows = 100
	f.cfg.BatchInterval = time.Minute
	f.cfg.SearchSessions = 10
	a := sessionEvents("a", 200, false)
	evs := append([]event.Event(nil), a[:100]...) // batch 1: a's start
	for i := range 100 {                          // batch 2: 100 sessions evict a
		evs = append(evs, sessionEvents(fmt.Sprintf("b-%03d", i), 1, false)...)
	}
	evs = append(evs, a[100:]...) // batch 3: a goes on
	produceEvents(t, f.addr, testTopic, evs)

	in := New(f.conn, f.cfg)
	in.insertWorkers = 2
	in.backoffMin, in.backoffMax = 10*time.Millisecond, 20*time.Millisecond
	batch1 := failInserts(in, func(b *batch) bool { return hasSession(b, sid("a")) && b.events.seq[0] == 0 })
	// Held until batch 2 is in and batch 3 fetched, and a few attempts
	// more: time for batch 3 to be derived.
	batch1.releaseAfter(func() bool {
		return in.counters.batches.Load() > 0 && in.counters.fetched.Load() >= uint64(len(evs))
	}, 4, nil)
	startIngester(t, in)
	waitFor(t, "all offsets committed", 60*time.Second, func() bool {
		return committed(t, f.addr, f.cfg.Group, testTopic, 1) == int64(len(evs))
	})
	later := count(t, f.conn, "SELECT count() FROM "+f.db+".commands WHERE session = ? AND seq >= 100", sid("a"))
	if later == 0 {
		t.Fatal("no commands rows for a's later events")
	}
	if n := count(t, f.conn, "SELECT count() FROM "+f.db+".commands WHERE session = ? AND seq >= 100 AND (host != 'db1' OR user != 'alice')", sid("a")); n != 0 {
		t.Errorf("%d of %d later commands rows lack the host and user of a's session.start: rebuilt before its batch was stored", n, later)
	}
	if !batch1.isReleased() {
		t.Error("batch 1 was never held")
	}
}
