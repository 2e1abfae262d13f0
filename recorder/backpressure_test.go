package recorder

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// bpRecorder opens a recorder with a 1 MiB spool, 16 KiB chunks and a
// manual clock, publishing (as far as backpressure can tell) unless
// noPublisher.
func bpRecorder(t *testing.T, noPublisher bool) (*Recorder, *fakeClock, Config) {
	t.Helper()
	cfg := testConfig(t)
	cfg.SpoolMaxBytes = 1 << 20
	cfg.ChunkBytes = 16 << 10
	clk := newFakeClock()
	r := openTest(t, cfg, options{clock: clk, segmentBytes: 64 << 10})
	r.publishing.Store(!noPublisher)
	return r, clk, r.cfg
}

// fillUntilHeld writes output chunks into s until its output is over its
// share; it returns the bytes written.
func fillUntilHeld(t *testing.T, s *Session) int {
	t.Helper()
	chunk := make([]byte, 16<<10)
	n := 0
	for s.st.bp.over.Load()&(1<<flowOutput) == 0 {
		if n > 64<<20 {
			t.Fatal("the session was never held back")
		}
		s.Output(chunk)
		n += len(chunk)
	}
	return n
}

// waitAsync runs wait on its own goroutine; the channel closes when it
// returned.
func waitAsync(wait func(<-chan struct{}), stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait(stop)
	}()
	return done
}

// eventually polls cond until it holds (up to 10s of real time).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 10000 {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBacklogMarks(t *testing.T) {
	var b backlog
	pos := int64(0)
	for i := 0; i < 100; i++ { // 100 frames of 10 KiB, interleaved with others' bytes
		pos += 5 << 10
		pos += 10 << 10
		b.add(10<<10, pos)
	}
	if len(b.marks) > 100*10/64+2 {
		t.Errorf("%d marks for 1000 KiB; want them merged to about one per %d KiB", len(b.marks), markBytes>>10)
	}
	tests := []struct {
		ackPos int64
		want   int64 // at least; at most want+markBytes
	}{
		{0, 1000 << 10},
		{15 << 10, 990 << 10},
		{pos / 2, 500 << 10},
		{pos - 1, 10 << 10},
		{pos, 0},
	}
	for _, tt := range tests {
		got := b.used(tt.ackPos)
		if got < tt.want || got > tt.want+markBytes {
			t.Errorf("used(%d) = %d; want %d (+ at most %d)", tt.ackPos, got, tt.want, markBytes)
		}
	}
	if b.marks != nil {
		t.Errorf("%d marks left after everything was acknowledged", len(b.marks))
	}
}

