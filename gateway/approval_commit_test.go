package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
)

// checkRanIsRecorded fails t unless the session's record holds what the
// gated host ran: the exec, before the host's output, the output, and no
// cancel, deny or withdrawn approval after the grant.
func checkRanIsRecorded(t *testing.T, f *fixture, id string, gh *gatedHost) {
	t.Helper()
	ran := gh.runs()
	if len(ran) != 1 {
		t.Fatalf("host ran %q; want the command once", ran)
	}
	evs := f.sessionEvents(id)
	var typs []string
	exec, out := -1, ""
	for i, e := range evs {
		typs = append(typs, string(e.Type)+"("+e.Actor+")")
		switch e.Type {
		case event.Exec:
			exec = i
			if string(e.Data) != ran[0] {
				t.Errorf("exec recorded %q; the host ran %q", e.Data, ran[0])
			}
		case event.Output:
			if exec < 0 {
				t.Errorf("output at seq %d before any exec", e.Seq)
			}
			out += string(e.Data)
		case event.ApprovalCancel, event.ApprovalDeny, event.ApprovalExpire:
			t.Errorf("%s recorded, yet the host ran the command", e.Type)
		case event.ParticipantLeave:
			if e.Meta["approval"] == "withdrawn" {
				t.Errorf("approval withdrawn by %s, yet the host ran the command on it", e.Actor)
			}
		}
	}
	if exec < 0 || !strings.Contains(out, "ran: "+ran[0]) {
		t.Errorf("the host ran %q, the record has exec=%v output=%q: %s", ran[0], exec >= 0, out, strings.Join(typs, " "))
	}
}

// heldApproval is a four-eyes exec of alice's on a gated host, approved
// by dave, with the host holding its reply to the exec: the command runs
// there, the bastion waits. late, if asked for, is a second connection
// of dave's left at the approval prompt before the approval.
type heldApproval struct {
	f                 *fixture
	gh                *gatedHost
	id                string
	alice, dave, late *sshtest.Client
}

// startHeldApproval runs alice's request (with a terminal: the reason at
// the prompt; without: in the environment) up to the held exec.
func startHeldApproval(t *testing.T, cmd string, pty, late bool) *heldApproval {
	t.Helper()
	a := &heldApproval{gh: startGatedHost(t, gateExecReply)}
	a.f = newFixture(t, fixtureOptions{fourEyes: true, extraHosts: []string{a.gh.host("gated-prod")}})
	a.alice = a.f.client("alice", pty, "gated-prod", "--", cmd)
	if !pty {
		a.alice.Options = []string{"-o", "SetEnv=" + reasonEnv + "=\"cleanup\""}
	}
	a.alice.Start(t)
	if pty {
		a.alice.Expect("Reason for this session: ", timeout)
		a.alice.Send("cleanup\r")
	}
	a.id = idPattern.FindStringSubmatch(a.alice.Expect(idPattern, timeout))[1]
	if late {
		a.late = a.f.review(t, "dave", a.id)
		a.late.Expect("Approve this session? [y/n] ", timeout)
	}
	a.dave = a.f.review(t, "dave", a.id)
	a.dave.Expect("Approve this session? [y/n] ", timeout)
	a.dave.Send("y\r")
	a.gh.waitHeld(t)
	return a
}

// finish lets the host reply, waits for alice's command to end and the
// reviewers to leave, and checks the record.
func (a *heldApproval) finish(t *testing.T, cmd string) {
	t.Helper()
	a.gh.open()
	a.alice.Expect("ran: "+cmd, timeout)
	a.alice.Wait()
	for _, c := range []*sshtest.Client{a.late, a.dave} {
		if c != nil {
			c.Send("\x1dq")
			c.Wait()
		}
	}
	checkRanIsRecorded(t, a.f, a.id, a.gh)
}

// TestApprovalCommitsBeforeHostRuns: once the approval is taken and the
// host is asked to run the command, nothing can make the record say it
// did not run: not the requester's Ctrl-C, not a second reviewer's deny,
// not the approver leaving at once. Each lands in the window where the
// command already runs on the host and the bastion awaits its reply.
func TestApprovalCommitsBeforeHostRuns(t *testing.T) {
	const cmd = "rm -rf /srv/data"
	t.Run("requester cancels", func(t *testing.T) {
		a := startHeldApproval(t, cmd, true, false)
		a.alice.Send("\x03")
		time.Sleep(300 * time.Millisecond) // lets the Ctrl-C reach the hub; asserts no speed
		a.finish(t, cmd)
	})
	t.Run("second reviewer denies", func(t *testing.T) {
		a := startHeldApproval(t, cmd, false, true)
		a.late.Send("n\r")
		a.late.Expect("Reason for denying", timeout)
		a.late.Send("no\r")
		a.late.Expect("was decided meanwhile", timeout)
		a.late.Wait()
		a.late = nil
		a.finish(t, cmd)
	})
	t.Run("second reviewer approves late", func(t *testing.T) {
		a := startHeldApproval(t, cmd, false, true)
		a.late.Send("y\r")
		a.late.Expect("approved by others meanwhile", timeout)
		a.finish(t, cmd)
		grants := 0
		for _, e := range a.f.sessionEvents(a.id) {
			if e.Type == event.ApprovalGrant {
				grants++
			}
		}
		if grants != 1 {
			t.Errorf("%d approval.grant events; want 1: the late answer approved nothing", grants)
		}
	})
	t.Run("approver leaves", func(t *testing.T) {
		a := startHeldApproval(t, cmd, false, false)
		a.dave.Send("\x1dq")
		a.dave.Wait()
		a.dave = nil
		waitFor(t, "dave's leave in the record", func() bool {
			for _, e := range a.f.sessionEvents(a.id) {
				if e.Type == event.ParticipantLeave && e.Actor == "dave" {
					return true
				}
			}
			return false
		})
		if hb, ok := a.f.srv.hubs.get(a.id); ok && hb.current() == statePending {
			t.Errorf("session pending again after the host was asked to run it")
		}
		a.finish(t, cmd)
		if strings.Count(strings.Join(a.gh.runs(), "\n"), cmd) != 1 {
			t.Errorf("host ran %q; want once", a.gh.runs())
		}
	})
}
