package gateway

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
)

// windowIDPattern finds the window id in the requester's notice.
var windowIDPattern = regexp.MustCompile(`approval window ([0-9a-f-]{36}) for`)

// windowOptions is the four-eyes fixture with a second production host
// (demo-prod2) and erin, who may connect anywhere but approve only demo.
func windowOptions() fixtureOptions {
	return fixtureOptions{fourEyes: true, editConfig: func(y string) string {
		y = strings.Replace(y, "roles: [otherreviewer]}", "roles: [otherreviewer, admin]}", 1)
		i := strings.Index(y, "  - {name: demo-prod, ")
		line := y[i : i+strings.Index(y[i:], "\n")+1]
		return y[:i] + line + strings.Replace(line, "name: demo-prod,", "name: demo-prod2,", 1) + y[i+len(line):]
	}}
}

// requestWindow starts user's `request ARGS` (waiting for approval) and
// returns the client and the window id.
func (f *fixture) requestWindow(t *testing.T, user, args string) (*sshtest.Client, string) {
	t.Helper()
	c := f.client(user, false, "request "+args)
	c.Start(t)
	m := windowIDPattern.FindStringSubmatch(c.Expect(windowIDPattern, timeout))
	return c, m[1]
}

// answerWindow runs `join ID` as user without a terminal, answering the
// prompts with input.
func (f *fixture) answerWindow(t *testing.T, user, id, input string) sshtest.Result {
	t.Helper()
	c := f.client(user, false, "join", id)
	c.Stdin = input
	return runClient(t, c)
}

// openWindow has alice request a window with args and dave approve it;
// it returns the window id.
func (f *fixture) openWindow(t *testing.T, args string) string {
	t.Helper()
	alice, id := f.requestWindow(t, "alice", args)
	if res := f.answerWindow(t, "dave", id, "y\n"); res.Exit != 0 || !strings.Contains(res.Stderr, "you approved window "+id) {
		t.Fatalf("dave's approval: %+v", res)
	}
	alice.Expect("approved by dave", timeout)
	if got := alice.Wait(); got != 0 {
		t.Fatalf("request exit = %d; want 0", got)
	}
	return id
}

