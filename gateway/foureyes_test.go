package gateway

import (
	"regexp"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
)

// idPattern finds the session id in the requester's pending notice.
var idPattern = regexp.MustCompile(`session ([0-9a-f-]{36}) is waiting`)

// request starts alice's interactive session on demo-prod, gives the
// reason and returns her client and the session id.
func (f *fixture) request(t *testing.T, reason string) (*sshtest.Client, string) {
	t.Helper()
	alice := f.client("alice", true, "demo-prod")
	alice.Start(t)
	alice.Expect("Reason for this session: ", timeout)
	alice.Send(reason + "\r")
	m := idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))
	alice.Expect("join "+m[1], timeout)
	return alice, m[1]
}

// review starts user's `join ID` with extra args in a pty.
func (f *fixture) review(t *testing.T, user, id string, args ...string) *sshtest.Client {
	t.Helper()
	c := f.client(user, true, append([]string{"join", id}, args...)...)
	c.Start(t)
	return c
}

// approve joins as user and approves.
func (f *fixture) approve(t *testing.T, user, id string, args ...string) *sshtest.Client {
	t.Helper()
	c := f.review(t, user, id, args...)
	c.Expect("Approve this session? [y/n] ", timeout)
	c.Send("y\r")
	c.Expect("watching as ", timeout)
	return c
}

// sessionEvents returns the recorded events of session id.
func (f *fixture) sessionEvents(id string) []event.Event {
	f.t.Helper()
	return f.streams()[id]
}

// inputBy returns everything actor typed in evs.
func inputBy(evs []event.Event, actor string) string {
	var b strings.Builder
	for _, e := range evs {
		if e.Type == event.Input && e.Actor == actor {
			b.Write(e.Data)
		}
	}
	return b.String()
}

// requireEvent fails unless evs holds an event of typ by actor whose
// Meta contains want.
func requireEvent(t *testing.T, evs []event.Event, typ event.Type, actor string, want map[string]string) event.Event {
	t.Helper()
	for _, e := range evs {
		if e.Type == typ && e.Actor == actor && hasMeta(e, want) {
			return e
		}
	}
	t.Errorf("no %s by %q with %v in %v", typ, actor, want, types(evs))
	return event.Event{}
}

func TestFourEyesApproveWorkTerminate(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	alice, id := f.request(t, "rotate the disk \x1b[31mlogs")
	// Nothing reached the host: no shell prompt, no output recorded.
	if strings.Contains(alice.Output(), "demo$") {
		t.Error("the host's prompt appeared while pending")
	}
	dave := f.review(t, "dave", id)
	for _, want := range []string{"Session    " + id, "Requested  by alice (key SHA256:", "Host       demo-prod, as login root",
		"Command    (interactive shell)", "Reason     rotate the disk logs", "Since      ", "approvals 0 of 1"} {
		dave.Expect(want, timeout)
	}
	dave.Expect("Approve this session? [y/n] ", timeout)
	dave.Send("y\r")
	dave.Expect("you approved session "+id, timeout)
	alice.Expect("approved by dave; connected to demo-prod", timeout)
	alice.Expect("demo$ ", timeout)
	alice.Send("echo hello-$((40+2))\r")
	alice.Expect("hello-42", timeout)
	dave.Expect("hello-42", timeout)
	// The one approval needed was given: dave is never told to wait for more.
	if out := dave.Output(); strings.Contains(out, "waiting for more approvals") {
		t.Errorf("dave, the only approver needed, was told to wait for more approvals:\n%q", out)
	}

	dave.Send("\x1dt")
	alice.Expect("session terminated by dave", timeout)
	dave.Expect("session terminated by dave", timeout)
	if got := alice.Wait(); got != statusLost {
		t.Errorf("alice exit = %d; want %d", got, statusLost)
	}
	dave.Wait()

	evs := f.sessionEvents(id)
	requireEvent(t, evs, event.ApprovalRequest, "alice", map[string]string{"reason": "rotate the disk logs", "host": "demo-prod", "login": "root", "approvers": "dave"})
	requireEvent(t, evs, event.ApprovalGrant, "dave", map[string]string{"approvals": "1", "count": "1"})
	requireEvent(t, evs, event.ParticipantJoin, "dave", map[string]string{"mode": "observer"})
	requireEvent(t, evs, event.SessionTerminate, "dave", nil)
	requireEvent(t, evs, event.ParticipantLeave, "dave", map[string]string{"reason": "session ended"})
	end := evs[len(evs)-1]
	if end.Type != event.SessionEnd || end.Meta["approvers"] != "dave" || end.Meta["reason"] != "rotate the disk logs" || end.Meta["terminated_by"] != "dave" {
		t.Errorf("session.end = %s %v", end.Type, end.Meta)
	}
	if !strings.Contains(inputBy(evs, "alice"), "echo hello") {
		t.Errorf("alice's input not recorded: %q", inputBy(evs, "alice"))
	}
	if err := event.Verify(evs); err != nil {
		t.Errorf("chain: %v", err)
	}
}

