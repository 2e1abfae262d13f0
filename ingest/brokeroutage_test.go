package ingest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/broker"
)

// proxiedBroker is a broker persisting to a directory of its own that
// clients reach through a kafkaProxy (it advertises the proxy's address),
// so a test can break a consumer's connection in the middle of a fetch
// response and stop and restart the broker with its log.
type proxiedBroker struct {
	proxy *kafkaProxy
	dir   string
	addr  string // where the broker itself listens
	b     *broker.Broker
}

// startProxiedBroker starts the proxy and the broker and creates the
// topic with the given partitions.
func startProxiedBroker(t *testing.T, topic string, partitions int) *proxiedBroker {
	t.Helper()
	pb := &proxiedBroker{proxy: startKafkaProxy(t), dir: t.TempDir()}
	pb.start(t, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := kafka.DialContext(ctx, "tcp", pb.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	return pb
}

// start starts the broker on addr with the data directory and points
// the proxy at it.
func (pb *proxiedBroker) start(t *testing.T, addr string) {
	t.Helper()
	var listening string
	b, err := broker.Start(addr, pb.dir, advertise(pb.proxy.addr(), &listening))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	pb.b, pb.addr = b, listening
	pb.proxy.setUpstream(listening)
}

// brokerOutageWorkload is the backlog of the tests below: 24,000 events
// of about 450 bytes in 16 sessions over 4 partitions, so that the
// consumer's fetches return responses of up to MaxBytes (1 MiB).
const (
	outagePartitions = 4
	outageSessions   = 16
	outagePerSession = 1500
	// A fetch response at least this large is cut (a fetch of a backlog).
	outageCutSize = 256 << 10
	// outageCutSkip large responses go through whole first: the cut
	// comes with ingest mid-stream, not at its first fetch.
	outageCutSkip = 2
)

// newOutageIngester returns an ingester of a fresh database consuming
// through the proxy.
func newOutageIngester(t *testing.T, pb *proxiedBroker) (*Ingester, driver.Conn, string) {
	t.Helper()
	conn, db := newDatabase(t, sharedServer(t))
	in := New(conn, Config{Brokers: []string{pb.proxy.addr()}, Topic: testTopic, Group: "ingest-" + db,
		BatchRows: 2000, BatchInterval: 50 * time.Millisecond, Database: db, Logger: testLogger(t)})
	in.backoffMin, in.backoffMax = 20*time.Millisecond, 200*time.Millisecond
	in.fetchBackoff = 50 * time.Millisecond
	return in, conn, db
}

// committedSoFar returns the group's committed offsets summed over the
// partitions, or -1 while the broker cannot answer (it is starting).
func committedSoFar(addr, group string) int64 {
	ps := make([]int, outagePartitions)
	for i := range ps {
		ps[i] = i
	}
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	resp, err := c.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{testTopic: ps}})
	if err != nil || resp.Error != nil {
		return -1
	}
	var sum int64
	for _, p := range resp.Topics[testTopic] {
		if p.Error != nil {
			return -1
		}
		sum += max(p.CommittedOffset, 0)
	}
	return sum
}

// waitHit waits for the proxy to cut the response f selects, as long as
// ingest makes progress (a loaded machine may be slow to fetch). It
// reports false when the whole backlog went through without the cut (the
// cut can land on a connection the consumer is abandoning, whose reader
// then never takes the rest, and everything arrives another way), and
// fails when ingest fetched nothing for a minute.
func waitHit(t *testing.T, pb *proxiedBroker, f *proxyFault, in *Ingester, total uint64) bool {
	t.Helper()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, lastMove := in.Stats().Fetched, time.Now()
	for {
		select {
		case <-f.hit:
			return true
		case <-tick.C:
		}
		n := in.Stats().Fetched
		switch {
		case n >= total:
			t.Logf("all %d messages fetched without a cut response of %d bytes or more (largest %d)", total, f.minSize, pb.proxy.largest.Load())
			return false
		case n != last:
			last, lastMove = n, time.Now()
		case time.Since(lastMove) > time.Minute: // bounds a hang; asserts no speed
			t.Fatalf("no fetch response to cut, and ingest fetched nothing for a minute (%d of %d fetched): %+v", n, total, in.Stats())
		}
	}
}

