package query

import (
	"io"
	"strings"
	"testing"
)

// TestFlagErrors checks that every flag mistake is reported in one line
// naming the flag as documented (--name) and what would work. Parsing
// fails before the store is used, so no ClickHouse is needed.
func TestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // the whole of stderr
	}{
		{"bad since", []string{"sessions", "--since", "yesterday"},
			`audit sessions: --since "yesterday": want ` + timeSpecWant},
		{"bad until with =", []string{"sessions", "--until=soon"},
			`audit sessions: --until "soon": want ` + timeSpecWant},
		{"unknown flag", []string{"sessions", "--bogus"},
			"audit sessions: unknown flag --bogus (flags: --user --host --participant --approver --since --until --kind --limit --before --transfers --host-channel-open --json)"},
		{"unknown flag single dash", []string{"sessions", "-bogus=1"},
			"audit sessions: unknown flag --bogus (flags: --user --host --participant --approver --since --until --kind --limit --before --transfers --host-channel-open --json)"},
		{"missing value at end", []string{"sessions", "--user"}, "audit sessions: --user needs a value"},
		{"missing value before a flag", []string{"sessions", "--user", "--json"}, "audit sessions: --user needs a value"},
		{"missing value before a single-dash flag", []string{"sessions", "--host", "-json"}, "audit sessions: --host needs a value"},
		{"missing value before -h", []string{"sessions", "--user", "-h"}, "audit sessions: --user needs a value"},
		{"first mistake wins", []string{"sessions", "--limit", "ten", "--user"}, `audit sessions: --limit "ten": want a whole number from 1 to 100000`},
		{"bad flag syntax", []string{"sessions", "---x"},
			"audit sessions: unknown flag ---x (flags: --user --host --participant --approver --since --until --kind --limit --before --transfers --host-channel-open --json)"},
		{"limit not a number", []string{"sessions", "--limit", "ten"}, `audit sessions: --limit "ten": want a whole number from 1 to 100000`},
		{"limit too big", []string{"sessions", "--limit", "100001"}, `audit sessions: --limit "100001": want a whole number from 1 to 100000`},
		{"bool with bad value", []string{"sessions", "--json=maybe"}, `audit sessions: --json "maybe": want true or false (or no value)`},
		{"extra argument", []string{"sessions", "alice"},
			`audit sessions: unexpected argument "alice" (usage: audit sessions [--user U] [--host H] [--participant U] [--approver U] [--since T] [--until T] [--kind K] [--limit N] [--before ID] [--transfers] [--host-channel-open] [--json])`},
		{"speed not a number", []string{"play", "s1", "--speed", "abc"},
			`audit play: --speed "abc": want a number greater than 0 and at most 1000, e.g. 2 or 0.5`},
		{"speed negative", []string{"play", "s1", "--speed", "-1"},
			`audit play: --speed "-1": want a number greater than 0 and at most 1000, e.g. 2 or 0.5`},
		{"speed too fast", []string{"play", "--speed=5000", "s1"},
			`audit play: --speed "5000": want a number greater than 0 and at most 1000, e.g. 2 or 0.5`},
		{"max idle", []string{"play", "s1", "--max-idle", "2"},
			`audit play: --max-idle "2": want a duration such as 2s, 500ms or 1m (0: no cap)`},
		{"max idle negative", []string{"play", "s1", "--max-idle", "-1s"},
			`audit play: --max-idle "-1s": want a duration such as 2s, 500ms or 1m (0: no cap)`},
		{"missing id", []string{"play"}, "audit play: missing session ID (usage: audit play ID [--speed N] [--max-idle D])"},
		{"two ids", []string{"show", "a", "b"}, "audit show: one session ID expected, got 2 arguments (usage: audit show ID [--json])"},
		{"format", []string{"export", "s1", "--format", "mp4"}, `audit export: --format "mp4": want asciicast`},
		{"no flags", []string{"release", "s1", "--json"}, "audit release: unknown flag --json (audit release takes no flags)"},
		{"hold until", []string{"hold", "s1", "--reason", "x", "--until", "soon"},
			`audit hold: --until "soon": want a date (2026-12-31, kept through that day, UTC) or a time (2026-12-31T18:00:00Z)`},
		{"unknown kind", []string{"sessions", "--kind", "bogus"},
			`audit sessions: --kind "bogus": want shell, exec, sftp, tunnel, window, audit, gateway or all`},
		{"kind is case-sensitive", []string{"sessions", "--kind=Shell"},
			`audit sessions: --kind "Shell": want shell, exec, sftp, tunnel, window, audit, gateway or all`},
		{"empty kind", []string{"sessions", "--kind="},
			`audit sessions: --kind "": want shell, exec, sftp, tunnel, window, audit, gateway or all`},
		{"empty user", []string{"sessions", "--user="}, `audit sessions: --user "": want a user name`},
		{"empty host", []string{"sessions", "--host", ""}, `audit sessions: --host "": want a host name`},
		{"empty before", []string{"sessions", "--before="}, `audit sessions: --before "": want a session ID`},
		{"since not before until", []string{"sessions", "--since", "2026-03-15", "--until", "2026-03-14"},
			"audit sessions: --since 2026-03-15T00:00:00Z is not before --until 2026-03-14T00:00:00Z: no session can match"},
		{"since equals until", []string{"sessions", "--since", "1h", "--until", "60m"},
			"audit sessions: --since 2026-03-15T08:26:53Z is not before --until 2026-03-15T08:26:53Z: no session can match"},
		{"days not a number", []string{"sessions", "--since", "NaNd"}, `audit sessions: --since "NaNd": want ` + timeSpecWant},
		{"weeks infinite", []string{"sessions", "--since", "+Infw"}, `audit sessions: --since "+Infw": want ` + timeSpecWant},
		{"date out of range", []string{"sessions", "--until", "2026-02-30"}, `audit sessions: --until "2026-02-30": want ` + timeSpecWant},
		{"speed not a number NaN", []string{"play", "s1", "--speed", "NaN"},
			`audit play: --speed "NaN": want a number greater than 0 and at most 1000, e.g. 2 or 0.5`},
		{"max idle overflow", []string{"play", "s1", "--max-idle", "9999999999h"},
			`audit play: --max-idle "9999999999h": want a duration such as 2s, 500ms or 1m (0: no cap)`},
		{"format empty", []string{"export", "s1", "--format="}, `audit export: --format "": want asciicast`},
		{"hold until date out of range", []string{"hold", "s1", "--reason", "x", "--until", "2026-13-01"},
			`audit hold: --until "2026-13-01": want a date (2026-12-31, kept through that day, UTC) or a time (2026-12-31T18:00:00Z)`},
		{"holds bool", []string{"holds", "--all=sometimes"}, `audit holds: --all "sometimes": want true or false (or no value)`},
		{"hostile value", []string{"sessions", "--since", "\x1b]0;x\x07"},
			`audit sessions: --since "\x1b]0;x\a": want ` + timeSpecWant},
		{"hostile flag", []string{"sessions", "--\x1b[2J"},
			`audit sessions: unknown flag --$'\E[2J' (flags: --user --host --participant --approver --since --until --kind --limit --before --transfers --host-channel-open --json)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(nil, tt.args...)
			if r.code != ExitUsage || r.stdout != "" || r.stderr != tt.want+"\n" {
				t.Fatalf("audit %q = %d, stdout %q, stderr %q; want %d, stderr %q", tt.args, r.code, r.stdout, r.stderr, ExitUsage, tt.want+"\n")
			}
		})
	}
}

// TestFlagHelp checks that help spells flags with two dashes, as the
// documentation does.
func TestFlagHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"sessions", "-h"}, []string{"usage: audit sessions [--user U]", "  --since T", "  --limit N", "(default 100)", "  --json"}},
		{[]string{"play", "--help", "s1"}, []string{"usage: audit play ID", "  --speed N", "(default 1)", "  --max-idle D", "(default 2s)", "exits with status 1"}},
		{[]string{"export", "-help"}, []string{"  --format F", "(default asciicast)", "  --sanitize"}},
		{[]string{"hold", "-h"}, []string{"  --reason TEXT", "  --until DATE"}},
	}
	for _, tt := range tests {
		r := runCLI(nil, tt.args...)
		if r.code != ExitOK || r.stdout != "" {
			t.Errorf("audit %q = %d, stdout %q; want 0 and the help on stderr", tt.args, r.code, r.stdout)
		}
		for _, w := range tt.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("audit %q help lacks %q:\n%s", tt.args, w, r.stderr)
			}
		}
		for _, line := range strings.Split(r.stderr, "\n") {
			if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "-") && !strings.HasPrefix(f[0], "--") {
				t.Errorf("audit %q help has a single-dash flag: %q", tt.args, line)
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := runCLI(nil, args...)
		if r.code != ExitOK || !strings.Contains(r.stdout, "play ID [--speed N] [--max-idle D]") || strings.Contains(r.stdout, " -speed") {
			t.Errorf("audit %q = %d:\n%s", args, r.code, r.stdout)
		}
	}
}

// TestFlagForms checks the accepted spellings of flag values without a
// store: the parsed values themselves.
func TestFlagForms(t *testing.T) {
	fs := (&cli{stderr: io.Discard}).flagSet("test", "")
	user := fs.str("user", "U", "")
	limit := fs.integer("limit", "N", 100, 1, 1000, "")
	asJSON := fs.boolean("json", "")
	speed := fs.number("speed", "N", 1, func(v float64) bool { return v > 0 }, "", "")
	pos, _, ok := fs.parse([]string{"ID", "-user", "-x", "--limit=7", "-json", "--speed", ".5", "--", "--json"})
	if !ok || *user != "-x" || *limit != 7 || !*asJSON || *speed != 0.5 || strings.Join(pos, " ") != "ID --json" {
		t.Fatalf("parse = %q %v: user %q limit %d json %v speed %v", pos, ok, *user, *limit, *asJSON, *speed)
	}
}