func TestFourEyesDeny(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	alice, id := f.request(t, "look around")
	// A reviewer who joins and leaves without deciding changes nothing.
	dave := f.review(t, "dave", id)
	dave.Expect("Approve this session? [y/n] ", timeout)
	dave.Send("\x03")
	dave.Expect("you left without deciding; the session still waits for review", timeout)
	dave.Wait()
	if res := f.run("dave", "sessions"); !strings.Contains(res.Stdout, id) || !strings.Contains(res.Stdout, "pending") || !strings.Contains(res.Stdout, "look around") {
		t.Fatalf("sessions after an undecided join: %+v", res)
	}

	dave = f.review(t, "dave", id)
	dave.Expect("Approve this session? [y/n] ", timeout)
	dave.Send("maybe\r")
	dave.Expect("Please answer y or n: ", timeout)
	dave.Send("n\r")
	dave.Expect("Reason for denying (optional, shown to alice; at most 200 characters): ", timeout)
	dave.Send("use the runbook\r")
	dave.Expect("you denied session "+id, timeout)
	alice.Expect("session denied by dave: use the runbook", timeout)
	if got := alice.Wait(); got != 1 {
		t.Errorf("alice exit = %d; want 1", got)
	}
	if strings.Contains(alice.Output(), "demo$") {
		t.Error("the host's prompt appeared although denied")
	}
	evs := f.sessionEvents(id)
	for _, e := range evs {
		if e.Type == event.Output || e.Type == event.Input {
			t.Errorf("denied session recorded %s %q", e.Type, e.Data)
		}
	}
	requireEvent(t, evs, event.ApprovalDeny, "dave", map[string]string{"reason": "use the runbook"})
	if end := evs[len(evs)-1]; end.Type != event.SessionEnd || end.Meta["approvers"] != "" || end.Meta["exit_status"] != "1" {
		t.Errorf("session.end = %v", end.Meta)
	}
}