// TestWindowApproveUseWatchEnd: alice asks for a window, dave sees the
// whole request (escaped) and approves it; within it alice's exec (host
// word and user-name forms) and shell on demo-prod run without a prompt,
// each recorded with the window and its approver; dave lists and watches
// the live shell; when dave ends the window the shell ends, recorded.
func TestWindowApproveUseWatchEnd(t *testing.T) {
	f := newFixture(t, windowOptions())
	alice, id := f.requestWindow(t, "alice", "demo-prod --for 30m --reason deploy release 42")
	alice.Expect(regexp.MustCompile(`a reviewer runs:  ssh -t -p [0-9]+ dave@127.0.0.1 join `+id), timeout)

	// The request as dave sees it, in `sessions` and at the prompt.
	if res := f.run("dave", "sessions"); !strings.Contains(res.Stdout, id) || !strings.Contains(res.Stdout, "deploy release 42") || strings.Contains(res.Stdout, "\x1b") {
		t.Errorf("sessions: %+v; want the pending window, escaped", res)
	}
	if res := f.run("dave", "sessions --json"); !strings.Contains(res.Stdout, `"kind":"window"`) || !strings.Contains(res.Stdout, `"id":"`+id+`"`) {
		t.Errorf("sessions --json: %+v; want the window", res)
	}
	res := f.answerWindow(t, "dave", id, "y\n")
	for _, want := range []string{"Window     " + id, "Requested  by alice (key SHA256:", "Hosts      demo-prod", "Duration   30m0s", "Reason     deploy release 42", "approvals 0 of 1"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("dave's view lacks %q:\n%s", want, res.Stdout)
		}
	}
	if strings.Contains(res.Stdout, "\x1b") {
		t.Errorf("the reason reached dave's terminal unescaped: %q", res.Stdout)
	}
	alice.Expect("approved by dave: demo-prod open until ", timeout)
	if got := alice.Wait(); got != 0 {
		t.Errorf("request exit = %d; want 0", got)
	}

	// Within the window: exec in both forms, no reason asked, no reviewer.
	if res := f.run("alice", "demo-prod", "--", "echo", "in-window-1"); res.Exit != 0 || !strings.Contains(res.Stdout, "in-window-1") {
		t.Errorf("exec under the window: %+v", res)
	}
	c := f.client("alice", false, "echo", "in-window-2")
	c.User = "alice+demo-prod"
	if res := runClient(t, c); res.Exit != 0 || !strings.Contains(res.Stdout, "in-window-2") {
		t.Errorf("alice+demo-prod exec under the window: %+v", res)
	}

	// A shell, listed for dave with its window, and watched live.
	shell := f.client("alice", true, "demo-prod")
	shell.Start(t)
	shell.Expect("demo$ ", timeout)
	var sid string
	waitFor(t, "the shell listed", func() bool {
		ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "shell" && i.Meta["window"] == id })
		if len(ids) == 1 {
			sid = ids[0]
		}
		return sid != ""
	})
	if res := f.run("dave", "sessions"); !strings.Contains(res.Stdout, sid) || !strings.Contains(res.Stdout, "[window "+id+"]") {
		t.Errorf("sessions does not list the shell under the window: %s", res.Stdout)
	}
	if res := f.run("dave", "join", id); !strings.Contains(res.Stdout, "Live       "+sid) {
		t.Errorf("join WINDOW does not list the live shell: %+v", res)
	}
	dave := f.review(t, "dave", sid, "--mode", "peer")
	dave.Expect("watched, not shared; joining as observer", timeout)
	dave.Expect("watching as observer", timeout)
	shell.Send("echo watched-$((6*7))\r")
	shell.Expect("watched-42", timeout)
	dave.Expect("watched-42", timeout)

	// dave ends the window: the shell ends, dave's view too.
	if res := f.run("dave", "request --end "+id+" --reason done"); res.Exit != 0 {
		t.Errorf("request --end: %+v", res)
	}
	shell.Expect("approval window "+id+" ended by dave: done; session ended", timeout)
	shell.Wait()
	dave.Wait()
	if res := f.run("alice", "demo-prod", "--", "echo", "after"); res.Exit == 0 || strings.Contains(res.Stdout, "after") {
		t.Errorf("exec after the window ended ran: %+v", res)
	}

	streams := f.streams()
	win := streams[id]
	requireEvent(t, win, event.WindowRequest, "alice", map[string]string{"hosts": "demo-prod", "duration": "30m0s", "reason": "deploy release 42", "count": "1"})
	requireEvent(t, win, event.WindowGrant, "dave", map[string]string{"approvals": "1", "count": "1"})
	requireEvent(t, win, event.WindowEnd, "dave", map[string]string{"reason": "ended by dave: done", "sessions": "1"})
	if end := win[len(win)-1]; end.Type != event.SessionEnd || end.Meta["approvers"] != "dave" {
		t.Errorf("window stream ends with %s %v", end.Type, end.Meta)
	}
	execs := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "exec" && i.Meta["window"] == id })
	if len(execs) != 2 {
		t.Fatalf("%d exec recordings under the window; want 2", len(execs))
	}
	for _, sid := range append(execs, sid) {
		evs := streams[sid]
		if start := evs[0]; start.Meta["window"] != id || start.Meta["approvers"] != "dave" || start.Meta["reason"] != "deploy release 42" {
			t.Errorf("%s session.start meta = %v", sid, start.Meta)
		}
		if end := evs[len(evs)-1]; end.Type != event.SessionEnd || end.Meta["window"] != id || end.Meta["approvers"] != "dave" {
			t.Errorf("%s session.end = %s %v", sid, end.Type, end.Meta)
		}
	}
	requireEvent(t, streams[sid], event.SessionTerminate, "dave", map[string]string{"reason": "approval window ended: ended by dave: done"})
	requireEvent(t, streams[sid], event.ParticipantJoin, "dave", map[string]string{"mode": "observer"})
}

