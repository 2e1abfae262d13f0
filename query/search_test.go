package query

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// TestSearchOutputStripsEscapes checks that colour codes between words
// do not hide output, that the hit's line is the matching line, and that
// an output search is bounded by its window.
func TestSearchOutputStripsEscapes(t *testing.T) {
	conn := testConn(t)
	st := NewStore(conn)
	r := newRec("o1", "alice", "db1", "shell", t0)
	r.at(time.Second, event.Output, "", "$ psql\r\n\x1b[31mERROR\x1b[0m:  1051 (42S02): Unknown table\r\nnext line\r\n", nil)
	r.end(2*time.Second, "0")
	store(t, conn, r)
	ctx := context.Background()
	// The sessions as a literal set of ids (few), and by a subquery (many).
	defer func(n uint64) { maxLiteralSessions = n }(maxLiteralSessions)
	for _, maxLiteralSessions = range []uint64{2000, 0} {
		for _, tc := range []struct {
			f    SearchFilter
			want int
		}{
			{SearchFilter{Output: "error: 1051", Host: "db1"}, 1},
			{SearchFilter{Output: "unknown TABLE", Since: t0}, 1},
			{SearchFilter{Output: "unknown table", Since: t0.Add(time.Hour)}, 0},
			{SearchFilter{Output: "unknown table", Host: "db2"}, 0},
		} {
			p, err := st.Search(ctx, tc.f)
			if err != nil {
				t.Fatalf("%+v: %v", tc.f, err)
			}
			if len(p.Hits) != tc.want {
				t.Fatalf("Search(%+v) with at most %d literal ids = %+v; want %d hits", tc.f, maxLiteralSessions, p, tc.want)
			}
			if tc.want > 0 && p.Hits[0].Line != "ERROR:  1051 (42S02): Unknown table" {
				t.Errorf("line = %q", p.Hits[0].Line)
			}
		}
	}
}