func TestFourEyesRefusals(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	alice, id := f.request(t, "patch")
	alice2 := &sshtest.Client{Addr: f.addr, User: "alice", Key: f.keys["alice2"], Args: []string{"join", id}}
	unknown := "0" + id[1:] // differs from id in its first digit
	if id[0] == '0' {
		unknown = "1" + id[1:]
	}
	tests := []struct {
		name    string
		c       *sshtest.Client
		wantErr string
		reason  string
	}{
		{"self with the same key", f.client("alice", false, "join", id), "foureyes: you cannot review your own session " + id, "self-approval"},
		{"self with another key", alice2, "foureyes: you cannot review your own session " + id, "self-approval"},
		// Answered as for a made-up id (next case): no existence oracle.
		{"reviewer of other hosts", f.client("erin", false, "join", id), "foureyes: no session " + id + " is waiting for review or running\n", "no reviewer role for the session's host"},
		{"reviewer of other hosts, made-up id", f.client("erin", false, "join", unknown), "foureyes: no session " + unknown + " is waiting for review or running\n", ""},
		{"no reviewer role", f.client("bob", false, "join", id), "foureyes: join denied for bob: no reviewer role", ""},
		{"unknown id", f.client("dave", false, "join", unknown), "foureyes: no session ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runClient(t, tt.c)
			if res.Exit != 1 || !strings.HasPrefix(res.Stderr, tt.wantErr) || res.Stdout != "" {
				t.Errorf("got %+v; want exit 1 and %q", res, tt.wantErr)
			}
		})
	}
	// Listing: only entitled reviewers see the session.
	for user, want := range map[string]bool{"dave": true, "erin": false, "alice": false} {
		res := f.run(user, "sessions")
		if res.Exit != 0 || strings.Contains(res.Stdout, id) != want {
			t.Errorf("%s sessions: %+v; want listed=%v", user, res, want)
		}
	}
	if res := f.run("bob", "sessions"); res.Exit != 1 || res.Stderr != "foureyes: sessions denied for bob: no reviewer role\n" {
		t.Errorf("bob sessions: %+v", res)
	}
	alice.Send("\x03")
	alice.Expect("request cancelled: cancelled by alice", timeout)
	alice.Wait()

	evs := f.sessionEvents(id)
	n := 0
	for _, e := range evs {
		if e.Type == event.ApprovalRefused {
			n++
		}
	}
	if n != 4 { // alice twice, erin, bob
		t.Errorf("%d approval.refused events; want 4 (%v)", n, types(evs))
	}
	requireEvent(t, evs, event.ApprovalRefused, "erin", map[string]string{"reason": "no reviewer role for the session's host"})
	requireEvent(t, evs, event.ApprovalRefused, "bob", map[string]string{"reason": "join requires a role with approve"})
	requireEvent(t, evs, event.ApprovalCancel, "alice", nil)
	if _, ok := findEvent(f.gatewayEvents(event.AccessDenied), event.AccessDenied, map[string]string{"user": "alice", "reason": "self-approval", "session": id}); !ok {
		t.Error("no access.denied for the self-approval in the gateway stream")
	}
}

func TestFourEyesPauseAndResume(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	alice, id := f.request(t, "maintenance")
	dave := f.approve(t, "dave", id)
	alice.Expect("demo$ ", timeout)
	dave.Send("\x1dq")
	dave.Expect("you left session "+id+"; it goes on without you", timeout)
	dave.Wait()
	alice.Expect("session paused: no reviewer is watching", timeout)
	alice.Send("echo frozen\r")

	dave = f.review(t, "dave", id, "--mode", "peer")
	dave.Expect("watching as peer", timeout)
	dave.Expect("demo$ ", timeout) // the current screen, replayed
	alice.Expect("session resumed", timeout)
	alice.Send("echo thawed-$((2*3))\r")
	alice.Expect("thawed-6", timeout)
	dave.Expect("thawed-6", timeout)
	dave.Send("echo peer-$((3+4))\r")
	alice.Expect("peer-7", timeout)
	alice.Send("exit\r")
	alice.Expect("session ended: alice's shell exited with status 0", timeout)
	dave.Expect("session ended: alice's shell exited with status 0", timeout)
	if got := alice.Wait(); got != 0 {
		t.Errorf("alice exit = %d", got)
	}
	dave.Wait()

	evs := f.sessionEvents(id)
	requireEvent(t, evs, event.SessionPause, "", map[string]string{"reason": "the last reviewer left"})
	requireEvent(t, evs, event.SessionResume, "dave", nil)
	requireEvent(t, evs, event.ParticipantLeave, "dave", map[string]string{"reason": "left"})
	requireEvent(t, evs, event.ParticipantJoin, "dave", map[string]string{"mode": "peer"})
	if in := inputBy(evs, "alice"); strings.Contains(in, "frozen") {
		t.Errorf("input typed while paused was recorded as sent: %q", in)
	}
	if in := inputBy(evs, "dave"); !strings.Contains(in, "echo peer-") {
		t.Errorf("peer input not attributed to dave: %q", in)
	}
}

