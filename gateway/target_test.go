package gateway

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
)

// TestTargetInUserName: `ssh alice+demo@bastion CMD` runs CMD on demo,
// verbatim, recorded as alice's session on demo. No word of the command
// is read as a bastion verb or a host: the command is the host's.
func TestTargetInUserName(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	as := func(user string, args ...string) sshtest.Result {
		return sshtest.Run(t, &sshtest.Client{Addr: f.addr, User: user, Key: f.keys[personOf(user)], Args: args})
	}
	res := as("alice+demo", "echo", "via-user-name;", "echo", "$((6*7))")
	if res.Exit != 0 || res.Stdout != "via-user-name\n42\n" {
		t.Fatalf("exec with target in user name: %+v", res)
	}
	// "audit" is a bastion verb on the command line, but the host's word
	// here: bash says it has no such command.
	if res := as("alice+demo", "audit", "sessions"); res.Exit != 127 {
		t.Errorf("verb word with a target: %+v; want the host's exit 127", res)
	}
	// "--" and everything else reach the host's shell as typed.
	if res := as("alice+demo", "--", "echo", "dashes"); res.Exit != 0 || res.Stdout != "dashes\n" {
		t.Errorf("leading --: %+v", res)
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return strings.HasPrefix(i.Command, "echo via-user-name") })
	if !hasMeta(evs[0], map[string]string{"kind": "exec", "user": "alice", "host": "demo", "command": "echo via-user-name; echo $((6*7))"}) {
		t.Errorf("session.start meta = %v", evs[0].Meta)
	}
	if logins := f.gatewayEvents(event.Login); len(logins) == 0 || logins[0].Meta["user"] != "alice" {
		t.Errorf("login events: %v; want user alice (the person, not the target)", logins)
	}
}

// TestTargetInUserNameDenials: the target in the user name passes the
// same checks as a host on the command line, with the same records.
func TestTargetInUserNameDenials(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	as := func(user string, args ...string) sshtest.Result {
		return sshtest.Run(t, &sshtest.Client{Addr: f.addr, User: user, Key: f.keys[personOf(user)], Args: args})
	}
	if res := as("bob+demo-prod", "id"); res.Exit == 0 || !strings.Contains(res.Stderr, "denied") {
		t.Errorf("bob (staging) naming demo-prod: %+v; want access denied", res)
	}
	if res := as("alice+nosuchhost", "id"); res.Exit == 0 || !strings.Contains(res.Stderr, "unknown host") {
		t.Errorf("unknown target: %+v; want unknown host", res)
	}
	if res := as("carol+demo", "id"); res.Exit == 0 {
		t.Errorf("auditor naming a host: %+v; want denied", res)
	}
	// A stranger's key is refused whatever target the name carries, and
	// the failure is alice's: a target cannot open a second lockout count.
	stranger, _ := sshtest.Keygen(t, t.TempDir(), "stranger")
	if res := sshtest.Run(t, &sshtest.Client{Addr: f.addr, User: "alice+demo", Key: stranger, Args: []string{"id"}}); res.Exit != 255 {
		t.Errorf("wrong key with a target: %+v; want refused", res)
	}
	waitFor(t, "auth.failure for alice", func() bool {
		_, ok := findEvent(f.gatewayEvents(event.AuthFailure), event.AuthFailure, map[string]string{"user": "alice"})
		return ok
	})
	for _, typ := range []event.Type{event.AuthFailure, event.AccessDenied} {
		for _, e := range f.gatewayEvents(typ) {
			if strings.Contains(e.Meta["user"], TargetSep) {
				t.Errorf("%s recorded user %q; want the person only", typ, e.Meta["user"])
			}
		}
	}
	if _, ok := findEvent(f.gatewayEvents(event.AccessDenied), event.AccessDenied, map[string]string{"user": "bob", "host": "demo-prod"}); !ok {
		t.Error("no access.denied for bob on demo-prod")
	}
	if _, ok := findEvent(f.gatewayEvents(event.AccessDenied), event.AccessDenied, map[string]string{"user": "alice", "host": "nosuchhost", "reason": "unknown host"}); !ok {
		t.Error("no access.denied for the unknown target")
	}
}

// TestLegacySCPThroughTarget: stock `scp -O` (the exec protocol, "scp -t")
// copies a file to demo with the target in the user name, and the
// command it ran is recorded verbatim.
func TestLegacySCPThroughTarget(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	src := filepath.Join(t.TempDir(), "payload.txt")
	if err := os.WriteFile(src, []byte("copied through the bastion\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(f.addr)
	cmd := exec.CommandContext(context.Background(), "scp", "-O", "-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-P", port, "-i", f.keys["alice"],
		src, "alice+demo@"+host+":scp-landed.txt")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scp -O: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(f.dir, "home", "scp-landed.txt"))
	if err != nil || string(got) != "copied through the bastion\n" {
		t.Fatalf("file on the host: %q, %v", got, err)
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return strings.HasPrefix(i.Command, "scp ") })
	if !hasMeta(evs[0], map[string]string{"user": "alice", "host": "demo", "command": "scp -t scp-landed.txt"}) {
		t.Errorf("session.start meta = %v", evs[0].Meta)
	}
}