// TestBackpressureHoldsAndResumes: a session whose output fills its share
// while Kafka is slow is held back, not failed; keystrokes, resizes and
// other sessions go on meanwhile; it resumes once Kafka caught up, and
// the period is recorded as session.throttle and counted in Stats.
func TestBackpressureHoldsAndResumes(t *testing.T) {
	r, _, cfg := bpRecorder(t, false)
	other, err := r.Start(StartInfo{ID: "other", User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start(StartInfo{ID: "bulk", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	n := fillUntilHeld(t, s)
	if share := cfg.SpoolMaxBytes / 2 / 3; int64(n) < share {
		t.Errorf("held back after %d bytes; the share of 3 open sessions is %d", n, share)
	}
	stop := make(chan struct{})
	held := waitAsync(s.WaitOutput, stop)
	eventually(t, "the session held back", func() bool { return r.Stats().Throttled == 1 })

	// What never waits: the held session's keystrokes and resizes, and
	// every other session.
	s.Input("alice", []byte("\x03"))
	done := waitAsync(s.WaitInput, nil)
	<-done
	s.Resize(100, 30)
	other.Input("bob", []byte("ls\r"))
	other.Output([]byte("file\r\n"))
	other.WaitOutput(nil)
	if err := other.Record(event.Signal, "bob", nil, map[string]string{"signal": "INT"}); err != nil {
		t.Fatalf("another session's Record while one is held back: %v", err)
	}
	select {
	case <-held:
		t.Fatal("WaitOutput returned before Kafka took anything")
	default:
	}
	if s.Err() != nil {
		t.Fatalf("held session failed: %v", s.Err())
	}

	syncNow(t, r)
	sent := takeAll(t, r) // what Kafka takes; acknowledged segments are deleted
	<-held
	if st := r.Stats(); st.Throttled != 0 || st.Throttles != 1 {
		t.Errorf("Stats = %+v; want 1 throttle period, none now", st)
	}
	s.Output([]byte("more"))
	if err := s.End(0, nil); err != nil {
		t.Fatal(err)
	}
	syncNow(t, r)
	evs := bySession(append(sent, readAll(t, r)...))["bulk"]
	if err := event.Verify(evs); err != nil {
		t.Fatal(err)
	}
	var out int
	var thr []event.Event
	for _, e := range evs {
		switch e.Type {
		case event.Output:
			out += len(e.Data)
		case event.SessionThrottle:
			thr = append(thr, e)
		}
	}
	if out != n+4 {
		t.Errorf("%d output bytes recorded; want %d", out, n+4)
	}
	if len(thr) != 1 {
		t.Fatalf("%d session.throttle events; want 1", len(thr))
	}
	m := thr[0].Meta
	if m["reason"] != reasonShare || m["direction"] != "output" || m["ended"] != holdDrained || m["ms"] == "" {
		t.Errorf("session.throttle meta %v", m)
	}
	if used, err := strconv.ParseInt(m["spool_bytes"], 10, 64); err != nil || used < cfg.SpoolMaxBytes/2/3 {
		t.Errorf("spool_bytes %q; want the backlog at the start (at least the share)", m["spool_bytes"])
	}
}

// TestBackpressureStallFailsSession: when Kafka takes nothing for the
// stall timeout, a held-back session is out of spool (an outage): it fails
// with ErrSpoolFull, and other sessions still record.
func TestBackpressureStallFailsSession(t *testing.T) {
	r, clk, cfg := bpRecorder(t, false)
	other, err := r.Start(StartInfo{ID: "other", User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start(StartInfo{ID: "bulk", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	fillUntilHeld(t, s)
	s.Output([]byte("shown before the failure"))
	held := waitAsync(s.WaitOutput, nil)
	eventually(t, "the session held back", func() bool { return r.Stats().Throttled == 1 })
	clk.Advance(cfg.StallTimeout - time.Second)
	select {
	case <-held:
		t.Fatalf("WaitOutput returned before the stall timeout (err %v)", s.Err())
	default:
	}
	clk.Advance(time.Second)
	<-held
	if !errors.Is(s.Err(), ErrSpoolFull) {
		t.Fatalf("Err = %v; want ErrSpoolFull", s.Err())
	}
	if err := other.Record(event.Exec, "bob", []byte("uptime"), nil); err != nil {
		t.Fatalf("another session after the stall: %v", err)
	}
	if err := s.End(0, nil); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("End = %v; want ErrSpoolFull", err)
	}
	evs := bySession(diskEvents(t, cfg.SpoolDir))["bulk"]
	if err := event.Verify(evs); err != nil {
		t.Fatal(err)
	}
	if e := evs[len(evs)-2]; e.Type != event.Output || string(e.Data) != "shown before the failure" {
		t.Errorf("event before the end: %s %q; want the pending output", e.Type, e.Data)
	}
}

// TestBackpressureNoPublisher: with nothing publishing, nothing will
// drain: a session over its share fails at once.
func TestBackpressureNoPublisher(t *testing.T) {
	r, _, _ := bpRecorder(t, true)
	s, err := r.Start(StartInfo{ID: "bulk", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	fillUntilHeld(t, s)
	s.WaitOutput(nil)
	if !errors.Is(s.Err(), ErrSpoolFull) {
		t.Fatalf("Err = %v; want ErrSpoolFull", s.Err())
	}
}

// TestBackpressureStop: closing stop ends the wait (the session is being
// ended); the period is recorded as stopped.
func TestBackpressureStop(t *testing.T) {
	r, _, cfg := bpRecorder(t, false)
	s, err := r.Start(StartInfo{ID: "bulk", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	fillUntilHeld(t, s)
	stop := make(chan struct{})
	held := waitAsync(s.WaitOutput, stop)
	eventually(t, "the session held back", func() bool { return r.Stats().Throttled == 1 })
	close(stop)
	<-held
	s.WaitOutput(stop) // already stopped: no new period
	if err := s.End(0, nil); err != nil {
		t.Fatal(err)
	}
	var thr []event.Event
	for _, e := range bySession(diskEvents(t, cfg.SpoolDir))["bulk"] {
		if e.Type == event.SessionThrottle {
			thr = append(thr, e)
		}
	}
	if len(thr) != 1 || thr[0].Meta["ended"] != holdStopped {
		t.Fatalf("throttle events %v; want one, ended=stopped", thr)
	}
}

// TestBackpressureFairShare: the share shrinks with the open sessions; a
// session under its share never waits while another is held back; bulk
// input is held back too, but above the output share.
func TestBackpressureFairShare(t *testing.T) {
	r, _, cfg := bpRecorder(t, false)
	var ss []*Session
	for i := 0; i < 4; i++ {
		s, err := r.Start(StartInfo{ID: "s" + strconv.Itoa(i), User: "u" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	share := cfg.SpoolMaxBytes / 2 / 4
	n := fillUntilHeld(t, ss[0])
	if int64(n) < share || int64(n) > share+int64(cfg.ChunkBytes) {
		t.Errorf("held after %d bytes; want the share of 4 sessions, %d", n, share)
	}
	ss[1].Output(make([]byte, 32<<10))
	if ss[1].st.bp.over.Load() != 0 {
		t.Error("a session under its share is marked over it")
	}
	ss[1].WaitOutput(nil) // returns at once
	// Input: allowed up to 1.5 shares of backlog.
	in := 0
	for ss[2].st.bp.over.Load()&(1<<flowInput) == 0 {
		ss[2].Input("u2", make([]byte, 32<<10))
		in += 32 << 10
	}
	if int64(in) < share+share/2 {
		t.Errorf("input held after %d bytes; want 1.5 shares, %d", in, share+share/2)
	}
	for _, s := range ss {
		if s.Err() != nil {
			t.Fatalf("session %s failed: %v", s.ID(), s.Err())
		}
	}
}

func TestBackpressureConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"negative share", func(c *Config) { c.SessionShareMin = -1 }},
		{"share over half the spool", func(c *Config) { c.SpoolMaxBytes = 1 << 20; c.SessionShareMin = 1<<19 + 1 }},
		{"low water 5%", func(c *Config) { c.LowWaterPercent = 5 }},
		{"low water 95%", func(c *Config) { c.LowWaterPercent = 95 }},
		{"negative stall", func(c *Config) { c.StallTimeout = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.edit(&cfg)
			if _, err := New(cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("New = %v; want ErrConfig", err)
			}
		})
	}
}

// BenchmarkSessionOutputWait is BenchmarkSessionOutput as the gateway's
// copier runs it: each 4 KiB write followed by WaitOutput (the fast path,
// a session within its share).
func BenchmarkSessionOutputWait(b *testing.B) {
	r := benchRecorder(b)
	s, err := r.Start(StartInfo{User: "alice"})
	if err != nil {
		b.Fatal(err)
	}
	p := make([]byte, 4096)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Output(p)
		s.WaitOutput(nil)
	}
	if err := s.End(0, nil); err != nil {
		b.Fatal(err)
	}
}

// TestBackpressureSpoolBudget: when shares overcommit the spool (a large
// floor, many sessions), output stops at half the spool whatever the
// shares say, so the events that never wait keep their room: a third
// session's keystrokes and control events still record.
func TestBackpressureSpoolBudget(t *testing.T) {
	cfg := testConfig(t)
	cfg.SpoolMaxBytes = 1 << 20
	cfg.ChunkBytes = 16 << 10
	cfg.SessionShareMin = 1 << 19 // every session's share is half the spool
	r := openTest(t, cfg, options{clock: newFakeClock(), segmentBytes: 64 << 10})
	r.publishing.Store(true)
	a, _ := r.Start(StartInfo{ID: "a", User: "alice"})
	b, _ := r.Start(StartInfo{ID: "b", User: "bob"})
	c, err := r.Start(StartInfo{ID: "c", User: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 16<<10)
	for i := 0; i < 18; i++ { // 288 KiB: under a's share
		a.Output(chunk)
	}
	if a.st.bp.over.Load() != 0 {
		t.Fatal("a is over its share already; the test needs it under")
	}
	n := fillUntilHeld(t, b)
	if n > 300<<10 {
		t.Errorf("b held after %d bytes; want the spool's budget (512 KiB) reached first", n)
	}
	r.spool.mu.Lock()
	over, _, reason := r.spool.overLocked(b.st, flowOutput, false)
	r.spool.mu.Unlock()
	if !over || reason != reasonSpool {
		t.Errorf("b over=%v reason %q; want held by the spool budget", over, reason)
	}
	for i := 0; i < 100; i++ {
		c.Input("carol", []byte("k"))
	}
	c.Resize(80, 24)
	if err := c.Record(event.Signal, "carol", nil, nil); err != nil || c.Err() != nil {
		t.Fatalf("carol's events while output is held by the budget: %v, %v", err, c.Err())
	}
}