// outageRun is the backlog of the tests below in a broker reached
// through a proxy, an ingester of a fresh database consuming it, and the
// proxy's fault that cut a fetch response of the backlog.
type outageRun struct {
	pb    *proxiedBroker
	evs   []event.Event
	ids   []string
	total uint64
	in    *Ingester
	conn  driver.Conn
	db    string
	f     *proxyFault
}

// startOutageRun starts ingest on a fresh backlog with the proxy armed to
// break a fetch response (mode) and returns once a response was cut. A
// run whose cut did not land where it proves anything (waitHit) is
// repeated with a fresh broker, at most three times: the fault injection
// missed, the product is not at fault.
func startOutageRun(t *testing.T, prefix string, mode breakMode) *outageRun {
	t.Helper()
	for attempt := 1; ; attempt++ {
		r := &outageRun{pb: startProxiedBroker(t, testTopic, outagePartitions)}
		r.evs, r.ids = workload(fmt.Sprintf("%s%d", prefix, attempt), outageSessions, 0, outagePerSession)
		produceEvents(t, r.pb.addr, testTopic, r.evs)
		r.total = uint64(len(r.evs))
		r.in, r.conn, r.db = newOutageIngester(t, r.pb)
		r.f = r.pb.proxy.breakResponse(outageCutSize, outageCutSkip, mode)
		startIngester(t, r.in)
		if waitHit(t, r.pb, r.f, r.in, r.total) {
			return r
		}
		if attempt == 3 {
			t.Fatalf("%d runs fetched the whole backlog without a cut: the backlog was not fetched in large responses", attempt)
		}
	}
}

// checkStoredOnce checks that ClickHouse holds every event of evs, each
// (session, seq) with one content only, every session's chain intact, and
// nothing in the rejected table.
func checkStoredOnce(t *testing.T, conn driver.Conn, db string, evs []event.Event, ids []string, perSession int) {
	t.Helper()
	if n := count(t, conn, "SELECT count() FROM (SELECT session, seq FROM "+db+".events LIMIT 1 BY session, seq)"); n != uint64(len(evs)) {
		t.Errorf("%d distinct (session, seq) stored; want %d", n, len(evs))
	}
	if n := count(t, conn, "SELECT count() FROM (SELECT session, seq, hash FROM "+db+".events LIMIT 1 BY session, seq, hash)"); n != uint64(len(evs)) {
		t.Errorf("%d distinct (session, seq, hash) stored; want %d: some event is stored with two contents", n, len(evs))
	}
	if n := count(t, conn, "SELECT count() FROM "+db+".rejected"); n != 0 {
		t.Errorf("%d rows in the rejected table; want 0: a message reached the decoder damaged", n)
	}
	for _, id := range ids {
		got := readEvents(t, conn, db, id)
		if len(got) != perSession {
			t.Errorf("%s: %d events stored; want %d", id, len(got), perSession)
			continue
		}
		if brk := event.Verify(got); brk != nil {
			t.Errorf("%s: stored chain does not verify: %v", id, brk)
		}
	}
}

