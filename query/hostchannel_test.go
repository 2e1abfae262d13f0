package query

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// hostChannelStore holds: k1 (an exec whose host kept the channel open,
// the login then closed), k2 (a shell kept open, login retired, its end's
// meta stored in the binary form: a reason that is not UTF-8), c1 (an
// ordinary exec), c2 (an end saying host_channel_open "false") and o1
// (still open). Each prints "still here" so output search finds them all.
func hostChannelStore(t *testing.T) *Store {
	t.Helper()
	conn := testConn(t)
	end := func(r *rec, offset time.Duration, meta map[string]string) {
		meta["exit_status"], meta["user"], meta["host"] = "0", r.user, r.host
		r.at(offset, event.SessionEnd, "", "", meta)
		store(t, conn, r)
	}

	end(printHere(newRec("k1", "alice", "db1", "exec", t0)), 2*time.Second,
		map[string]string{"host_channel_open": "true", "host_channel_action": "login_closed"})
	end(printHere(newRec("k2", "bob", "db2", "shell", t0.Add(time.Hour))), 2*time.Second,
		map[string]string{"host_channel_open": "true", "host_channel_action": "login_retired", "reason": "ticket \xff"})
	end(printHere(newRec("c1", "alice", "db1", "exec", t0.Add(2*time.Hour))), 2*time.Second, map[string]string{})
	end(printHere(newRec("c2", "alice", "db1", "exec", t0.Add(3*time.Hour))), 2*time.Second, map[string]string{"host_channel_open": "false"})
	store(t, conn, printHere(newRec("o1", "carol", "db1", "shell", t0.Add(4*time.Hour))))
	return NewStore(conn)
}

// sessionLines parses sessions --json lines by session id.
func sessionLines(t *testing.T, out string) map[string]sessionJSON {
	t.Helper()
	m := map[string]sessionJSON{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var j sessionJSON
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		m[j.ID] = j
	}
	return m
}

// TestSessionsHostChannelOpen: sessions marks (text) and carries (--json)
// a session whose host kept the channel open, whichever form its end's
// meta is stored in; --host-channel-open lists those sessions only, with
// the other filters.
func TestSessionsHostChannelOpen(t *testing.T) {
	st := hostChannelStore(t)

	r := runCLI(st, "sessions", "--json")
	if r.code != 0 {
		t.Fatalf("sessions --json: %+v", r)
	}
	all := sessionLines(t, r.stdout)
	if len(all) != 5 {
		t.Fatalf("sessions --json: %d sessions; want 5:\n%s", len(all), r.stdout)
	}
	for id, want := range map[string]string{"k1": "login_closed", "k2": "login_retired", "c1": "", "c2": "", "o1": ""} {
		j := all[id]
		if j.HostChannelOpen != (want != "") || j.HostChannelAction != want {
			t.Errorf("%s: host_channel_open %v, host_channel_action %q; want %v, %q", id, j.HostChannelOpen, j.HostChannelAction, want != "", want)
		}
	}
	if strings.Count(r.stdout, "host_channel") != 4 {
		t.Errorf("host_channel fields on sessions the host closed:\n%s", r.stdout)
	}

	r = runCLI(st, "sessions")
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
		id, _, _ := strings.Cut(line, " ")
		marked := strings.Contains(line, hostChannelMarker)
		switch id {
		case "k1", "k2":
			if !marked {
				t.Errorf("row of %s lacks the marker: %q", id, line)
			}
		case "NOTE:":
			if !strings.Contains(line, "a process may still run on the host") {
				t.Errorf("note line: %q", line)
			}
		default:
			if marked {
				t.Errorf("row of %s is marked: %q", id, line)
			}
		}
	}
	for _, want := range []string{"NOTE: session k1 " + hostChannelMarker + ": the host kept", "closed its login to the host",
		"NOTE: session k2 " + hostChannelMarker + ": the host kept", "stayed open for the client's other channels"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sessions lacks %q:\n%s", want, r.stdout)
		}
	}

	tests := []struct {
		name string
		args []string
		want []string // ids, newest first
	}{
		{"all", nil, []string{"k2", "k1"}},
		{"user", []string{"--user", "alice"}, []string{"k1"}},
		{"since", []string{"--since", t0.Add(30 * time.Minute).Format(time.RFC3339)}, []string{"k2"}},
		{"since past both", []string{"--since", t0.Add(90 * time.Minute).Format(time.RFC3339)}, nil},
		{"kind all", []string{"--kind", "all"}, []string{"k2", "k1"}},
		{"limit", []string{"--limit", "1"}, []string{"k2"}},
	}
	// The matching ids as a literal set (few), an external table, and
	// the lookup as a subquery (many).
	literal, table := maxLiteralSessions, maxTableSessions
	defer func() { maxLiteralSessions, maxTableSessions = literal, table }()
	for _, limits := range [][2]uint64{{literal, table}, {0, table}, {0, 0}} {
		maxLiteralSessions, maxTableSessions = limits[0], limits[1]
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%d-%d", tt.name, limits[0], limits[1]), func(t *testing.T) {
				r := runCLI(st, append([]string{"sessions", "--host-channel-open", "--json"}, tt.args...)...)
				if r.code != 0 {
					t.Fatalf("%+v", r)
				}
				var got []string
				for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
					var j sessionJSON
					if line == "" || json.Unmarshal([]byte(line), &j) != nil || j.ID == "" {
						continue // the "more" record
					}
					if !j.HostChannelOpen {
						t.Errorf("listed %s without host_channel_open", j.ID)
					}
					got = append(got, j.ID)
				}
				if strings.Join(got, ",") != strings.Join(tt.want, ",") {
					t.Errorf("sessions --host-channel-open %v = %v; want %v", tt.args, got, tt.want)
				}
			})
		}
	}
	maxLiteralSessions, maxTableSessions = literal, table

	r = runCLI(st, "sessions", "--host-channel-open", "--user", "carol")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "No matching sessions." {
		t.Errorf("sessions --host-channel-open --user carol: %+v", r)
	}
	r = runCLI(st, "sessions", "--host-channel-open=yes")
	if r.code != ExitUsage {
		t.Errorf("--host-channel-open=yes: %+v; want a usage error", r)
	}
}

