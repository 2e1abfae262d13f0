package recorder

import (
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/broker"
)

// input records n inputs on s, the clock advancing 1ms before each.
func input(t *testing.T, s *Session, clk *fakeClock, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		clk.Advance(time.Millisecond)
		s.Input("alice", []byte(strings.Repeat("y", 300)))
	}
}

// eventOf returns bytes that only an event of session id holds in the
// spool: the start of its canonical encoding.
func eventOf(id string) string {
	b := append([]byte("foureyes-event\x00"), 0, event.Version)
	b = binary.BigEndian.AppendUint32(b, uint32(len(id)))
	return string(append(b, id...))
}

// spoolHolds reports whether any spool file in dir contains s.
func spoolHolds(t *testing.T, dir, s string) bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}

// TestCompactionBehindLongerClass expires 1-day events queued behind an
// open 90-day session with Kafka down: an ended session goes whole, an
// open one loses its old events; they are gone from the disk, a crash
// afterwards recovers exactly the sessions still open (no false
// "interrupted" end for the expired one), and Kafka gets the rest.
func TestCompactionBehindLongerClass(t *testing.T) {
	clk := newFakeClock()
	cfg := testConfig(t)
	o := options{clock: clk, segmentBytes: minSegmentBytes}
	r := openTest(t, cfg, o)
	var got reports
	r.OnExpire(got.add)

	long, err := r.Start(StartInfo{ID: "long", User: "alice", Class: "prod", Retention: 90})
	if err != nil {
		t.Fatal(err)
	}
	input(t, long, clk, 3)
	recordClass(t, r, clk, "short", "logs", 1, 20) // ended, several segments
	open1, err := r.Start(StartInfo{ID: "open1", User: "alice", Class: "logs", Retention: 1})
	if err != nil {
		t.Fatal(err)
	}
	input(t, open1, clk, 10)
	syncNow(t, r)
	if !spoolHolds(t, cfg.SpoolDir, eventOf("short")) {
		t.Fatal("fixture: short is not on disk")
	}

	clk.Advance(2 * 24 * time.Hour)
	if st := r.Stats(); st.ExpiredEvents != 22+11 || st.SpoolEvents != 4 {
		t.Fatalf("stats = %+v; want short's 22 and open1's 11 events expired, long's 4 left", st)
	}
	events, _, ids := totals(got.get())
	if events != 33 || !slices.Equal(ids, []string{"open1", "short"}) {
		t.Fatalf("reports = %+v; want 33 events of open1 and short", got.get())
	}
	for _, s := range []string{eventOf("short"), eventOf("open1")} {
		if spoolHolds(t, cfg.SpoolDir, s) {
			t.Errorf("expired events (%s) are still on disk", s)
		}
	}
	// Rewritten segments say so in their header (version 2).
	nos, err := listSegments(cfg.SpoolDir)
	if err != nil {
		t.Fatal(err)
	}
	rewritten := 0
	for _, no := range nos {
		b, err := os.ReadFile(segPath(cfg.SpoolDir, no))
		if err != nil {
			t.Fatal(err)
		}
		if binary.BigEndian.Uint32(b[8:]) == segVersion2 {
			rewritten++
		}
	}
	if rewritten == 0 {
		t.Errorf("no segment of %v has header version %d", nos, segVersion2)
	}

	// Both open sessions go on; then the gateway crashes.
	input(t, long, clk, 1)
	input(t, open1, clk, 2)
	syncNow(t, r)
	r.halt()

	r2 := openTest(t, cfg, o)
	if st := r2.Stats(); st.OpenSessions != 0 || st.SpoolEvents != 4+1+2+2 {
		t.Fatalf("stats after the crash = %+v; want long (5 + end) and open1 (2 + end) queued", st)
	}
	b := startBroker(t, "127.0.0.1:0", "")
	publish(t, r2, PublisherConfig{Brokers: []string{b.Addr()}, Topic: "events", Partitions: 2})
	drain(t, r2)
	byID := map[string][]event.Event{}
	for _, m := range consumeAll(t, b.Addr(), "events") {
		byID[m.ev.Session] = append(byID[m.ev.Session], m.ev)
	}
	if len(byID) != 2 || len(byID["long"]) != 6 || len(byID["open1"]) != 3 {
		t.Fatalf("Kafka holds %d sessions (long %d, open1 %d events); want long 6, open1 3", len(byID), len(byID["long"]), len(byID["open1"]))
	}
	if br := event.Verify(byID["long"]); br != nil {
		t.Errorf("long: %v", br)
	}
	for id, evs := range byID {
		end := evs[len(evs)-1]
		if end.Type != event.SessionEnd || end.Meta["interrupted"] != "true" {
			t.Errorf("%s: last event %s %v; want an interrupted session.end", id, end.Type, end.Meta)
		}
	}
	// open1 kept its seqs: the expired ones are a gap, not renumbered.
	if first := byID["open1"][0]; first.Seq != 11 || first.Type != event.Input {
		t.Errorf("open1 starts at seq %d (%s); want 11 (input)", first.Seq, first.Type)
	}
}

