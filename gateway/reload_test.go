package gateway

import (
	"errors"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
)

// reload edits the fixture's YAML and applies it to the running gateway.
func (f *fixture) reload(edit func(string) string) (ReloadResult, error) {
	f.t.Helper()
	f.yaml = edit(f.yaml)
	cfg, err := config.Parse([]byte(f.yaml))
	if err != nil {
		f.t.Fatalf("edited config: %v", err)
	}
	return f.srv.Reload(cfg, "test")
}

// replaceOnce returns an edit replacing old with new, which must occur.
func replaceOnce(t *testing.T, old, new string) func(string) string {
	return func(y string) string {
		if !strings.Contains(y, old) {
			t.Fatalf("config has no %q", old)
		}
		return strings.Replace(y, old, new, 1)
	}
}

// TestReloadRevokesLiveSession: a reload that takes bob's access away
// (his key, his user, his role, the host) ends his running shell at
// once with "access revoked", recorded as session.terminate, and is
// itself recorded as config.reload naming the change. The old gateway
// read keys once: the session ran on until a restart.
func TestReloadRevokesLiveSession(t *testing.T) {
	tests := []struct {
		name, why string
		edit      func(t *testing.T, f *fixture) func(string) string
		change    string
	}{
		{"key removed", "key removed", func(t *testing.T, f *fixture) func(string) string {
			_, fresh := sshtest.Keygen(t, t.TempDir(), "fresh") // keys may not be shared: a new one
			return replaceOnce(t, `name: bob, keys: ["`+f.keyLine("bob")+`"]`, `name: bob, keys: ["`+authorizedKey(fresh)+`"]`)
		}, "users changed: bob"},
		{"user removed", "user removed", func(t *testing.T, f *fixture) func(string) string {
			return replaceOnce(t, `  - {name: bob, keys: ["`+f.keyLine("bob")+`"], roles: [staging]}`+"\n", "")
		}, "users removed: bob"},
		{"role removed", "access to demo removed", func(t *testing.T, f *fixture) func(string) string {
			return replaceOnce(t, `roles: [staging]}`, `roles: [auditor]}`)
		}, "users changed: bob"},
		{"role narrowed", "access to demo removed", func(t *testing.T, f *fixture) func(string) string {
			return replaceOnce(t, `staging: {connect: ["demo"]}`, `staging: {connect: ["demo-prod"]}`)
		}, "roles changed: staging"},
		{"four-eyes now required", "demo now requires four-eyes approval", func(t *testing.T, f *fixture) func(string) string {
			return func(y string) string {
				y = strings.Replace(y, "  auditor: {audit: true}\n", "  auditor: {audit: true}\n  reviewer: {approve: [demo]}\n", 1)
				return y + "approval_policies:\n  - hosts: [demo]\n"
			}
		}, "approval_policies changed"},
		{"key restricted", "key not allowed from 127.0.0.1", func(t *testing.T, f *fixture) func(string) string {
			return replaceOnce(t, `"`+f.keyLine("bob")+`"`, `'from="10.99.99.99" `+f.keyLine("bob")+`'`)
		}, "users changed: bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{})
			c := f.client("bob", true, "demo")
			c.Start(t)
			c.Expect("demo$ ", timeout)
			res, err := f.reload(tt.edit(t, f))
			if err != nil || res.Revoked != 1 {
				t.Fatalf("Reload = %+v, %v; want 1 revoked", res, err)
			}
			c.Expect("foureyes: access revoked ("+tt.why+"); session ended", timeout)
			if got := c.Wait(); got != statusLost {
				t.Errorf("exit = %d; want %d", got, statusLost)
			}
			evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.User == "bob" && i.Kind == "shell" })
			requireEvent(t, evs, event.SessionTerminate, "", map[string]string{"reason": "access revoked: " + tt.why})
			if end := evs[len(evs)-1]; end.Type != event.SessionEnd || end.Meta["reason"] != "access revoked: "+tt.why {
				t.Errorf("last event %s %v", end.Type, end.Meta)
			}
			var reloads []event.Event
			for _, e := range f.gatewayEvents(event.ConfigReload) {
				if e.Actor == "test" && strings.Contains(e.Meta["changes"], tt.change) && e.Meta["revoked"] == "1" && e.Meta["result"] == "applied" {
					reloads = append(reloads, e)
				}
			}
			if len(reloads) != 1 {
				t.Errorf("config.reload events: %v; want one naming %q", f.gatewayEvents(event.ConfigReload), tt.change)
			}
			// New logins follow the new configuration too.
			if res := f.run("bob", "demo", "--", "echo in"); res.Exit == 0 {
				t.Errorf("bob still gets in after the reload: %+v", res)
			}
		})
	}
}

