package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
)

// keyLine returns the first key line of user in the fixture's YAML.
func (f *fixture) keyLine(user string) string {
	f.t.Helper()
	u, ok := f.cfg.User(user)
	if !ok {
		f.t.Fatalf("no user %s", user)
	}
	return u.Keys[0]
}

// withKeyOptions returns an editConfig that prefixes the key line of the
// fixture user's public key file with opts.
func withKeyOptions(user, opts string) func(string) string {
	return func(yaml string) string {
		// Keys are in the YAML as "ssh-ed25519 AAAA… NAME" (sshtest.Keygen
		// comments them with the user's name).
		start := strings.Index(yaml, `keys: ["`)
		for start >= 0 {
			lineEnd := strings.Index(yaml[start:], "\n")
			line := yaml[start : start+lineEnd]
			if strings.Contains(yaml[strings.LastIndex(yaml[:start], "\n"):start], "name: "+user+",") {
				q := strings.Index(line, `"`)
				e := strings.Index(line[q+1:], `"`)
				key := line[q+1 : q+1+e]
				return yaml[:start] + strings.Replace(line, `"`+key+`"`, `'`+opts+` `+key+`'`, 1) + yaml[start+lineEnd:]
			}
			next := strings.Index(yaml[start+1:], `keys: ["`)
			if next < 0 {
				break
			}
			start += 1 + next
		}
		panic("no key line for " + user)
	}
}

// TestKeyFromOption: a key restricted with from= logs in only from the
// addresses its pattern list allows (sshd semantics: CIDR, wildcards,
// negation), and a refusal is recorded with the reason. The old gateway
// dropped the options and let the key in from anywhere.
func TestKeyFromOption(t *testing.T) {
	tests := []struct {
		name, from string
		allowed    bool
	}{
		{"other address", `from="10.99.99.99"`, false},
		{"negated", `from="127.0.0.0/8,!127.0.0.1"`, false},
		{"negation alone", `from="!10.0.0.1"`, false},
		{"cidr", `from="127.0.0.0/8"`, true},
		{"wildcard", `from="10.1.*,127.0.0.?"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{editConfig: withKeyOptions("bob", tt.from)})
			res := f.run("bob", "demo", "--", "echo in")
			if tt.allowed {
				if res.Exit != 0 || res.Stdout != "in\n" {
					t.Fatalf("allowed key: got %+v; want exit 0 and \"in\"", res)
				}
				return
			}
			if res.Exit != 255 || !strings.Contains(res.Stderr, "Permission denied") {
				t.Fatalf("restricted key: got %+v; want ssh's permission denied", res)
			}
			evs := f.gatewayEvents(event.AuthFailure)
			if _, ok := findEvent(evs, event.AuthFailure, map[string]string{"user": "bob", "reason": "key not allowed from 127.0.0.1"}); !ok {
				t.Errorf("no auth.failure for bob's address in %v", evs)
			}
		})
	}
}

// TestExpiredKeyRefused: a key past its expiry-time no longer logs in.
// The old gateway ignored expiry-time.
func TestExpiredKeyRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{editConfig: withKeyOptions("bob", `expiry-time="20200101"`)})
	res := f.run("bob", "demo", "--", "echo in")
	if res.Exit != 255 || res.Stdout != "" {
		t.Fatalf("expired key: got %+v; want refused", res)
	}
	var found bool
	for _, e := range f.gatewayEvents(event.AuthFailure) {
		found = found || e.Meta["user"] == "bob" && strings.HasPrefix(e.Meta["reason"], "key expired at 2020-01-01T")
	}
	if !found {
		t.Errorf("no auth.failure saying the key expired: %v", f.gatewayEvents(event.AuthFailure))
	}
}

// TestNoPTYKey: a no-pty key (or restrict) gets no terminal even when
// the client asks with -t (OpenSSH then gives up, as against sshd), the
// refusal is recorded, and without -t its commands still run. The old
// gateway gave it a pty.
func TestNoPTYKey(t *testing.T) {
	for _, opts := range []string{"no-pty", "restrict", "pty,restrict"} {
		t.Run(opts, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{editConfig: withKeyOptions("bob", opts)})
			c := f.client("bob", true, "demo", "--", "tty; echo done")
			c.Start(t)
			c.Expect("PTY allocation request failed", timeout)
			c.Wait()
			if _, ok := findEvent(f.gatewayEvents(event.AccessDenied), event.AccessDenied, map[string]string{"user": "bob", "reason": "pty refused: the key's options say no-pty"}); !ok {
				t.Errorf("no access.denied for the pty: %v", f.gatewayEvents(event.AccessDenied))
			}
			if ids := f.spy.find(func(i recorder.StartInfo) bool { return i.User == "bob" && i.Term != "" }); len(ids) > 0 {
				t.Errorf("sessions %v started with a terminal", ids)
			}
			if res := f.run("bob", "demo", "--", "tty; echo done"); !strings.Contains(res.Stdout, "not a tty") || !strings.Contains(res.Stdout, "done") {
				t.Errorf("without -t: got %+v; want the command to run without a tty", res)
			}
		})
	}
	t.Run("restrict,pty", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{editConfig: withKeyOptions("bob", "restrict,pty")})
		c := f.client("bob", true, "demo", "--", "tty; echo done")
		c.Start(t)
		c.Expect("/dev/", timeout)
		c.Expect("done", timeout)
		c.Wait()
	})
}

// TestKeyExpiresDuringSession: a session logged in with a key whose
// expiry-time passes ends within a second of it, without a reload, and
// the key logs in no more. sshd lets such sessions run on; foureyes
// honours the line as a statement of when access ends.
func TestKeyExpiresDuringSession(t *testing.T) {
	// Whole seconds, UTC; far enough ahead for the login to complete.
	at := time.Now().UTC().Add(5 * time.Second).Truncate(time.Second)
	f := newFixture(t, fixtureOptions{editConfig: withKeyOptions("bob", `expiry-time="`+at.Format("20060102150405")+`Z"`)})
	c := f.client("bob", true, "demo")
	c.Start(t)
	c.Expect("demo$ ", timeout)
	c.Expect("foureyes: access revoked (key expired at "+at.Format(time.RFC3339)+"); session ended", timeout)
	if got := c.Wait(); got != statusLost {
		t.Errorf("exit = %d; want %d", got, statusLost)
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.User == "bob" && i.Kind == "shell" })
	requireEvent(t, evs, event.SessionTerminate, "", map[string]string{"reason": "access revoked: key expired at " + at.Format(time.RFC3339)})
	if res := f.run("bob", "demo", "--", "echo in"); res.Exit != 255 {
		t.Errorf("expired key logged in: %+v", res)
	}
}
