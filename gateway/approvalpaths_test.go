package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
)

// TestFourEyesExecFalseStillGuardsTerminals: with exec: false, only a
// command without a terminal skips approval. A shell, and a command with
// a pty (`ssh -t bastion prod -- bash -i`, an interactive shell by
// another name, which the old code ran unapproved), wait for a reviewer;
// SFTP, a subsystem without a terminal, runs like such a command. The help says which commands are excepted.
func TestFourEyesExecFalseStillGuardsTerminals(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	f.reconfigure(t, func(c *config.Config) {
		no := false
		c.ApprovalPolicies[0].Exec = &no
	})
	t.Run("command with a pty waits", func(t *testing.T) {
		alice := f.client("alice", true, "demo-prod", "--", "touch pwned-tty; echo ran-$((6*7))")
		alice.Start(t)
		alice.Expect("requires four-eyes approval", timeout)
		alice.Expect("Reason for this session: ", timeout)
		alice.Send("\x03")
		alice.Expect("request cancelled", timeout)
		alice.Wait()
		if strings.Contains(alice.Output(), "ran-42") {
			t.Errorf("the command ran without approval:\n%q", alice.Output())
		}
		if _, err := os.Stat(filepath.Join(f.dir, "home", "pwned-tty")); err == nil {
			t.Error("the command ran on the host")
		}
	})
	t.Run("shell waits", func(t *testing.T) {
		alice := f.client("alice", true, "demo-prod")
		alice.Start(t)
		alice.Expect("Reason for this session: ", timeout)
		alice.Send("\x03")
		alice.Wait()
		if strings.Contains(alice.Output(), "demo$") {
			t.Errorf("shell without approval:\n%q", alice.Output())
		}
	})
	t.Run("command without a terminal runs, as the policy says", func(t *testing.T) {
		res := f.run("alice", "demo-prod", "--", "echo ran-$((6*7))")
		if res.Exit != 0 || !strings.Contains(res.Stdout, "ran-42") {
			t.Errorf("exec without pty under exec: false: %+v", res)
		}
	})
	t.Run("sftp follows the rule of commands without a terminal", func(t *testing.T) {
		sshtest.RequireSFTP(t)
		c := &sshtest.Client{Addr: f.addr, User: "alice" + TargetSep + "demo-prod", Key: f.keys["alice"]}
		if res := sshtest.RunSFTP(t, c, "mkdir sftp-under-exec-false\n"); res.Exit != 0 {
			t.Errorf("sftp under exec: false: %+v", res)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "home", "sftp-under-exec-false")); err != nil {
			t.Errorf("sftp did not run: %v", err)
		}
	})
	t.Run("help says commands are excepted", func(t *testing.T) {
		res := f.run("alice", "help")
		if !strings.Contains(res.Stdout, "four-eyes: a reviewer must approve first (commands without -t excepted)") {
			t.Errorf("help does not say what exec: false allows:\n%s", res.Stdout)
		}
	})
}

// TestFourEyesReasonEnvRules: FOUREYES_REASON follows the prompt's rules
// (at most maxLine visible characters), refused with a message that says
// the rule, and the refusal is recorded; nothing is cut silently.
func TestFourEyesReasonEnvRules(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	for _, tt := range []struct{ name, reason, want string }{
		{"too long", strings.Repeat("r", maxLine+1), "FOUREYES_REASON is 201 characters long; give one line of at most 200 visible characters"},
		{"bidi override", "fix \u202ebackup", `FOUREYES_REASON contains the control or invisible character $'\u202e'; give one line of at most 200 visible characters`},
		{"escape sequence", "fix \x1b[8mhidden", `FOUREYES_REASON contains the control or invisible character $'\E'; give one line of at most 200 visible characters`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := f.client("alice", false, "demo-prod", "--", "true")
			c.Options = []string{"-o", "SetEnv=" + reasonEnv + "=\"" + tt.reason + "\""}
			res := runClient(t, c)
			if res.Exit != 1 || !strings.Contains(res.Stderr, tt.want) {
				t.Errorf("got %+v; want exit 1 and %q", res, tt.want)
			}
		})
	}
	n := 0
	for _, e := range f.gatewayEvents(event.AccessDenied) {
		if strings.HasPrefix(e.Meta["reason"], "bad "+reasonEnv) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d refusals of FOUREYES_REASON recorded; want 3", n)
	}
	// At the limit the reason is taken whole.
	c := f.client("alice", false, "demo-prod", "--", "true")
	c.Options = []string{"-o", "SetEnv=" + reasonEnv + "=\"" + strings.Repeat("r", maxLine) + "\""}
	c.Start(t)
	id := idPattern.FindStringSubmatch(c.Expect(idPattern, timeout))[1]
	c.Close()
	requireEvent(t, f.sessionEvents(id), event.ApprovalRequest, "alice", map[string]string{"reason": strings.Repeat("r", maxLine)})
}

// TestFourEyesReasonPromptLimit: the prompt says the limit, and typing
// past it rings the bell instead of being cut silently afterwards; the
// recorded reason is what was on the screen.
func TestFourEyesReasonPromptLimit(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	alice := f.client("alice", true, "demo-prod")
	alice.Start(t)
	alice.Expect("give a reason: one line, at most 200 characters; the reviewers see exactly what you type.", timeout)
	alice.Expect("Reason for this session: ", timeout)
	alice.Send(strings.Repeat("r", maxLine) + "XYZ\u202e\r")
	id := idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))[1]
	if n := strings.Count(alice.Output(), "\a"); n != 4 {
		t.Errorf("%d bells; want 4 (three characters past the limit, one invisible)", n)
	}
	alice.Send("\x03")
	alice.Wait()
	requireEvent(t, f.sessionEvents(id), event.ApprovalRequest, "alice", map[string]string{"reason": strings.Repeat("r", maxLine)})
}
