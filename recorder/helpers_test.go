package recorder

import (
	"bytes"
	"log/slog"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// fakeClock is a manual clock: Now moves only with Advance, which runs the
// timers that fall due.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, f: f, at: c.now.Add(d), active: true}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock by d and runs due timers on the caller's goroutine.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if t.active && !t.at.After(c.now) {
			t.active = false
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

type fakeTimer struct {
	c      *fakeClock
	f      func()
	at     time.Time
	active bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.at, t.active = t.c.now.Add(d), true
	return was
}

// testLogger logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// testConfig returns a Config for a spool in a fresh temporary directory.
func testConfig(t testing.TB) Config {
	return Config{Gateway: "gw-test", SpoolDir: t.TempDir(), Logger: testLogger(t)}
}

// openTest opens a recorder that is closed when the test ends.
func openTest(t testing.TB, cfg Config, o options) *Recorder {
	t.Helper()
	r, err := newRecorder(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// diskEvents decodes every event frame in the spool directory, in spool
// order. Unwritten (not yet synced) events are not included.
func diskEvents(t testing.TB, dir string) []event.Event {
	t.Helper()
	nos, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	for _, no := range nos {
		b, err := os.ReadFile(segPath(dir, no))
		if err != nil {
			t.Fatal(err)
		}
		if err := parseSegHeader(b, no); err != nil {
			t.Fatalf("segment %d: %v", no, err)
		}
		_, err = scanFrames(b[segHeaderSize:], func(_ int, f frame) error {
			if f.kind != kindEvent {
				return nil
			}
			var e event.Event
			if err := event.Unmarshal(f.payload, &e); err != nil {
				return err
			}
			if e.Session != string(f.session) || e.Time != f.time {
				t.Errorf("frame header (%s, %d) differs from event (%s, %d)", f.session, f.time, e.Session, e.Time)
			}
			out = append(out, e)
			return nil
		})
		if err != nil {
			t.Fatalf("segment %d: %v", no, err)
		}
	}
	return out
}

// bySession groups events by session, sorted by seq.
func bySession(evs []event.Event) map[string][]event.Event {
	m := map[string][]event.Event{}
	for _, e := range evs {
		m[e.Session] = append(m[e.Session], e)
	}
	for _, l := range m {
		sort.SliceStable(l, func(i, j int) bool { return l[i].Seq < l[j].Seq })
	}
	return m
}

// types lists the types of evs.
func types(evs []event.Event) []event.Type {
	out := make([]event.Type, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// syncNow makes everything appended durable.
func syncNow(t testing.TB, r *Recorder) {
	t.Helper()
	if err := r.spool.sync(); err != nil {
		t.Fatal(err)
	}
}
