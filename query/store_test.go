package query

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

func TestSessions(t *testing.T) {
	conn := testConn(t)
	st := NewStore(conn)
	ctx := context.Background()
	h := time.Hour
	mk := func(id, user, host, kind string, start time.Time) Session {
		return Session{ID: id, Kind: kind, User: user, Host: host, Started: start, Open: true, Class: "production", RetentionDays: 90}
	}
	a := mk("a", "alice", "web1", "shell", t0)
	b := mk("b", "bob", "db1", "exec", t0.Add(h))
	c := mk("c", "alice", "db1", "shell", t0.Add(2*h))
	d := mk("d", "carol", "", "audit", t0.Add(3*h))
	e := mk("e", "alice", "web1", "shell", t0.AddDate(0, 0, 3)) // another day: another partition
	insertSessions(t, conn, 1, a, b, c, d, e)
	// A redelivered row and a newer version of c: one row, the newest.
	insertSessions(t, conn, 1, c)
	c.Open, c.Ended, c.ExitStatus, c.Approvers = false, c.Started.Add(time.Minute), 3, []string{"bob"}
	insertSessions(t, conn, 2, c)
	insertSessions(t, conn, 2, c)

	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"default kinds newest first", Filter{}, []string{"e", "c", "b", "a"}},
		{"user", Filter{User: "alice"}, []string{"e", "c", "a"}},
		{"host", Filter{Host: "db1"}, []string{"c", "b"}},
		{"user and host", Filter{User: "alice", Host: "db1"}, []string{"c"}},
		{"since", Filter{Since: t0.Add(30 * time.Minute)}, []string{"e", "c", "b"}},
		{"until", Filter{Until: t0.Add(90 * time.Minute)}, []string{"b", "a"}},
		{"since and until", Filter{Since: t0.Add(h), Until: t0.Add(2 * h)}, []string{"b"}},
		{"exact bound sub-second", Filter{Since: t0.Add(h + time.Nanosecond)}, []string{"e", "c"}},
		{"kind", Filter{Kind: "audit"}, []string{"d"}},
		{"all kinds", Filter{Kind: KindAll}, []string{"e", "d", "c", "b", "a"}},
		{"limit", Filter{Limit: 2}, []string{"e", "c"}},
		{"no match", Filter{User: "mallory"}, nil},
		{"injection is a value", Filter{User: "alice' OR '1'='1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.Sessions(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range got {
				ids = append(ids, s.ID)
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Fatalf("Sessions(%+v) = %v; want %v", tt.f, ids, tt.want)
			}
		})
	}

	got, err := st.Session(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if got.Open || got.ExitStatus != 3 || !got.Ended.Equal(c.Ended) || !reflect.DeepEqual(got.Approvers, []string{"bob"}) || !got.Started.Equal(t0.Add(2*h)) {
		t.Fatalf("Session(c) = %+v; want the version 2 row", got)
	}
}

func TestSessionNotFound(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	st := NewStore(conn)
	if _, err := st.Session(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Session = %v; want ErrNotFound", err)
	}
	if _, err := st.Events(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Events = %v; want ErrNotFound", err)
	}
	if _, err := st.Verify(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Verify = %v; want ErrNotFound", err)
	}

	expired := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	st = NewStore(conn, WithExpiryLookup(func(_ context.Context, id string) (time.Time, bool, error) {
		return expired, id == "old", nil
	}))
	_, err := st.Session(ctx, "old")
	var exp *ExpiredError
	if !errors.As(err, &exp) || !exp.Expired.Equal(expired) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("Session(old) = %v; want *ExpiredError matching ErrNotFound", err)
	}
	if _, err := st.Session(ctx, "nope"); errors.As(err, &exp) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("Session(nope) = %v; want plain ErrNotFound", err)
	}
}

