package query

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/ingest/retention"
)

// hostile is what a database writer stores in a text column: an OSC 52
// clipboard write, a title, a screen clear, a CSI as the C1 byte and as
// U+009B, a carriage return that hides what came before, a bell.
const hostile = "\x1b]52;c;cm0gLXJmIC8=\x07\x1b[2J\x1b]0;pwned\x07\x9b31m\u009b1m\x1b[2K\rOK\x07"

// TestSearchKindFromDatabase: a second commands row under a hit's key
// (higher blind wins among copies) with a kind ingest never writes
// neither takes the hit's place nor reaches the terminal.
func TestSearchKindFromDatabase(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	b, err := conn.PrepareBatch(ctx, "INSERT INTO commands (session, seq, idx, ts, ts_ns, kind, host, user, actor, line, blind, class, retention_days)")
	if err != nil {
		t.Fatal(err)
	}
	ts := t0.Add(time.Minute)
	for _, r := range []struct {
		kind  string
		blind uint32
	}{{"typed", 0}, {hostile + "typed", 7}} {
		if err := b.Append("s1", uint64(5), uint32(0), ts, ts.UnixNano(), r.kind, "demo-prod", "alice", "alice", "uptime", r.blind, "production", uint16(90)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	res := runCLI(NewStore(conn), "search", "--command", "uptime", "--since", "2026-03-01")
	assertTerminalSafe(t, "search", res)
	if !strings.Contains(res.stdout, " typed ") || strings.Contains(res.stdout, "without echo") {
		t.Errorf("search shows the other row in the hit's place:\n%s", res.stdout)
	}
}

// TestRetentionLogKeyEscaped: verify --since names a failing
// retention_log chain by its key column, escaped.
func TestRetentionLogKeyEscaped(t *testing.T) {
	f := newLogFixture(t)
	r := f.rows[0]
	r.Key, r.Seq = hostile, 0
	insertLog(t, f.conn, r)
	res := runCLI(f.st, "verify", "--since", "2026-01-01")
	assertTerminalSafe(t, "verify --since", res)
	if res.code != ExitFailure || !strings.Contains(res.stdout, "FAILED: $'retention_log chain ") {
		t.Errorf("verify --since = %d:\n%s\nwant the chain named, escaped", res.code, res.stdout)
	}
}

// assertTerminalSafe fails when stdout or stderr of a text verb holds a
// character a terminal acts on: C0 controls other than newline and tab,
// DEL, C1 controls (as characters, or as raw bytes 0x80-0x9f outside a
// UTF-8 sequence).
func assertTerminalSafe(t *testing.T, what string, r result) {
	t.Helper()
	for _, out := range []struct{ name, s string }{{"stdout", r.stdout}, {"stderr", r.stderr}} {
		for i := 0; i < len(out.s); {
			c, n := utf8.DecodeRuneInString(out.s[i:])
			if c == utf8.RuneError && n == 1 {
				c = rune(out.s[i])
			}
			if c < 0x20 && c != '\n' && c != '\t' || c >= 0x7f && c <= 0x9f {
				t.Errorf("%s: %s has %#x at byte %d: %q", what, out.name, c, i, out.s[max(0, i-40):min(len(out.s), i+40)])
				break
			}
			i += n
		}
	}
}

// TestTextVerbsEscapeDatabaseBytes stores hostile bytes in every text
// column of every table the audit verbs read (events' data, meta,
// actor, gateway; sessions; commands; participants; holds;
// retention_log; expired_sessions) and runs every text verb over them:
// nothing a terminal acts on reaches stdout or stderr.
func TestTextVerbsEscapeDatabaseBytes(t *testing.T) {
	f := newSignedFixture(t)
	conn, h := f.conn, hostile
	ctx := context.Background()

	// x1: a signed recording whose every text field is hostile.
	r := &rec{id: "x1", start: t0.Add(time.Minute)}
	r.at(0, event.SessionStart, h, "", map[string]string{"user": h, "host": h, "login": h, "remote": h, "gateway": h,
		"kind": "shell", "term": h, "command": h, "reason": h, "approvers": h, h: h})
	r.at(time.Second, event.ApprovalRequest, h, h, map[string]string{"reason": h, h: h})
	r.at(2*time.Second, event.Output, "", "pwned "+h, nil)
	r.at(3*time.Second, event.Input, h, "uptime "+h+"\r", nil)
	r.at(4*time.Second, event.Exec, h, h, nil)
	r.at(5*time.Second, event.Resize, h, "", map[string]string{"cols": h, "rows": h})
	r.at(6*time.Second, event.Transfer, h, h, map[string]string{"path": h, "via": h, "direction": h, "bytes": h, "sha256": h})
	r.at(7*time.Second, event.FileOp, h, h, map[string]string{"path": h, "op": h, "status": h})
	r.at(8*time.Second, event.Signal, h, h, map[string]string{"signal": h})
	r.at(9*time.Second, event.SessionEnd, h, h, map[string]string{"exit_status": "0", "user": h, "host": h, "approvers": h,
		"reason": h, "command": h, "host_channel_open": "true", "host_channel_action": h})
	insertEvents(t, conn, signStream(r.evs, f.signer, 3))
	row := Session{ID: "x1", Kind: h, User: h, Host: h, Login: h, Remote: h, Gateway: h, Command: h, Reason: h, Class: h,
		Started: r.start, Ended: r.start.Add(9 * time.Second), Approvers: []string{h}, LastSeq: 99, LastHash: h}
	insertSessions(t, conn, 1<<40, row)
	// A row with a hostile id, open, with no recording.
	evilID := "x2" + h
	row.ID, row.Open, row.Ended = evilID, true, time.Time{}
	insertSessions(t, conn, 0, row)

	b, err := conn.PrepareBatch(ctx, "INSERT INTO commands (session, seq, idx, ts, ts_ns, kind, host, user, actor, typists, approximate, blind, line, detail, class, retention_days)")
	if err != nil {
		t.Fatal(err)
	}
	ts := r.start.Add(3 * time.Second)
	for _, c := range []struct{ kind, line string }{{"typed", "uptime " + h}, {h, "uptime " + h}, {"file", "/etc/" + h}} {
		if err := b.Append(h, uint64(3), uint32(0), ts, ts.UnixNano(), c.kind, h, h, h, []string{h, h}, uint8(1), uint32(3), c.line, h, h, uint16(90)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	b, err = conn.PrepareBatch(ctx, "INSERT INTO participants (session, name, role, seq, ts, ts_ns, host, user, kind, class, retention_days)")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"x1", evilID} {
		if err := b.Append(id, h, h, uint64(1), ts, ts.UnixNano(), h, h, h, h, uint16(90)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	b, err = conn.PrepareBatch(ctx, "INSERT INTO holds (session, placed_ns, placed_by, reason, until, class, released_ns, released_by, version)")
	if err != nil {
		t.Fatal(err)
	}
	for i, released := range []string{"", h} {
		var releasedNs int64
		if released != "" {
			releasedNs = t0.Add(time.Hour).UnixNano()
		}
		if err := b.Append([]string{"x1", evilID}[i], t0.Add(time.Duration(i)*time.Minute).UnixNano(), h, "legal request "+h, t0.AddDate(0, 1, 0), h, releasedNs, released, uint64(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(30 * time.Minute)
	insertLog(t, conn, retention.LogRow{At: at, AtNS: at.UnixNano(), Run: h, Action: h, Table: h, Class: h, RetentionDays: 3, Day: 20260301,
		Session: h, Detail: h, Seq: 0, Prev: h, Hash: h, Key: h, Sig: h},
		retention.LogRow{At: at, AtNS: at.UnixNano() + 1, Run: h, Action: h, Table: h, Class: h, RetentionDays: 3, Day: 20260301,
			Session: h, Detail: h, Seq: 5, Prev: h, Hash: h, Key: "", Sig: h})
	for _, id := range []string{"gone", h} {
		if err := conn.Exec(ctx, "INSERT INTO expired_sessions (session, class, retention_days, expired_at) SELECT ?, ?, 90, toDateTime(?)", id, h, t0.Add(time.Hour).Unix()); err != nil {
			t.Fatal(err)
		}
	}

	since := "2026-03-01"
	for _, args := range [][]string{
		{"sessions", "--kind", "all"},
		{"sessions", "--kind", "all", "--json"},
		{"sessions", "--kind", "all", "--limit", "1"},
		{"sessions", "--kind", "all", "--participant", h},
		{"sessions", "--kind", "all", "--host-channel-open"},
		{"sessions", "--user", h},
		{"show", "x1"},
		{"show", "x1", "--json"},
		{"show", evilID},
		{"show", "gone"},
		{"show", h},
		{"search", "--command", "uptime", "--since", since},
		{"search", "--command", "uptime", "--since", since, "--json"},
		{"search", "--command", "uptime", "--since", since, "--limit", "1"},
		{"search", "--file", "etc", "--since", since},
		{"search", "--output", "pwned", "--session", "x1", "--since", since},
		{"search", "--command", h, "--since", since},
		{"verify", "x1"},
		{"verify", "x1", "--json"},
		{"verify", evilID},
		{"verify", "gone"},
		{"verify", "--since", since},
		{"verify", "--since", since, "--json"},
		{"holds"},
		{"holds", "--all"},
		{"holds", "--json"},
		{"retention"},
		{"retention", "--json"},
		{h},
	} {
		res := runCLI(f.st, args...)
		assertTerminalSafe(t, strings.Join(args, " "), res)
		if testing.Verbose() {
			t.Logf("%q: %d\n%s%s", args, res.code, res.stdout, res.stderr)
		}
	}
}
