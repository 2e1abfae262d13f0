package gateway

import (
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
)

// killRole gives the admin role the kill permission.
func killRole(y string) string {
	return strings.Replace(y, `admin: {connect: ["*"]}`, `admin: {connect: ["*"], kill: true}`, 1)
}

// bobShell starts bob's shell on demo and returns its client and id.
func (f *fixture) bobShell(t *testing.T) (*sshtest.Client, string) {
	t.Helper()
	c := f.client("bob", true, "demo")
	c.Start(t)
	c.Expect("demo$ ", timeout)
	ids := f.spy.find(func(i recorder.StartInfo) bool { return i.User == "bob" && i.Kind == "shell" })
	if len(ids) != 1 {
		t.Fatalf("bob's sessions: %v", ids)
	}
	return c, ids[0]
}

// TestKill: an admin with the kill permission ends another user's
// session; the user is told who and why, and both the session's stream
// and the gateway's record it with the admin as actor.
func TestKill(t *testing.T) {
	f := newFixture(t, fixtureOptions{editConfig: killRole})
	bob, id := f.bobShell(t)
	if res := f.run("alice", "kill"); res.Exit != 0 || !strings.Contains(res.Stdout, id+"  bob  demo  shell") {
		t.Errorf("kill without an id: %+v; want bob's session listed", res)
	}
	res := f.run("alice", "kill", id, "--reason", "incident 42")
	if res.Exit != 0 || !strings.Contains(res.Stderr, "session "+id+" terminated") {
		t.Fatalf("kill: %+v", res)
	}
	bob.Expect("foureyes: session terminated by alice: incident 42", timeout)
	if got := bob.Wait(); got != statusLost {
		t.Errorf("exit = %d; want %d", got, statusLost)
	}
	requireEvent(t, f.sessionEvents(id), event.SessionTerminate, "alice", map[string]string{"reason": "killed by alice: incident 42"})
	requireEvent(t, f.gatewayEvents(event.SessionTerminate), event.SessionTerminate, "alice", map[string]string{"session": id, "user": "bob"})
	if res := f.run("alice", "kill", id); res.Exit != 1 || !strings.Contains(res.Stderr, "no live session") {
		t.Errorf("kill of an ended session: %+v", res)
	}
}

// TestKillRefused: users without the kill permission cannot end
// sessions, not even by guessing ids; the attempt is recorded and the
// session goes on.
func TestKillRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{editConfig: killRole})
	bob, id := f.bobShell(t)
	for _, user := range []string{"bob", "carol"} {
		if res := f.run(user, "kill"); res.Exit != 1 || strings.Contains(res.Stdout, id) {
			t.Errorf("listing by %s: %+v; want refused", user, res)
		}
		res := f.run(user, "kill", id)
		if res.Exit != 1 || !strings.Contains(res.Stderr, "kill denied for "+user) {
			t.Errorf("kill by %s: %+v; want refused", user, res)
		}
		requireEvent(t, f.gatewayEvents(event.AccessDenied), event.AccessDenied, user, map[string]string{"reason": "kill requires a role with kill: true", "session": id})
	}
	bob.Send("echo alive-$((40+2))\r")
	bob.Expect("alive-42", timeout)
}

// TestKillFourEyes: kill ends a four-eyes session (pending here) for
// everyone, recorded in its stream.
func TestKillFourEyes(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true, editConfig: func(y string) string {
		return strings.Replace(y, `staging: {connect: ["demo"]}`, `staging: {connect: ["demo"], kill: true}`, 1)
	}})
	alice, id := f.request(t, "disk")
	if res := f.run("bob", "kill", id); res.Exit != 0 {
		t.Fatalf("kill: %+v", res)
	}
	alice.Expect("session terminated by bob", timeout)
	alice.Wait()
	requireEvent(t, f.sessionEvents(id), event.SessionTerminate, "bob", map[string]string{"reason": "killed by bob"})
}
