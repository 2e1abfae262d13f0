package ingest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/event"
)

const testTopic = "events"

// fixture is a migrated database, a broker with the topic and a Config
// pointing at both.
type fixture struct {
	conn driver.Conn
	db   string
	addr string
	cfg  Config
}

func newFixture(t *testing.T, partitions int) *fixture {
	t.Helper()
	conn, db := newDatabase(t, sharedServer(t))
	addr := startBroker(t, testTopic, partitions)
	return &fixture{conn: conn, db: db, addr: addr, cfg: Config{
		Brokers: []string{addr}, Topic: testTopic, Group: "ingest-" + db, BatchRows: 500,
		BatchInterval: 50 * time.Millisecond, Database: db, Logger: testLogger(t),
	}}
}

// workload returns the events of closed and open sessions, interleaved as
// several concurrent sessions would produce them.
func workload(prefix string, closed, open, perSession int) (evs []event.Event, ids []string) {
	var streams [][]event.Event
	for i := 0; i < closed+open; i++ {
		id := sid(fmt.Sprintf("%s-%03d", prefix, i))
		ids = append(ids, id)
		streams = append(streams, sessionEvents(id, perSession, i < closed))
	}
	for i := 0; i < perSession; i++ {
		for _, s := range streams {
			if i < len(s) {
				evs = append(evs, s[i])
			}
		}
	}
	return evs, ids
}

func (f *fixture) distinctEvents(t *testing.T) uint64 {
	return count(t, f.conn, "SELECT count() FROM (SELECT session, seq FROM "+f.db+".events LIMIT 1 BY session, seq)")
}

func TestIngestEventsAndSessions(t *testing.T) {
	f := newFixture(t, 4)
	evs, ids := workload("s", 6, 3, 120)
	produceEvents(t, f.addr, testTopic, evs)
	in := New(f.conn, f.cfg)
	startIngester(t, in)
	waitFor(t, "all events inserted", 60*time.Second, func() bool { return f.distinctEvents(t) == uint64(len(evs)) })
	waitFor(t, "offsets committed", 30*time.Second, func() bool { return committed(t, f.addr, f.cfg.Group, testTopic, 4) == int64(len(evs)) })

	// Every stored stream verifies: the columns keep every hashed field
	// byte for byte (data with all byte values, meta, hashes).
	for _, id := range ids {
		got := readEvents(t, f.conn, f.db, id)
		if len(got) != 120 {
			t.Fatalf("%s: %d events; want 120", id, len(got))
		}
		if brk := event.Verify(got); brk != nil {
			t.Fatalf("%s: stored chain does not verify: %v", id, brk)
		}
	}

	type session struct {
		id, user, host, kind string
		startedNs, endedNs   int64
		exit                 int32
		bytesOut, lastSeq    uint64
		approvers            []string
		reason, class        string
		retention            uint16
		started              time.Time
	}
	rows, err := f.conn.Query(context.Background(), `SELECT session, user, host, kind, started_ns, ended_ns, exit_status, bytes_out, last_seq,
		approvers, reason, class, retention_days, started FROM `+f.db+`.sessions FINAL ORDER BY session`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []session
	for rows.Next() {
		var s session
		if err := rows.Scan(&s.id, &s.user, &s.host, &s.kind, &s.startedNs, &s.endedNs, &s.exit, &s.bytesOut, &s.lastSeq,
			&s.approvers, &s.reason, &s.class, &s.retention, &s.started); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if len(got) != len(ids) {
		t.Fatalf("sessions FINAL has %d rows; want %d", len(got), len(ids))
	}
	closedIDs := map[string]bool{}
	for _, id := range ids[:6] {
		closedIDs[id] = true
	}
	ids = slices.Sorted(slices.Values(ids)) // the rows' order
	for i, s := range got {
		closed := closedIDs[s.id]
		if s.id != ids[i] || s.user != "alice" || s.host != "db1" || s.kind != "shell" || s.class != "production" || s.retention != 90 {
			t.Errorf("row %d = %+v; want session %s of alice on db1", i, s, ids[i])
		}
		if s.startedNs != baseTime || s.started.Unix() != baseTime/1e9 {
			t.Errorf("%s: started_ns = %d, started = %v; want %d", s.id, s.startedNs, s.started, baseTime)
		}
		switch {
		case closed && (s.endedNs != baseTime+119*int64(time.Millisecond) || s.exit != 3 || s.bytesOut != 1800 || s.lastSeq != 119 ||
			!slices.Equal(s.approvers, []string{"bob", "dave"}) || s.reason != "ticket 42"):
			t.Errorf("closed session %s = %+v", s.id, s)
		case !closed && (s.endedNs != 0 || s.exit != -1 || s.lastSeq != 0 || len(s.approvers) != 0):
			t.Errorf("open session %s = %+v", s.id, s)
		}
	}
	st := in.Stats()
	if st.Events < uint64(len(evs)) || st.Batches == 0 || st.Fetched < uint64(len(evs)) || st.LastCommit.IsZero() || st.Rejected != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestIngestRedeliveryDeduplicates(t *testing.T) {
	f := newFixture(t, 3)
	evs, ids := workload("r", 4, 2, 50)
	produceEvents(t, f.addr, testTopic, evs)
	produceEvents(t, f.addr, testTopic, evs) // a producer retry after a lost ack
	in := New(f.conn, f.cfg)
	startIngester(t, in)
	waitFor(t, "both copies inserted", 60*time.Second, func() bool { return in.Stats().Events >= uint64(2*len(evs)) })

	// A second group reads the whole topic again, as after an offset reset.
	cfg := f.cfg
	cfg.Group += "-reset"
	again := New(f.conn, cfg)
	startIngester(t, again)
	waitFor(t, "redelivered copies inserted", 60*time.Second, func() bool { return again.Stats().Events >= uint64(2*len(evs)) })

	if n := f.distinctEvents(t); n != uint64(len(evs)) {
		t.Fatalf("events with LIMIT 1 BY session, seq = %d; want %d", n, len(evs))
	}
	if n := count(t, f.conn, "SELECT count() FROM "+f.db+".sessions FINAL"); n != uint64(len(ids)) {
		t.Fatalf("sessions FINAL = %d rows; want %d", n, len(ids))
	}
	if n := count(t, f.conn, "SELECT count() FROM (SELECT session, argMax(ended_ns, version) AS e FROM "+f.db+".sessions GROUP BY session) WHERE e != 0"); n != 4 {
		t.Fatalf("closed sessions by argMax = %d; want 4", n)
	}
	for _, id := range ids {
		if brk := event.Verify(readEvents(t, f.conn, f.db, id)); brk != nil {
			t.Fatalf("%s: %v", id, brk)
		}
	}
}
