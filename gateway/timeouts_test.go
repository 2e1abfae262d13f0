package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
)

// withSessionPolicy appends a session_policies section.
func withSessionPolicy(policy string) func(string) string {
	return func(y string) string { return y + "session_policies:\n  - " + policy + "\n" }
}

// TestSessionIdleTimeout: a session without traffic for the host's
// idle_timeout ends, its user told why, recorded as session.terminate.
func TestSessionIdleTimeout(t *testing.T) {
	f := newFixture(t, fixtureOptions{editConfig: withSessionPolicy("{hosts: [demo], idle_timeout: 1s}")})
	c := f.client("bob", true, "demo")
	c.Start(t)
	c.Expect("demo$ ", timeout)
	c.Expect("foureyes: session ended: idle for 1s (the limit for this host)", timeout)
	if got := c.Wait(); got != statusLost {
		t.Errorf("exit = %d; want %d", got, statusLost)
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.User == "bob" && i.Kind == "shell" })
	requireEvent(t, evs, event.SessionTerminate, "", map[string]string{"reason": "idle timeout 1s"})
	// Hosts the policy does not match have no limit.
	if res := f.run("alice", "demo-prod", "--", "sleep 2; echo done"); res.Exit != 0 || res.Stdout != "done\n" {
		t.Errorf("demo-prod without a limit: %+v", res)
	}
}

// TestSessionMaxDuration: a session, busy or not, ends at the host's
// max_duration.
func TestSessionMaxDuration(t *testing.T) {
	f := newFixture(t, fixtureOptions{editConfig: withSessionPolicy("{hosts: [demo], max_duration: 2s}")})
	res := f.run("bob", "demo", "--", "while true; do echo tick; sleep 0.2; done")
	if res.Exit != statusLost || !strings.Contains(res.Stderr, "foureyes: session ended: it reached the maximum duration of 2s for this host") {
		t.Fatalf("got exit %d stderr %q", res.Exit, res.Stderr)
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.User == "bob" && i.Kind == "exec" })
	requireEvent(t, evs, event.SessionTerminate, "", map[string]string{"reason": "maximum session duration 2s reached"})
}

// TestSessionIdleFourEyes: waiting for approval is not idling; once
// approved and quiet, the four-eyes session ends for everyone.
func TestSessionIdleFourEyes(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true, editConfig: withSessionPolicy("{hosts: [demo-prod], idle_timeout: 1s}")})
	alice, id := f.request(t, "disk")
	// Longer than idle_timeout with no traffic while pending: the
	// request must survive it.
	time.Sleep(2500 * time.Millisecond)
	dave := f.approve(t, "dave", id)
	alice.Expect("Reviewers are watching", timeout)
	alice.Expect("session ended: idle for 1s (the limit for this host)", timeout)
	dave.Expect("session ended: idle for 1s", timeout)
	alice.Wait()
	dave.Wait()
	requireEvent(t, f.sessionEvents(id), event.SessionTerminate, "", map[string]string{"reason": "idle timeout 1s"})
}
