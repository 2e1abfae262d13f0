package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"

	"github.com/foureyes/foureyes/internal/freeport"
)

var errorsIs = errors.Is

func TestSessionRowOf(t *testing.T) {
	const end = int64(2_000_000_000_000_000_000)
	tests := []struct {
		name string
		e    event.Event
		ok   bool
		want sessionRow
	}{
		{name: "output is no session row", e: event.Event{Type: event.Output}},
		{
			name: "start",
			e: event.Event{Session: "s", Seq: 0, Time: 1_500_000_000_123_456_789, Type: event.SessionStart, Gateway: "gw",
				Class: "logs", Retention: 3, Meta: map[string]string{"user": "alice", "host": "h", "login": "root", "remote": "r", "kind": "exec", "command": "uptime"}},
			ok: true,
			want: sessionRow{session: "s", kind: "exec", user: "alice", host: "h", login: "root", remote: "r", gateway: "gw",
				started: 1_500_000_000, startedNs: 1_500_000_000_123_456_789, exitStatus: -1, command: "uptime", approvers: []string{},
				class: "logs", retention: 3},
		},
		{
			name: "end with everything",
			e: event.Event{Session: "s", Seq: 9, Time: end, Type: event.SessionEnd, Gateway: "gw2", Class: "c", Retention: 90,
				Meta: map[string]string{"user": "alice", "host": "h", "login": "root", "remote": "r", "kind": "shell", "gateway": "gw1",
					"started_ns": "1999999999000000000", "exit_status": "-2", "bytes_in": "7", "bytes_out": "99", "interrupted": "true",
					"approvers": "bob,, carol ", "reason": "why"}},
			ok: true,
			want: sessionRow{session: "s", version: 9, kind: "shell", user: "alice", host: "h", login: "root", remote: "r", gateway: "gw1",
				started: 1_999_999_999, startedNs: 1_999_999_999_000_000_000, endedNs: end, exitStatus: -2, interrupted: 1,
				bytesIn: 7, bytesOut: 99, approvers: []string{"bob", "carol"}, reason: "why", lastSeq: 9, class: "c", retention: 90},
		},
		{
			name: "end without started_ns falls back to duration",
			e:    event.Event{Session: "s", Seq: 4, Time: end, Type: event.SessionEnd, Meta: map[string]string{"duration_ms": "1500", "exit_status": "x"}},
			ok:   true,
			want: sessionRow{session: "s", version: 4, started: (end - 1_500_000_000) / 1e9, startedNs: end - 1_500_000_000, endedNs: end, exitStatus: -1,
				approvers: []string{}, lastSeq: 4},
		},
		{
			name: "end with nonsense times falls back to the end time",
			e: event.Event{Session: "s", Seq: 4, Time: end, Type: event.SessionEnd,
				Meta: map[string]string{"started_ns": "3000000000000000000", "duration_ms": "-5", "bytes_in": "-1"}},
			ok:   true,
			want: sessionRow{session: "s", version: 4, started: end / 1e9, startedNs: end, endedNs: end, exitStatus: -1, approvers: []string{}, lastSeq: 4},
		},
		{
			name: "end with a huge duration",
			e:    event.Event{Session: "s", Seq: 1, Time: end, Type: event.SessionEnd, Meta: map[string]string{"duration_ms": "9223372036854775807"}},
			ok:   true,
			want: sessionRow{session: "s", version: 1, started: end / 1e9, startedNs: end, endedNs: end, exitStatus: -1, approvers: []string{}, lastSeq: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sessionRowOf(&tt.e)
			if ok != tt.ok {
				t.Fatalf("ok = %v; want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			tt.want.lastHash = tt.e.Hash.String()
			if !equalRows(got, tt.want) {
				t.Fatalf("row = %+v;\nwant %+v", got, tt.want)
			}
		})
	}
}

func equalRows(a, b sessionRow) bool {
	return slices.Equal(a.approvers, b.approvers) && fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b)
}

func TestBatchKeepsLatestSessionRowAndHighestOffsets(t *testing.T) {
	b := newBatch(4)
	evs := sessionEvents("s", 5, true)
	// Delivered out of order, as after a rebalance: end, start, start again.
	order := []int{4, 0, 0}
	for i, j := range order {
		rec := decode(kafka.Message{Partition: 1, Offset: int64(10 - i), Value: mustMarshal(t, &evs[j])}, time.Time{})
		b.add(&rec)
	}
	bad := decode(kafka.Message{Partition: 2, Offset: 3, Value: []byte("junk")}, time.Time{})
	b.add(&bad)
	if len(b.sessions) != 1 || b.sessions[0].version != 4 || b.sessions[0].endedNs == 0 {
		t.Fatalf("sessions = %+v; want only the end row", b.sessions)
	}
	if b.offsets[1] != 10 || b.offsets[2] != 3 || b.n != 4 || b.events.len() != 3 || len(b.rejected) != 1 {
		t.Fatalf("offsets = %v, n = %d, events = %d, rejected = %d", b.offsets, b.n, b.events.len(), len(b.rejected))
	}
	b.reset()
	if b.n != 0 || b.events.len() != 0 || len(b.sessions) != 0 || len(b.latest) != 0 || len(b.rejected) != 0 || len(b.offsets) != 0 {
		t.Fatal("reset left rows behind")
	}
}

func mustMarshal(t testing.TB, e *event.Event) []byte {
	b, err := event.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestColumnListsMatchRows(t *testing.T) {
	c := newEventCols(1)
	if got, want := len(c.columns()), len(strings.Split(eventColumns, ", ")); got != want {
		t.Fatalf("eventCols has %d columns; eventColumns names %d", got, want)
	}
}

func TestDetectFeatures(t *testing.T) {
	tests := []struct {
		version string
		want    features
	}{
		{"18.16.1", features{}},
		{"19.1.6", features{Codecs: true}},
		{"19.6.2.11", features{TTL: true, Codecs: true}},
		{"24.8.4.13", features{TTL: true, Codecs: true}},
		{"", features{}},
		{"garbage", features{}},
		{"x.y.z", features{}},
	}
	for _, tt := range tests {
		if got := detectFeatures(tt.version); got != tt.want {
			t.Errorf("detectFeatures(%q) = %+v; want %+v", tt.version, got, tt.want)
		}
	}
}

func TestConfig(t *testing.T) {
	c := Config{Brokers: []string{"k:9092"}}.withDefaults()
	if c.Topic != DefaultTopic || c.Group != DefaultGroup || c.BatchRows != DefaultBatchRows ||
		c.BatchInterval != DefaultBatchInterval || c.Database != DefaultDatabase || c.Logger == nil {
		t.Fatalf("defaults = %+v", c)
	}
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"valid", Config{Brokers: []string{"k:9092"}}, true},
		{"no brokers", Config{}, false},
		{"bad database", Config{Brokers: []string{"k:9092"}, Database: "a.b"}, false},
	}
	for _, tt := range tests {
		err := tt.cfg.withDefaults().validate()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("%s: validate = %v", tt.name, err)
		}
	}
	full, err := config.Parse([]byte("kafka: {brokers: [\"k:1\"], topic: t}\nclickhouse: {database: d}\ningest: {group: g, batch_rows: 7, batch_interval: 1s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := FromConfig(full, slog.Default())
	if got.Topic != "t" || got.Group != "g" || got.BatchRows != 7 || got.BatchInterval != time.Second || got.Database != "d" || got.Brokers[0] != "k:1" {
		t.Fatalf("FromConfig = %+v", got)
	}
}

// TestRunLifecycle: an invalid Config is an error, a second concurrent Run
// is refused, and Run returns nil promptly after cancel even when the
// broker never answered.
func TestRunLifecycle(t *testing.T) {
	if err := New(nil, Config{}).Run(context.Background()); !errors.Is(err, ErrConfig) {
		t.Fatalf("Run without brokers = %v; want ErrConfig", err)
	}
	dead := freeport.MustAddr(t) // nothing listens there
	in := New(nil, Config{Brokers: []string{dead}, Logger: testLogger(t)})
	in.fetchBackoff = 10 * time.Millisecond
	r := startIngester(t, in)
	waitFor(t, "Run to start", 10*time.Second, func() bool { return in.running.Load() })
	if err := in.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v; want ErrRunning", err)
	}
	r.stop(t)
	if in.running.Load() {
		t.Fatal("still running after Run returned")
	}
	if s := in.Stats(); s.Lag != 0 || s.Events != 0 {
		t.Fatalf("Stats after stop = %+v", s)
	}
}

