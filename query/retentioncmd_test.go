package query

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// runAs runs the CLI as user with the test clock.
func runAs(st *Store, user string, args ...string) result {
	var out, errOut bytes.Buffer
	c := &cli{st: st, user: user, stdout: &out, stderr: &errOut, now: func() time.Time { return now },
		sleep: func(context.Context, time.Duration) error { return nil }}
	code := c.run(context.Background(), args)
	return result{code, out.String(), errOut.String()}
}

// TestHoldVerbs drives hold, holds, release and retention as an auditor.
func TestHoldVerbs(t *testing.T) {
	conn := testConn(t)
	store(t, conn, shellSession("s1", t0))
	st := NewStore(conn)
	reason := "legal request 2026-17 from the board"
	tests := []struct {
		name, user string
		args       []string
		code       int
		out, err   string
	}{
		{"no reason", "carol", []string{"hold", "s1"}, ExitUsage, "", "needs --reason"},
		{"vague reason", "carol", []string{"hold", "s1", "--reason", "because"}, ExitFailure, "", "refused: a hold needs a reason"},
		{"unknown auditor", "", []string{"hold", "s1", "--reason", reason}, ExitFailure, "", "refused:"},
		{"bad until", "carol", []string{"hold", "s1", "--reason", reason, "--until", "soon"}, ExitUsage, "", "--until"},
		// The fixture is production, 90 days: day 2026-03-14 goes on 2026-06-13; plus 14 days.
		{"too long", "carol", []string{"hold", "s1", "--reason", reason, "--until", "2026-06-28"}, ExitFailure, "", "2026-06-27T00:00:00Z"},
		{"unknown session", "carol", []string{"hold", "nope", "--reason", reason}, ExitFailure, "", "not found"},
		{"release without hold", "carol", []string{"release", "s1"}, ExitFailure, "", "no active hold"},
		{"hold", "carol", []string{"hold", "s1", "--reason", reason, "--until", "2026-06-20"}, ExitOK, "held session s1 (class production) until 2026-06-21T00:00:00Z by carol", ""},
		{"holds", "carol", []string{"holds"}, ExitOK, reason, ""},
		{"retention", "carol", []string{"retention"}, ExitOK, "active holds: 1", ""},
		{"release request", "dave", []string{"release", "s1"}, ExitOK, "release of carol's hold on session s1 requested; a different auditor must confirm it", ""},
		{"holds while requested", "carol", []string{"holds"}, ExitOK, "release requested by dave (waits for a second auditor)", ""},
		{"same auditor confirms", "dave", []string{"release", "s1"}, ExitFailure, "", "refused: the release waits for a second auditor"},
		{"release", "erin", []string{"release", "s1"}, ExitOK, "released 1 hold(s) on session s1: carol's (requested by dave, confirmed by you)", ""},
		{"holds after release", "carol", []string{"holds"}, ExitOK, "", ""},
		{"all holds", "carol", []string{"holds", "--all"}, ExitOK, "released by dave, confirmed by erin", ""},
	}
	for _, tt := range tests {
		r := runAs(st, tt.user, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stdout, tt.out) || !strings.Contains(r.stderr, tt.err) {
			t.Errorf("%s: %v: exit %d; want %d, stdout containing %q, stderr containing %q\nstdout: %s\nstderr: %s",
				tt.name, tt.args, r.code, tt.code, tt.out, tt.err, r.stdout, r.stderr)
		}
		if tt.name == "holds after release" && strings.Contains(r.stdout, "s1") {
			t.Errorf("holds after release lists s1:\n%s", r.stdout)
		}
	}
	r := runAs(st, "carol", "retention", "--json")
	var classes int
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("retention --json line %q: %v", line, err)
		}
		if m["record"] == "class" && m["class"] == "production" && m["oldest"] == "2026-03-14" {
			classes++
		}
	}
	if r.code != ExitOK || classes != 1 {
		t.Errorf("retention --json: exit %d, production class lines %d\n%s%s", r.code, classes, r.stdout, r.stderr)
	}
}
