package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/cmdline"
	"github.com/foureyes/foureyes/event"
)

// TestHostileRecordsNextToGenuineTraffic: a Kafka writer without signing
// keys produces records no gateway makes — a 300 KB session id (whose
// rebuild query once exceeded max_query_size and stopped ingest for
// good), ids of other forms, oversized names — between genuine events.
// The hostile records land in rejected; every genuine event arrives.
func TestHostileRecordsNextToGenuineTraffic(t *testing.T) {
	f := newFixture(t, 1)
	hostile := map[string]event.Event{
		"300 KB session id": {Session: strings.Repeat("a", 300<<10), Seq: 1},
		"530-byte id":       {Session: strings.Repeat("b", 530), Seq: 1},
		"upper-case UUID":   {Session: "0B0F6A8E-1C1E-4A57-9D53-000000000042", Seq: 1},
		"UUID in braces":    {Session: "{0b0f6a8e-1c1e-4a57-9d53-000000000042}", Seq: 1},
		"long actor":        {Session: sid("x1"), Seq: 1, Actor: strings.Repeat("m", 2000)},
		"long gateway":      {Session: sid("x2"), Seq: 1, Gateway: strings.Repeat("g", 300)},
		"long class":        {Session: sid("x3"), Seq: 1, Class: strings.Repeat("c", 300)},
	}
	var keys []string
	var values [][]byte
	for _, e := range hostile {
		e.V, e.Time, e.Type, e.Data = event.Version, baseTime, event.Output, []byte("x")
		if e.Gateway == "" {
			e.Gateway = "gw1"
		}
		if e.Class == "" {
			e.Class, e.Retention = "production", 90
		}
		e.Hash = event.ComputeHash(&e)
		keys, values = append(keys, "k"), append(values, mustMarshal(t, &e))
	}
	produce(t, f.addr, testTopic, keys, values)
	evs, _ := workload("hostile", 3, 1, 30)
	produceEvents(t, f.addr, testTopic, evs)
	in := New(f.conn, f.cfg)
	startIngester(t, in)
	waitFor(t, "genuine events stored", 60*time.Second, func() bool { return f.distinctEvents(t) == uint64(len(evs)) })
	waitFor(t, "hostile records rejected", 30*time.Second, func() bool {
		return count(t, f.conn, "SELECT count() FROM "+f.db+".rejected") == uint64(len(hostile))
	})
	if got := in.Stats().Rejected; got != uint64(len(hostile)) {
		t.Errorf("Stats().Rejected = %d; want %d", got, len(hostile))
	}
}

