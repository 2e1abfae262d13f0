package query

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// now is the CLI clock in tests: a day after the fixtures.
var now = t0.Add(24 * time.Hour)

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(st *Store, args ...string) result {
	var out, errOut bytes.Buffer
	c := &cli{st: st, stdout: &out, stderr: &errOut, now: func() time.Time { return now },
		sleep: func(context.Context, time.Duration) error { return nil }}
	code := c.run(context.Background(), args)
	return result{code, out.String(), errOut.String()}
}

// cliStore holds: s1 (alice's shell session), s2 (bob's exec with a
// hostile command, approved by carol), s3 (alice, five resizes), an audit
// stream, and tampered (s1's copy with one altered event).
func cliStore(t *testing.T) *Store {
	t.Helper()
	conn := testConn(t)
	store(t, conn, shellSession("s1", t0))

	r2 := newRec("s2", "bob", "db1", "exec", t0.Add(time.Hour))
	r2.at(time.Second, event.Exec, "bob", "echo \x1b]52;c;cm0gLXJmIC8=\x07 done", nil)
	r2.at(2*time.Second, event.Output, "", "\x1b]0;owned\x07 done\r\n", nil)
	r2.at(3*time.Second, event.Signal, "bob", "", map[string]string{"signal": "TERM"})
	r2.at(4*time.Second, event.SessionEnd, "", "", map[string]string{"exit_status": "143", "user": "bob", "host": "db1", "approvers": "carol", "reason": "JIRA-1"})
	s2 := r2.summary()
	s2.Approvers, s2.Reason, s2.ExitStatus = []string{"carol"}, "JIRA-1", 143
	insertEvents(t, conn, r2.events())
	insertSessions(t, conn, 1, s2)

	r3 := newRec("s3", "alice", "web1", "shell", t0.Add(2*time.Hour))
	for i := range 5 {
		r3.at(time.Duration(i+1)*100*time.Millisecond, event.Resize, "alice", "", map[string]string{"cols": "1" + string(rune('0'+i)) + "0", "rows": "40"})
	}
	r3.at(time.Second, event.Input, "alice", "whoami\r", nil)
	store(t, conn, r3) // still open: no end event

	audit := newRec("a1", "carol", "", "audit", t0.Add(3*time.Hour))
	store(t, conn, audit.end(time.Second, "0"))

	tampered := shellSession("tampered", t0.Add(-time.Hour))
	evs := tampered.events()
	evs[5].Data = []byte("cat /etc/shadow\r")
	insertEvents(t, conn, evs)
	insertSessions(t, conn, 1, tampered.summary())
	return NewStore(conn)
}

