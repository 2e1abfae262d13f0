package query

import (
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"
)

// TestHoldBoundsFromRecording: a hold's bounds come from what the
// recording authenticates, not from the sessions row, which a forged
// unsigned session.end controls (ingest copies its class, retention and
// start into a row of the highest version). Every session here is a
// genuine production session (90 days) that started on 2026-03-14: its
// data goes on 2026-06-13, so a hold may last until 2026-06-27 (max_hold
// 14 days). Without a recording that authenticates the class, the hold
// takes the longest configured class from today.
func TestHoldBoundsFromRecording(t *testing.T) {
	conn := testConn(t)
	forge := func(id string, change func(*Session)) {
		s := store(t, conn, shellSession(id, t0))
		change(&s)
		insertSessions(t, conn, 1<<62, s)
	}
	forge("short", func(s *Session) { s.Class, s.RetentionDays = "logs", 1 })
	forge("long", func(s *Session) { s.RetentionDays = 65535 })
	forge("early", func(s *Session) { s.Started = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) })
	// A forged open row over the genuine end of the session.
	forge("reopened", func(s *Session) { s.Open, s.Class, s.RetentionDays = true, "logs", 1 })
	open := shellSession("open", t0)
	open.evs = open.evs[:len(open.evs)-1]
	store(t, conn, open)
	// Only a sessions row: nothing authenticates its class.
	bare := shellSession("bare", t0).summary()
	bare.ID, bare.Class, bare.RetentionDays = "bare", "logs", 1
	insertSessions(t, conn, 1, bare)

	classes := config.Retention{Classes: map[string]config.Duration{
		"logs": config.Duration(3 * 24 * time.Hour), "production": config.Duration(90 * 24 * time.Hour)}}
	configured := NewStore(conn, WithRetention(classes))
	unconfigured := NewStore(conn)
	reason := "legal request 2026-17 from the board"
	tests := []struct {
		name, id string
		st       *Store
		code     int
		out, err string
	}{
		{"forged shorter class", "short", unconfigured, ExitOK, "held session short (class production) until 2026-06-27T00:00:00Z", ""},
		{"forged longer class", "long", unconfigured, ExitOK, "held session long (class production) until 2026-06-27T00:00:00Z", ""},
		{"forged earlier start", "early", unconfigured, ExitOK, "held session early (class production) until 2026-06-27T00:00:00Z", ""},
		{"forged open row", "reopened", unconfigured, ExitOK, "held session reopened (class production) until 2026-06-27T00:00:00Z", ""},
		{"open session", "open", unconfigured, ExitOK, "held session open (class production) until 2026-06-27T00:00:00Z", ""},
		// Today is 2026-03-15: its data would go on 2026-06-14, plus 14 days.
		{"unauthenticated, longest class", "bare", configured, ExitOK, "held session bare (class production) until 2026-06-28T00:00:00Z",
			"the recording does not authenticate the session's class"},
		{"unauthenticated, no classes", "bare", unconfigured, ExitFailure, "", "refused: the recording does not authenticate the session's class"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runAs(tt.st, "carol", "hold", tt.id, "--reason", reason)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.out) || !strings.Contains(r.stderr, tt.err) {
				t.Errorf("hold %s: exit %d; want %d, stdout containing %q, stderr containing %q\nstdout: %s\nstderr: %s",
					tt.id, r.code, tt.code, tt.out, tt.err, r.stdout, r.stderr)
			}
		})
	}
	// --until past what the class allows is refused with the authenticated bound.
	r := runAs(unconfigured, "carol", "hold", "long", "--reason", reason, "--until", "2205-09-01")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "2026-06-27T00:00:00Z") {
		t.Errorf("hold long --until 2205-09-01: exit %d, stderr %q; want refused naming 2026-06-27T00:00:00Z", r.code, r.stderr)
	}
}