// TestBrokerRestartMidFetch: the broker stops while a fetch response of
// the backlog is halfway to ingest (through the read-ahead connection),
// stays down while ingest's reconnects are refused, and comes back on the
// same address with the same log and committed offsets. Ingest goes on
// from where it was: every event is stored exactly once (after
// deduplication), no message is rejected, and the offsets reach the end.
func TestBrokerRestartMidFetch(t *testing.T) {
	r := startOutageRun(t, "bo", breakHold)
	pb, evs, ids, total, in, conn, db := r.pb, r.evs, r.ids, r.total, r.in, r.conn, r.db
	t.Logf("stopping the broker: committed %d, fetched %d of %d", committedSoFar(pb.addr, in.cfg.Group), in.Stats().Fetched, total)
	pb.b.Close()
	refusedAtStop := pb.proxy.refused.Load()
	waitFor(t, "ingest to try to reconnect to the stopped broker", 60*time.Second, func() bool {
		return pb.proxy.refused.Load() >= refusedAtStop+3
	})
	fetchedWhileDown := in.Stats().Fetched
	if fetchedWhileDown >= total {
		t.Fatalf("Fetched = %d of %d before the broker returned; want the rest of the cut response still unfetched", fetchedWhileDown, total)
	}
	if n := count(t, conn, "SELECT count() FROM (SELECT session, seq FROM "+db+".events LIMIT 1 BY session, seq)"); n >= total {
		t.Fatalf("%d of %d events stored while the broker was down", n, total)
	}

	pb.start(t, pb.addr)
	waitFor(t, "every event stored after the broker returned", 120*time.Second, func() bool {
		return count(t, conn, "SELECT count() FROM (SELECT session, seq FROM "+db+".events LIMIT 1 BY session, seq)") == total
	})
	waitFor(t, "every offset committed after the broker returned", 60*time.Second, func() bool {
		return committedSoFar(pb.addr, in.cfg.Group) == int64(total)
	})
	st := in.Stats()
	t.Logf("fetched %d of %d while the broker was down; after: %+v", fetchedWhileDown, total, st)
	if st.Fetched <= fetchedWhileDown {
		t.Errorf("Fetched = %d, as while the broker was down: no progress after it returned", st.Fetched)
	}
	if st.Rejected != 0 {
		t.Errorf("Stats.Rejected = %d; want 0", st.Rejected)
	}
	checkStoredOnce(t, conn, db, evs, ids, outagePerSession)
}

// TestConnectionBreaksMidFetch: the TCP connection that carries a fetch
// response of the backlog breaks halfway through it, the broker and the
// group staying up: it is reset ("cut"), or it goes silent with no reset
// and no close ("stall"), when only the read deadline the read-ahead
// connection applies to its wait ends the read (kafka-go's
// ReadBatchTimeout, 10 s). The consumer reconnects and fetches from the
// first message it has not returned: every message is fetched and
// inserted exactly once (no redelivery, nothing skipped), nothing is
// rejected and every chain verifies.
func TestConnectionBreaksMidFetch(t *testing.T) {
	for _, tc := range []struct {
		name, prefix string
		mode         breakMode
	}{
		{"cut", "cc", breakReset},
		{"stall", "cs", breakHold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startOutageRun(t, tc.prefix, tc.mode)
			pb, evs, ids, total, in, conn, db, brk := r.pb, r.evs, r.ids, r.total, r.in, r.conn, r.db, r.f
			waitFor(t, "every event stored after the "+tc.name, 120*time.Second, func() bool {
				return count(t, conn, "SELECT count() FROM (SELECT session, seq FROM "+db+".events LIMIT 1 BY session, seq)") == total
			})
			waitFor(t, "every offset committed after the "+tc.name, 60*time.Second, func() bool {
				return committedSoFar(pb.addr, in.cfg.Group) == int64(total)
			})
			if n := pb.proxy.accepted.Load(); n <= brk.accepted {
				t.Errorf("no connection after the %s (accepted %d, %d at the %s): the rest came another way", tc.name, n, brk.accepted, tc.name)
			}
			st := in.Stats()
			t.Logf("after the %s: %+v", tc.name, st)
			if st.Fetched != total || st.Events != total {
				t.Errorf("Fetched = %d, Events = %d; want exactly %d each: the %s lost or repeated messages", st.Fetched, st.Events, total, tc.name)
			}
			if st.Rejected != 0 {
				t.Errorf("Stats.Rejected = %d; want 0", st.Rejected)
			}
			checkStoredOnce(t, conn, db, evs, ids, outagePerSession)
		})
	}
}