func TestRunSessions(t *testing.T) {
	st := cliStore(t)
	r := runCLI(st, "sessions")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("sessions: %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(lines[1], "s3") || !strings.HasPrefix(lines[4], "tampered") {
		t.Fatalf("sessions table:\n%s", r.stdout)
	}
	for _, want := range []string{"open", "carol", "143", "2026-03-14T10:26:53Z", "3.2s"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sessions table lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runCLI(st, "sessions", "--user", "bob", "--json")
	if r.code != 0 {
		t.Fatalf("sessions --json: %+v", r)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("sessions --json %q: %v", r.stdout, err)
	}
	want := map[string]any{"id": "s2", "user": "bob", "host": "db1", "kind": "exec", "exit_status": 143.0, "open": false,
		"started": "2026-03-14T10:26:53Z", "ended": "2026-03-14T10:26:57Z", "duration_ms": 4000.0, "reason": "JIRA-1",
		"approvers": []any{"carol"}, "retention_days": 90.0, "class": "production"}
	for k, v := range want {
		if gv, _ := json.Marshal(got[k]); string(gv) != string(must(json.Marshal(v))) {
			t.Errorf("sessions --json %s = %s; want %v", k, gv, v)
		}
	}
	if strings.Contains(r.stdout, "\x1b") {
		t.Errorf("raw ESC in JSON output: %q", r.stdout)
	}

	for _, tt := range []struct {
		args []string
		ids  []string
	}{
		{[]string{"--since", "2026-03-14T10:00:00Z"}, []string{"s3", "s2"}},
		{[]string{"--since", "23h", "--until", "2026-03-14T11:00:00Z"}, []string{"s2"}},
		{[]string{"--until", "2026-03-14"}, nil},
		{[]string{"--kind", "all", "--limit", "1"}, []string{"a1"}},
		{[]string{"--host", "web1"}, []string{"s3"}},
	} {
		r := runCLI(st, append([]string{"sessions", "--json"}, tt.args...)...)
		var ids []string
		sc := bufio.NewScanner(strings.NewReader(r.stdout))
		for sc.Scan() {
			var s struct{ ID, Record string }
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				t.Fatal(err)
			}
			if s.Record == "more" { // the next page's line; see TestSessionsPaging
				continue
			}
			ids = append(ids, s.ID)
		}
		if r.code != 0 || strings.Join(ids, ",") != strings.Join(tt.ids, ",") {
			t.Errorf("sessions %v = %d %v (%s); want %v", tt.args, r.code, ids, r.stderr, tt.ids)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestRunShow(t *testing.T) {
	st := cliStore(t)
	r := runCLI(st, "show", "s1")
	if r.code != 0 {
		t.Fatalf("show: %+v", r)
	}
	for _, want := range []string{"user       alice", "host       demo-prod", "from       192.0.2.7:50000", "exit       0",
		"class      production (retention 90 days)", "session.start", "command  ls -la", "command  exit", "resize   120x40", "session.end  exit_status=0"} {
		if !strings.Contains(squeeze(r.stdout), squeeze(want)) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "pwned") {
		t.Errorf("show printed output data:\n%s", r.stdout)
	}

	r = runCLI(st, "show", "s2")
	if r.code != 0 || strings.ContainsAny(r.stdout, "\x1b\x07") || !strings.Contains(squeeze(r.stdout), `bob exec $'echo \E]52;c;cm0gLXJmIC8=\x07 done'`) ||
		!strings.Contains(squeeze(r.stdout), "bob signal signal=TERM") || !strings.Contains(r.stdout, "carol") {
		t.Fatalf("show s2 (%d):\n%s", r.code, r.stdout)
	}

	r = runCLI(st, "show", "s3")
	if r.code != 0 || !strings.Contains(r.stdout, "100x40 → 140x40 (5 changes over 400ms)") || !strings.Contains(squeeze(r.stdout), "ended open") ||
		!strings.Contains(r.stdout, "whoami") {
		t.Fatalf("show s3 (%d):\n%s", r.code, r.stdout)
	}

	r = runCLI(st, "show", "s1", "--json")
	if r.code != 0 {
		t.Fatalf("show --json: %+v", r)
	}
	var records []map[string]any
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("show --json line %q: %v", sc.Text(), err)
		}
		records = append(records, m)
	}
	if len(records) != 1+9+2 || records[0]["record"] != "session" || records[0]["id"] != "s1" {
		t.Fatalf("show --json: %d records, first %v", len(records), records[0])
	}
	var cmds []string
	for _, m := range records[1:] {
		switch m["record"] {
		case "command":
			cmds = append(cmds, m["line"].(string))
		case "event":
			if (m["type"] == "output" || m["type"] == "input") && m["data"] != nil {
				t.Errorf("show --json carries %s data: %v", m["type"], m)
			}
		default:
			t.Errorf("unknown record %v", m)
		}
	}
	if strings.Join(cmds, "|") != "ls -la|exit" {
		t.Fatalf("show --json commands = %q", cmds)
	}
}

// squeeze collapses runs of spaces, so tests do not depend on tab stops.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestRunPlayExport(t *testing.T) {
	st := cliStore(t)
	r := runCLI(st, "play", "s1", "--speed", "4")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "alice@demo-prod:~$ ls -la\r\ntotal 0\r\nalice@demo-prod:~$ logout\r\n") || strings.Contains(r.stdout, "pwned") {
		t.Fatalf("play: %+v", r)
	}
	r = runCLI(st, "play", "--max-idle", "0", "s2")
	if r.code != 0 || strings.Contains(r.stdout, "owned") || !strings.Contains(r.stdout, " done\r\n") {
		t.Fatalf("play s2: %+v", r)
	}

	r = runCLI(st, "export", "s1", "--format", "asciicast")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 1+7 || !strings.HasPrefix(lines[0], `{"version":2,"width":80,"height":24,`) || strings.Contains(r.stdout, "\x1b") {
		t.Fatalf("export: %+v", r)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("export line not JSON: %q", l)
		}
	}
	if !strings.Contains(r.stdout, `\u001b]0;pwned`) {
		t.Fatalf("export is not faithful: %s", r.stdout)
	}
	r = runCLI(st, "export", "s1", "--sanitize")
	if r.code != 0 || strings.Contains(r.stdout, "pwned") {
		t.Fatalf("export --sanitize: %+v", r)
	}
}