func TestFourEyesObserverCannotType(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true, onLeave: "terminate"})
	alice, id := f.request(t, "observe")
	dave := f.approve(t, "dave", id)
	alice.Expect("demo$ ", timeout)
	dave.Send("echo observer-typed\r")
	dave.Expect("observers cannot type", timeout)
	alice.Send("echo mark-$((1+1))\r")
	alice.Expect("mark-2", timeout)
	// on_leave terminate: the last reviewer leaving ends the session.
	dave.Send("\x1dq")
	alice.Expect("session terminated: the last reviewer left", timeout)
	alice.Wait()
	dave.Wait()
	evs := f.sessionEvents(id)
	if in := inputBy(evs, "dave"); in != "" {
		t.Errorf("observer input recorded: %q", in)
	}
	if strings.Contains(alice.Output(), "observer-typed") {
		t.Error("observer typing reached the host")
	}
	requireEvent(t, evs, event.SessionTerminate, "", map[string]string{"reason": "the last reviewer left"})
}

func TestFourEyesExec(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	// Without a reason and a terminal, the request is refused.
	res := f.run("alice", "demo-prod", "--", "true")
	if res.Exit != 1 || !strings.Contains(res.Stderr, "requires four-eyes approval and a reason") {
		t.Errorf("exec without reason: %+v", res)
	}
	alice := f.client("alice", false, "demo-prod", "--", "echo exec-$((5*5))")
	alice.Options = []string{"-o", "SetEnv=" + reasonEnv + "=\"deploy 1.2\""}
	alice.Start(t)
	m := idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))
	id := m[1]
	dave := f.review(t, "dave", id)
	dave.Expect("Command    echo exec-$((5*5))", timeout)
	dave.Expect("Reason     deploy 1.2", timeout)
	dave.Expect("Approve this session? [y/n] ", timeout)
	dave.Send("y\r")
	alice.Expect("exec-25", timeout)
	dave.Expect("session ended: alice's command exited with status 0", timeout)
	if got := alice.Wait(); got != 0 {
		t.Errorf("alice exit = %d", got)
	}
	dave.Wait()
	evs := f.sessionEvents(id)
	requireEvent(t, evs, event.ApprovalRequest, "alice", map[string]string{"command": "echo exec-$((5*5))", "reason": "deploy 1.2"})
	var grant, exec int
	for i, e := range evs {
		switch e.Type {
		case event.ApprovalGrant:
			grant = i
		case event.Exec:
			exec = i
		}
	}
	if grant == 0 || exec < grant {
		t.Errorf("exec (seq %d) recorded before its approval (seq %d): %v", exec, grant, types(evs))
	}
}

func TestFourEyesPendingTimeout(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true, pendingTimeout: "1s"})
	alice, id := f.request(t, "quick")
	alice.Expect("request expired: nobody approved within 1s", timeout)
	if got := alice.Wait(); got != 1 {
		t.Errorf("alice exit = %d; want 1", got)
	}
	res := f.run("dave", "join", id)
	if res.Exit != 1 || !strings.Contains(res.Stderr, "no session "+id) {
		t.Errorf("join after expiry: %+v", res)
	}
	requireEvent(t, f.sessionEvents(id), event.ApprovalExpire, "", map[string]string{"pending_timeout": "1s"})
}

func TestFourEyesReviewerKilled(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true, keepalive: 200 * 1e6})
	alice, id := f.request(t, "kill test")
	dave := f.approve(t, "dave", id)
	alice.Expect("demo$ ", timeout)
	dave.Close() // SIGKILL: the connection drops without a goodbye
	alice.Expect("session paused: no reviewer is watching", timeout)
	alice.Send("exit\r") // frozen: does not reach the host
	dave = f.review(t, "dave", id)
	dave.Expect("watching as observer", timeout)
	alice.Expect("session resumed", timeout)
	alice.Send("exit\r")
	alice.Expect("session ended", timeout)
	alice.Wait()
	dave.Wait()
	requireEvent(t, f.sessionEvents(id), event.ParticipantLeave, "dave", map[string]string{"reason": "client disconnected"})
}
