package gateway

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
	gossh "golang.org/x/crypto/ssh"
)

// TestLateRequestsOnARunningChannel: once a channel runs its command,
// nothing a hostile client sends on it changes what runs or what is
// recorded: a second exec, a shell, a terminal, the sftp subsystem and
// more environment are refused, the host sees none of it, and the
// recording holds the first command only.
func TestLateRequestsOnARunningChannel(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	_, s := f.sessionAs(t, "alice+demo")
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	// The command echoes its stdin's first line and its terminal state.
	if err := s.Start(`read l; echo "got:$l"; [ -t 0 ] && echo tty; echo "lang:$LANG"`); err != nil {
		t.Fatal(err)
	}
	late := []struct {
		typ     string
		payload []byte
	}{
		{"exec", gossh.Marshal(&struct{ Command string }{"touch second-exec"})},
		{"shell", nil},
		{"pty-req", gossh.Marshal(&ptyRequest{Term: "xterm", Cols: 80, Rows: 24})},
		{"subsystem", gossh.Marshal(&struct{ Name string }{"sftp"})},
		{"env", gossh.Marshal(&envVar{"LANG", "late"})},
	}
	for _, r := range late {
		if ok, err := s.SendRequest(r.typ, true, r.payload); ok || err != nil {
			t.Errorf("%s after exec = %v, %v; want refused", r.typ, ok, err)
		}
	}
	io.WriteString(in, "line\n")
	in.Close()
	b, _ := io.ReadAll(out)
	s.Wait()
	if got := string(b); got != "got:line\nlang:\n" {
		t.Errorf("host output %q; want the first command alone, no terminal, no late LANG", got)
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.User == "alice" && i.Kind == "exec" })
	n := 0
	for _, e := range evs {
		if e.Type == event.Exec {
			n++
			if strings.Contains(string(e.Data), "second-exec") {
				t.Errorf("late exec recorded as run: %q", e.Data)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d exec events; want 1", n)
	}
}

// TestOddRequestsRefused: subsystem names that are almost "sftp", global
// requests and channel types the bastion does not serve are refused
// (subsystems and forwarding recorded), and the connection still works.
func TestOddRequestsRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.dialAs(t, "alice+demo")
	for _, name := range []string{"SFTP", "sftp\x00", "sftp ", "/usr/lib/openssh/sftp-server", "", "netconf"} {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RequestSubsystem(name); err == nil {
			t.Errorf("subsystem %q accepted", name)
		}
		s.Close()
	}
	for _, g := range []string{"cancel-tcpip-forward", "cancel-streamlocal-forward@openssh.com", "streamlocal-forward@openssh.com",
		"no-more-sessions@openssh.com", "hostkeys-prove-00@openssh.com", "x@example.com"} {
		if ok, _, err := c.SendRequest(g, true, gossh.Marshal(&struct{ S string }{"/tmp/sock"})); ok || err != nil {
			t.Errorf("global request %s = %v, %v; want refused", g, ok, err)
		}
	}
	for _, typ := range []string{"direct-streamlocal@openssh.com", "x11", "auth-agent@openssh.com", "forwarded-tcpip", "forwarded-streamlocal@openssh.com", "session\x00", "bogus"} {
		ch, _, err := c.OpenChannel(typ, gossh.Marshal(&struct{ S string }{"/run/docker.sock"}))
		if err == nil {
			ch.Close()
			t.Errorf("channel %q opened", typ)
		}
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := s.Output("echo still-here"); err != nil || string(out) != "still-here\n" {
		t.Errorf("after the refusals: %q, %v", out, err)
	}
	denied := f.gatewayEvents(event.AccessDenied)
	for _, name := range []string{"SFTP", "netconf"} {
		if _, ok := findEvent(denied, event.AccessDenied, map[string]string{"reason": "subsystem " + name + " is not supported"}); !ok {
			t.Errorf("no access.denied for subsystem %s", name)
		}
	}
	if _, ok := findEvent(f.gatewayEvents(event.ForwardDenied), event.ForwardDenied, map[string]string{"kind": "direct-streamlocal@openssh.com"}); !ok {
		t.Errorf("no forward.denied for direct-streamlocal: %v", metas(f.gatewayEvents(event.ForwardDenied)))
	}
}

// TestOddTargetsRefused: a target in the user name that only looks like
// a host — a separator more, a path, a glob or a label selector, a
// look-alike letter, control characters — reaches no host, and the
// refusal the client reads is escaped.
func TestOddTargetsRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, target := range []string{"demo+demo", "../demo", "demo/", "*", "dem?", "env=production", "d\u0435mo", "demo\n", "demo\x1b[2J", "demo\x00", " demo", "DEMO"} {
		c, s := f.sessionAs(t, "alice"+TargetSep+target)
		var stdout, stderr strings.Builder
		s.Stdout, s.Stderr = &stdout, &stderr
		if err := s.Run("echo reached"); err == nil || strings.Contains(stdout.String(), "reached") {
			t.Errorf("target %q: %v, stdout %q; want refused", target, err, stdout.String())
		}
		if strings.ContainsAny(stderr.String(), "\x1b\x00") || strings.Count(stderr.String(), "\n") > 1 {
			t.Errorf("target %q: refusal not escaped: %q", target, stderr.String())
		}
		c.Close()
	}
}

// TestRequestFloodsOnAShell: tens of thousands of window-change and
// signal requests (no reply wanted) on a running shell neither wedge it
// nor the gateway: the shell still answers, and so does a second
// connection.
func TestRequestFloodsOnAShell(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c, s := f.sessionAs(t, "alice+demo")
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20000; i++ {
		s.SendRequest("window-change", false, gossh.Marshal(&windowChange{Cols: uint32(80 + i%50), Rows: 24}))
		s.SendRequest("signal", false, gossh.Marshal(&struct{ Name string }{"WINCH"}))
	}
	if res := f.run("bob", "demo", "--", "echo", "other-connection"); res.Exit != 0 || res.Stdout != "other-connection\n" {
		t.Errorf("another connection during the flood: %+v", res)
	}
	io.WriteString(in, "echo alive-$((40+2))\r")
	done := make(chan bool, 1)
	go func() {
		var seen strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := out.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), "alive-42") {
				done <- true
				return
			}
			if err != nil {
				done <- false
				return
			}
		}
	}()
	select {
	case ok := <-done:
		if !ok {
			t.Error("the shell ended during the flood")
		}
	case <-time.After(timeout):
		t.Error("the shell does not answer after the flood")
	}
	c.Close()
}
