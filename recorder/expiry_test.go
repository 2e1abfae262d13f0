package recorder

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/broker"
)

func TestExpired(t *testing.T) {
	const now = int64(1_800_000_000) * int64(time.Second)
	tests := []struct {
		name string
		t    int64
		days uint16
		want bool
	}{
		{"younger than its class", now - 23*int64(time.Hour), 1, false},
		{"exactly its class", now - day, 1, false},
		{"just past its class", now - day - 1, 1, true},
		{"two days, one-day class", now - 2*day, 1, true},
		{"two days, 90-day class", now - 2*day, 90, false},
		{"no retention never expires", 0, 0, false},
		{"from the future", now + day, 1, false},
		{"ancient", -1 << 62, 1, true},
		{"longest class", 0, 65535, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expired(tt.t, tt.days, now); got != tt.want {
				t.Errorf("expired(%d, %d, now) = %v; want %v", tt.t, tt.days, got, tt.want)
			}
		})
	}
}

func TestExpiryReportMeta(t *testing.T) {
	at := time.Unix(1_800_000_000, 5).UTC()
	ids := make([]string, 120)
	for i := range ids {
		ids[i] = "s" + strconv.Itoa(i)
	}
	tests := []struct {
		name      string
		ids       []string
		wantIDs   string
		truncated string
	}{
		{"few sessions", []string{"a", "b"}, "a,b", ""},
		{"too many to list", ids, strings.Join(ids[:100], ","), "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ExpiryReport{At: at, Events: 7, Bytes: 700, SessionIDs: tt.ids, Oldest: at, Newest: at.Add(time.Hour),
				Classes: []string{"logs", "short"}, Reason: ExpiryReason}.Meta()
			want := map[string]string{
				"sessions": strconv.Itoa(len(tt.ids)), "events": "7", "bytes": "700",
				"oldest": "2027-01-15T08:00:00.000000005Z", "newest": "2027-01-15T09:00:00.000000005Z",
				"classes": "logs,short", "reason": ExpiryReason, "session_ids": tt.wantIDs,
			}
			if tt.truncated != "" {
				want["session_ids_truncated"] = tt.truncated
			}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("meta %s = %q; want %q", k, m[k], v)
				}
			}
			if len(m) != len(want) {
				t.Errorf("meta has %d keys; want %d: %v", len(m), len(want), m)
			}
		})
	}
}

// recordClass records a complete session of class/days: start, n inputs
// (the clock advancing 1ms before each) and end.
func recordClass(t *testing.T, r *Recorder, clk *fakeClock, id, class string, days uint16, n int) {
	t.Helper()
	s, err := r.Start(StartInfo{ID: id, User: "alice", Host: "db1", Class: class, Retention: days})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		clk.Advance(time.Millisecond)
		s.Input("alice", []byte(strings.Repeat("x", 300)+strconv.Itoa(i)))
	}
	clk.Advance(time.Millisecond)
	if err := s.End(0, nil); err != nil {
		t.Fatal(err)
	}
}

// reports collects expiry reports.
type reports struct {
	mu   sync.Mutex
	list []ExpiryReport
}

func (c *reports) add(r ExpiryReport) {
	c.mu.Lock()
	c.list = append(c.list, r)
	c.mu.Unlock()
}

func (c *reports) get() []ExpiryReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.list)
}

