package query

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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