// TestCompactionDropsInFlightBatch expires events the publisher is
// retrying while Kafka is down, behind an event that is not expired: the
// publisher gives the batch up and sends only what is left.
func TestCompactionDropsInFlightBatch(t *testing.T) {
	dir := t.TempDir()
	b, err := broker.Start("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	clk := newFakeClock()
	r := openTest(t, testConfig(t), options{clock: clk})
	publish(t, r, PublisherConfig{Brokers: []string{addr}, Topic: "events", Partitions: 2, Compression: "none"})
	recordClass(t, r, clk, "before", "prod", 90, 2)
	drain(t, r)

	b.Close()
	recordClass(t, r, clk, "keep", "prod", 90, 2)
	recordClass(t, r, clk, "a", "logs", 1, 20)
	for r.Stats().PublishErrors == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	clk.Advance(2 * 24 * time.Hour)
	if st := r.Stats(); st.ExpiredEvents != 22 || st.SpoolEvents != 4 {
		t.Fatalf("stats = %+v; want a's 22 events expired, keep's 4 left", st)
	}

	startBroker(t, addr, dir)
	drain(t, r)
	streams := checkStreams(t, consumeAll(t, addr, "events"), false)
	if len(streams) != 2 || len(streams["before"]) != 4 || len(streams["keep"]) != 4 {
		t.Fatalf("Kafka holds %d sessions (a: %d events); want before and keep, complete", len(streams), len(streams["a"]))
	}
}

// TestCompactionLeftoverRemoved: a rewrite that a crash interrupted leaves
// its temporary file, which the next start deletes; the segment is intact.
func TestCompactionLeftoverRemoved(t *testing.T) {
	cfg := testConfig(t)
	r := openTest(t, cfg, options{})
	recordClass(t, r, newFakeClock(), "s", "logs", 1, 2)
	r.halt()
	tmp := segPath(cfg.SpoolDir, 1) + compactSuffix
	if err := os.WriteFile(tmp, []byte("half a rewrite"), 0o600); err != nil {
		t.Fatal(err)
	}
	r2 := openTest(t, cfg, options{})
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("leftover %s: %v; want it deleted", tmp, err)
	}
	if st := r2.Stats(); st.SpoolEvents != 4 {
		t.Errorf("stats = %+v; want the 4 events of s queued", st)
	}
}

