package ingest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/event"
)

// searchStream builds a sealed four-eyes stream for the search tables.
type searchStream struct {
	c   event.Chain
	evs []event.Event
	id  string
}

func (s *searchStream) add(typ event.Type, actor, data string, meta map[string]string) {
	e := event.Event{V: event.Version, Session: s.id, Gateway: "gw1", Class: "production", Retention: 90,
		Type: typ, Actor: actor, Data: []byte(data), Meta: meta}
	e.Time = baseTime + int64(len(s.evs))*int64(time.Second)
	s.c.Seal(&e)
	s.evs = append(s.evs, e)
}

type commandHit struct {
	actor, line, kind string
	typists           []string
	approx            bool
}

func searchCommands(t *testing.T, f *fixture, id string) []commandHit {
	t.Helper()
	rows, err := f.conn.Query(context.Background(), `SELECT actor, line, kind, typists, approximate FROM `+f.db+
		`.commands WHERE session = ? ORDER BY seq, idx LIMIT 1 BY session, seq, idx`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []commandHit
	for rows.Next() {
		var (
			h      commandHit
			approx uint8
		)
		if err := rows.Scan(&h.actor, &h.line, &h.kind, &h.typists, &approx); err != nil {
			t.Fatal(err)
		}
		h.approx = approx == 1
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSearchRowsSurviveRestart checks the commands and participants rows
// of a session whose line was half typed when ingest stopped: the next
// ingest process rebuilds the line editor from the stored events and
// completes the command, and redelivered events make no second rows.
func TestSearchRowsSurviveRestart(t *testing.T) {
	f := newFixture(t, 2)
	s := &searchStream{id: sid("search-1")}
	s.add(event.SessionStart, "alice", "", map[string]string{"user": "alice", "host": "db1", "kind": "shell"})
	s.add(event.ApprovalRequest, "alice", "", map[string]string{"host": "db1"})
	s.add(event.ApprovalView, "carol", "", nil)
	s.add(event.ApprovalRefused, "alice", "", map[string]string{"reason": "self-approval"})
	s.add(event.ApprovalGrant, "bob", "", map[string]string{"approvals": "1", "count": "1"})
	s.add(event.ParticipantJoin, "bob", "", map[string]string{"mode": "peer"})
	s.add(event.Input, "alice", "psql -c 'DROP TAB", nil)
	first := len(s.evs)
	s.add(event.Output, "", "psql -c 'DROP TAB", nil)
	s.add(event.Input, "alice", "LE x\x7fpatients'\r", nil)
	s.add(event.Input, "bob", "whoami\r", nil)
	s.add(event.Transfer, "alice", "", map[string]string{"via": "sftp", "direction": "download", "path": "/srv/export.csv", "status": "ok"})
	s.add(event.SessionEnd, "", "", map[string]string{"user": "alice", "host": "db1", "started_ns": "1"})

	produceEvents(t, f.addr, testTopic, s.evs[:first])
	in := New(f.conn, f.cfg)
	r := startIngester(t, in)
	waitFor(t, "first half committed", 60*time.Second, func() bool { return committed(t, f.addr, f.cfg.Group, testTopic, 2) == int64(first) })
	r.stop(t)
	if got := searchCommands(t, f, s.id); len(got) != 0 {
		t.Fatalf("commands before Enter = %+v; want none", got)
	}

	// The second process knows nothing of the session; two events of the
	// first half are delivered again too (a producer retry).
	produceEvents(t, f.addr, testTopic, append(slices.Clone(s.evs[first-2:first]), s.evs[first:]...))
	in2 := New(f.conn, f.cfg)
	startIngester(t, in2)
	waitFor(t, "second half committed", 60*time.Second, func() bool {
		return committed(t, f.addr, f.cfg.Group, testTopic, 2) == int64(len(s.evs)+2)
	})

	got := searchCommands(t, f, s.id)
	want := []commandHit{
		{actor: "alice", line: "psql -c 'DROP TABLE patients'", kind: commandTyped, typists: []string{"alice"}},
		{actor: "bob", line: "whoami", kind: commandTyped, typists: []string{"bob"}},
		{actor: "alice", line: "/srv/export.csv", kind: commandFile, typists: []string{"alice"}},
	}
	if len(got) != len(want) {
		t.Fatalf("commands = %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i].actor != want[i].actor || got[i].line != want[i].line || got[i].kind != want[i].kind || !slices.Equal(got[i].typists, want[i].typists) {
			t.Errorf("command %d = %+v; want %+v", i, got[i], want[i])
		}
	}
	if n := count(t, f.conn, "SELECT count() FROM "+f.db+".commands WHERE session = ? AND host = 'db1' AND user = 'alice'", s.id); n == 0 {
		t.Error("commands rows lack the session's host and user")
	}

	rows, err := f.conn.Query(context.Background(), `SELECT name, role FROM `+f.db+
		`.participants WHERE session = ? ORDER BY name, role LIMIT 1 BY session, name, role`, s.id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var name, role string
		if err := rows.Scan(&name, &role); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, name+":"+role)
	}
	wantParts := []string{"alice:refused", "alice:started", "alice:typed", "bob:approved", "bob:joined", "bob:typed", "carol:viewed"}
	if !slices.Equal(parts, wantParts) {
		t.Fatalf("participants = %s; want %s", strings.Join(parts, " "), strings.Join(wantParts, " "))
	}
	// Each (session, name, role) was recorded at its first event only;
	// a redelivered event repeats the same row, which dedup collapses.
	if n := count(t, f.conn, "SELECT count() FROM (SELECT DISTINCT name, role, ts_ns FROM "+f.db+".participants WHERE session = ?)", s.id); n != uint64(len(wantParts)) {
		t.Errorf("participants rows = %d; want %d (one per role, not one per event)", n, len(wantParts))
	}
}

// TestDeriverEvictsAndRebuilds checks that a session evicted for the
// bound is rebuilt when it goes on, and that an ended session is
// forgotten.
func TestDeriverEvictsAndRebuilds(t *testing.T) {
	streams := map[string]*searchStream{sid("a"): {id: sid("a")}, sid("b"): {id: sid("b")}}
	for _, name := range []string{"a", "b"} {
		s := streams[sid(name)]
		s.add(event.SessionStart, "alice", "", map[string]string{"user": "alice", "host": "h-" + name})
		s.add(event.Input, "alice", "echo "+name, nil)
	}
	var rebuilt []string
	d := newDeriver(1)
	d.rebuild = func(_ context.Context, before map[string]uint64, feed func(e *event.Event)) error {
		for id, seq := range before {
			rebuilt = append(rebuilt, id)
			for i := range streams[id].evs[:seq] {
				feed(&streams[id].evs[i])
			}
		}
		return nil
	}
	batchOf := func(evs ...event.Event) *batch {
		b := newBatch(len(evs))
		for i := range evs {
			rec := decode(kafka.Message{Value: mustMarshal(t, &evs[i])}, time.Time{})
			b.add(&rec)
		}
		return b
	}
	ctx := context.Background()
	if err := d.derive(ctx, batchOf(streams[sid("a")].evs...)); err != nil {
		t.Fatal(err)
	}
	if err := d.derive(ctx, batchOf(streams[sid("b")].evs...)); err != nil {
		t.Fatal(err)
	}
	if len(d.sessions) > 1 {
		t.Fatalf("deriver holds %d sessions; bound 1", len(d.sessions))
	}
	streams[sid("a")].add(event.Input, "alice", "\r", nil)
	streams[sid("a")].add(event.SessionEnd, "", "", nil)
	b := batchOf(streams[sid("a")].evs[2:]...)
	if err := d.derive(ctx, b); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rebuilt, []string{sid("a")}) {
		t.Errorf("rebuilt = %v; want [a]", rebuilt)
	}
	if len(b.commands) != 1 || b.commands[0].line != "echo a" || b.commands[0].host != "h-a" {
		t.Fatalf("commands = %+v; want echo a on h-a", b.commands)
	}
	if _, ok := d.sessions[sid("a")]; ok {
		t.Error("an ended session is still held")
	}
}

// TestBackfillSearch checks that sessions stored before the search tables
// existed are found after a backfill, with the rows ingest would make.
func TestBackfillSearch(t *testing.T) {
	f := newFixture(t, 1)
	s := &searchStream{id: sid("old-1")}
	s.add(event.SessionStart, "alice", "", map[string]string{"user": "alice", "host": "db1", "kind": "shell"})
	s.add(event.ApprovalGrant, "bob", "", nil)
	s.add(event.Input, "alice", "rm -rf /var/lib/old\r", nil)
	s.add(event.SessionEnd, "", "", map[string]string{"user": "alice", "host": "db1", "started_ns": "1"})
	produceEvents(t, f.addr, testTopic, s.evs)
	in := New(f.conn, f.cfg)
	r := startIngester(t, in)
	waitFor(t, "events committed", 60*time.Second, func() bool { return committed(t, f.addr, f.cfg.Group, testTopic, 1) == int64(len(s.evs)) })
	r.stop(t)
	// As if ingested by a version without the search tables.
	for _, table := range []string{"commands", "participants"} {
		if err := f.conn.Exec(context.Background(), "TRUNCATE TABLE "+f.db+"."+table); err != nil {
			t.Fatal(err)
		}
	}
	n, err := New(f.conn, f.cfg).BackfillSearch(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("BackfillSearch = %d, %v; want 1 session", n, err)
	}
	if got := searchCommands(t, f, s.id); len(got) != 1 || got[0].line != "rm -rf /var/lib/old" {
		t.Fatalf("commands after backfill = %+v", got)
	}
	if n := count(t, f.conn, "SELECT count() FROM "+f.db+".participants WHERE name = 'bob' AND role = 'approved'"); n != 1 {
		t.Fatalf("bob's approval rows after backfill = %d; want 1", n)
	}
}
