package query

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSessionsPaging lists 121 sessions, in threes that started at the same
// nanosecond (so that a page boundary falls inside a tie): the default page
// says how many more there are and the command of the next page, which
// lists exactly the rest.
func TestSessionsPaging(t *testing.T) {
	conn := testConn(t)
	st := NewStore(conn)
	var all []Session
	for i := range 121 {
		all = append(all, Session{ID: fmt.Sprintf("p%03d", i), Kind: "exec", User: "pager", Host: "db1",
			Started: t0.Add(time.Duration(i/3) * time.Second), Open: true, Class: "logs", RetentionDays: 3})
	}
	other := Session{ID: "other", Kind: "exec", User: "someone", Host: "db1", Started: t0, Open: true, Class: "logs", RetentionDays: 3}
	insertSessions(t, conn, 1, append(all, other)...)
	// Newest first; ties by ID, descending.
	slices.SortFunc(all, func(a, b Session) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	ids := func(list []Session) []string {
		var out []string
		for _, s := range list {
			out = append(out, s.ID)
		}
		return out
	}

	r := runCLI(st, "sessions", "--user", "pager")
	// The rows have no recording: each is listed with a WARNING line.
	lines := slices.DeleteFunc(strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n"), func(l string) bool { return strings.HasPrefix(l, "WARNING: ") })
	last := all[99].ID
	wantNext := "audit sessions --user pager --before " + last
	if r.code != 0 || len(lines) != 102 || lines[101] != "21 more sessions match; next page: "+wantNext+" (or a larger --limit)" {
		t.Fatalf("sessions = %d, %d lines, last %q; want 100 rows and the next page", r.code, len(lines), lines[len(lines)-1])
	}
	if !strings.HasPrefix(lines[100], last+" ") {
		t.Errorf("last row %q; want %s", lines[100], last)
	}

	next := strings.Fields(strings.TrimPrefix(wantNext, "audit "))
	r = runCLI(st, append(next, "--json")...)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var s struct{ ID, Record string }
		if err := json.Unmarshal([]byte(line), &s); err != nil || s.Record != "" {
			t.Fatalf("line %q: %v, record %q; want a session", line, err, s.Record)
		}
		got = append(got, s.ID)
	}
	if want := ids(all[100:]); r.code != 0 || !slices.Equal(got, want) {
		t.Errorf("next page = %d %v; want %v", r.code, got, want)
	}

	r = runCLI(st, "sessions", "--json", "--limit=120", "--user", "pager", "--since", "2026-03-01")
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	var more moreJSON
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &more); err != nil || len(lines) != 121 {
		t.Fatalf("sessions --json: %d lines, last %q: %v", len(lines), lines[len(lines)-1], err)
	}
	want := moreJSON{Record: "more", More: 1, Before: all[119].ID,
		Next: "audit sessions --json --limit 120 --user pager --since 2026-03-01 --before " + all[119].ID}
	if more != want {
		t.Errorf("last line %+v; want %+v", more, want)
	}

	for _, tt := range []struct {
		f    Filter
		want []string
		more int
	}{
		{Filter{User: "pager", Limit: 121}, ids(all), 0},
		{Filter{User: "pager", Limit: 50, Before: all[9].ID}, ids(all[10:60]), 61},
		{Filter{User: "pager", Before: all[120].ID}, nil, 0},
		{Filter{Limit: 2, Before: all[len(all)-1].ID}, []string{"other"}, 0},
	} {
		p, err := st.SessionsPage(t.Context(), tt.f)
		if err != nil || !slices.Equal(ids(p.Sessions), tt.want) || p.More != tt.more {
			t.Errorf("SessionsPage(%+v) = %v more %d, %v; want %v more %d", tt.f, ids(p.Sessions), p.More, err, tt.want, tt.more)
		}
	}

	r = runCLI(st, "sessions", "--before", "nope\x1b[2J")
	if r.code != ExitFailure || r.stderr != "audit sessions: --before $'nope\\E[2J': no such session\n" || r.stdout != "" {
		t.Errorf("unknown --before = %+v; want exit 1 and no such session", r)
	}
}

// TestShellQuote: the next-page command must paste back as the same words.
func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"alice": "alice", "2026-03-14T10:00:00Z": "2026-03-14T10:00:00Z", "": "''",
		"a b": "'a b'", "it's": `'it'\''s'`, "$(rm -rf /)": "'$(rm -rf /)'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s; want %s", in, got, want)
		}
	}
}