// TestWindowDenials: every way to get or use a window without a second
// person's approval is refused and recorded.
func TestWindowDenials(t *testing.T) {
	f := newFixture(t, windowOptions())

	t.Run("self-approval", func(t *testing.T) {
		_, id := f.requestWindow(t, "alice", "demo-prod --for 10m --reason mine")
		res := f.answerWindow(t, "alice", id, "y\n")
		if res.Exit == 0 || !strings.Contains(res.Stderr, "you cannot review your own approval window") {
			t.Errorf("alice approving her own window: %+v", res)
		}
		if res := f.run("dave", "request --end "+id); res.Exit != 0 {
			t.Errorf("dave ending it: %+v", res)
		}
		requireEvent(t, f.streams()[id], event.ApprovalRefused, "alice", map[string]string{"reason": "self-approval"})
	})
	t.Run("reviewer without role for a host", func(t *testing.T) {
		_, id := f.requestWindow(t, "alice", "demo-prod --for 10m --reason erin may not")
		res := f.answerWindow(t, "erin", id, "y\n")
		if res.Exit == 0 || !strings.Contains(res.Stderr, "no session "+id+" is waiting for review") {
			t.Errorf("erin approving: %+v", res)
		}
		if res := f.run("erin", "sessions"); strings.Contains(res.Stdout, id) {
			t.Errorf("erin sees the window: %s", res.Stdout)
		}
		if res := f.run("erin", "request --end "+id); res.Exit == 0 {
			t.Errorf("erin ended a window she may not review: %+v", res)
		}
		requireEvent(t, f.streams()[id], event.ApprovalRefused, "erin", map[string]string{"reason": "no reviewer role for every host of the window"})
		f.run("alice", "request --end "+id)
	})
	t.Run("user without any reviewer role", func(t *testing.T) {
		_, id := f.requestWindow(t, "alice", "demo-prod --for 10m --reason bob may not")
		if res := f.answerWindow(t, "bob", id, "y\n"); res.Exit == 0 || !strings.Contains(res.Stderr, "join denied for bob: no reviewer role") {
			t.Errorf("bob approving: %+v", res)
		}
		requireEvent(t, f.streams()[id], event.ApprovalRefused, "bob", map[string]string{"reason": "join requires a role with approve"})
		f.run("alice", "request --end "+id)
	})
	t.Run("pending window grants nothing", func(t *testing.T) {
		_, id := f.requestWindow(t, "alice", "demo-prod --for 10m --reason not yet")
		if res := f.run("alice", "demo-prod", "--", "echo", "early"); res.Exit == 0 || !strings.Contains(res.Stderr, "requires four-eyes approval") {
			t.Errorf("exec with a pending window: %+v", res)
		}
		f.run("alice", "request --end "+id)
	})

	id := f.openWindow(t, "demo-prod --for 30m --reason one host")
	t.Run("window for one host used on another", func(t *testing.T) {
		if res := f.run("alice", "demo-prod2", "--", "echo", "elsewhere"); res.Exit == 0 || !strings.Contains(res.Stderr, "demo-prod2 requires four-eyes approval") {
			t.Errorf("exec on demo-prod2 under a demo-prod window: %+v", res)
		}
	})
	t.Run("another user", func(t *testing.T) {
		if res := f.run("erin", "demo-prod", "--", "echo", "borrowed"); res.Exit == 0 || !strings.Contains(res.Stderr, "requires four-eyes approval") {
			t.Errorf("erin's exec under alice's window: %+v", res)
		}
		c := f.client("erin", false, "echo", "borrowed")
		c.User = "erin+demo-prod"
		if res := runClient(t, c); res.Exit == 0 || strings.Contains(res.Stdout, "borrowed") {
			t.Errorf("erin+demo-prod under alice's window: %+v", res)
		}
	})
	t.Run("ended window", func(t *testing.T) {
		if res := f.run("alice", "request --end "+id); res.Exit != 0 {
			t.Fatalf("alice ending her window: %+v", res)
		}
		if res := f.run("alice", "demo-prod", "--", "echo", "late"); res.Exit == 0 || strings.Contains(res.Stdout, "late") {
			t.Errorf("exec after the window ended: %+v", res)
		}
		if res := f.answerWindow(t, "dave", id, "y\n"); res.Exit == 0 {
			t.Errorf("approving an ended window: %+v", res)
		}
	})
	t.Run("expired window", func(t *testing.T) {
		id := f.openWindow(t, "demo-prod --for 5s --reason short")
		shell := f.client("alice", true, "demo-prod")
		shell.Start(t)
		shell.Expect("demo$ ", timeout)
		shell.Expect("approval window "+id+" ended: its time ran out; session ended", timeout)
		shell.Wait()
		if res := f.run("alice", "demo-prod", "--", "echo", "expired"); res.Exit == 0 || strings.Contains(res.Stdout, "expired") {
			t.Errorf("exec after the window expired: %+v", res)
		}
		requireEvent(t, f.streams()[id], event.WindowEnd, "", map[string]string{"reason": "its time ran out", "sessions": "1"})
	})
	t.Run("denied", func(t *testing.T) {
		alice, id := f.requestWindow(t, "alice", "demo-prod --for 10m --reason please")
		res := f.answerWindow(t, "dave", id, "n\nnot today\n")
		if res.Exit != 0 || !strings.Contains(res.Stderr, "you denied approval window "+id) {
			t.Errorf("dave denying: %+v", res)
		}
		alice.Expect("denied by dave: not today", timeout)
		if got := alice.Wait(); got != 1 {
			t.Errorf("request exit = %d; want 1", got)
		}
		requireEvent(t, f.streams()[id], event.WindowDeny, "dave", map[string]string{"reason": "not today"})
	})
}

