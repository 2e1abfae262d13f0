package gateway

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
	gossh "golang.org/x/crypto/ssh"
)

func TestInteractiveShell(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.client("alice", true, "demo")
	c.Start(t)
	c.Expect("demo$ ", timeout)
	c.Send("echo hel''lo\r")
	c.Expect("hello", timeout)
	c.Expect("demo$ ", timeout)
	c.ResizeConfirmed(100, 40, timeout)
	c.Expect("demo$ ", timeout)
	c.Send("exit\r")
	if got := c.Wait(); got != 0 {
		t.Fatalf("exit = %d; want 0; output %q", got, c.Output())
	}

	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.Kind == "shell" })
	if len(evs) < 2 || evs[0].Type != event.SessionStart || evs[len(evs)-1].Type != event.SessionEnd {
		t.Fatalf("stream types = %v; want session.start … session.end", types(evs))
	}
	if !hasMeta(evs[0], map[string]string{"user": "alice", "host": "demo", "kind": "shell", "term": "xterm", "cols": "80", "rows": "24"}) {
		t.Errorf("session.start meta = %v", evs[0].Meta)
	}
	if end := evs[len(evs)-1]; !hasMeta(end, map[string]string{"exit_status": "0"}) {
		t.Errorf("session.end meta = %v", end.Meta)
	}
	var input, output []byte
	for _, e := range evs {
		switch e.Type {
		case event.Input:
			if e.Actor != "alice" {
				t.Errorf("input actor = %q; want alice", e.Actor)
			}
			input = append(input, e.Data...)
		case event.Output:
			output = append(output, e.Data...)
		}
	}
	if !bytes.Contains(input, []byte("echo hel''lo\r")) {
		t.Errorf("recorded input %q lacks the typed command", input)
	}
	if !bytes.Contains(output, []byte("\rhello\r\n")) {
		t.Errorf("recorded output %q lacks hello", output)
	}
	if _, ok := findEvent(evs, event.Resize, map[string]string{"cols": "100", "rows": "40"}); !ok {
		t.Errorf("no resize 100x40 in %v", types(evs))
	}
}

func types(evs []event.Event) []event.Type {
	out := make([]event.Type, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func TestExec(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantOut    string
		wantErr    string
		wantStatus int
	}{
		{"streams and status", []string{"demo", "--", "echo out; echo err >&2; exit 3"}, "", "out\n", "err\n", 3},
		{"without --", []string{"demo", "echo", "plain"}, "", "plain\n", "", 0},
		{"quotes reach the host", []string{"demo", "--", `printf '%s|' "a  b" 'c'`}, "", "a  b|c|", "", 0},
		{"stdin and eof", []string{"demo", "--", "cat; echo done"}, "typed", "typeddone\n", "", 0},
		{"exit signal", []string{"demo", "--", "kill -TERM $$"}, "", "", "", 255},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.client("alice", false, tt.args...)
			c.Stdin = tt.stdin
			res := runClient(t, c)
			if res.Stdout != tt.wantOut || res.Exit != tt.wantStatus || (tt.wantErr != "" && res.Stderr != tt.wantErr) {
				t.Errorf("got out %q err %q status %d; want out %q err %q status %d",
					res.Stdout, res.Stderr, res.Exit, tt.wantOut, tt.wantErr, tt.wantStatus)
			}
		})
	}

	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.Command == "echo out; echo err >&2; exit 3" })
	if !hasMeta(evs[0], map[string]string{"kind": "exec", "user": "alice", "host": "demo"}) {
		t.Errorf("session.start meta = %v", evs[0].Meta)
	}
	if e, ok := findEvent(evs, event.Exec, nil); !ok || string(e.Data) != "echo out; echo err >&2; exit 3" || e.Actor != "alice" {
		t.Errorf("exec event = %+v, %v", e, ok)
	}
	var output []byte
	for _, e := range evs {
		if e.Type == event.Output {
			output = append(output, e.Data...)
		}
	}
	if !bytes.Contains(output, []byte("out\n")) || !bytes.Contains(output, []byte("err\n")) {
		t.Errorf("recorded output %q; want stdout and stderr", output)
	}
	if end := evs[len(evs)-1]; end.Type != event.SessionEnd || end.Meta["exit_status"] != "3" {
		t.Errorf("last event %s meta %v; want session.end with exit_status 3", end.Type, end.Meta)
	}
	sig := f.sessionOf(func(i recorder.StartInfo) bool { return i.Command == "kill -TERM $$" })
	if end := sig[len(sig)-1]; end.Meta["exit_status"] != "143" || end.Meta["exit_signal"] != "TERM" {
		t.Errorf("signal session.end meta = %v; want exit_status 143, exit_signal TERM", end.Meta)
	}
}