// TestRebuildContentFailureDoesNotBlock: when rebuilding one session's
// search state fails because of what the session holds (the server
// refuses the query), derive goes on: that session derives nothing, is
// reported, and the other sessions of the batch are derived. An outage
// is still returned, to be retried.
func TestRebuildContentFailureDoesNotBlock(t *testing.T) {
	good, bad := &searchStream{id: sid("good")}, &searchStream{id: sid("bad")}
	for _, s := range []*searchStream{good, bad} {
		s.add(event.SessionStart, "alice", "", map[string]string{"user": "alice", "host": "db1", "kind": "shell"})
		s.add(event.Input, "alice", "uptime\r", nil)
	}
	tooBig := &clickhouse.Exception{Code: 62, Message: "Max query size exceeded"}
	outage := errors.New("read: connection reset by peer")
	var fail error
	d := newDeriver(16)
	d.rebuild = func(_ context.Context, before map[string]uint64, feed func(e *event.Event)) error {
		if _, ok := before[bad.id]; ok && fail != nil {
			return fail
		}
		for i := range good.evs[:before[good.id]] {
			feed(&good.evs[i])
		}
		return nil
	}
	var gaveUp []string
	d.gaveUp = func(id string, _ error) { gaveUp = append(gaveUp, id) }
	batchOf := func(evs ...event.Event) *batch {
		b := newBatch(len(evs))
		for i := range evs {
			rec := decode(kafka.Message{Value: mustMarshal(t, &evs[i])}, time.Time{})
			if rec.rejected != nil {
				t.Fatalf("rejected: %s", rec.rejected.err)
			}
			b.add(&rec)
		}
		return b
	}
	ctx := context.Background()

	fail = outage
	if err := d.derive(ctx, batchOf(good.evs[1], bad.evs[1])); !errors.Is(err, outage) {
		t.Fatalf("derive during an outage = %v; want the outage", err)
	}
	d = newDeriver(16)
	d.rebuild = func(_ context.Context, before map[string]uint64, feed func(e *event.Event)) error {
		if _, ok := before[bad.id]; ok {
			return tooBig
		}
		for i := range good.evs[:before[good.id]] {
			feed(&good.evs[i])
		}
		return nil
	}
	d.gaveUp = func(id string, _ error) { gaveUp = append(gaveUp, id) }
	b := batchOf(good.evs[1], bad.evs[1])
	if err := d.derive(ctx, b); err != nil {
		t.Fatalf("derive = %v; want nil (the failure is the session's content)", err)
	}
	if len(b.commands) != 1 || b.commands[0].session != good.id || b.commands[0].line != "uptime" {
		t.Errorf("commands = %+v; want uptime of the good session only", b.commands)
	}
	if len(gaveUp) != 1 || gaveUp[0] != bad.id {
		t.Errorf("gave up on %v; want [%s]", gaveUp, bad.id)
	}
	bad.add(event.Input, "alice", "id\r", nil)
	b = batchOf(bad.evs[2])
	if err := d.derive(ctx, b); err != nil || len(b.commands) != 0 || len(gaveUp) != 1 {
		t.Errorf("later event of the unusable session: err %v, commands %+v, gave up %v; want nothing derived, no new rebuild", err, b.commands, gaveUp)
	}
}

// TestForgedSeqDoesNotMoveSearchState: events are not signed one by one,
// so the deriver follows each session's hash chain: an event whose seq
// skips ahead (2^62, MaxUint64, which once overflowed next) or whose prev
// is not the last event's hash derives nothing and moves nothing, a
// forged end does not end the state, and the genuine events after it are
// all derived — in the same batch or the next, with the session's state
// in memory or rebuilt from the store.
func TestForgedSeqDoesNotMoveSearchState(t *testing.T) {
	s := &searchStream{id: sid("forged-seq")}
	s.add(event.SessionStart, "alice", "", map[string]string{"user": "alice", "host": "db1", "kind": "shell"})
	s.add(event.Input, "alice", "ls\r", nil)
	s.add(event.Input, "alice", "cat /etc/shadow\r", nil)
	s.add(event.Input, "alice", "id\r", nil)
	forge := func(seq uint64, typ event.Type, data string) event.Event {
		e := event.Event{V: event.Version, Session: s.id, Seq: seq, Time: baseTime, Type: typ, Actor: "mallory",
			Gateway: "gw1", Class: "production", Retention: 90, Data: []byte(data), Prev: s.evs[0].Hash}
		e.Hash = event.ComputeHash(&e)
		return e
	}
	tests := []struct {
		name   string
		forged event.Event
	}{
		{"seq 2^62", forge(1<<62, event.Output, "x")},
		{"seq MaxUint64", forge(math.MaxUint64, event.Input, "rm -rf /\r")},
		{"next seq, wrong prev", forge(2, event.Input, "rm -rf /\r")},
		{"end at next seq, wrong prev", forge(2, event.SessionEnd, "")},
	}
	for _, tt := range tests {
		for _, rebuilt := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/rebuilt=%v", tt.name, rebuilt), func(t *testing.T) {
				stored := []event.Event{}
				d := newDeriver(16)
				d.rebuild = func(_ context.Context, before map[string]uint64, feed func(e *event.Event)) error {
					evs := slices.Clone(stored)
					slices.SortStableFunc(evs, func(a, b event.Event) int { return cmp.Compare(a.Seq, b.Seq) })
					for i := range evs {
						if evs[i].Seq < before[evs[i].Session] {
							feed(&evs[i])
						}
					}
					return nil
				}
				var spare eventCols
				run := func(evs ...event.Event) []string {
					b := newBatch(len(evs))
					for i := range evs {
						rec := decode(kafka.Message{Value: mustMarshal(t, &evs[i])}, time.Time{})
						b.add(&rec)
					}
					b.events.sortBySession(&spare)
					if err := d.derive(context.Background(), b); err != nil {
						t.Fatal(err)
					}
					stored = append(stored, evs...)
					var lines []string
					for _, c := range b.commands {
						lines = append(lines, c.line)
					}
					return lines
				}
				got := run(s.evs[0], s.evs[1], tt.forged)
				if rebuilt {
					d.sessions = map[string]*searchState{} // as after a restart
				}
				got = append(got, run(s.evs[2])...)
				got = append(got, run(s.evs[3])...)
				if want := []string{"ls", "cat /etc/shadow", "id"}; !slices.Equal(got, want) {
					t.Errorf("commands = %q; want %q", got, want)
				}
			})
		}
	}
}