// TestWindowRequestValidation: what a requester may ask for.
func TestWindowRequestValidation(t *testing.T) {
	f := newFixture(t, windowOptions())
	tests := []struct{ name, user, args, want string }{
		{"no reason", "alice", "demo-prod --for 10m", "a reason is required"},
		{"control characters in the reason", "alice", "demo-prod --for 10m --reason a\x07b", "contains the control or invisible character"},
		{"reason too long", "alice", "demo-prod --for 10m --reason " + strings.Repeat("x", maxLine+1), "characters long"},
		{"no duration", "alice", "demo-prod --reason r", "give the duration with --for"},
		{"bad duration", "alice", "demo-prod --for soon --reason r", "give a duration such as 30m"},
		{"negative duration", "alice", "demo-prod --for -5m --reason r", "give a duration such as 30m"},
		{"over max_window", "alice", "demo-prod --for 5h --reason r", "longer than the policy allows (max_window 4h0m0s)"},
		{"host without approval", "alice", "demo --for 10m --reason r", "demo needs no approval"},
		{"unknown host", "alice", "nowhere --for 10m --reason r", "unknown host"},
		{"forbidden host", "bob", "demo-prod --for 10m --reason r", "access to \"demo-prod\" denied"},
		{"selector matching nothing", "alice", "env=nowhere --for 10m --reason r", "no four-eyes host you may connect to matches"},
		{"unknown option", "alice", "demo-prod --for 10m --forever --reason r", "unknown option"},
		{"two host words", "alice", "demo-prod demo-prod2 --for 10m --reason r", "separated by commas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.run(tt.user, "request "+tt.args)
			if res.Exit == 0 || !strings.Contains(res.Stderr, tt.want) {
				t.Errorf("request %q: %+v; want %q", tt.args, res, tt.want)
			}
		})
	}
	if n := len(f.srv.windows.all()); n != 0 {
		t.Errorf("%d windows registered by refused requests", n)
	}
	// A selector names both production hosts; --no-wait returns the id;
	// a user holds a bounded number of windows.
	for i := 0; i < maxWindowsPerUser-1; i++ {
		if res := f.run("alice", "request demo-prod --for 10m --no-wait --reason filler"); res.Exit != 0 {
			t.Fatalf("request %d: %+v", i, res)
		}
	}
	res := f.run("alice", "request env=production --for 10m --no-wait --reason both")
	id := strings.TrimSpace(res.Stdout)
	w, ok := f.srv.windows.get(id)
	if res.Exit != 0 || !ok || strings.Join(w.hosts, ",") != "demo-prod,demo-prod2" {
		t.Fatalf("request env=production --no-wait: %+v", res)
	}
	if res := f.run("alice", "request"); !strings.Contains(res.Stdout, id) || !strings.Contains(res.Stdout, "pending") {
		t.Errorf("request (list): %+v", res)
	}
	if res := f.run("alice", "request demo-prod --for 10m --no-wait --reason one too many"); res.Exit == 0 || !strings.Contains(res.Stderr, "at most 8") {
		t.Errorf("request beyond the limit: %+v", res)
	}
}

