package devstack

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/query"
)

// pendingID finds the session id in the requester's pending notice.
var pendingID = regexp.MustCompile(`session ([0-9a-f-]{36}) is waiting`)

// waitSessionID polls the audit store until session id has ended and is
// queryable.
func waitSessionID(t *testing.T, st *Stack, id string) query.Session {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := st.Store.Session(context.Background(), id)
		if err == nil && !s.Open {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s not ended in ClickHouse after 60s (last error %v; recorder %+v, ingest %+v)", id, err, st.Recorder.Stats(), st.Ingester.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// findEvent returns the first event of typ by actor whose Meta holds
// want.
func findEvent(evs []event.Event, typ event.Type, actor string, want map[string]string) (event.Event, bool) {
	for _, e := range evs {
		if e.Type != typ || e.Actor != actor {
			continue
		}
		ok := true
		for k, v := range want {
			ok = ok && e.Meta[k] == v
		}
		if ok {
			return e, true
		}
	}
	return event.Event{}, false
}

// eventTypes lists the types of evs, for failure messages.
func eventTypes(evs []event.Event) []event.Type {
	out := make([]event.Type, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// TestFourEyesThroughTheStack runs four-eyes sessions through the whole
// dev stack: alice asks for demo-prod, bob approves over SSH, the
// recording lands in ClickHouse with the approval trail, and carol the
// auditor reads and verifies it over SSH.
func TestFourEyesThroughTheStack(t *testing.T) {
	st := startStack(t)
	const wait = 20 * time.Second
	ctx := context.Background()
	carol := func(args ...string) sshtest.Result {
		return sshtest.Run(t, st.client("carol", false, append([]string{"audit"}, args...)...))
	}

	t.Run("interactive", func(t *testing.T) {
		alice := st.client("alice", true, "demo-prod")
		alice.Start(t)
		alice.Expect("Reason for this session: ", wait)
		alice.Send("rotate logs INC-42\r")
		id := pendingID.FindStringSubmatch(alice.Expect(pendingID, wait))[1]

		bob := st.client("bob", true, "join", id)
		bob.Start(t)
		bob.Expect("Reason     rotate logs INC-42", wait)
		bob.Expect("Approve this session? [y/n] ", wait)
		bob.Send("y\r")
		bob.Expect("you approved session "+id, wait)
		alice.Expect("approved by bob; connected to demo-prod", wait)
		alice.Expect("demo-prod$ ", wait)
		alice.Send("echo four-$((2+2))\r")
		alice.Expect("four-4", wait)
		bob.Expect("four-4", wait)
		bob.Send("\x1dt")
		alice.Expect("session terminated by bob", wait)
		bob.Expect("session terminated by bob", wait)
		if got := alice.Wait(); got == 0 {
			t.Error("alice's ssh exited 0 after a termination; want non-zero")
		}
		bob.Wait()

		sess := waitSessionID(t, st, id)
		if !slices.Equal(sess.Approvers, []string{"bob"}) || sess.Reason != "rotate logs INC-42" || sess.User != "alice" || sess.Host != "demo-prod" || sess.Kind != "shell" {
			t.Errorf("summary = %+v; want approvers [bob], the reason, alice on demo-prod", sess)
		}
		evs, err := st.Store.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []struct {
			typ   event.Type
			actor string
			meta  map[string]string
		}{
			{event.ApprovalRequest, "alice", map[string]string{"reason": "rotate logs INC-42", "host": "demo-prod", "approvers": "bob"}},
			{event.ApprovalGrant, "bob", map[string]string{"approvals": "1", "count": "1"}},
			{event.ParticipantJoin, "bob", map[string]string{"mode": "observer"}},
			{event.SessionTerminate, "bob", nil},
			{event.SessionEnd, "", map[string]string{"approvers": "bob", "terminated_by": "bob"}},
		} {
			if _, ok := findEvent(evs, want.typ, want.actor, want.meta); !ok {
				t.Errorf("no %s by %q with %v in ClickHouse; events: %v", want.typ, want.actor, want.meta, eventTypes(evs))
			}
		}
		var sawInput bool
		for _, e := range evs {
			sawInput = sawInput || (e.Type == event.Input && e.Actor == "alice" && strings.Contains(string(e.Data), "echo"))
		}
		if !sawInput {
			t.Error("alice's input is not in ClickHouse")
		}

		res := carol("show", id)
		if res.Exit != 0 {
			t.Fatalf("audit show: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
		}
		for _, want := range []string{"approval.request", "rotate logs INC-42", "approval.grant", "bob", "participant.join", "observer", "session.terminate"} {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("audit show lacks %q:\n%s", want, res.Stdout)
			}
		}
		if res := carol("verify", id); res.Exit != 0 || !strings.HasPrefix(res.Stdout, "OK") {
			t.Errorf("audit verify: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
		}
	})

	t.Run("exec", func(t *testing.T) {
		alice := st.client("alice", false, "demo-prod", "--", "echo exec-$((6*7))")
		alice.Options = []string{"-o", `SetEnv=FOUREYES_REASON="deploy 1.2.3"`}
		alice.Start(t) // in a pty only to read the pending notice; no -t
		id := pendingID.FindStringSubmatch(alice.Expect(pendingID, wait))[1]
		if out := alice.Output(); strings.Contains(out, "Reason for this session") {
			t.Errorf("alice was prompted although FOUREYES_REASON was set:\n%q", out)
		}

		bob := st.client("bob", true, "join", id)
		bob.Start(t)
		bob.Expect("Command    echo exec-$((6*7))", wait)
		bob.Expect("Reason     deploy 1.2.3", wait)
		bob.Expect("Approve this session? [y/n] ", wait)
		bob.Send("y\r")
		alice.Expect("exec-42", wait)
		bob.Expect("session ended: alice's command exited with status 0", wait)
		if got := alice.Wait(); got != 0 {
			t.Errorf("alice exit = %d; want 0\n%q", got, alice.Output())
		}
		bob.Wait()

		sess := waitSessionID(t, st, id)
		if sess.Kind != "exec" || sess.Command != "echo exec-$((6*7))" || sess.Reason != "deploy 1.2.3" || !slices.Equal(sess.Approvers, []string{"bob"}) || sess.ExitStatus != 0 {
			t.Errorf("summary = %+v; want exec, the command, the reason, approvers [bob], exit 0", sess)
		}
		evs, err := st.Store.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		grant, exec := -1, -1
		for i, e := range evs {
			switch e.Type {
			case event.ApprovalGrant:
				grant = i
			case event.Exec:
				exec = i
			case event.Input:
				if strings.Contains(string(e.Data), "FOUREYES_REASON") {
					t.Errorf("the reason variable was recorded as input: %q", e.Data)
				}
			}
		}
		if grant < 0 || exec < grant {
			t.Errorf("exec at %d, grant at %d; want the command only after its approval: %v", exec, grant, eventTypes(evs))
		}
		if _, ok := findEvent(evs, event.ApprovalRequest, "alice", map[string]string{"reason": "deploy 1.2.3", "command": "echo exec-$((6*7))"}); !ok {
			t.Errorf("no approval.request with the reason and command: %v", eventTypes(evs))
		}
		if res := carol("verify", id); res.Exit != 0 || !strings.HasPrefix(res.Stdout, "OK") {
			t.Errorf("audit verify: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
		}
	})
}
