package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
	gossh "golang.org/x/crypto/ssh"
)

// earlyCloser is an upstream SSH server (x/crypto) that answers an exec
// request the way its login name says:
//
//	ran     runs it: output on both streams, exit status 3, EOF and close,
//	        and only then the reply (which can no longer be sent)
//	vanish  closes the channel without a reply, an output or a status
//	refuse  replies failure, as a host that will not run it
type earlyCloser struct {
	addr string
	key  gossh.PublicKey
}

// startEarlyCloser starts an earlyCloser admitting any key; it stops when
// the test ends.
func startEarlyCloser(t *testing.T) *earlyCloser {
	t.Helper()
	e := &earlyCloser{}
	e.addr, e.key = startTestHost(t, e.serveConn)
	return e
}

// host returns the hosts: entry of the server for login.
func (e *earlyCloser) host(name, login string) string {
	return fmt.Sprintf(`{name: %s, address: "%s", login: %s, host_key: "%s"}`, name, e.addr, login, authorizedKey(e.key))
}

func (e *earlyCloser) serveConn(c net.Conn, cfg *gossh.ServerConfig) {
	sc, chans, reqs, err := gossh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go gossh.DiscardRequests(reqs)
	for nc := range chans {
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		e.serveChannel(sc.User(), ch, creqs)
	}
}

func (e *earlyCloser) serveChannel(login string, ch gossh.Channel, reqs <-chan *gossh.Request) {
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(true, nil)
			continue
		}
		var cmd struct{ Command string }
		gossh.Unmarshal(req.Payload, &cmd)
		switch login {
		case "ran":
			fmt.Fprintf(ch, "ran: %s\n", cmd.Command)
			fmt.Fprintf(ch.Stderr(), "warn\n")
			ch.SendRequest("exit-status", false, gossh.Marshal(&struct{ Status uint32 }{3}))
			ch.CloseWrite()
			ch.Close()
			req.Reply(true, nil) // too late: the channel is closed
		case "vanish":
			ch.Close()
		default:
			req.Reply(false, nil)
		}
	}
}

// TestHostClosingBeforeExecReply: a host that runs a command and closes
// the channel before it replies to exec is not a refusal; the output and
// exit status that arrived reach the user and the record.
func TestHostClosingBeforeExecReply(t *testing.T) {
	e := startEarlyCloser(t)
	f := newFixture(t, fixtureOptions{extraHosts: []string{
		e.host("early-ran", "ran"), e.host("early-vanish", "vanish"), e.host("early-refuse", "refuse"),
	}})
	outputOf := func(evs []event.Event) string {
		var b bytes.Buffer
		for _, ev := range evs {
			if ev.Type == event.Output {
				b.Write(ev.Data)
			}
		}
		return b.String()
	}
	byHost := func(h string) func(recorder.StartInfo) bool {
		return func(i recorder.StartInfo) bool { return i.Host == h }
	}

	t.Run("ran", func(t *testing.T) {
		res := f.run("alice", "early-ran", "--", "touch flag-190; echo ok")
		if res.Exit != 3 || res.Stdout != "ran: touch flag-190; echo ok\n" || res.Stderr != "warn\n" {
			t.Errorf("got exit %d stdout %q stderr %q; want 3, the output and warn", res.Exit, res.Stdout, res.Stderr)
		}
		evs := f.sessionOf(byHost("early-ran"))
		if got := outputOf(evs); !strings.Contains(got, "ran: touch flag-190; echo ok\n") || !strings.Contains(got, "warn\n") {
			t.Errorf("recorded output %q lacks what the host sent", got)
		}
		end := evs[len(evs)-1]
		if end.Type != event.SessionEnd || end.Meta["exit_status"] != "3" || end.Meta["error"] != "" || end.Meta["start"] != "unconfirmed" || end.Meta["bytes_out"] == "0" {
			t.Errorf("last event %s %v; want session.end exit_status=3 start=unconfirmed, no error, bytes out", end.Type, end.Meta)
		}
	})
	t.Run("vanish", func(t *testing.T) {
		res := f.run("alice", "early-vanish", "--", "true")
		if res.Exit != statusLost || !strings.Contains(res.Stderr, "early-vanish closed the session without confirming the start") {
			t.Errorf("got exit %d stderr %q; want %d and the host closed the session", res.Exit, res.Stderr, statusLost)
		}
		evs := f.sessionOf(byHost("early-vanish"))
		end := evs[len(evs)-1]
		if end.Type != event.SessionEnd || end.Meta["error"] != "" || end.Meta["start"] != "unconfirmed" || end.Meta["reason"] != "host closed the session without an exit status" {
			t.Errorf("last event %s %v; want session.end: unconfirmed start, no exit status, no refusal", end.Type, end.Meta)
		}
	})
	t.Run("refuse", func(t *testing.T) {
		res := f.run("alice", "early-refuse", "--", "true")
		if res.Exit != 1 || res.Stderr != "foureyes: early-refuse refused to start the command\n" {
			t.Errorf("got exit %d stderr %q; want 1 and the refusal", res.Exit, res.Stderr)
		}
		evs := f.sessionOf(byHost("early-refuse"))
		if end := evs[len(evs)-1]; end.Type != event.SessionEnd || end.Meta["error"] != "start refused" {
			t.Errorf("last event %s %v; want session.end error=start refused", end.Type, end.Meta)
		}
	})
}

