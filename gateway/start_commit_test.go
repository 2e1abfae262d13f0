package gateway

import (
	"strings"
	"sync"
	"testing"

	"github.com/foureyes/foureyes/recorder"
)

// TestWindowEndBeforeHostRuns: a session or tunnel under an approval
// window passes connect's checks, then waits for the host (a session for
// its channel to open, a tunnel for its login); the window ends
// meanwhile. Nothing may reach the host after the end:
// the last check (commitStart, and its twin before a tunnel's dial)
// comes after the login, under the lock the window's end takes. Before,
// the exec was sent and the tunnel opened after the window had ended.
func TestWindowEndBeforeHostRuns(t *testing.T) {
	t.Run("exec", func(t *testing.T) {
		gh := startGatedHost(t, gateOpen)
		o := windowOptions()
		o.extraHosts = []string{gh.host("gated-prod")}
		f := newFixture(t, o)
		id := f.openWindow(t, "gated-prod --for 30m --reason gated host")
		alice := f.client("alice", false, "gated-prod", "--", "rm -rf /srv/data")
		alice.Start(t)
		gh.waitHeld(t)
		if res := f.run("alice", "request", "--end", id, "--reason", "done"); res.Exit != 0 {
			t.Fatalf("request --end: %+v", res)
		}
		gh.open()
		alice.Wait()
		out := alice.Output()
		if ran := gh.runs(); len(ran) > 0 {
			t.Fatalf("the host ran %q after window %s ended", ran, id)
		}
		if !strings.Contains(out, "approval window") {
			t.Errorf("alice was told %q; want a refusal naming the window's end", out)
		}
	})
	t.Run("tunnel", func(t *testing.T) {
		gh := startGatedHost(t, gateLogin)
		o := windowOptions()
		o.extraHosts = []string{gh.host("gated-prod")}
		f := newFixture(t, o)
		id := f.openWindow(t, "gated-prod --for 30m --reason gated host")
		c := f.dialAs(t, "alice+gated-prod")
		done := make(chan error, 1)
		go func() {
			conn, err := c.Dial("tcp", "127.0.0.1:5432")
			if err == nil {
				conn.Close()
			}
			done <- err
		}()
		gh.waitHeld(t)
		if res := f.run("alice", "request", "--end", id, "--reason", "done"); res.Exit != 0 {
			t.Fatalf("request --end: %+v", res)
		}
		gh.open()
		if err := <-done; err == nil {
			t.Errorf("the tunnel opened after window %s ended", id)
		}
		if ran := gh.runs(); len(ran) > 0 {
			t.Errorf("the host opened %q after window %s ended", ran, id)
		}
	})
}

// TestReloadBetweenCheckAndStart: a reload lands after connect (or the
// tunnel handler) checked the old configuration and before the session
// or tunnel was registered for the reload's sweep (here: inside
// Recorder.Start). The check before the host is asked must see the new
// configuration: a destination removed, a host put under four-eyes.
func TestReloadBetweenCheckAndStart(t *testing.T) {
	t.Run("tunnel destination removed", func(t *testing.T) {
		echo := echoListener(t)
		f := newFixture(t, fixtureOptions{editConfig: withTunnels("demo", echo)})
		var once sync.Once
		f.spy.mu.Lock()
		f.spy.hook = func(info recorder.StartInfo) {
			if info.Kind == "tunnel" {
				once.Do(func() {
					if _, err := f.reload(replaceOnce(t, `tunnels: ["`+echo+`"], `, ``)); err != nil {
						t.Error(err)
					}
				})
			}
		}
		f.spy.mu.Unlock()
		c, local := f.startTunnel(t, "bob+demo", echo)
		defer c.Close()
		conn := dialEventually(t, local)
		defer conn.Close()
		if echoOnce(conn, "after-reload") {
			t.Errorf("a tunnel to %s carries bytes after a reload removed the destination", echo)
		}
	})
	t.Run("host becomes four-eyes", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{})
		var once sync.Once
		f.spy.mu.Lock()
		f.spy.hook = func(info recorder.StartInfo) {
			if info.Host == "demo" && info.Kind == "exec" {
				once.Do(func() {
					if _, err := f.reload(func(y string) string {
						y = strings.Replace(y, "  auditor: {audit: true}\n", "  auditor: {audit: true}\n  reviewer: {approve: [demo]}\n", 1)
						return y + "approval_policies:\n  - hosts: [demo]\n"
					}); err != nil {
						t.Error(err)
					}
				})
			}
		}
		f.spy.mu.Unlock()
		res := f.run("bob", "demo", "--", "echo", "UNAPPROVED-$((6*7))")
		if strings.Contains(res.Stdout, "UNAPPROVED-42") {
			t.Errorf("bob's command ran on demo without approval after demo became four-eyes: %+v", res)
		}
		if !strings.Contains(res.Stderr, "now requires four-eyes approval") {
			t.Errorf("bob was told %q; want the reason", res.Stderr)
		}
	})
}

// TestKillTunnel: a tunnel is a recorded stream with its own id, and an
// admin with kill lists and ends it like any live session.
func TestKillTunnel(t *testing.T) {
	echo := echoListener(t)
	f := newFixture(t, fixtureOptions{editConfig: func(y string) string { return killRole(withTunnels("demo", echo)(y)) }})
	c, local := f.startTunnel(t, "bob+demo", echo)
	defer c.Close()
	conn := dialEventually(t, local)
	defer conn.Close()
	if !echoOnce(conn, "one") {
		t.Fatal("no echo through the tunnel")
	}
	var id string
	waitFor(t, "the tunnel's recording", func() bool {
		if ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "tunnel" }); len(ids) == 1 {
			id = ids[0]
		}
		return id != ""
	})
	if list := f.run("alice", "kill"); !strings.Contains(list.Stdout, id) || !strings.Contains(list.Stdout, "tunnel "+echo) {
		t.Errorf("kill's list %q; want tunnel %s to %s", list.Stdout, id, echo)
	}
	if res := f.run("alice", "kill", id, "--reason", "exfiltration"); res.Exit != 0 {
		t.Fatalf("kill %s: %+v", id, res)
	}
	if echoOnce(conn, "two") {
		t.Errorf("tunnel %s still carries bytes after kill", id)
	}
}
