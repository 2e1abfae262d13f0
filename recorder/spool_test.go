package recorder

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// recordOpen records a session that stays open: start, n inputs.
func recordOpen(t *testing.T, r *Recorder, id string, n int) *Session {
	t.Helper()
	s, err := r.Start(StartInfo{ID: id, User: "alice", Host: "db1", Login: "root", Kind: "shell", Class: "prod", Retention: 90})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		s.Input("alice", []byte("cmd "+strconv.Itoa(i)+"\r"))
	}
	return s
}

// checkInterrupted checks that evs (one session, sorted) verify from start
// to a synthesized end that names lastSeq.
func checkInterrupted(t *testing.T, evs []event.Event, lastSeq uint64) {
	t.Helper()
	if b := event.Verify(evs); b != nil {
		t.Fatalf("chain over start..end: %v", b)
	}
	end := evs[len(evs)-1]
	if end.Type != event.SessionEnd || end.Seq != lastSeq+1 {
		t.Fatalf("last event %s seq %d; want session.end seq %d", end.Type, end.Seq, lastSeq+1)
	}
	want := map[string]string{
		"interrupted": "true", "last_durable_seq": strconv.FormatUint(lastSeq, 10),
		"user": "alice", "host": "db1", "login": "root", "kind": "shell", "exit_status": "-1",
	}
	for k, v := range want {
		if end.Meta[k] != v {
			t.Errorf("end meta %s = %q; want %q (meta %v)", k, end.Meta[k], v, end.Meta)
		}
	}
	if end.Class != "prod" || end.Retention != 90 {
		t.Errorf("end class %q retention %d; want prod 90", end.Class, end.Retention)
	}
}

func TestCrashSynthesizesInterruptedEnd(t *testing.T) {
	cfg := testConfig(t)
	r := openTest(t, cfg, options{})
	recordOpen(t, r, "open-1", 5)
	done := recordOpen(t, r, "done-1", 2)
	if err := done.End(0, nil); err != nil {
		t.Fatal(err)
	}
	syncNow(t, r)
	r.halt()

	r2 := openTest(t, cfg, options{})
	groups := bySession(diskEvents(t, cfg.SpoolDir))
	checkInterrupted(t, groups["open-1"], 5)
	if got := types(groups["done-1"]); len(got) != 4 || got[3] != event.SessionEnd || groups["done-1"][3].Meta["interrupted"] != "" {
		t.Fatalf("ended session changed by recovery: %v", got)
	}
	if st := r2.Stats(); st.OpenSessions != 0 || st.SpoolEvents != int64(len(diskEvents(t, cfg.SpoolDir))) {
		t.Fatalf("stats after recovery = %+v", st)
	}
	// A second restart finds nothing left to close.
	r2.Close()
	openTest(t, cfg, options{})
	if n := len(bySession(diskEvents(t, cfg.SpoolDir))["open-1"]); n != 7 {
		t.Fatalf("open-1 has %d events after a second restart; want 7", n)
	}
}