// TestManyTypistsBounded: a session whose input names a new actor in every
// event keeps a bounded state in the deriver: line buffers
// (cmdline.MaxTypists) and remembered participants (maxSeen).
func TestManyTypistsBounded(t *testing.T) {
	s := &searchStream{id: sid("typists")}
	s.add(event.SessionStart, "alice", "", map[string]string{"user": "alice", "host": "db1", "kind": "shell"})
	for i := 0; i < 2000; i++ {
		s.add(event.Input, fmt.Sprintf("u%d", i), "a", nil)
	}
	s.add(event.Input, "alice", "\r", nil)
	d := newDeriver(16)
	b := newBatch(len(s.evs))
	for i := range s.evs {
		rec := decode(kafka.Message{Value: mustMarshal(t, &s.evs[i])}, time.Time{})
		b.add(&rec)
	}
	if err := d.derive(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if n := len(d.sessions[s.id].seen); n > maxSeen {
		t.Errorf("participants remembered = %d; want at most %d", n, maxSeen)
	}
	if len(b.participants) > maxSeen {
		t.Errorf("participants rows = %d; want at most %d", len(b.participants), maxSeen)
	}
	if len(b.commands) != 1 || b.commands[0].approximate != 1 || !slices.Contains(b.commands[0].typists, cmdline.OthersTypist) {
		t.Errorf("commands = %+v; want one approximate line listing the other typists", b.commands)
	}
}

// TestRetentionChecked: with the retention classes configured, a record
// whose class and retention_days are not a configured pair, or whose time
// lies outside what the classes keep (give or take a day), is rejected:
// a Kafka writer could otherwise make a partition per (retention_days,
// day), kept forever. A window gone stale while ingest sat idle refuses
// no genuine event.
func TestRetentionChecked(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clock := now
	d := decoder{limits: newLimits(map[string]uint16{"production": 90, "logs": 3}, func() time.Time { return clock })}
	day := 24 * time.Hour
	tests := []struct {
		name      string
		class     string
		retention uint16
		at        time.Time
		ok        bool
	}{
		{"configured", "production", 90, now, true},
		{"other class", "logs", 3, now.Add(-time.Hour), true},
		{"wrong days", "production", 65535, now, false},
		{"days of another class", "logs", 90, now, false},
		{"unknown class", "x", 90, now, false},
		{"empty class", "", 0, now, false},
		{"90 days old", "production", 90, now.Add(-90 * day), true},
		{"within the slack", "logs", 3, now.Add(-90*day - 12*time.Hour), true},
		{"older than every class", "production", 90, now.Add(-92 * day), false},
		{"clock skew", "production", 90, now.Add(12 * time.Hour), true},
		{"future", "production", 90, now.Add(2 * day), false},
		{"year 2100", "production", 90, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := event.Event{V: event.Version, Session: sid("ret"), Time: tt.at.UnixNano(), Type: event.Output,
				Gateway: "gw1", Class: tt.class, Retention: tt.retention, Data: []byte("x")}
			e.Hash = event.ComputeHash(&e)
			rec := d.decode(kafka.Message{Value: mustMarshal(t, &e)}, now)
			if got := rec.rejected == nil; got != tt.ok {
				t.Errorf("stored = %v; want %v (rejected %+v)", got, tt.ok, rec.rejected)
			}
		})
	}
	// Ingest idle for three days: the first event after is genuine and new.
	clock = now.Add(3 * day)
	e := event.Event{V: event.Version, Session: sid("ret"), Time: clock.Add(23 * time.Hour).UnixNano(), Type: event.Output,
		Gateway: "gw1", Class: "production", Retention: 90}
	e.Hash = event.ComputeHash(&e)
	if rec := d.decode(kafka.Message{Value: mustMarshal(t, &e)}, clock); rec.rejected != nil {
		t.Errorf("an event after an idle spell was rejected: %s", rec.rejected.err)
	}
}