func TestExecRealSSHD(t *testing.T) {
	f := newFixture(t, fixtureOptions{sshd: true})
	res := f.run("alice", "real", "--", "echo out; echo err >&2; exit 3")
	if res.Stdout != "out\n" || res.Stderr != "err\n" || res.Exit != 3 {
		t.Errorf("got %+v; want out/err/3", res)
	}
	c := f.client("alice", true, "real", "--", "stty size; read x; echo got:$x")
	c.Cols, c.Rows = 91, 31
	c.Start(t)
	c.Expect("31 91", timeout)
	c.Send("abc\r")
	c.Expect("got:abc", timeout)
	if got := c.Wait(); got != 0 {
		t.Errorf("exit = %d; want 0; output %q", got, c.Output())
	}
}

func TestSignalPassesThrough(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c, err := f.dial("alice")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("demo -- echo ready; sleep 60"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if err := s.Signal(gossh.SIGINT); err != nil {
		t.Fatal(err)
	}
	var exitErr *gossh.ExitError
	if err := s.Wait(); !errors.As(err, &exitErr) || exitErr.Signal() != "INT" {
		t.Fatalf("Wait = %v; want exit signal INT", err)
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.Command == "echo ready; sleep 60" })
	if e, ok := findEvent(evs, event.Signal, map[string]string{"signal": "INT"}); !ok || e.Actor != "alice" {
		t.Errorf("signal event = %+v, %v; types %v", e, ok, types(evs))
	}
}

func TestHelp(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tests := []struct {
		user    string
		want    []string
		notWant []string
	}{
		{"alice", []string{"You are alice", "  demo\n", "  demo-prod\n", "ssh -t BASTION HOST", "ssh BASTION config [--prefix PREFIX]"}, []string{"audit VERB", "join SESSION_ID", "four-eyes"}},
		{"bob", []string{"You are bob", "  demo\n"}, []string{"demo-prod", "audit VERB"}},
		{"carol", []string{"You may not connect to any host", "audit VERB"}, []string{"  demo", "ssh -t BASTION HOST", "join SESSION_ID"}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			for _, args := range [][]string{nil, {"help"}} {
				res := f.run(tt.user, args...)
				if res.Exit != 0 {
					t.Errorf("%v: exit %d; want 0", args, res.Exit)
				}
				for _, w := range tt.want {
					if !strings.Contains(res.Stdout, w) {
						t.Errorf("%v: help lacks %q:\n%s", args, w, res.Stdout)
					}
				}
				for _, w := range tt.notWant {
					if strings.Contains(res.Stdout, w) {
						t.Errorf("%v: help shows %q:\n%s", args, w, res.Stdout)
					}
				}
			}
		})
	}
	// With a terminal, lines end in CRLF.
	c := f.client("alice", true)
	c.Start(t)
	c.Expect("You are alice.\r\n", timeout)
	if got := c.Wait(); got != 0 {
		t.Errorf("exit = %d", got)
	}
}

// TestHelpFourEyes: hosts that need approval are marked, and reviewers
// see the reviewer commands.
func TestHelpFourEyes(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	res := f.run("alice", "help")
	if !regexp.MustCompile(`(?m)^  demo-prod +four-eyes: a reviewer must approve first$`).MatchString(res.Stdout) ||
		regexp.MustCompile(`(?m)^  demo +four-eyes`).MatchString(res.Stdout) {
		t.Errorf("alice's help does not mark exactly demo-prod as four-eyes:\n%s", res.Stdout)
	}
	if res := f.run("dave", "help"); !strings.Contains(res.Stdout, "join SESSION_ID") || !strings.Contains(res.Stdout, "ssh BASTION sessions") ||
		strings.Contains(res.Stdout, "ssh -t BASTION HOST") {
		t.Errorf("dave (reviewer only) help:\n%s", res.Stdout)
	}
}
