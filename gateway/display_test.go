package gateway

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
	"github.com/foureyes/foureyes/termsafe"
)

// execRequest starts alice's four-eyes exec of cmd on demo-prod without
// a terminal, the reason given by FOUREYES_REASON, and returns her client
// and the session id.
func (f *fixture) execRequest(t *testing.T, cmd string) (*sshtest.Client, string) {
	t.Helper()
	alice := f.client("alice", false, "demo-prod", "--", cmd)
	alice.Options = []string{"-o", "SetEnv=" + reasonEnv + "=\"display check\""}
	alice.Start(t)
	return alice, idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))[1]
}

// TestFourEyesCommandShownByteForByte: a reviewer is shown every byte of
// the command they approve, in a form that cannot hide any: payloads in
// escape sequences, after a run of spaces or a newline, behind a bidi
// override or in look-alike letters are all on the screen (the old line
// cleaner dropped or flattened each of them and showed a harmless echo).
func TestFourEyesCommandShownByteForByte(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	for _, tt := range []struct{ name, cmd string }{
		{"osc payload", "echo ok \x1b]0;x; touch pwned-osc\x07"},
		{"unterminated osc", "echo ok \x1b]2; touch pwned-osc2"},
		{"space padding", "echo ok" + strings.Repeat(" ", 400) + "; touch pwned-pad"},
		{"newline", "echo x\ntouch pwned-nl"},
		{"bidi override", "echo \u202edenwp-hcuot ;ok"},
		{"zero width and C1", "echo o\u200bk\u009b2J; touch pwned-c1"},
		{"homoglyph", "/usr/bin/\u0435cho ok"},
		{"long", "echo " + strings.Repeat("a", 3000) + "; touch pwned-long"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			alice, id := f.execRequest(t, tt.cmd)
			dave := f.review(t, "dave", id)
			dave.Expect("Approve this session? [y/n] ", timeout)
			want := "Command    " + termsafe.Quote(tt.cmd) + "\r\n"
			if out := dave.Output(); !strings.Contains(out, want) {
				t.Errorf("dave's screen lacks %q:\n%q", want, out)
			}
			if strings.Contains(dave.Output(), "\x1b]") || strings.Contains(dave.Output(), "\u202e") {
				t.Errorf("dave's terminal got the command's escape or bidi bytes raw")
			}
			dave.Send("n\r")
			dave.Expect("Reason for denying", timeout)
			dave.Send("\r")
			dave.Wait()
			alice.Wait()
			requireEvent(t, f.sessionEvents(id), event.ApprovalRequest, "alice", map[string]string{"command": tt.cmd})
		})
	}
	entries, _ := os.ReadDir(filepath.Join(f.dir, "home"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "pwned") {
			t.Errorf("a denied command ran: %s", e.Name())
		}
	}
}

// TestWriteRequestEscapesFields: every field of the request a reviewer
// reads is escaped; a quoted command says how long it is.
func TestWriteRequestEscapesFields(t *testing.T) {
	var b strings.Builder
	writeRequest(&b, hubInfo{id: "id1", owner: "al\u202eice", host: "h\x1b[2J", login: "ro\u200bot",
		reason: "why\u009b", command: "ls\nrm x", count: 1}, "SHA256:k\x07")
	for _, want := range []string{
		`Requested  by $'al\u202eice' (key $'SHA256:k\x07')`,
		`Host       $'h\E[2J', as login $'ro\u200bot'`,
		`Command    $'ls\nrm x'`,
		`(7 bytes, quoted as bash reads it`,
		`Reason     $'why\u009b'`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("request lacks %q:\n%s", want, b.String())
		}
	}
}

// TestCommandTooLong: a command over gateway.max_command_bytes is refused
// before anything else happens, with a message that says the limit, and
// the refusal is recorded.
func TestCommandTooLong(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	f.reconfigure(t, func(c *config.Config) { c.Gateway.MaxCommandBytes = 1024 })
	long := "touch pwned-long " + strings.Repeat("x", 2000)
	for _, host := range []string{"demo", "demo-prod"} {
		res := f.run("alice", host, "--", long)
		want := "foureyes: command refused: it is " + strconv.Itoa(len(host)+4+len(long)) + " bytes, this bastion accepts at most 1024; copy a long script to the host and run the file\n"
		if res.Exit != 1 || res.Stderr != want {
			t.Errorf("%s: got %+v; want exit 1 and %q", host, res, want)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dir, "home", "pwned-long")); err == nil {
		t.Error("the over-long command ran")
	}
	denied := f.gatewayEvents(event.AccessDenied)
	n := 0
	for _, e := range denied {
		if e.Meta["reason"] == "command too long" && e.Meta["command_bytes"] != "" && len(e.Meta["command"]) == longCommandPrefix {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d access.denied for the long commands; want 2", n)
	}
	if f.spy.find(func(i recorder.StartInfo) bool { return strings.Contains(i.Command, "pwned-long") }) != nil {
		t.Error("a recording was started for an over-long command")
	}
	// At the limit it is accepted.
	if res := f.run("alice", "demo", "--", "echo "+strings.Repeat("y", 1024-len("demo -- echo "))); res.Exit != 0 {
		t.Errorf("command of exactly 1024 bytes: %+v", res)
	}
}

// TestSessionsListingEscapes: `sessions` and `sessions --json` show a
// hostile command as printable ASCII that decodes to the exact bytes.
func TestSessionsListingEscapes(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	cmd := "echo \u202eok\u200b \x1b]52;c;eA==\x07\u0085x\xff"
	alice, id := f.execRequest(t, cmd)
	defer alice.Close()
	for _, args := range [][]string{{"sessions"}, {"sessions", "--json"}} {
		res := f.run("dave", args...)
		if res.Exit != 0 || !strings.Contains(res.Stdout, id) {
			t.Fatalf("%v: %+v", args, res)
		}
		for _, c := range []byte(res.Stdout) {
			if (c < 0x20 && c != '\n') || c >= 0x7f {
				t.Errorf("%v printed byte %#x:\n%q", args, c, res.Stdout)
				break
			}
		}
	}
	if res := f.run("dave", "sessions"); !strings.Contains(res.Stdout, termsafe.Quote(cmd)) {
		t.Errorf("sessions lacks the quoted command %s:\n%s", termsafe.Quote(cmd), res.Stdout)
	}
	var item reviewItem
	if err := json.Unmarshal([]byte(f.run("dave", "sessions", "--json").Stdout), &item); err != nil {
		t.Fatal(err)
	}
	if item.CommandQuoted != termsafe.Quote(cmd) || item.Command != strings.ToValidUTF8(cmd, "\uFFFD") {
		t.Errorf("JSON command %q, quoted %s; want %q, %s", item.Command, item.CommandQuoted, cmd, termsafe.Quote(cmd))
	}
}
