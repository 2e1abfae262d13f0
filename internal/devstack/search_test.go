package devstack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/ingest/retention"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/query"
	"github.com/foureyes/foureyes/recorder"
)

// jsonLines parses the output of an audit verb run with --json.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		recs = append(recs, m)
	}
	return recs
}

// hits returns the "hit" records of recs.
func hits(recs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["record"] == "hit" {
			out = append(out, r)
		}
	}
	return out
}

// recordFourEyes records, through the gateway's recorder, a four-eyes
// shell session on demo-prod: bob only approves, dave (a peer) only
// types, alice types a command with backspaces and Ctrl-W, a quoted one,
// one with a C1 control, and downloads a file.
func recordFourEyes(t *testing.T, st *Stack) string {
	t.Helper()
	s, err := st.Recorder.Start(recorder.StartInfo{Kind: "shell", User: "alice", Host: "demo-prod", Login: "root", Remote: "127.0.0.1:1",
		Class: "production", Retention: st.Config.RetentionDays("production")})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Record(event.ApprovalRequest, "alice", nil, map[string]string{"host": "demo-prod", "count": "1"}))
	must(s.Record(event.ApprovalGrant, "bob", nil, map[string]string{"approvals": "1", "count": "1"}))
	s.Input("alice", []byte("DROP TABLE wrong\x17patients\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7fpatients;\r"))
	s.Output([]byte("\x1b[31mERROR\x1b[0m 1051 (42S02): Unknown table 'patients'\r\n"))
	s.Input("dave", []byte("uptime\r"))
	s.Input("alice", []byte("mysql -e 'DR''OP TABLE audit_log'\r"))
	s.Input("alice", []byte("echo \xc2\x9b31mred\r"))
	// Over two lines (a backslash, an open quote) and with Ctrl-V Enter:
	// the shell ran one command each time.
	s.Input("alice", []byte("TRUNCATE \\\rsalaries\r"))
	s.Input("alice", []byte("psql -c 'DELETE FROM\rinvoices'\r"))
	s.Input("alice", []byte("shred\x16\r -u /srv/backup\r"))
	for _, n := range []string{"1", "2", "3"} {
		s.Input("alice", []byte("echo page-"+n+"\r"))
	}
	must(s.Record(event.Transfer, "alice", nil, map[string]string{"via": "sftp", "direction": "download",
		"path": "/srv/exports/patients.csv", "status": "ok", "bytes_down": "1234"}))
	must(s.End(0, nil))
	return s.ID()
}