// TestCompactionTombstoneEndsSession expires a session that the spool's
// oldest checkpoint lists as open and whose end sits behind a 90-day
// event: after a crash, recovery must know from the tombstone that the
// session ended, not record an interrupted end for it.
func TestCompactionTombstoneEndsSession(t *testing.T) {
	clk := newFakeClock()
	cfg := testConfig(t)
	o := options{clock: clk, segmentBytes: minSegmentBytes}
	r := openTest(t, cfg, o)
	early, err := r.Start(StartInfo{ID: "early", User: "alice", Class: "logs", Retention: 1})
	if err != nil {
		t.Fatal(err)
	}
	input(t, early, clk, 15) // into a second segment, whose checkpoint lists early
	long, err := r.Start(StartInfo{ID: "long", User: "alice", Class: "prod", Retention: 90})
	if err != nil {
		t.Fatal(err)
	}
	input(t, early, clk, 5)
	clk.Advance(time.Millisecond)
	if err := early.End(0, nil); err != nil {
		t.Fatal(err)
	}
	input(t, long, clk, 1)
	syncNow(t, r)
	_, first := spoolFrames(t, cfg.SpoolDir)
	if first["long"] == first["early"] {
		t.Fatalf("fixture: early and long start in segment %d; want early's first segment to go", first["long"])
	}

	clk.Advance(2 * 24 * time.Hour)
	if st := r.Stats(); st.ExpiredEvents != 22 || st.SpoolEvents != 2 {
		t.Fatalf("stats = %+v; want early's 22 events expired, long's 2 left", st)
	}
	if spoolHolds(t, cfg.SpoolDir, eventOf("early")) {
		t.Error("early's events are still on disk")
	}
	r.halt()

	r2 := openTest(t, cfg, o)
	if st := r2.Stats(); st.SpoolEvents != 3 || st.OpenSessions != 0 {
		t.Fatalf("stats after the crash = %+v; want long's 2 events and its interrupted end, nothing for early", st)
	}
	if evs := diskEvents(t, cfg.SpoolDir); slices.ContainsFunc(evs, func(e event.Event) bool { return e.Session == "early" }) {
		t.Errorf("recovery recorded events for early, which ended: %v", evs)
	}
}

// TestCompactionGrace: an expired event behind a longer class waits up to
// compactGrace for its segment's rewrite, so that a segment is rewritten
// about once per grace period however its events' expiry times spread.
func TestCompactionGrace(t *testing.T) {
	clk := newFakeClock()
	r := openTest(t, testConfig(t), options{clock: clk, segmentBytes: minSegmentBytes})
	recordClass(t, r, clk, "long", "prod", 90, 1)
	recordClass(t, r, clk, "short", "logs", 1, 20)
	syncNow(t, r)

	clk.Advance(24*time.Hour + 10*time.Minute) // short expired 10 minutes ago
	if st := r.Stats(); st.ExpiredEvents != 0 {
		t.Fatalf("stats = %+v; want nothing removed within the grace period", st)
	}
	clk.Advance(compactGrace)
	if st := r.Stats(); st.ExpiredEvents != 22 || st.SpoolEvents != 3 {
		t.Fatalf("stats = %+v; want short's 22 events removed after the grace period", st)
	}
}

// BenchmarkCompaction measures one expiry pass that rewrites 1 MiB
// segments holding b.N expired input events (1-day class, ~60-byte
// frames) queued behind a 90-day session: read, filter, write, fsync,
// rename.
func BenchmarkCompaction(b *testing.B) {
	r, clk := expiryBench(b)
	long, err := r.Start(StartInfo{User: "alice", Class: "prod", Retention: 90})
	if err != nil {
		b.Fatal(err)
	}
	s, err := r.Start(StartInfo{User: "alice", Class: "logs", Retention: 1})
	if err != nil {
		b.Fatal(err)
	}
	key := []byte("ls -la /var/log\r")
	for i := 0; i < b.N; i++ {
		s.Input("alice", key)
	}
	if err := s.End(0, nil); err != nil {
		b.Fatal(err)
	}
	if err := r.spool.sync(); err != nil {
		b.Fatal(err)
	}
	clk.skip(2 * 24 * time.Hour) // the pass runs below
	b.ReportAllocs()
	b.ResetTimer()
	rep, err := r.spool.expire(clk.Now())
	b.StopTimer()
	if err != nil || rep == nil || rep.Events != int64(b.N)+2 {
		b.Fatalf("expire = %+v, %v; want %d events", rep, err, b.N+2)
	}
	b.ReportMetric(float64(rep.Bytes)/float64(b.N), "B/event")
	b.ReportMetric(float64(rep.Bytes)/b.Elapsed().Seconds()/1e6, "MB/s")
	long.End(0, nil)
}
