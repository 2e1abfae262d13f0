package gateway

import (
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
)

// TestReloadFourEyesEndsTerminalCommand: demo comes under four-eyes with
// `exec: false` while bob has a terminal on it through a command
// (`ssh -t bastion demo -- sh`, a shell by another name). A new such
// session would wait for a reviewer, so the running one ends, as a
// shell does; bob's command without a terminal is what `exec: false`
// allows and goes on.
func TestReloadFourEyesEndsTerminalCommand(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	term := f.client("bob", true, "demo", "--", "sh")
	term.Start(t)
	term.Send("echo ready-$((40+2))\r")
	term.Expect("ready-42", timeout)
	plain := f.client("bob", false, "demo", "--", "echo started; sleep 30")
	plain.Start(t)
	plain.Expect("started", timeout)
	res, err := f.reload(func(y string) string {
		y = strings.Replace(y, "  auditor: {audit: true}\n", "  auditor: {audit: true}\n  reviewer: {approve: [demo]}\n", 1)
		return y + "approval_policies:\n  - hosts: [demo]\n    exec: false\n"
	})
	if err != nil || res.Revoked != 1 {
		t.Fatalf("Reload = %+v, %v; want 1 revoked (the terminal)", res, err)
	}
	term.Expect("foureyes: access revoked (demo now requires four-eyes approval); session ended", timeout)
	term.Wait()
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.User == "bob" && i.Term != "" })
	requireEvent(t, evs, event.SessionTerminate, "", map[string]string{"reason": "access revoked: demo now requires four-eyes approval"})
	plain.Close()
}

// TestReloadRaisedCountEndsWindow: alice's window on demo-prod was
// approved by one reviewer; a reload makes the host's policy ask for two.
// The window no longer holds the approvals the policy in force demands:
// it ends, and the shell under it with it, recorded. A pending window
// asked under the old count ends too, rather than opening on one
// approval.
func TestReloadRaisedCountEndsWindow(t *testing.T) {
	f := newFixture(t, windowOptions())
	id := f.openWindow(t, "demo-prod --for 30m --reason count raised")
	shell := f.client("alice", true, "demo-prod")
	shell.Start(t)
	shell.Expect("demo$ ", timeout)
	pendingReq, pending := f.requestWindow(t, "alice", "demo-prod2 --for 30m --reason pending one")
	if _, err := f.reload(replaceOnce(t, "  - hosts: [\"env=production\"]\n", "  - hosts: [\"env=production\"]\n    count: 2\n")); err != nil {
		t.Fatal(err)
	}
	shell.Expect("access revoked (the approval policy of demo-prod now needs 2 approvals); session ended", timeout)
	shell.Wait()
	pendingReq.Wait()
	requireEvent(t, f.streams()[id], event.WindowEnd, "", map[string]string{"reason": "access revoked: the approval policy of demo-prod now needs 2 approvals", "sessions": "1"})
	requireEvent(t, f.streams()[pending], event.WindowEnd, "", map[string]string{"reason": "access revoked: the approval policy of demo-prod2 now needs 2 approvals"})
	if res := f.answerWindow(t, "dave", pending, "y\n"); res.Exit == 0 {
		t.Errorf("dave approved the window asked under the old count: %+v", res)
	}
	if res := f.run("alice", "demo-prod", "--", "echo", "after"); res.Exit == 0 || strings.Contains(res.Stdout, "after") {
		t.Errorf("alice's exec after the reload: %+v", res)
	}
}

// TestReloadShorterMaxWindowEndsWindow: alice's 3h window outlives a
// reload that lowers the hosts' max_window to 1h no more: it ends, with
// the shell under it, recorded.
func TestReloadShorterMaxWindowEndsWindow(t *testing.T) {
	f := newFixture(t, windowOptions())
	id := f.openWindow(t, "demo-prod --for 3h --reason long one")
	shell := f.client("alice", true, "demo-prod")
	shell.Start(t)
	shell.Expect("demo$ ", timeout)
	if _, err := f.reload(replaceOnce(t, "  - hosts: [\"env=production\"]\n", "  - hosts: [\"env=production\"]\n    max_window: 1h\n")); err != nil {
		t.Fatal(err)
	}
	shell.Expect("access revoked (the approval policy of demo-prod now allows windows of at most 1h0m0s); session ended", timeout)
	shell.Wait()
	requireEvent(t, f.streams()[id], event.WindowEnd, "", map[string]string{"reason": "access revoked: the approval policy of demo-prod now allows windows of at most 1h0m0s", "sessions": "1"})
}