// TestWindowRevokedAndShutdown: a reload taking alice's key away ends
// her window and the session under it; the bastion's shutdown ends the
// remaining windows, recorded.
func TestWindowRevokedAndShutdown(t *testing.T) {
	f := newFixture(t, windowOptions())
	id := f.openWindow(t, "demo-prod --for 30m --reason revoke me")
	shell := f.client("alice", true, "demo-prod")
	shell.Start(t)
	shell.Expect("demo$ ", timeout)
	// alice's first key goes; she keeps her second (alice2) and her roles.
	if _, err := f.reload(replaceOnce(t, `"`+f.keyLine("alice")+`", `, "")); err != nil {
		t.Fatal(err)
	}
	shell.Expect("access revoked", timeout)
	shell.Wait()
	if _, ok := f.srv.windows.get(id); ok {
		t.Error("the window outlived its requester's key")
	}
	requireEvent(t, f.streams()[id], event.WindowEnd, "", map[string]string{"reason": "access revoked: key removed"})

	// A window asked with the second key ends with the bastion.
	c := f.client("alice2", false, "request demo-prod --for 30m --reason last")
	c.User = "alice"
	c.Start(t)
	id2 := windowIDPattern.FindStringSubmatch(c.Expect(windowIDPattern, timeout))[1]
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-f.serveErr
	f.serveErr <- ErrServerClosed // for the fixture's cleanup
	c.Wait()
	requireEvent(t, f.streams()[id2], event.WindowEnd, "", map[string]string{"reason": "bastion shutting down"})
}

// TestTunnelUnderWindow: a tunnel to an allowed destination of a
// four-eyes host works within an open window, recorded with it, and
// ends when the window ends.
func TestTunnelUnderWindow(t *testing.T) {
	echo := echoListener(t)
	o := windowOptions()
	edit := o.editConfig
	o.editConfig = func(y string) string { return withTunnels("demo-prod", echo)(edit(y)) }
	f := newFixture(t, o)
	id := f.openWindow(t, "demo-prod --for 30m --reason db migration")
	c, local := f.startTunnel(t, "alice+demo-prod", echo)
	conn := dialEventually(t, local)
	if !echoOnce(conn, "migrate") {
		t.Fatal("no echo through the tunnel")
	}
	if res := f.run("dave", "request --end "+id); res.Exit != 0 {
		t.Fatalf("request --end: %+v", res)
	}
	var tid string
	waitFor(t, "the tunnel ended", func() bool {
		ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "tunnel" })
		if len(ids) != 1 {
			return false
		}
		tid = ids[0]
		evs := f.streams()[tid]
		return evs[len(evs)-1].Type == event.SessionEnd
	})
	conn.Close()
	c.Close()
	evs := f.streams()[tid]
	if evs[0].Meta["window"] != id || evs[0].Meta["approvers"] != "dave" {
		t.Errorf("tunnel session.start meta = %v", evs[0].Meta)
	}
	requireEvent(t, evs, event.TunnelOpen, "alice", map[string]string{"dest": echo, "window": id})
	requireEvent(t, evs, event.TunnelClose, "alice", map[string]string{"bytes_up": "8", "bytes_down": "8", "reason": "approval window ended: ended by dave"})
	requireEvent(t, evs, event.SessionTerminate, "dave", nil)
}

// TestWindowApprovalRevokedAtPrompt: a reviewer whose role is taken away
// while the approval prompt is open cannot approve any more: the reload
// ends the prompt and the window stays pending.
func TestWindowApprovalRevokedAtPrompt(t *testing.T) {
	f := newFixture(t, windowOptions())
	_, id := f.requestWindow(t, "alice", "demo-prod --for 10m --reason revoke the reviewer")
	dave := f.review(t, "dave", id)
	dave.Expect("Approve this window? [y/n] ", timeout)
	if _, err := f.reload(replaceOnce(t, `"`+f.keyLine("dave")+`"], roles: [reviewer]}`, `"`+f.keyLine("dave")+`"], roles: [auditor]}`)); err != nil {
		t.Fatal(err)
	}
	dave.Expect("access revoked", timeout)
	dave.Send("y\r")
	dave.Wait()
	w, ok := f.srv.windows.get(id)
	if !ok || w.info().state != windowPending || len(w.info().granted) != 0 {
		t.Fatalf("window after the reviewer lost the role: %v %+v", ok, w.info())
	}
	if _, ok := findEvent(f.streams()[id], event.WindowGrant, nil); ok {
		t.Error("window.grant recorded after the role was removed")
	}
}