func TestRunVerify(t *testing.T) {
	st := cliStore(t)
	s1 := shellSession("s1", t0).evs
	r := runCLI(st, "verify", "s1")
	want := "OK: session s1, 9 events, chain intact, last hash " + s1[8].Hash.String() + "\n" +
		"note: signatures not checked: no trusted signing keys are configured (signing.trusted_keys)\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("verify s1 = %+v; want %q", r, want)
	}
	r = runCLI(st, "verify", "s3")
	if r.code != 0 || !strings.Contains(r.stdout, "note: the session has not ended") {
		t.Fatalf("verify s3 = %+v", r)
	}
	r = runCLI(st, "verify", "tampered")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "FAILED: seq 5: content altered") {
		t.Fatalf("verify tampered = %+v", r)
	}
}

func TestRunErrors(t *testing.T) {
	st := cliStore(t)
	expired := NewStore(st.conn, WithExpiryLookup(func(_ context.Context, id string) (time.Time, bool, error) {
		return time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), id == "old", nil
	}))
	tests := []struct {
		name   string
		st     *Store
		args   []string
		code   int
		stderr string
	}{
		{"no verb", st, nil, 2, "usage: audit VERB"},
		{"unknown verb", st, []string{"rm", "s1"}, 2, `audit: unknown verb "rm"`},
		{"unknown flag", st, []string{"sessions", "--color"}, 2, "audit sessions: unknown flag --color (flags: "},
		{"bad since", st, []string{"sessions", "--since", "last tuesday"}, 2, `audit sessions: --since "last tuesday": want a duration ago`},
		{"bad limit", st, []string{"sessions", "--limit", "0"}, 2, `--limit "0": want a whole number from 1 to 100000`},
		{"sessions extra arg", st, []string{"sessions", "alice"}, 2, "unexpected argument"},
		{"missing id", st, []string{"show"}, 2, "missing session ID"},
		{"two ids", st, []string{"verify", "s1", "s2"}, 2, "one session ID expected"},
		{"unknown id show", st, []string{"show", "nope"}, 1, "audit: session nope not found\n"},
		{"unknown id play", st, []string{"play", "nope"}, 1, "audit: session nope not found\n"},
		{"unknown id export", st, []string{"export", "nope"}, 1, "audit: session nope not found\n"},
		{"unknown id verify", st, []string{"verify", "nope"}, 1, "audit: session nope not found\n"},
		{"hostile id", st, []string{"show", "x\x1b]0;t\x07"}, 1, `audit: session $'x\E]0;t\x07' not found`},
		{"expired", expired, []string{"show", "old"}, 1, "audit: session old expired on 2026-02-01\n"},
		{"bad format", st, []string{"export", "s1", "--format", "mp4"}, 2, `audit export: --format "mp4": want asciicast`},
		{"bad speed", st, []string{"play", "s1", "--speed", "0"}, 2, `audit play: --speed "0": want a number greater than 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(tt.st, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) || r.stdout != "" {
				t.Fatalf("audit %q = %d, stdout %q, stderr %q; want %d, stderr containing %q", tt.args, r.code, r.stdout, r.stderr, tt.code, tt.stderr)
			}
		})
	}

	var out, errOut bytes.Buffer
	if code := Run(context.Background(), st, []string{"help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "usage: audit VERB") {
		t.Fatalf("Run(help) = %d, %q", code, out.String())
	}
	if code := Run(context.Background(), st, []string{"show", "-h"}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "usage: audit show ID") {
		t.Fatalf("Run(show -h) = %d, %q", code, errOut.String())
	}
}

// TestRunQuietStreams covers streams with nothing to replay and an open
// stream whose summary row lags behind its events, and the sentences that
// replace empty tables.
func TestRunQuietStreams(t *testing.T) {
	conn := testConn(t)
	denied := newRec("d1", "alice", "demo-prod", "shell", t0)
	denied.at(100*time.Millisecond, event.ApprovalRequest, "alice", "", map[string]string{"host": "demo-prod", "reason": "JIRA-7", "count": "1"})
	denied.at(2*time.Second, event.ApprovalDeny, "bob", "", nil)
	store(t, conn, denied.end(2100*time.Millisecond, "1"))

	// The gateway's own stream: its summary row was written at the start
	// and the stream is still running.
	gw := newRec("gw1", "", "", "gateway", t0.Add(time.Hour))
	insertSessions(t, conn, 0, gw.summary())
	for i := range 27 {
		gw.at(time.Duration(i+1)*time.Second, event.AuthFailure, "", "", map[string]string{"user": "mallory", "reason": "unknown key"})
	}
	insertEvents(t, conn, gw.events())
	st := NewStore(conn)

	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string // exact when stdout/stderr are not contains-checks
	}{
		{"play denied", []string{"play", "d1"}, ExitFailure, "", "audit play: session d1 has no recorded output (denied by bob)\n"},
		{"play gateway", []string{"play", "gw1", "--speed", "2"}, ExitFailure, "", "audit play: session gw1 has no recorded output (kind gateway)\n"},
		{"no sessions", []string{"sessions", "--user", "nobody"}, ExitOK, "No matching sessions.\n", ""},
		{"no sessions json", []string{"sessions", "--user", "nobody", "--json"}, ExitOK, "", ""},
		{"no holds", []string{"holds"}, ExitOK, "No active holds.\n", ""},
		{"no holds json", []string{"holds", "--json"}, ExitOK, "", ""},
		{"no holds at all", []string{"holds", "--all"}, ExitOK, "No holds placed.\n", ""},
		{"verify gateway", []string{"verify", "gw1"}, ExitOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(st, tt.args...)
			if tt.name == "verify gateway" {
				if r.code != ExitOK || !strings.Contains(r.stdout, "verified up to seq 27") {
					t.Fatalf("audit %q = %+v", tt.args, r)
				}
				return
			}
			if r.code != tt.code || r.stdout != tt.stdout || r.stderr != tt.stderr {
				t.Fatalf("audit %q = %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, r.code, r.stdout, r.stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}

	r := runCLI(st, "show", "gw1")
	if r.code != ExitOK || !strings.Contains(squeeze(r.stdout), "events 28 (open; last seq 27 so far)") {
		t.Fatalf("show gw1 (%d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(st, "show", "gw1", "--json")
	var first struct {
		LastSeq  uint64 `json:"last_seq"`
		LastHash string `json:"last_hash"`
	}
	if err := json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 2)[0]), &first); err != nil || first.LastSeq != 27 || first.LastHash != gw.evs[27].Hash.String() {
		t.Fatalf("show gw1 --json session record = %+v, %v; want last seq 27", first, err)
	}
	r = runCLI(st, "show", "d1")
	if r.code != ExitOK || !strings.Contains(squeeze(r.stdout), "events 4 (last seq 3)") {
		t.Fatalf("show d1 (%d):\n%s", r.code, r.stdout)
	}
}