func TestTornTailRecovery(t *testing.T) {
	tests := []struct {
		name string
		// damage changes the last segment whose last frame starts at
		// lastFrame; it returns how many input events must survive.
		damage func(t *testing.T, path string, lastFrame int64, size int64) int
	}{
		{"cut inside the last frame's body", func(t *testing.T, path string, last, size int64) int {
			truncate(t, path, size-3)
			return 9
		}},
		{"cut inside the last frame's header", func(t *testing.T, path string, last, size int64) int {
			truncate(t, path, last+5)
			return 9
		}},
		{"garbage after the last frame", func(t *testing.T, path string, last, size int64) int {
			appendBytes(t, path, []byte{0, 0, 0, 9, 1, 2, 3})
			return 10
		}},
		{"flipped byte in the last frame", func(t *testing.T, path string, last, size int64) int {
			flip(t, path, size-10)
			return 9
		}},
		{"zero-filled tail (delayed allocation)", func(t *testing.T, path string, last, size int64) int {
			appendBytes(t, path, make([]byte, 4096))
			return 10
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			r := openTest(t, cfg, options{})
			recordOpen(t, r, "s", 10)
			syncNow(t, r)
			r.halt()
			nos, _ := listSegments(cfg.SpoolDir)
			path := segPath(cfg.SpoolDir, nos[len(nos)-1])
			b, _ := os.ReadFile(path)
			var last int
			scanFrames(b[segHeaderSize:], func(off int, f frame) error { last = segHeaderSize + off; return nil })
			keep := tt.damage(t, path, int64(last), int64(len(b)))

			openTest(t, cfg, options{})
			evs := bySession(diskEvents(t, cfg.SpoolDir))["s"]
			if len(evs) != keep+2 {
				t.Fatalf("%d events after recovery; want start + %d inputs + end", len(evs), keep)
			}
			checkInterrupted(t, evs, uint64(keep))
		})
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestReopenRequeuesUnacked(t *testing.T) {
	cfg := testConfig(t)
	o := options{segmentBytes: 4 << 10}
	r := openTest(t, cfg, o)
	s := recordOpen(t, r, "s", 200)
	s.End(0, nil)
	want := len(diskEvents(t, cfg.SpoolDir))
	r.Close()

	r = openTest(t, cfg, o)
	if got := r.Stats().SpoolEvents; got != int64(want) {
		t.Fatalf("SpoolEvents after reopen = %d; want %d", got, want)
	}
	got := readAll(t, r)
	if len(got) != want {
		t.Fatalf("reader returned %d events; want %d", len(got), want)
	}
	if b := event.Verify(got); b != nil {
		t.Fatalf("chain of re-read events: %v", b)
	}
}

// readAll reads every durable event through the publisher's reader
// without acknowledging.
func readAll(t *testing.T, r *Recorder) []event.Event {
	t.Helper()
	rd := r.spool.newReader()
	defer rd.closeFile()
	var out []event.Event
	var b batch
	for {
		if err := rd.next(&b, 100, 1<<20); err != nil {
			t.Fatal(err)
		}
		if len(b.recs) == 0 && !b.moved {
			return out
		}
		for _, rec := range b.recs {
			var e event.Event
			if err := event.Unmarshal(rec.value, &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
	}
}

// ackAll acknowledges every durable event as the publisher would.
func ackAll(t *testing.T, r *Recorder) int {
	t.Helper()
	rd := r.spool.newReader()
	defer rd.closeFile()
	var b batch
	n := 0
	for {
		if err := rd.next(&b, 100, 1<<20); err != nil {
			t.Fatal(err)
		}
		if len(b.recs) == 0 && !b.moved {
			return n
		}
		n += len(b.recs)
		if err := r.spool.ackTo(b.seg, b.off, uint64(len(b.recs)), 0); err != nil {
			t.Fatal(err)
		}
	}
}

// takeAll reads and acknowledges every durable event in one pass, as the
// publisher does: an event appended meanwhile is either read and
// acknowledged or left for the next pass, never acknowledged unread
// (readAll then ackAll could lose it).
func takeAll(t *testing.T, r *Recorder) []event.Event {
	t.Helper()
	rd := r.spool.newReader()
	defer rd.closeFile()
	var out []event.Event
	var b batch
	for {
		if err := rd.next(&b, 100, 1<<20); err != nil {
			t.Fatal(err)
		}
		if len(b.recs) == 0 && !b.moved {
			return out
		}
		for _, rec := range b.recs {
			var e event.Event
			if err := event.Unmarshal(rec.value, &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		if err := r.spool.ackTo(b.seg, b.off, uint64(len(b.recs)), 0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAckDeletesSegmentsAndPersists(t *testing.T) {
	cfg := testConfig(t)
	o := options{segmentBytes: 4 << 10}
	r := openTest(t, cfg, o)
	s := recordOpen(t, r, "s", 300)
	s.End(0, nil)
	if st := r.Stats(); st.SpoolSegments < 5 {
		t.Fatalf("only %d segments; the test needs rotation", st.SpoolSegments)
	}
	if n := ackAll(t, r); n != 302 {
		t.Fatalf("acked %d; want 302", n)
	}
	st := r.Stats()
	if st.SpoolEvents != 0 || st.SpoolSegments != 1 || st.Published != 302 || st.OldestUnsentAge != 0 {
		t.Fatalf("stats after acking everything = %+v", st)
	}
	if nos, _ := listSegments(cfg.SpoolDir); len(nos) != 1 {
		t.Fatalf("segment files %v; want only the current one", nos)
	}
	s2 := recordOpen(t, r, "s2", 3)
	s2.End(0, nil)
	r.Close()

	r = openTest(t, cfg, o)
	got := readAll(t, r)
	if len(got) != 5 || got[0].Session != "s2" {
		t.Fatalf("after reopen %d unacked events (first %q); want the 5 of s2", len(got), got[0].Session)
	}
}

func TestInterruptedEndAfterItsSegmentsWereDeleted(t *testing.T) {
	cfg := testConfig(t)
	o := options{segmentBytes: 4 << 10}
	r := openTest(t, cfg, o)
	long := recordOpen(t, r, "long", 3)
	busy := recordOpen(t, r, "busy", 400)
	busy.End(0, nil)
	syncNow(t, r)
	all := readAll(t, r)
	ackAll(t, r)
	long.Input("alice", []byte("late\r"))
	syncNow(t, r)
	r.halt()

	r = openTest(t, cfg, o)
	recovered := diskEvents(t, cfg.SpoolDir)
	evs := bySession(append(all, recovered...))["long"]
	evs = slices.CompactFunc(evs, func(a, b event.Event) bool { return a.Seq == b.Seq })
	checkInterrupted(t, evs, 4)
	if evs[0].Type != event.SessionStart {
		t.Fatal("test lost the start")
	}
	if bySession(recovered)["long"][0].Type == event.SessionStart {
		t.Fatal("the segment with long's start was not deleted; the test proves nothing")
	}
}

func TestSpoolFull(t *testing.T) {
	cfg := testConfig(t)
	cfg.SpoolMaxBytes = 16 << 10
	cfg.ChunkBytes = 1024
	r := openTest(t, cfg, options{})
	other, err := r.Start(StartInfo{ID: "other", User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start(StartInfo{ID: "s", User: "alice", Host: "db1", Login: "root", Class: "prod", Retention: 90})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		s.Output(make([]byte, 512))
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed at the spool limit")
	}
	if !errors.Is(s.Err(), ErrSpoolFull) {
		t.Fatalf("Err = %v; want ErrSpoolFull", s.Err())
	}
	if err := other.Record(event.Exec, "bob", make([]byte, 2048), nil); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("other session's Record = %v; want ErrSpoolFull", err)
	}
	if err := s.End(0, nil); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("End = %v; want an error wrapping ErrSpoolFull", err)
	}
	evs := bySession(diskEvents(t, cfg.SpoolDir))["s"]
	if b := event.Verify(evs); b != nil {
		t.Fatalf("chain of the refused session: %v", b)
	}
	end := evs[len(evs)-1]
	if end.Type != event.SessionEnd || end.Meta["interrupted"] != "true" || end.Meta["exit_status"] != "0" {
		t.Fatalf("last event %s meta %v; want an interrupted end", end.Type, end.Meta)
	}
	// Space freed by acks lets new sessions record again.
	ackAll(t, r)
	s3, err := r.Start(StartInfo{ID: "s3"})
	if err != nil {
		t.Fatalf("Start after the spool drained: %v", err)
	}
	if err := s3.End(0, nil); err != nil {
		t.Fatal(err)
	}
}

func TestCloseInterruptsOpenSessions(t *testing.T) {
	cfg := testConfig(t)
	r := openTest(t, cfg, options{})
	s := recordOpen(t, r, "s", 2)
	s.Output([]byte("pending"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	<-s.Done()
	if !errors.Is(s.Err(), ErrClosed) {
		t.Fatalf("Err = %v; want ErrClosed", s.Err())
	}
	evs := bySession(diskEvents(t, cfg.SpoolDir))["s"]
	if evs[3].Type != event.Output || string(evs[3].Data) != "pending" {
		t.Fatalf("pending output not flushed at Close: %v", types(evs))
	}
	checkInterrupted(t, evs, 3)
	if err := s.End(0, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("End after Close = %v; want ErrClosed", err)
	}
}

func TestSpoolLocked(t *testing.T) {
	cfg := testConfig(t)
	openTest(t, cfg, options{})
	if _, err := New(cfg); !errors.Is(err, ErrSpoolLocked) {
		t.Fatalf("second New on one spool = %v; want ErrSpoolLocked", err)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no spool dir", func(c *Config) { c.SpoolDir = "" }},
		{"sync interval above 100ms", func(c *Config) { c.SyncInterval = time.Second }},
		{"tiny chunks", func(c *Config) { c.ChunkBytes = 10 }},
		{"huge chunks", func(c *Config) { c.ChunkBytes = 2 << 20 }},
		{"negative limit", func(c *Config) { c.SpoolMaxBytes = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.mod(&cfg)
			if _, err := New(cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("New = %v; want ErrConfig", err)
			}
		})
	}
}

func TestCorruptAckFileResendsEverything(t *testing.T) {
	cfg := testConfig(t)
	r := openTest(t, cfg, options{})
	s := recordOpen(t, r, "s", 3)
	s.End(0, nil)
	ackAll(t, r)
	s2 := recordOpen(t, r, "s2", 3)
	s2.End(0, nil)
	r.Close()
	if err := os.WriteFile(cfg.SpoolDir+"/"+ackFileName, []byte("garbage garbage!"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = openTest(t, cfg, options{})
	if got := len(readAll(t, r)); got != 10 {
		t.Fatalf("%d events to resend; want all 10 of the current segment", got)
	}
}

func TestSpoolWriteFailureEndsAllSessions(t *testing.T) {
	cfg := testConfig(t)
	r := openTest(t, cfg, options{segmentBytes: 4 << 10})
	a := recordOpen(t, r, "a", 1)
	b := recordOpen(t, r, "b", 1)
	syncNow(t, r)
	nos, _ := listSegments(cfg.SpoolDir)
	// The next segment's name is taken: creating it fails.
	if err := os.Symlink("/dev/full", segPath(cfg.SpoolDir, nos[len(nos)-1]+1)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		a.Input("alice", make([]byte, 200))
	}
	for _, s := range []*Session{a, b} {
		select {
		case <-s.Done():
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: Done not closed after a spool write failure", s.ID())
		}
		if errors.Is(s.Err(), ErrSpoolFull) || s.Err() == nil {
			t.Fatalf("%s: Err = %v; want the write error", s.ID(), s.Err())
		}
		if err := s.End(0, nil); err == nil {
			t.Fatalf("%s: End succeeded on a failed spool", s.ID())
		}
	}
	if _, err := r.Start(StartInfo{}); err == nil {
		t.Fatal("Start succeeded on a failed spool")
	}
}

func TestStatsOldestUnsent(t *testing.T) {
	c := newFakeClock()
	r := openTest(t, testConfig(t), options{clock: c})
	if st := r.Stats(); st.OldestUnsentAge != 0 || st.SpoolEvents != 0 {
		t.Fatalf("empty spool stats = %+v", st)
	}
	s := recordOpen(t, r, "s", 0)
	c.Advance(5 * time.Second)
	s.Input("alice", []byte("x"))
	if st := r.Stats(); st.OldestUnsentAge != 5*time.Second || st.SpoolEvents != 2 || st.OpenSessions != 1 {
		t.Fatalf("stats = %+v; want oldest 5s, 2 events, 1 open", st)
	}
	syncNow(t, r)
	ackAll(t, r)
	if st := r.Stats(); st.OldestUnsentAge != 0 || st.SpoolEvents != 0 || st.Published != 2 {
		t.Fatalf("stats after ack = %+v", st)
	}
}

func TestDrainHonoursContext(t *testing.T) {
	r := openTest(t, testConfig(t), options{})
	recordOpen(t, r, "s", 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Drain(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain without a publisher = %v; want context.Canceled", err)
	}
}

// TestResurrectedSegment puts back an acknowledged, deleted segment (as a
// crash right after its deletion can): it must not make recovery think
// its sessions are still open, and it is deleted again.
func TestResurrectedSegment(t *testing.T) {
	cfg := testConfig(t)
	o := options{segmentBytes: 4 << 10}
	r := openTest(t, cfg, o)
	long := recordOpen(t, r, "long", 1)
	mid := recordOpen(t, r, "mid", 1)
	busy := recordOpen(t, r, "busy", 100)
	mid.End(0, nil) // in a segment that stays deleted
	for i := 0; i < 100; i++ {
		busy.Input("alice", []byte("more input to fill segments\r"))
	}
	syncNow(t, r)
	nos, _ := listSegments(cfg.SpoolDir)
	first, err := os.ReadFile(segPath(cfg.SpoolDir, nos[0]))
	if err != nil {
		t.Fatal(err)
	}
	busy.End(0, nil)
	ackAll(t, r)
	long.Input("alice", []byte("late\r"))
	syncNow(t, r)
	r.halt()
	if err := os.WriteFile(segPath(cfg.SpoolDir, nos[0]), first, 0o600); err != nil {
		t.Fatal(err)
	}

	r = openTest(t, cfg, o)
	groups := bySession(diskEvents(t, cfg.SpoolDir))
	for _, id := range []string{"mid", "busy"} {
		for _, e := range groups[id] {
			if e.Type == event.SessionEnd && e.Meta["interrupted"] != "" {
				t.Fatalf("recovery wrote an end for %s, which had ended: %v", id, e.Meta)
			}
		}
	}
	long2 := groups["long"]
	end := long2[len(long2)-1]
	if end.Type != event.SessionEnd || end.Seq != 3 || end.Meta["last_durable_seq"] != "2" {
		t.Fatalf("long ends with %s seq %d meta %v; want session.end seq 3", end.Type, end.Seq, end.Meta)
	}
	if _, err := os.Stat(segPath(cfg.SpoolDir, nos[0])); !os.IsNotExist(err) {
		t.Fatalf("the resurrected, acknowledged segment was not deleted: %v", err)
	}
}

// TestCloseDuringTraffic closes the recorder while sessions start, type
// and end: every recorded stream must still be whole (start..end) and
// verify.
func TestCloseDuringTraffic(t *testing.T) {
	cfg := testConfig(t)
	r := openTest(t, cfg, options{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s, err := r.Start(StartInfo{User: "alice"})
				if err != nil {
					return // closed
				}
				for i := 0; i < 20; i++ {
					s.Input("alice", []byte("x"))
					s.Output([]byte("y"))
				}
				s.End(0, nil)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	groups := bySession(diskEvents(t, cfg.SpoolDir))
	if len(groups) == 0 {
		t.Fatal("nothing recorded")
	}
	for id, evs := range groups {
		if b := event.Verify(evs); b != nil {
			t.Fatalf("%s: %v", id, b)
		}
		if evs[0].Type != event.SessionStart || evs[len(evs)-1].Type != event.SessionEnd {
			t.Fatalf("%s: stream %v is not whole", id, types(evs))
		}
	}
}