// spoolFrames returns, per session, the event frames on disk (in spool
// order) with their sizes, and the first segment holding each session.
func spoolFrames(t *testing.T, dir string) (sizes map[string][]int64, firstSeg map[string]uint32) {
	t.Helper()
	sizes, firstSeg = map[string][]int64{}, map[string]uint32{}
	nos, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, no := range nos {
		b, err := os.ReadFile(segPath(dir, no))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := scanFrames(b[segHeaderSize:], func(_ int, f frame) error {
			if f.kind == kindEvent {
				id := string(f.session)
				if _, ok := firstSeg[id]; !ok {
					firstSeg[id] = no
				}
				sizes[id] = append(sizes[id], int64(frameHeaderSize+eventBodyFixed+len(f.session)+len(f.payload)))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return sizes, firstSeg
}

// expiryFixture records, with no publisher running, a 1-day session "a"
// spanning several segments, then a 90-day session "b", then a 1-day
// session "c", and makes it durable. It returns the expected report of
// expiring "a".
func expiryFixture(t *testing.T, r *Recorder, clk *fakeClock, dir string) ExpiryReport {
	t.Helper()
	t0 := clk.Now()
	recordClass(t, r, clk, "a", "logs", 1, 30)
	recordClass(t, r, clk, "b", "prod", 90, 3)
	recordClass(t, r, clk, "c", "logs", 1, 3)
	syncNow(t, r)
	sizes, first := spoolFrames(t, dir)
	if first["a"] >= first["b"]-1 {
		t.Fatalf("fixture: a in segments %d..%d; want several segments before b", first["a"], first["b"])
	}
	var bytes int64
	for _, n := range sizes["a"] {
		bytes += n
	}
	return ExpiryReport{Events: 32, Bytes: bytes, SessionIDs: []string{"a"}, Oldest: t0, Newest: t0.Add(31 * time.Millisecond),
		Classes: []string{"logs"}, Reason: ExpiryReason}
}

// checkReport compares a report with want, ignoring At.
func checkReport(t *testing.T, got, want ExpiryReport) {
	t.Helper()
	if got.Events != want.Events || got.Bytes != want.Bytes || !slices.Equal(got.SessionIDs, want.SessionIDs) ||
		!got.Oldest.Equal(want.Oldest) || !got.Newest.Equal(want.Newest) ||
		!slices.Equal(got.Classes, want.Classes) || got.Reason != want.Reason {
		t.Fatalf("report = %+v; want %+v", got, want)
	}
}

// totals sums reports: events, bytes and the sessions named.
func totals(reps []ExpiryReport) (events, bytes int64, sessions []string) {
	for _, r := range reps {
		events += r.Events
		bytes += r.Bytes
		sessions = append(sessions, r.SessionIDs...)
	}
	slices.Sort(sessions)
	return events, bytes, slices.Compact(sessions)
}

// TestExpiryDropsExpiredEvents expires the 1-day sessions of the fixture
// with Kafka down: "a", in front, by moving the watermark; "c", behind the
// 90-day "b", by rewriting its segment. Only b is left on disk, and only
// b reaches Kafka.
func TestExpiryDropsExpiredEvents(t *testing.T) {
	clk := newFakeClock()
	cfg := testConfig(t)
	r := openTest(t, cfg, options{clock: clk, segmentBytes: minSegmentBytes})
	var got reports
	r.OnExpire(got.add)
	want := expiryFixture(t, r, clk, cfg.SpoolDir)
	bStart := want.Newest // b starts as a ends
	sizes, first := spoolFrames(t, cfg.SpoolDir)
	var cBytes int64
	for _, n := range sizes["c"] {
		cBytes += n
	}

	clk.Advance(12 * time.Hour) // a pass that finds nothing expired
	if n := len(got.get()); n != 0 {
		t.Fatalf("%d reports after 12h; want 0", n)
	}
	clk.Advance(36 * time.Hour)
	reps := got.get()
	if len(reps) == 0 {
		t.Fatal("no report after 2 days")
	}
	if reps[0].Events == want.Events+5 {
		// c's segment was sealed already: one pass took a and c.
		want.Events, want.Bytes, want.SessionIDs, want.Newest = want.Events+5, want.Bytes+cBytes, []string{"a", "c"}, want.Newest.Add(8*time.Millisecond)
	}
	checkReport(t, reps[0], want)
	if !reps[0].At.Equal(clk.Now()) {
		t.Errorf("report at %v; want %v", reps[0].At, clk.Now())
	}
	// c took appends: the pass sealed its segment; once written, the next
	// pass rewrites it.
	syncNow(t, r)
	clk.Advance(time.Minute)
	reps = got.get()
	if events, bytes, ids := totals(reps); events != 37 || bytes != want.Bytes+cBytes-map[bool]int64{true: cBytes}[want.Events == 37] || !slices.Equal(ids, []string{"a", "c"}) {
		t.Fatalf("reports = %+v; want a's 32 and c's 5 events", reps)
	}

	// The 90-day session stays, alone, in its place.
	st := r.Stats()
	if st.ExpiredEvents != 37 || st.SpoolEvents != 5 || st.Published != 0 {
		t.Fatalf("stats = %+v; want 37 expired, 5 in the spool", st)
	}
	if age := st.OldestUnsentAge; age != clk.Now().Sub(bStart) {
		t.Errorf("oldest unsent age %v; want the age of b's start", age)
	}
	nos, err := listSegments(cfg.SpoolDir)
	if err != nil {
		t.Fatal(err)
	}
	if nos[0] != first["b"] {
		t.Errorf("first segment on disk %d; want %d (segments %d.. hold only a, and go)", nos[0], first["b"], first["a"])
	}
	after, at := spoolFrames(t, cfg.SpoolDir)
	if len(after) != 1 || len(after["b"]) != 5 || at["b"] != first["b"] {
		t.Errorf("frames on disk after expiry: %v in segments %v; want b's 5 in segment %d", after, at, first["b"])
	}
	if leftovers, _ := filepath.Glob(filepath.Join(cfg.SpoolDir, "*"+compactSuffix)); len(leftovers) != 0 {
		t.Errorf("rewrite leftovers: %v", leftovers)
	}

	// Later passes keep b (90 days).
	clk.Advance(10 * time.Minute)
	if n := len(got.get()); n != len(reps) {
		t.Fatalf("%d reports; want still %d", n, len(reps))
	}

	// Kafka gets b complete, nothing of a or c.
	b := startBroker(t, "127.0.0.1:0", "")
	publish(t, r, PublisherConfig{Brokers: []string{b.Addr()}, Topic: "events", Partitions: 2})
	drain(t, r)
	streams := checkStreams(t, consumeAll(t, b.Addr(), "events"), true)
	if len(streams) != 1 || len(streams["b"]) != 5 {
		t.Fatalf("Kafka holds %d sessions (b %d events); want b with 5", len(streams), len(streams["b"]))
	}
	if st := r.Stats(); st.Published != 5 || st.SpoolEvents != 0 || st.ExpiredEvents != 37 {
		t.Fatalf("stats after publishing = %+v", st)
	}
}

func TestExpiryPersistsAcrossRestart(t *testing.T) {
	clk := newFakeClock()
	cfg := testConfig(t)
	o := options{clock: clk, segmentBytes: minSegmentBytes}
	r := openTest(t, cfg, o)
	want := expiryFixture(t, r, clk, cfg.SpoolDir)
	clk.Advance(2 * 24 * time.Hour)
	if st := r.Stats(); st.ExpiredEvents < 32 {
		t.Fatalf("stats = %+v; want at least a's 32 expired", st)
	}
	// The reports wait for a handler.
	var got reports
	r.OnExpire(got.add)
	if reps := got.get(); len(reps) != 1 {
		t.Fatalf("%d reports delivered by OnExpire; want 1", len(reps))
	} else if reps[0].Events == 32 {
		checkReport(t, reps[0], want)
	}
	r.halt()

	// The watermark survived: a is not queued again; c, behind b in a
	// segment found at startup, goes at the first pass if it was left.
	r2 := openTest(t, cfg, o)
	if st := r2.Stats(); st.SpoolEvents != 5 {
		t.Fatalf("stats after restart = %+v; want b (5 events) left", st)
	}
	if evs := diskEvents(t, cfg.SpoolDir); len(evs) != 5 || evs[0].Session != "b" {
		t.Fatalf("%d events on disk after restart; want b's 5", len(evs))
	}
	r2.Close()

	// A restart 100 days later expires the rest at New; the report waits
	// for OnExpire.
	clk.Advance(100 * 24 * time.Hour)
	r3 := openTest(t, cfg, o)
	if st := r3.Stats(); st.SpoolEvents != 0 || st.ExpiredEvents != 5 || st.SpoolSegments != 1 {
		t.Fatalf("stats after a late restart = %+v; want everything expired", st)
	}
	var late reports
	r3.OnExpire(late.add)
	reps := late.get()
	if len(reps) != 1 || reps[0].Events != 5 || !slices.Equal(reps[0].SessionIDs, []string{"b"}) ||
		!slices.Equal(reps[0].Classes, []string{"prod"}) {
		t.Fatalf("reports after a late restart = %+v", reps)
	}
	if evs := diskEvents(t, cfg.SpoolDir); len(evs) != 0 {
		t.Errorf("%d events left on disk; want 0", len(evs))
	}
}

// TestExpiryDropsInFlightBatch expires events the publisher is retrying
// while Kafka is down: they are not sent when it returns.
func TestExpiryDropsInFlightBatch(t *testing.T) {
	dir := t.TempDir()
	b, err := broker.Start("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	clk := newFakeClock()
	r := openTest(t, testConfig(t), options{clock: clk})
	var got reports
	r.OnExpire(got.add)
	publish(t, r, PublisherConfig{Brokers: []string{addr}, Topic: "events", Partitions: 2, Compression: "none"})
	recordClass(t, r, clk, "before", "prod", 90, 2)
	drain(t, r)

	b.Close()
	recordClass(t, r, clk, "a", "logs", 1, 20)
	for r.Stats().PublishErrors == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	clk.Advance(2 * 24 * time.Hour)
	if st := r.Stats(); st.ExpiredEvents != 22 || st.SpoolEvents != 0 {
		t.Fatalf("stats = %+v; want a's 22 events expired", st)
	}
	recordClass(t, r, clk, "after", "prod", 90, 2)

	startBroker(t, addr, dir)
	drain(t, r)
	streams := checkStreams(t, consumeAll(t, addr, "events"), false)
	if len(streams) != 2 || len(streams["before"]) != 4 || len(streams["after"]) != 4 {
		t.Fatalf("Kafka holds %d sessions (a: %d events); want before and after, complete", len(streams), len(streams["a"]))
	}
	if reps := got.get(); len(reps) != 1 || reps[0].Events != 22 {
		t.Fatalf("reports = %+v; want one of 22 events", reps)
	}
	if last := streams["after"][3]; last.Type != event.SessionEnd {
		t.Errorf("after: last event %s", last.Type)
	}
}

// BenchmarkExpiry measures one expiry pass over b.N expired input events
// (1-day class, ~200-byte frames) in 1 MiB segments: the scan, the
// watermark move and the segment deletion.
func BenchmarkExpiry(b *testing.B) {
	r, clk := expiryBench(b)
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
	clk.skip(2 * 24 * time.Hour) // the pass runs below
	b.ReportAllocs()
	b.ResetTimer()
	rep, err := r.spool.expire(clk.Now())
	b.StopTimer()
	if err != nil || rep == nil || rep.Events != int64(b.N)+2 {
		b.Fatalf("expire = %+v, %v; want %d events", rep, err, b.N+2)
	}
	b.ReportMetric(float64(rep.Bytes)/float64(b.N), "B/event")
}

// expiryBench opens a benchmark recorder with 1 MiB segments and a fake
// clock.
func expiryBench(b *testing.B) (*Recorder, *fakeClock) {
	clk := newFakeClock()
	return benchRecorderWith(b, options{clock: clk, segmentBytes: 1 << 20}), clk
}

// skip moves the clock by d without running timers.
func (c *fakeClock) skip(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