// TestAuditSearchEndToEnd drives audit search and audit sessions
// --participant/--approver over the real ssh client with --json: every
// filter, a participant who only approved, a peer who only typed, a
// command rebuilt across Backspace and Ctrl-W, quoting that does not hide
// a command, an exec command, output text, files, paging, hostile bytes,
// and retention: a dropped session is gone from search, a held one stays.
func TestAuditSearchEndToEnd(t *testing.T) {
	st := startStack(t)
	ctx := context.Background()
	carol := func(args ...string) sshtest.Result {
		return sshtest.Run(t, st.client("carol", false, append([]string{"audit"}, args...)...))
	}
	search := func(args ...string) []map[string]any {
		t.Helper()
		res := carol(append([]string{"search", "--json"}, args...)...)
		if res.Exit != 0 {
			t.Fatalf("audit search %v: exit %d\n%s%s", args, res.Exit, res.Stdout, res.Stderr)
		}
		return jsonLines(t, res.Stdout)
	}

	prod := recordFourEyes(t, st)
	res := sshtest.Run(t, st.client("alice", false, "demo-staging", "--", "echo staged-output-marker"))
	if res.Exit != 0 {
		t.Fatalf("exec on demo-staging: exit %d %s", res.Exit, res.Stderr)
	}
	staged := waitSession(t, st, "alice", "demo-staging")
	// The derived rows follow the events in the same batch.
	for deadline := time.Now().Add(60 * time.Second); ; {
		p, err := st.Store.Search(ctx, query.SearchFilter{Command: "page-3"})
		if err != nil {
			t.Fatal(err)
		}
		p2, err := st.Store.Search(ctx, query.SearchFilter{Command: "staged-output-marker"})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Hits) > 0 && len(p2.Hits) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("commands not searchable after 60s (ingest %+v)", st.Ingester.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A command rebuilt across Ctrl-W and Backspace, typist alice; the
	// erased word is not a command.
	h := hits(search("--command", "'drop table patients'"))
	if len(h) != 1 || h[0]["line"] != "DROP TABLE patients;" || h[0]["actor"] != "alice" || h[0]["session"] != prod ||
		h[0]["host"] != "demo-prod" || h[0]["kind"] != "typed" || h[0]["approximate"] != false {
		t.Fatalf("search drop table patients = %v", h)
	}
	if h := hits(search("--command", "wrong")); len(h) != 0 {
		t.Errorf("an erased word was found: %v", h)
	}
	// Quotes and case do not hide a command; blanks match any blanks.
	if h := hits(search("--command", "'drop   TABLE audit_log'")); len(h) != 1 || h[0]["session"] != prod {
		t.Errorf("quoted DR''OP not found: %v", h)
	}
	if h := hits(search("--command", `'dr.p\s+table\s+pat'`, "--regex")); len(h) != 1 {
		t.Errorf("--regex: %v", h)
	}
	if res := carol("search", "--command", "'('", "--regex"); res.Exit != query.ExitUsage || !strings.Contains(res.Stderr, "regular expression") {
		t.Errorf("bad regex: exit %d %s", res.Exit, res.Stderr)
	}
	// Commands the shell read over several lines, or with Ctrl-V Enter.
	for _, q := range []string{"'truncate salaries'", "'delete from invoices'", "'shred -u /srv/backup'"} {
		if h := hits(search("--command", q)); len(h) != 1 || h[0]["session"] != prod {
			t.Errorf("search %s = %v; want the multi-line command", q, h)
		}
	}
	// A peer who only typed: found in alice's session, and by --user dave.
	if h := hits(search("--command", "uptime")); len(h) != 1 || h[0]["actor"] != "dave" || h[0]["user"] != "alice" {
		t.Errorf("search uptime = %v; want typed by dave in alice's session", h)
	}
	if h := hits(search("--command", "uptime", "--user", "dave")); len(h) != 1 {
		t.Errorf("search --user dave = %v; want what dave typed", h)
	}
	// The exec command of a real ssh session, with the session kind filter.
	h = hits(search("--command", "staged-output-marker", "--kind", "exec"))
	if len(h) != 1 || h[0]["kind"] != "exec" || h[0]["session"] != staged.ID || h[0]["host"] != "demo-staging" {
		t.Errorf("exec search = %v", h)
	}
	if h := hits(search("--command", "staged-output-marker", "--kind", "shell")); len(h) != 0 {
		t.Errorf("--kind shell found an exec: %v", h)
	}
	// Filters: user, host, class, session, time.
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--command", "page", "--user", "alice"}, 3},
		{[]string{"--command", "page", "--user", "bob"}, 0},
		{[]string{"--command", "page", "--host", "demo-prod"}, 3},
		{[]string{"--command", "page", "--host", "demo-staging"}, 0},
		{[]string{"--command", "page", "--class", "production"}, 3},
		{[]string{"--command", "page", "--class", "logs"}, 0},
		{[]string{"--command", "page", "--session", prod}, 3},
		{[]string{"--command", "page", "--since", "1h"}, 3},
		{[]string{"--command", "page", "--until", "2020-01-01"}, 0},
	} {
		if got := len(hits(search(tc.args...))); got != tc.want {
			t.Errorf("search %v: %d hits; want %d", tc.args, got, tc.want)
		}
	}
	// Paging: newest first, a "more" record whose next command lists the rest.
	recs := search("--command", "page", "--limit", "2")
	h = hits(recs)
	if len(h) != 2 || h[0]["line"] != "echo page-3" || h[1]["line"] != "echo page-2" {
		t.Fatalf("page 1 = %v", recs)
	}
	last := recs[len(recs)-1]
	if last["record"] != "more" || last["more"] != float64(1) {
		t.Fatalf("page 1 ends with %v; want more: 1", last)
	}
	h = hits(search("--command", "page", "--limit", "2", "--before", last["before"].(string)))
	if len(h) != 1 || h[0]["line"] != "echo page-1" {
		t.Fatalf("page 2 = %v", h)
	}
	// Output text, with the colour codes around a word removed; an output
	// search needs a window.
	h = hits(search("--output", "'error 1051'", "--since", "1h"))
	if len(h) != 1 || h[0]["kind"] != "output" || !strings.HasPrefix(h[0]["line"].(string), "ERROR 1051") || h[0]["host"] != "demo-prod" {
		t.Errorf("output search = %v", h)
	}
	if h := hits(search("--output", "staged-output-marker", "--host", "demo-staging")); len(h) != 1 || h[0]["session"] != staged.ID {
		t.Errorf("output search by host = %v", h)
	}
	if res := carol("search", "--output", "error"); res.Exit != query.ExitUsage || !strings.Contains(res.Stderr, "--since") {
		t.Errorf("output search without a window: exit %d %s", res.Exit, res.Stderr)
	}
	// Files.
	h = hits(search("--file", "exports/patients"))
	if len(h) != 1 || h[0]["kind"] != "file" || h[0]["line"] != "/srv/exports/patients.csv" || h[0]["actor"] != "alice" {
		t.Errorf("file search = %v", h)
	}
	// A C1 control typed into a command never reaches the auditor's
	// terminal raw, in text or JSON.
	res = carol("search", "--command", "31mred")
	if res.Exit != 0 || !strings.Contains(res.Stdout, "31mred") || strings.Contains(res.Stdout, "\xc2\x9b") {
		t.Errorf("text search with a C1 control: exit %d %q", res.Exit, res.Stdout)
	}
	res = carol("search", "--command", "31mred", "--json")
	if res.Exit != 0 || strings.Contains(res.Stdout, "\xc2\x9b") {
		t.Errorf("JSON search with a C1 control: %q", res.Stdout)
	}

	// Participants: bob only approved, dave only typed.
	sessionsOf := func(args ...string) []string {
		t.Helper()
		res := carol(append([]string{"sessions", "--json"}, args...)...)
		if res.Exit != 0 {
			t.Fatalf("audit sessions %v: exit %d %s", args, res.Exit, res.Stderr)
		}
		var ids []string
		for _, r := range jsonLines(t, res.Stdout) {
			if id, ok := r["id"].(string); ok && r["record"] == nil {
				ids = append(ids, id)
			}
		}
		return ids
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--approver", "bob"}, []string{prod}},
		{[]string{"--participant", "bob"}, []string{prod}},
		{[]string{"--participant", "dave"}, []string{prod}},
		{[]string{"--approver", "dave"}, nil},
		{[]string{"--participant", "alice"}, []string{staged.ID, prod}},
		{[]string{"--participant", "alice", "--host", "demo-staging"}, []string{staged.ID}},
	} {
		if got := sessionsOf(tc.args...); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("sessions %v = %v; want %v", tc.args, got, tc.want)
		}
	}

	// Typed through the real ssh client in a pty, with Ctrl-W and
	// Backspace: found as the shell ran it, typist alice.
	alice := st.client("alice", true, "demo-staging")
	alice.Start(t)
	alice.Expect("demo-staging$ ", 20*time.Second)
	alice.Send("echo wrongword\x17typed-\x7fover-ssh\r")
	alice.Expect("typedover-ssh", 10*time.Second)
	alice.Send("exit\r")
	alice.Wait()
	var typed []map[string]any
	for deadline := time.Now().Add(60 * time.Second); len(typed) == 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the command typed over ssh is not searchable after 60s")
		}
		typed = hits(search("--command", "'echo typedover-ssh'"))
	}
	if len(typed) != 1 || typed[0]["actor"] != "alice" || typed[0]["host"] != "demo-staging" || typed[0]["kind"] != "typed" {
		t.Errorf("search for the command typed over ssh = %v", typed)
	}
	if h := hits(search("--command", "wrongword")); len(h) != 0 {
		t.Errorf("the word erased with Ctrl-W was found: %v", h)
	}

	// Commands piped to an exec session's stdin (ssh host sh < script)
	// are found too: they are input like typing.
	piped := st.client("alice", false, "demo-staging", "--", "sh")
	piped.Stdin = "echo piped-one\necho piped-two\n"
	if res := sshtest.Run(t, piped); res.Exit != 0 || !strings.Contains(res.Stdout, "piped-two") {
		t.Fatalf("ssh demo-staging sh < script: exit %d %q %s", res.Exit, res.Stdout, res.Stderr)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if h := hits(search("--command", "'echo piped-two'")); len(h) == 1 && h[0]["actor"] == "alice" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a command piped to stdin is not searchable after 60s: %v", hits(search("--command", "piped")))
		}
	}

	// Every search is recorded: carol's audit sessions hold the lines.
	audits, err := st.Store.Sessions(ctx, query.Filter{User: "carol", Kind: "audit", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range audits {
		if strings.Contains(a.Command, "search --json --command drop table patients") || strings.Contains(a.Command, "search --json --command 'drop table patients'") {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit session records the search for drop table patients (%d audit sessions)", len(audits))
	}

	// Retention: a second staging session is held, the first is not;
	// five days later the logs class drops the day.
	res = sshtest.Run(t, st.client("alice", false, "demo-staging", "--", "echo held-evidence"))
	if res.Exit != 0 {
		t.Fatalf("second exec: exit %d %s", res.Exit, res.Stderr)
	}
	var held string
	for deadline := time.Now().Add(60 * time.Second); held == ""; {
		p, err := st.Store.Search(ctx, query.SearchFilter{Command: "held-evidence"})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Hits) > 0 {
			held = p.Hits[0].Session
		}
		if time.Now().After(deadline) {
			t.Fatal("second staging session not searchable after 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitSession(t, st, "alice", "demo-staging")
	if res := carol("hold", held, "--reason", "'incident 4711 under investigation'"); res.Exit != 0 {
		t.Fatalf("audit hold: exit %d %s", res.Exit, res.Stderr)
	}
	job := retention.New(st.ClickHouse, retention.FromConfig(st.Config, discard()))
	plan, err := job.Plan(ctx, time.Now().Add(5*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := job.Apply(ctx, plan); err != nil {
		t.Fatal(err)
	}
	if h := hits(search("--command", "staged-output-marker")); len(h) != 0 {
		t.Errorf("a session dropped by retention is still found: %v", h)
	}
	if h := hits(search("--command", "typedover-ssh")); len(h) != 0 {
		t.Errorf("a typed command of a dropped session is still found: %v", h)
	}
	if h := hits(search("--output", "staged-output-marker", "--host", "demo-staging")); len(h) != 0 {
		t.Errorf("dropped output still found: %v", h)
	}
	if h := hits(search("--command", "held-evidence")); len(h) != 1 || h[0]["session"] != held {
		t.Errorf("held session not found after the drop: %v", h)
	}
	if got := sessionsOf("--participant", "alice", "--host", "demo-staging"); strings.Join(got, " ") != held {
		t.Errorf("participant search after the drop = %v; want only the held %s", got, held)
	}
	if h := hits(search("--command", "'drop table patients'")); len(h) != 1 {
		t.Errorf("the production session went with the logs class: %v", h)
	}
}