// TestSearchOutputStopsEarly checks that an output search stops at its
// scan cap with the newest hits found and says so, and that paging
// counts the rest.
func TestSearchOutputStopsEarly(t *testing.T) {
	conn := testConn(t)
	st := NewStore(conn)
	r := newRec("o2", "alice", "db1", "shell", t0)
	for i := range 3 {
		r.at(time.Duration(i*25)*time.Hour, event.Output, "", "marker "+string(rune('a'+i))+"\r\n", nil)
	}
	r.end(60*time.Hour, "0")
	store(t, conn, r)
	ctx := context.Background()
	p, err := st.Search(ctx, SearchFilter{Output: "marker", Host: "db1", MaxScan: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !p.StoppedEarly || len(p.Hits) == 0 || p.Hits[0].Line != "marker c" {
		t.Fatalf("capped search = %+v; want stopped early with marker c first", p)
	}
	p, err = st.Search(ctx, SearchFilter{Output: "marker", Host: "db1", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p.StoppedEarly || len(p.Hits) != 1 || p.Hits[0].Line != "marker c" || p.More != 2 {
		t.Fatalf("page 1 = %+v; want marker c and 2 more", p)
	}
	p, err = st.Search(ctx, SearchFilter{Output: "marker", Host: "db1", Limit: 1, Before: p.Hits[0].Cursor()})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Hits) != 1 || p.Hits[0].Line != "marker b" || p.More != 1 {
		t.Fatalf("page 2 = %+v; want marker b and 1 more", p)
	}
}

// TestSearchRefusals checks the searches an auditor must change.
func TestSearchRefusals(t *testing.T) {
	st := NewStore(nil) // refused before any query
	for _, f := range []SearchFilter{
		{},
		{Command: "a", Output: "b"},
		{Output: "x"}, // no window
		{Command: "(", Regex: true},
		{Command: "x", Before: "garbage"},
		{Command: "x", Before: "1.2.x.s"},
		{Command: "x", Kind: "gateway"},
		{Command: string(make([]byte, maxPattern+1))},
		{Command: "x", Since: t0, Until: t0},
	} {
		if _, err := st.Search(context.Background(), f); !errors.Is(err, ErrSearch) {
			t.Errorf("Search(%+v) = %v; want ErrSearch", f, err)
		}
	}
}

func TestSearchPatterns(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"DROP  Table", `drop\s+table`},
		{"a.b*", `a\.b\*`},
	} {
		if got := textPattern(tc.in); got != tc.want {
			t.Errorf("textPattern(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{`DROP\s+\STable`, `drop\s+\Stable`},
		{`\p{Greek}X[[:upper:]]`, `\p{Greek}x[[:upper:]]`},
		{`\x1B`, `\x1b`}, // hex digits: either case
	} {
		if got := lowerRegex(tc.in); got != tc.want {
			t.Errorf("lowerRegex(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// TestNormTextMatchesSchema checks that a search text is normalized as
// the server normalizes commands.norm: the two must agree, or a command
// is not found.
func TestNormTextMatchesSchema(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	lines := []string{"DR''OP  TABLE \"x\"", "mysql -e 'DROP\tTABLE\\\nx'", "ÄRGER Über", "a\\ b"}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO commands (session, seq, idx, line)")
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		if err := b.Append("s", uint64(i), uint32(0), l); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		var norm string
		if err := conn.QueryRow(ctx, "SELECT norm FROM commands WHERE seq = ?", uint64(i)).Scan(&norm); err != nil {
			t.Fatal(err)
		}
		if want := normText(l); norm != want {
			t.Errorf("norm of %q: server %q, normText %q", l, norm, want)
		}
	}
}

// TestShowJoinsMultiLineCommands checks that show names the whole command
// a multi-line entry ran, as search finds it.
func TestShowJoinsMultiLineCommands(t *testing.T) {
	r := newRec("m1", "alice", "db1", "shell", t0)
	r.at(time.Second, event.Input, "alice", "DROP \\\rTABLE x\r", nil)
	var found bool
	for _, it := range timeline(r.events()) {
		if it.what == "command" && it.detail == `TABLE x   [the whole command: DROP TABLE x]` {
			found = true
		}
	}
	if !found {
		t.Fatalf("timeline = %+v; want the whole command named", timeline(r.events()))
	}
}

// TestSearchCommandCopies checks that copies of a commands row (Kafka
// redeliveries, a held copy) make one hit, on every page, and are not
// counted as more: the page's keys are deduplicated after a plain
// ORDER BY … LIMIT, which sorts them next to each other.
func TestSearchCommandCopies(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	insert := func(table string, rows ...[2]uint64) {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (session, seq, idx, ts, ts_ns, kind, host, user, actor, line)")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			at := t0.Add(time.Duration(r[0]) * time.Second)
			if err := b.Append("c1", r[0], uint32(r[1]), at, at.UnixNano(), "typed", "db1", "alice", "alice", "drop table copies"); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	// Three commands; the newest stored five times, the middle one also
	// held; one batch each so no merge collapses them.
	for range 5 {
		insert("commands", [2]uint64{30, 0})
	}
	insert("commands", [2]uint64{20, 0}, [2]uint64{10, 0})
	insert("held_commands", [2]uint64{20, 0})
	st := NewStore(conn)
	var seqs []uint64
	before := ""
	for page := 0; page < 4; page++ {
		p, err := st.Search(ctx, SearchFilter{Command: "DROP TABLE", Limit: 1, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Hits) == 0 {
			break
		}
		if want := 2 - page; p.More != max(want, 0) {
			t.Errorf("page %d: more %d; want %d", page, p.More, max(want, 0))
		}
		seqs = append(seqs, p.Hits[0].Seq)
		before = p.Hits[0].Cursor()
	}
	if !slices.Equal(seqs, []uint64{30, 20, 10}) {
		t.Errorf("pages = %v; want 30, 20, 10 once each", seqs)
	}
	p, err := st.Search(ctx, SearchFilter{Command: "drop table"})
	if err != nil || len(p.Hits) != 3 || p.More != 0 {
		t.Errorf("one page: %d hits, more %d, %v; want 3, 0", len(p.Hits), p.More, err)
	}
}