// TestFastExecsRecorded runs a few hundred commands that exit at once
// through the gateway to the demo target: each reaches the client and the
// record with its output and real exit status, none is taken for a
// refusal.
func TestFastExecsRecorded(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c, err := f.dial("alice")
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for _, err := range inParallel(n, func(i int) error { return fastExec(c, i) }) {
		t.Error(err)
	}
	streams := f.streams()
	for i := 0; i < n; i++ {
		cmd := fastCommand(i)
		ids := f.spy.find(func(s recorder.StartInfo) bool { return s.Command == cmd })
		if len(ids) != 1 {
			t.Errorf("%d recordings of %q; want 1", len(ids), cmd)
			continue
		}
		evs := streams[ids[0]]
		var out bytes.Buffer
		for _, ev := range evs {
			if ev.Type == event.Output {
				out.Write(ev.Data)
			}
		}
		end := evs[len(evs)-1]
		want := fmt.Sprintf("out-%d\n", i)
		if out.String() != want || end.Type != event.SessionEnd || end.Meta["exit_status"] != fmt.Sprint(i%7) || end.Meta["error"] != "" {
			t.Errorf("%q recorded output %q, last event %s %v; want %q and exit_status %d", cmd, out.String(), end.Type, end.Meta, want, i%7)
		}
	}
}

// inParallel runs fn(0..n-1), four at a time on one connection
// (limits.max_channels is 10, and closing channels linger a moment), and
// returns the errors.
func inParallel(n int, fn func(i int) error) []error {
	errs := make(chan error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// fastCommand is the i-th command of TestFastExecsRecorded.
func fastCommand(i int) string { return fmt.Sprintf("echo out-%d; exit %d", i, i%7) }

// fastExec runs fastCommand(i) on demo through c and checks what came back.
func fastExec(c *gossh.Client, i int) error {
	s, err := c.NewSession()
	if err != nil {
		return fmt.Errorf("exec %d: %w", i, err)
	}
	defer s.Close()
	var stderr bytes.Buffer
	s.Stderr = &stderr
	out, err := s.Output("demo -- " + fastCommand(i))
	var exitErr *gossh.ExitError
	status := 0
	if errors.As(err, &exitErr) {
		status, err = exitErr.ExitStatus(), nil
	}
	if want := fmt.Sprintf("out-%d\n", i); err != nil || status != i%7 || string(out) != want {
		return fmt.Errorf("exec %d: err %v status %d output %q stderr %q; want status %d output %q", i, err, status, out, stderr.String(), i%7, want)
	}
	return nil
}

// TestFastBastionVerbsReplyBeforeClose runs commands the bastion answers
// itself at once (help, a refusal) through an x/crypto client: the gateway
// must confirm each exec before it sends the exit status and closes, or
// the client reports a start failure for a command that ran and was
// recorded.
func TestFastBastionVerbsReplyBeforeClose(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c, err := f.dial("alice")
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	errs := inParallel(n, func(i int) error {
		s, err := c.NewSession()
		if err != nil {
			return fmt.Errorf("session %d: %w", i, err)
		}
		defer s.Close()
		cmd, wantStatus := "help", 0
		if i%2 == 1 {
			cmd, wantStatus = "nosuch-host -- true", 1
		}
		var stdout, stderr bytes.Buffer
		s.Stdout, s.Stderr = &stdout, &stderr
		err = s.Run(cmd)
		var exitErr *gossh.ExitError
		status := 0
		if errors.As(err, &exitErr) {
			status, err = exitErr.ExitStatus(), nil
		}
		if err != nil || status != wantStatus || stdout.Len()+stderr.Len() == 0 {
			return fmt.Errorf("%q #%d: err %v status %d stdout %q stderr %q; want status %d", cmd, i, err, status, stdout.String(), stderr.String(), wantStatus)
		}
		return nil
	})
	for i, err := range errs {
		if i < 5 {
			t.Error(err)
		}
	}
	if len(errs) > 0 {
		t.Errorf("%d of %d fast commands misreported", len(errs), n)
	}
}