// TestSearchJSONHostChannelOpen: search --json carries the host channel
// fields on the hits of sessions whose host kept the channel open.
func TestSearchJSONHostChannelOpen(t *testing.T) {
	st := hostChannelStore(t)
	r := runCLI(st, "search", "--output", "still here", "--since", t0.Add(-time.Hour).Format(time.RFC3339), "--json")
	if r.code != 0 {
		t.Fatalf("search --json: %+v", r)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var h hitJSON
		if err := json.Unmarshal([]byte(line), &h); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		seen[h.Session] = true
		want := map[string]string{"k1": "login_closed", "k2": "login_retired"}[h.Session]
		if h.HostChannelOpen != (want != "") || h.HostChannelAction != want {
			t.Errorf("hit of %s: host_channel_open %v, host_channel_action %q; want %v, %q", h.Session, h.HostChannelOpen, h.HostChannelAction, want != "", want)
		}
	}
	if len(seen) != 5 {
		t.Errorf("search found the output of %d sessions; want 5:\n%s", len(seen), r.stdout)
	}
}

// TestSessionsHostChannelForgedEnd: an end altered after sealing to claim
// the host kept the channel open is matched by the filter (which reads the
// stored text) but listed as not verifying, without the claim.
func TestSessionsHostChannelForgedEnd(t *testing.T) {
	conn := testConn(t)
	r := printHere(newRec("f1", "alice", "db1", "exec", t0))
	r.end(2*time.Second, "0")
	r.evs[len(r.evs)-1].Meta["host_channel_open"] = "true" // after Seal: the hash no longer matches
	store(t, conn, r)
	st := NewStore(conn)
	out := runCLI(st, "sessions", "--host-channel-open", "--json")
	j := sessionLines(t, out.stdout)["f1"]
	if j.ID != "f1" || j.HostChannelOpen || j.Verified {
		t.Errorf("forged end: %+v; want f1 listed, not verified, without host_channel_open:\n%s", j, out.stdout)
	}
	text := runCLI(st, "sessions", "--host-channel-open")
	if strings.Contains(text.stdout, hostChannelMarker) || !strings.Contains(text.stdout, "WARNING: session f1") {
		t.Errorf("forged end in text:\n%s", text.stdout)
	}
}

