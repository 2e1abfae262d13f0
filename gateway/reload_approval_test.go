package gateway

import (
	"io"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
	gossh "golang.org/x/crypto/ssh"
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

// TestWindowSelectorDoesNotGrowOnReload: alice's window asked as
// "env=production" covers the hosts that matched when it was approved.
// A host a reload adds later with the same label is not in it: the
// reviewer approved a list of hosts, not a query.
func TestWindowSelectorDoesNotGrowOnReload(t *testing.T) {
	f := newFixture(t, windowOptions())
	f.openWindow(t, "env=production --for 30m --reason all of production")
	if res := f.run("alice", "demo-prod2", "--", "echo", "covered"); res.Exit != 0 || res.Stdout != "covered\n" {
		t.Fatalf("exec on a host the selector matched: %+v", res)
	}
	demo, _ := f.cfg.Host("demo")
	if _, err := f.reload(func(y string) string {
		return strings.Replace(y, "hosts:\n", "hosts:\n  - {name: demo-prod3, address: \""+demo.Address+"\", host_key: \""+demo.HostKey+"\", labels: {env: production}}\n", 1)
	}); err != nil {
		t.Fatal(err)
	}
	if res := f.run("alice", "demo-prod3", "--", "echo", "added-later"); res.Exit == 0 || strings.Contains(res.Stdout, "added-later") || !strings.Contains(res.Stderr, "demo-prod3 requires four-eyes approval") {
		t.Errorf("exec on a host added after the window was approved: %+v", res)
	}
	if res := f.run("alice", "demo-prod", "--", "echo", "still"); res.Exit != 0 || res.Stdout != "still\n" {
		t.Errorf("the window's own hosts after the reload: %+v", res)
	}
}

// TestWindowEndedOnAnOpenConnection: a connection alice opened while
// her window was open (a ControlMaster master, an Ansible persistent
// connection) gets nothing from it once it ended: a new channel on the
// same connection waits for approval like any, and the channel that ran
// under it ended with it.
func TestWindowEndedOnAnOpenConnection(t *testing.T) {
	f := newFixture(t, windowOptions())
	id := f.openWindow(t, "demo-prod --for 30m --reason one connection")
	c, err := f.dial("alice+demo-prod", gossh.PublicKeys(sshtestSigner(t, f.keys["alice"])))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := s.StdoutPipe()
	if err := s.Start("echo under-window; sleep 30"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("under-window\n"))
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "under-window\n" {
		t.Fatalf("under the window: %q, %v", buf, err)
	}
	if res := f.run("alice", "request --end "+id); res.Exit != 0 {
		t.Fatalf("ending the window: %+v", res)
	}
	if err := s.Wait(); err == nil {
		t.Error("the channel under the window ran on after it ended")
	}
	s2, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	s2.Stdout = &stdout
	if err := s2.Run("echo after-window"); err == nil || strings.Contains(stdout.String(), "after-window") {
		t.Errorf("new channel on the old connection after the window: %v, %q", err, stdout.String())
	}
}