// TestWindowWebhook: reviewers learn of a window request, its approval
// and its end from the webhook, as of a session's.
func TestWindowWebhook(t *testing.T) {
	sink := newWebhookSink(t, 0)
	o := windowOptions()
	o.webhook = sink.srv.URL
	f := newFixture(t, o)
	id := f.openWindow(t, "demo-prod --for 30m --reason webhook")
	if res := f.run("alice", "request --end "+id); res.Exit != 0 {
		t.Fatalf("request --end: %+v", res)
	}
	for i := 0; i < 3; i++ {
		select {
		case <-sink.arrived:
		case <-time.After(timeout):
			t.Fatalf("%d notifications; want 3", i)
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	want := []struct{ event, by string }{{"window.request", ""}, {"window.grant", "dave"}, {"window.end", "alice"}}
	for i, n := range sink.got {
		if n.Event != want[i].event || n.By != want[i].by || n.Session != id || n.User != "alice" || n.Host != "demo-prod" || n.Reason != "webhook" {
			t.Errorf("notification %d = %+v; want %s by %q", i, n, want[i].event, want[i].by)
		}
	}
	if !strings.Contains(sink.got[0].Join, "join "+id) {
		t.Errorf("request notification join = %q", sink.got[0].Join)
	}
}

// TestKillWindow: a role with kill ends a window (and its sessions) with
// `kill WINDOW_ID`; kill lists windows; a user without kill cannot.
func TestKillWindow(t *testing.T) {
	o := windowOptions()
	edit := o.editConfig
	o.editConfig = func(y string) string {
		return strings.Replace(edit(y), `auditor: {audit: true}`, `auditor: {audit: true, kill: true}`, 1)
	}
	f := newFixture(t, o)
	id := f.openWindow(t, "demo-prod --for 30m --reason kill me")
	shell := f.client("alice", true, "demo-prod")
	shell.Start(t)
	shell.Expect("demo$ ", timeout)
	if res := f.run("dave", "kill "+id); res.Exit == 0 {
		t.Errorf("dave (no kill role) killed the window: %+v", res)
	}
	if res := f.run("carol", "kill"); !strings.Contains(res.Stdout, id) || !strings.Contains(res.Stdout, "approval window open") {
		t.Errorf("kill does not list the window: %+v", res)
	}
	if res := f.run("carol", "kill "+id+" --reason incident"); res.Exit != 0 {
		t.Fatalf("kill WINDOW: %+v", res)
	}
	shell.Expect("approval window "+id+" ended: killed by carol: incident; session ended", timeout)
	shell.Wait()
	requireEvent(t, f.streams()[id], event.WindowEnd, "carol", map[string]string{"reason": "killed by carol: incident", "sessions": "1"})
	requireEvent(t, f.gatewayEvents(event.SessionTerminate), event.SessionTerminate, "carol", map[string]string{"window": id})
}

// TestWindowApproverRevoked: an open window ends when a reload takes the
// approving reviewer's role away, and its sessions with it.
func TestWindowApproverRevoked(t *testing.T) {
	f := newFixture(t, windowOptions())
	id := f.openWindow(t, "demo-prod --for 30m --reason approver leaves")
	shell := f.client("alice", true, "demo-prod")
	shell.Start(t)
	shell.Expect("demo$ ", timeout)
	if _, err := f.reload(replaceOnce(t, `"`+f.keyLine("dave")+`"], roles: [reviewer]}`, `"`+f.keyLine("dave")+`"], roles: [auditor]}`)); err != nil {
		t.Fatal(err)
	}
	shell.Expect("access revoked (approver dave may no longer approve); session ended", timeout)
	shell.Wait()
	requireEvent(t, f.streams()[id], event.WindowEnd, "", map[string]string{"reason": "access revoked: approver dave may no longer approve", "sessions": "1"})
}
