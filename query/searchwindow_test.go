package query

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// TestSearchOutputWindowSessions checks that bounding the sessions an
// output search reads by its window changes no result: a session that
// started the day before the window and printed the text inside it is
// found (ended, and still open), one that started after the window and
// one that ended before it are not. Each session also has its start row
// (no end yet, a lower version), as ingest writes before the end row.
func TestSearchOutputWindowSessions(t *testing.T) {
	conn := testConn(t)
	st := NewStore(conn)
	since, until := t0, t0.Add(24*time.Hour)
	for _, s := range []struct {
		id    string
		start time.Time
		out   time.Duration // after start
		end   time.Duration // 0: still open
	}{
		{"long", since.Add(-20 * time.Hour), 21 * time.Hour, 22 * time.Hour},
		{"open", since.Add(-23 * time.Hour), 30 * time.Hour, 0},
		{"after", until.Add(time.Hour), time.Minute, 2 * time.Minute},
		{"before", since.Add(-30 * time.Hour), time.Hour, 5 * time.Hour},
	} {
		r := newRec(s.id, "alice", "db1", "shell", s.start)
		r.at(s.out, event.Output, "", "\x1b[1mneedle\x1b[0m in "+s.id+"\r\n", nil)
		if s.end != 0 {
			r.end(s.end, "0")
		}
		sum := store(t, conn, r)
		sum.Open, sum.Ended = true, time.Time{}
		insertSessions(t, conn, 0, sum) // the start row
	}
	ctx := context.Background()
	defer func(n uint64) { maxLiteralSessions = n }(maxLiteralSessions)
	for _, maxLiteralSessions = range []uint64{2000, 0} {
		for _, tc := range []struct {
			f    SearchFilter
			want []string
		}{
			{SearchFilter{Output: "needle", Host: "db1", Since: since, Until: until}, []string{"open", "long"}},
			{SearchFilter{Output: "needle", Since: since, Until: until}, []string{"open", "long"}},
			{SearchFilter{Output: "needle", Host: "db1", Until: until}, []string{"open", "long", "before"}},
			{SearchFilter{Output: "needle", Host: "db1", Since: since}, []string{"after", "open", "long"}},
			{SearchFilter{Output: "needle", Host: "db1"}, []string{"after", "open", "long", "before"}},
		} {
			p, err := st.Search(ctx, tc.f)
			if err != nil {
				t.Fatalf("%+v: %v", tc.f, err)
			}
			var got []string
			for _, h := range p.Hits {
				got = append(got, h.Session)
				if h.Line != "needle in "+h.Session || h.Host != "db1" || h.User != "alice" {
					t.Errorf("hit %+v: want line %q on db1 by alice", h, "needle in "+h.Session)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Search(since %v, until %v, host %q) with at most %d literal ids = %v; want %v",
					tc.f.Since, tc.f.Until, tc.f.Host, maxLiteralSessions, got, tc.want)
			}
		}
	}
}