// TestForgedRetentionRejected: records with made-up retention_days next
// to genuine traffic: with the classes configured the forged ones go to
// rejected and make no partition; the genuine ones all arrive.
func TestForgedRetentionRejected(t *testing.T) {
	f := newFixture(t, 1)
	f.cfg.Classes = map[string]uint16{"production": 90}
	now := time.Now().UnixNano()
	var evs []event.Event
	const forged = 200
	for i := 0; i < forged; i++ {
		e := event.Event{V: event.Version, Session: sid("forged-ret"), Seq: uint64(i), Time: now, Type: event.Output,
			Gateway: "gw1", Class: "production", Retention: uint16(65535 - i), Data: []byte("x")}
		if i%2 == 1 {
			e.Retention, e.Time = 90, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()-int64(i)*int64(24*time.Hour)
		}
		e.Hash = event.ComputeHash(&e)
		evs = append(evs, e)
	}
	genuine := sessionEvents("genuine-ret", 40, true)
	for i := range genuine { // recorded now, chained again
		genuine[i].Time = now + int64(i)
	}
	var c event.Chain
	for i := range genuine {
		c.Seal(&genuine[i])
	}
	produceEvents(t, f.addr, testTopic, append(evs, genuine...))
	in := New(f.conn, f.cfg)
	startIngester(t, in)
	waitFor(t, "genuine stored", 60*time.Second, func() bool { return f.distinctEvents(t) >= uint64(len(genuine)) })
	waitFor(t, "forged rejected", 30*time.Second, func() bool { return in.Stats().Rejected == forged })
	if n := f.distinctEvents(t); n != uint64(len(genuine)) {
		t.Errorf("events stored = %d; want the %d genuine ones", n, len(genuine))
	}
	if n := count(t, f.conn, "SELECT count(DISTINCT partition) FROM system.parts WHERE database = ? AND table = 'events' AND active", f.db); n != 1 {
		t.Errorf("events partitions = %d; want 1", n)
	}
}

// TestContentErrorIsNarrow: only the server's refusals of what a query
// carries stop a session's search rows for good; access, network,
// memory, unknown codes and errors that are no server exception are
// outages, retried.
func TestContentErrorIsNarrow(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&clickhouse.Exception{Code: 62, Message: "Max query size exceeded"}, true},
		{fmt.Errorf("rebuild: %w", &clickhouse.Exception{Code: 53}), true},
		{&clickhouse.Exception{Code: 291}, false}, // DATABASE_ACCESS_DENIED
		{&clickhouse.Exception{Code: 194}, false}, // REQUIRED_PASSWORD
		{&clickhouse.Exception{Code: 210}, false}, // NETWORK_ERROR
		{&clickhouse.Exception{Code: 241}, false}, // MEMORY_LIMIT_EXCEEDED
		{&clickhouse.Exception{Code: 999}, false}, // a code the list does not name
		{io.ErrUnexpectedEOF, false},
	} {
		if got := contentError(tc.err); got != tc.want {
			t.Errorf("contentError(%v) = %v; want %v", tc.err, got, tc.want)
		}
	}
}