// printHere appends the output the fixtures' output search finds.
func printHere(r *rec) *rec { return r.at(time.Second, event.Output, "", "still here\r\n", nil) }

// TestSessionsHostChannelDecoy: a session that ended cleanly but whose
// end carries the marker's bytes in another value (a command with raw
// bytes is stored in the binary meta form, which does not escape them;
// the JSON form escapes the quotes) is not listed by
// --host-channel-open: the text match only finds candidates, the parsed
// end decides.
func TestSessionsHostChannelDecoy(t *testing.T) {
	conn := testConn(t)
	end := func(r *rec, meta map[string]string) {
		meta["exit_status"], meta["user"], meta["host"] = "0", r.user, r.host
		r.at(2*time.Second, event.SessionEnd, "", "", meta)
		store(t, conn, r)
	}
	end(newRec("d0", "mallory", "db1", "exec", t0.Add(-time.Minute)), map[string]string{"command": "echo host_channel_open\x00\x00\x00\x04true \xfe"})
	end(newRec("d1", "mallory", "db1", "exec", t0), map[string]string{"command": "echo host_channel_open\x00\x00\x00\x04true \xff"})
	end(newRec("d2", "mallory", "db1", "exec", t0.Add(time.Minute)), map[string]string{"command": `echo "host_channel_open":"true"`})
	end(newRec("k1", "alice", "db1", "exec", t0.Add(2*time.Minute)), map[string]string{"host_channel_open": "true", "host_channel_action": "login_closed"})
	st := NewStore(conn)
	literal, table := maxLiteralSessions, maxTableSessions
	defer func() { maxLiteralSessions, maxTableSessions = literal, table }()
	// {0, 0}: past maxTableSessions candidates the listing selects by the
	// text match alone, and the page drops what the parsed ends deny.
	for _, limits := range [][2]uint64{{literal, table}, {0, table}, {0, 0}} {
		maxLiteralSessions, maxTableSessions = limits[0], limits[1]
		r := runCLI(st, "sessions", "--host-channel-open", "--json")
		got := sessionLines(t, r.stdout)
		if r.code != 0 || len(got) != 1 || !got["k1"].HostChannelOpen {
			t.Errorf("limits %v: sessions --host-channel-open = %+v; want k1 alone:\n%s", limits, r, r.stdout)
		}
		// One session per page: the pages of decoys come out empty and
		// their cursor still leads on, to the end.
		var listed []string
		args := []string{"sessions", "--host-channel-open", "--json", "--limit", "1"}
		for page := 0; page < 5; page++ {
			r := runCLI(st, args...)
			if r.code != 0 {
				t.Fatalf("limits %v: %v: %+v", limits, args, r)
			}
			next := ""
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				var m map[string]any
				if line == "" || json.Unmarshal([]byte(line), &m) != nil {
					continue
				}
				if m["record"] == "more" {
					next, _ = m["before"].(string)
					// The count of the rest is exact where the candidates
					// were checked, an upper bound where they were not.
					if atMost, _ := m["at_most"].(bool); atMost != (limits[1] == 0) {
						t.Errorf("limits %v: %s: at_most is %v", limits, line, atMost)
					}
				} else if id, _ := m["id"].(string); id != "" {
					listed = append(listed, id)
				}
			}
			if next == "" {
				break
			}
			args = []string{"sessions", "--host-channel-open", "--json", "--limit", "1", "--before", next}
		}
		if strings.Join(listed, ",") != "k1" {
			t.Errorf("limits %v: pages of one listed %v; want k1 alone", limits, listed)
		}
	}
	maxLiteralSessions, maxTableSessions = literal, table
	// The text form: a page of decoys alone still says how to go on, and
	// that its count of the rest (d0, a decoy too) is an upper bound.
	maxLiteralSessions, maxTableSessions = 0, 0
	r := runCLI(st, "sessions", "--host-channel-open", "--limit", "1", "--before", "k1")
	if r.code != 0 || strings.Contains(r.stdout, "\nd1 ") || !strings.Contains(r.stdout, "up to 1 more sessions match; next page: audit sessions --host-channel-open --limit 1 --before d1") {
		t.Errorf("a page of a decoy: %+v; want no row and the next page", r)
	}
}