// TestReloadAppliesAtOnce: users, roles and hosts added by a reload
// work for new connections without a restart; sessions the new
// configuration still allows go on.
func TestReloadAppliesAtOnce(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	alice := f.client("alice", true, "demo")
	alice.Start(t)
	alice.Expect("demo$ ", timeout)
	frankKey, frankPub := sshtest.Keygen(t, t.TempDir(), "frank")
	frank := &sshtest.Client{Addr: f.addr, User: "frank", Key: frankKey, Args: []string{"demo2", "--", "echo frank-in"}}
	if res := runClient(t, frank); res.Exit != 255 {
		t.Fatalf("frank before the reload: %+v; want refused", res)
	}
	demo, _ := f.cfg.Host("demo")
	res, err := f.reload(func(y string) string {
		y = strings.Replace(y, "users:\n", "users:\n  - {name: frank, keys: [\""+authorizedKey(frankPub)+"\"], roles: [ops]}\n", 1)
		y = strings.Replace(y, "roles:\n", "roles:\n  ops: {connect: [demo2]}\n", 1)
		return strings.Replace(y, "hosts:\n", "hosts:\n  - {name: demo2, address: \""+demo.Address+"\", host_key: \""+demo.HostKey+"\"}\n", 1)
	})
	if err != nil || res.Revoked != 0 {
		t.Fatalf("Reload = %+v, %v", res, err)
	}
	for _, want := range []string{"users added: frank", "roles added: ops", "hosts added: demo2"} {
		if !strings.Contains(strings.Join(res.Changes, "; "), want) {
			t.Errorf("changes %v lack %q", res.Changes, want)
		}
	}
	if res := runClient(t, frank); res.Exit != 0 || res.Stdout != "frank-in\n" {
		t.Fatalf("frank after the reload: %+v", res)
	}
	alice.Send("echo still-$((40+2))\r")
	alice.Expect("still-42", timeout)
}

// TestReloadRefusesInvalid: a configuration the gateway cannot apply is
// refused with the reason and recorded; the old one stays in force.
func TestReloadRefusesInvalid(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	bad, err := config.Parse([]byte(f.yaml))
	if err != nil {
		t.Fatal(err)
	}
	// Validation refuses such a line; Reload must not trust its caller.
	bad.Users[0].Keys = []string{`command="/bin/sh" ` + f.keyLine("alice")}
	bad.Users = bad.Users[:1]
	_, err = f.srv.Reload(bad, "test")
	if !errors.Is(err, config.ErrKeyOption) {
		t.Fatalf("Reload = %v; want ErrKeyOption", err)
	}
	if res := f.run("bob", "demo", "--", "echo in"); res.Exit != 0 || res.Stdout != "in\n" {
		t.Errorf("bob after a refused reload: %+v; want the old configuration", res)
	}
	if _, ok := findEvent(f.gatewayEvents(event.ConfigReload), event.ConfigReload, map[string]string{"result": "refused"}); !ok {
		t.Errorf("no refused config.reload: %v", f.gatewayEvents(event.ConfigReload))
	}
}

// TestReloadRevokesFourEyes: a reviewer whose role a reload removes is
// told and leaves the session (recorded); a requester whose access is
// removed sees the four-eyes session end for everyone with
// session.terminate in its stream, pending or running.
func TestReloadRevokesFourEyes(t *testing.T) {
	t.Run("running", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{fourEyes: true})
		alice, id := f.request(t, "disk")
		dave := f.approve(t, "dave", id)
		alice.Expect("Reviewers are watching", timeout)
		if _, err := f.reload(replaceOnce(t, `roles: [reviewer]}`, `roles: [staging]}`)); err != nil {
			t.Fatal(err)
		}
		dave.Expect("foureyes: access revoked (reviewer role for demo-prod removed); session ended", timeout)
		dave.Wait()
		alice.Expect("no reviewer is watching", timeout)
		if _, err := f.reload(replaceOnce(t, `roles: [admin, reviewer]}`, `roles: [reviewer]}`)); err != nil {
			t.Fatal(err)
		}
		alice.Expect("access revoked (access to demo-prod removed); session ended", timeout)
		alice.Wait()
		evs := f.sessionEvents(id)
		requireEvent(t, evs, event.ParticipantLeave, "dave", map[string]string{"reason": "access revoked: reviewer role for demo-prod removed"})
		requireEvent(t, evs, event.SessionTerminate, "", map[string]string{"reason": "access revoked: access to demo-prod removed"})
	})
	t.Run("pending", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{fourEyes: true})
		alice, id := f.request(t, "disk")
		if _, err := f.reload(replaceOnce(t, `roles: [admin, reviewer]}`, `roles: [reviewer]}`)); err != nil {
			t.Fatal(err)
		}
		alice.Expect("access revoked (access to demo-prod removed); session ended", timeout)
		alice.Wait()
		requireEvent(t, f.sessionEvents(id), event.SessionTerminate, "", map[string]string{"reason": "access revoked: access to demo-prod removed"})
		if res := f.run("dave", "join", id); res.Exit == 0 {
			t.Errorf("join of a revoked request: %+v", res)
		}
	})
}
