package gateway

import (
	"regexp"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

func TestForceEcho(t *testing.T) {
	mode := func(op byte, v uint32) string {
		return string([]byte{op, byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	on := mode(ttyOpEcho, 1)
	tests := []struct{ name, in, want string }{
		{"empty", "", on + "\x00"},
		{"echo off", mode(ttyOpEcho, 0) + "\x00", on + "\x00"},
		{"others kept", mode(1, 3) + mode(ttyOpEcho, 0) + mode(50, 1) + "\x00", on + mode(1, 3) + mode(50, 1) + "\x00"},
		{"undefined opcode stops", mode(1, 3) + "\xa0junk" + mode(ttyOpEcho, 0), on + mode(1, 3) + "\x00"},
		{"cut-off argument", mode(1, 3) + "\x35\x00", on + mode(1, 3) + "\x00"},
	}
	for _, tt := range tests {
		if got := forceEcho(tt.in); got != tt.want {
			t.Errorf("%s: forceEcho = %q; want %q", tt.name, got, tt.want)
		}
	}
}

// TestFourEyesEchoForcedOn: a client that asks for a pty with ECHO off
// (so that what it types never shows on reviewers' screens) gets ECHO
// on at the host: a real sshd's `stty -a` says echo, where the old
// gateway passed -echo through.
func TestFourEyesEchoForcedOn(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true, sshd: true})
	f.reconfigure(t, func(c *config.Config) {
		for i := range c.Hosts {
			if c.Hosts[i].Name == "real" {
				c.Hosts[i].Labels = map[string]string{"env": "production"}
			}
		}
	})
	c, err := f.dial("alice")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Setenv(reasonEnv, "echo check"); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{gossh.ECHO: 0}); err != nil {
		t.Fatal(err)
	}
	var out sshtest.Buffer
	s.Stdout, s.Stderr = &out, &out
	if err := s.Start("real -- stty -a"); err != nil {
		t.Fatal(err)
	}
	var id string
	waitFor(t, "the pending notice", func() bool {
		if m := idPattern.FindStringSubmatch(out.String()); m != nil {
			id = m[1]
		}
		return id != ""
	})
	dave := f.approve(t, "dave", id)
	if err := s.Wait(); err != nil {
		t.Fatalf("stty -a: %v\n%s", err, out.String())
	}
	dave.Wait()
	if !regexp.MustCompile(`\secho\s`).MatchString(out.String()) {
		t.Errorf("the host's terminal does not echo:\n%s", out.String())
	}
	requireEvent(t, f.sessionEvents(id), event.ApprovalGrant, "dave", nil)
}

// TestFourEyesBlindTyping: a line the host does not echo (a password
// read with stty -echo) is shown to reviewers as its length only, and
// recorded as input.blind; the old gateway showed reviewers nothing.
func TestFourEyesBlindTyping(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	alice, id := f.request(t, "blind check")
	dave := f.approve(t, "dave", id)
	alice.Expect("demo$ ", timeout)
	alice.Send("stty -echo; printf 'Secret%s ' :; read -r x; stty echo; echo; echo done-${#x}\r")
	alice.Expect("Secret: ", timeout)
	alice.Send("hunter2\r")
	alice.Expect("done-7", timeout)
	dave.Expect("alice typed 7 characters the host did not echo; not shown (it may be a password)", timeout)
	alice.Send("echo visible-$((1+1))\r")
	alice.Expect("visible-2", timeout)
	dave.Expect("visible-2", timeout)
	alice.Send("exit\r")
	alice.Wait()
	dave.Wait()
	if strings.Contains(dave.Output(), "hunter2") {
		t.Error("dave saw the password")
	}
	evs := f.sessionEvents(id)
	requireEvent(t, evs, event.InputBlind, "alice", map[string]string{"chars": "7"})
	if n := countEvents(evs, event.InputBlind, "alice"); n != 1 {
		t.Errorf("%d input.blind; want 1 (only the password line)", n)
	}
}

// TestFourEyesBlindTypingHiddenEcho: echoing the typed line back inside a
// terminal title (which reviewers never see: the live view removes it)
// does not make it count as echoed. The detector read the host's raw
// output, so this hid the line from reviewers.
func TestFourEyesBlindTypingHiddenEcho(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	alice, id := f.request(t, "blind check")
	dave := f.approve(t, "dave", id)
	alice.Expect("demo$ ", timeout)
	alice.Send("stty -echo; printf 'Cmd%s ' :; read -r x; printf '\\033]0;%s\\007' \"$x\"; stty echo; echo; echo done-${#x}\r")
	alice.Expect("Cmd: ", timeout)
	alice.Send("rm -rf /srv\r")
	alice.Expect("done-11", timeout)
	dave.Expect("alice typed 11 characters the host did not echo", timeout)
	alice.Send("exit\r")
	alice.Wait()
	dave.Wait()
	requireEvent(t, f.sessionEvents(id), event.InputBlind, "alice", map[string]string{"chars": "11"})
}