func TestEventsDedup(t *testing.T) {
	conn := testConn(t)
	r := shellSession("s1", t0)
	want := r.events()
	insertEvents(t, conn, want)
	insertEvents(t, conn, want[2:5]) // redelivered
	insertEvents(t, conn, newRec("other", "bob", "h", "shell", t0).end(time.Second, "0").events())
	got, err := NewStore(conn).Events(context.Background(), "s1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Events = %d events\n%+v\nwant %d\n%+v", len(got), got, len(want), want)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		setup   func(t *testing.T, st *Store, r *rec)
		wantSeq uint64 // break seq; ignored when ok
		reason  string
		ok      bool
		open    bool
		summary bool
	}{
		{name: "intact", ok: true, summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			store(t, st.conn, r)
		}},
		{name: "intact with redelivery", ok: true, summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			store(t, st.conn, r)
			insertEvents(t, st.conn, r.events())
		}},
		{name: "no summary row", ok: true, setup: func(t *testing.T, st *Store, r *rec) {
			insertEvents(t, st.conn, r.events())
		}},
		{name: "open session", ok: true, open: true, summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			evs := r.events()
			evs = evs[:len(evs)-1]
			insertEvents(t, st.conn, evs)
			open := &rec{id: r.id, evs: evs}
			insertSessions(t, st.conn, 0, open.openRow())
		}},
		{name: "altered in place", wantSeq: 3, reason: "content altered", summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			store(t, st.conn, r)
			if err := st.conn.Exec(ctx, "ALTER TABLE events UPDATE data = ? WHERE session = ? AND seq = ?", "rm -rf /\r", r.id, uint64(3)); err != nil {
				t.Fatal(err)
			}
			waitMutations(t, st)
		}},
		{name: "conflicting copy", wantSeq: 4, reason: "conflicting", summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			store(t, st.conn, r)
			evs := r.events()
			evs[4].Data = []byte("forged")
			evs[4].Hash = event.ComputeHash(&evs[4])
			insertEvents(t, st.conn, evs[4:5])
		}},
		{name: "missing middle event", wantSeq: 2, reason: "missing event", summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			evs := r.events()
			insertEvents(t, st.conn, append(evs[:2:2], evs[3:]...))
			insertSessions(t, st.conn, 1, r.summary())
		}},
		{name: "truncated tail", wantSeq: 8, reason: "truncated tail", summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			evs := r.events()
			insertEvents(t, st.conn, evs[:len(evs)-1])
			insertSessions(t, st.conn, 1, r.summary())
		}},
		{name: "summary hash differs", wantSeq: 8, reason: "summary's last hash", summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			insertEvents(t, st.conn, r.events())
			s := r.summary()
			s.LastHash = strings.Repeat("ab", 32)
			insertSessions(t, st.conn, 1, s)
		}},
		{name: "events after end", wantSeq: 8, reason: "after the recorded end", summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			insertEvents(t, st.conn, r.events())
			s := r.summary()
			s.LastSeq--
			insertSessions(t, st.conn, 1, s)
		}},
		{name: "hashes stored as hex digits (before 2026-12-05)", ok: true, summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			insertEventsHex(t, st.conn, r.events())
			insertSessions(t, st.conn, 1, r.summary())
		}},
		{name: "hex rows then raw rows, a copy in each form", ok: true, summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			evs := r.events()
			insertEventsHex(t, st.conn, evs[:5])
			insertEvents(t, st.conn, evs[3:])
			insertSessions(t, st.conn, 1, r.summary())
		}},
		{name: "raw hash altered", wantSeq: 3, reason: "content altered", summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			store(t, st.conn, r)
			if err := st.conn.Exec(ctx, "ALTER TABLE events UPDATE hash = unhex(?) WHERE session = ? AND seq = ?", strings.Repeat("ab", 32), r.id, uint64(3)); err != nil {
				t.Fatal(err)
			}
			waitMutations(t, st)
		}},
		{name: "hash of neither stored length", wantSeq: 3, reason: "content altered", summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			store(t, st.conn, r)
			if err := st.conn.Exec(ctx, "ALTER TABLE events UPDATE hash = ? WHERE session = ? AND seq = ?", strings.Repeat("ab", 20), r.id, uint64(3)); err != nil {
				t.Fatal(err)
			}
			waitMutations(t, st)
		}},
		{name: "summary without events", wantSeq: 0, reason: "no events", summary: true, setup: func(t *testing.T, st *Store, r *rec) {
			insertSessions(t, st.conn, 1, r.summary())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := NewStore(testConn(t))
			r := shellSession("s1", t0)
			tt.setup(t, st, r)
			res, err := st.Verify(ctx, "s1")
			if err != nil {
				t.Fatal(err)
			}
			if res.Open != tt.open || res.Summary != tt.summary {
				t.Errorf("Open, Summary = %v, %v; want %v, %v", res.Open, res.Summary, tt.open, tt.summary)
			}
			if tt.ok {
				if !res.OK() {
					t.Fatalf("Verify: %v; want intact", res.Break)
				}
				if n := len(r.evs) - 1; !tt.open && (res.Events != n+1 || res.LastSeq != uint64(n) || res.LastHash != r.evs[n].Hash.String()) {
					t.Fatalf("Verify = %+v; want %d events, last %d %s", res, n+1, n, r.evs[n].Hash)
				}
				return
			}
			if res.OK() || res.Break.Seq != tt.wantSeq || !strings.Contains(res.Break.Reason, tt.reason) {
				t.Fatalf("Verify break = %v; want seq %d: …%s…", res.Break, tt.wantSeq, tt.reason)
			}
		})
	}
}

// waitMutations waits until the ALTER … UPDATE mutations of the store's
// database are applied (18.16 has no mutations_sync).
func waitMutations(t *testing.T, st *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var pending uint64
		if err := st.conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0").Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("mutation not applied within 30s")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