func FuzzDecode(f *testing.F) {
	evs := sessionEvents("fz", 3, true)
	for i := range evs {
		f.Add(mustMarshal(f, &evs[i]))
	}
	f.Add([]byte(`{"v":1,"session":"s","type":"session.end","ts":1,"meta":{"started_ns":"-1","duration_ms":"99999999999999"}}`))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rec := decode(kafka.Message{Topic: "t", Partition: 1, Offset: 2, Value: in}, time.Unix(1, 0))
		b := newBatch(1)
		b.add(&rec)
		if rec.rejected != nil {
			if rec.rejected.raw != string(in) || len(b.rejected) != 1 || b.events.len() != 0 {
				t.Fatalf("rejected record lost its bytes or leaked rows: %+v", rec.rejected)
			}
			return
		}
		if b.events.len() != 1 || rec.ev.ts < 0 || rec.ev.ts > maxDateTime || len(rec.ev.hash) != event.HashSize || len(rec.ev.prevHash) != event.HashSize {
			t.Fatalf("accepted record = %+v", rec.ev)
		}
		if s := rec.session; s != nil && (s.startedNs > rec.ev.tsNs || s.startedNs <= 0 || s.started != s.startedNs/1e9) {
			t.Fatalf("session row times: started %d, event %d", s.startedNs, rec.ev.tsNs)
		}
	})
}

func kafkaMessage(t testing.TB, e *event.Event) kafka.Message {
	return kafka.Message{Topic: "t", Value: mustMarshal(t, e)}
}

// TestTTLBackstopOnlyWhereSupported checks that migration 5 sets a TTL only
// on servers that have one, and that it trails the retention job.
func TestTTLBackstopOnlyWhereSupported(t *testing.T) {
	var m migration
	for _, x := range migrations {
		if x.version == 5 {
			m = x
		}
	}
	if steps := m.steps("foureyes", detectFeatures("18.16.1")); len(steps) != 0 {
		t.Errorf("18.16: %d steps; want none", len(steps))
	}
	steps := m.steps("foureyes", detectFeatures("24.8.4.13"))
	if len(steps) != 2 {
		t.Fatalf("24.8: %d steps; want 2", len(steps))
	}
	for _, st := range steps {
		if s := string(st.(ddl)); !strings.Contains(s, "MODIFY TTL") || !strings.Contains(s, "retention_days + 2") {
			t.Errorf("step %q; want a TTL two days after the class", s)
		}
	}
}
