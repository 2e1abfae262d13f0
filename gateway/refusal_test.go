package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
	gossh "golang.org/x/crypto/ssh"
)

// TestRefusedCommands covers what an authenticated user may not do: each
// refusal prints one line, exits 1 and is recorded.
func TestRefusedCommands(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tests := []struct {
		name      string
		user      string
		args      []string
		wantErr   string
		wantEvent event.Type
		wantMeta  map[string]string
	}{
		{"unknown host", "alice", []string{"nosuch", "--", "true"},
			"foureyes: unknown host \"nosuch\"\n", event.AccessDenied, map[string]string{"user": "alice", "host": "nosuch", "reason": "unknown host"}},
		{"forbidden host", "bob", []string{"demo-prod"},
			"foureyes: access to \"demo-prod\" denied for bob\n", event.AccessDenied, map[string]string{"user": "bob", "host": "demo-prod"}},
		{"audit without role", "alice", []string{"audit", "sessions"},
			"foureyes: audit denied for alice: no auditor role\n", event.AccessDenied, map[string]string{"user": "alice", "command": "audit sessions"}},
		{"sessions without reviewer role", "bob", []string{"sessions"},
			"foureyes: sessions denied for bob: no reviewer role\n", event.AccessDenied, map[string]string{"user": "bob", "command": "sessions"}},
		{"join without reviewer role", "bob", []string{"join", "abc"},
			"foureyes: join denied for bob: no reviewer role\n", event.AccessDenied, map[string]string{"user": "bob", "command": "join abc"}},
		{"audit without audit func", "carol", []string{"audit", "sessions"}, "foureyes: audit is not available on this gateway\n", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.run(tt.user, tt.args...)
			if res.Exit != 1 || res.Stderr != tt.wantErr || res.Stdout != "" {
				t.Errorf("got exit %d stderr %q stdout %q; want 1 and %q", res.Exit, res.Stderr, res.Stdout, tt.wantErr)
			}
			if tt.wantEvent != "" {
				e, ok := findEvent(f.gatewayEvents(tt.wantEvent), tt.wantEvent, tt.wantMeta)
				if !ok || e.Actor != tt.user || e.Meta["remote"] == "" {
					t.Errorf("no %s event with %v by %s (got %+v)", tt.wantEvent, tt.wantMeta, tt.user, e)
				}
			}
		})
	}
}

func TestUpstreamFailures(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	res := f.run("alice", "badkey", "--", "echo never")
	want := "foureyes: host key mismatch for badkey (" + f.target.Addr() + "): pinned "
	if res.Exit != 1 || !strings.HasPrefix(res.Stderr, want) || !strings.HasSuffix(res.Stderr, "; connection refused\n") || res.Stdout != "" {
		t.Errorf("mismatch: got %+v; want exit 1 and %q…", res, want)
	}
	pinned, _ := f.cfg.Host("badkey")
	pinnedKey, err := config.ParseHostKey(pinned.HostKey)
	if err != nil {
		t.Fatal(err)
	}
	wantFP := gossh.FingerprintSHA256(pinnedKey)
	gotFP := gossh.FingerprintSHA256(f.target.HostKey())
	if !strings.Contains(res.Stderr, "pinned "+wantFP+", presented "+gotFP) {
		t.Errorf("mismatch message %q lacks both fingerprints", res.Stderr)
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.Host == "badkey" })
	if _, ok := findEvent(evs, event.HostKeyMismatch, map[string]string{"host": "badkey", "want": wantFP, "got": gotFP}); !ok {
		t.Errorf("no hostkey.mismatch event in %v", types(evs))
	}
	if end := evs[len(evs)-1]; end.Type != event.SessionEnd || end.Meta["exit_status"] != "1" {
		t.Errorf("last event %s %v; want session.end with status 1", end.Type, end.Meta)
	}

	res = f.run("alice", "down", "--", "true")
	if res.Exit != 1 || !strings.HasPrefix(res.Stderr, "foureyes: cannot reach down (") {
		t.Errorf("down host: got %+v", res)
	}
}

// TestAuthFailures drives refused logins with the OpenSSH client and,
// for methods it will not use in batch mode, with x/crypto. Each case
// comes from its own loopback address: the first failure of a source is
// recorded in full at once, later ones only in its periodic summary.
func TestAuthFailures(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	stranger, strangerPub := sshtest.Keygen(t, t.TempDir(), "stranger")
	strangerFP := gossh.FingerprintSHA256(strangerPub)
	aliceFP := gossh.FingerprintSHA256(sshtest.Signer(t, f.keys["alice"]).PublicKey())

	t.Run("wrong key", func(t *testing.T) {
		res := sshtest.Run(t, &sshtest.Client{Addr: f.addr, User: "alice", Key: stranger, Options: []string{"-b", "127.0.0.11"}, Args: []string{"demo"}})
		if res.Exit != 255 || !strings.Contains(res.Stderr, "Permission denied (") {
			t.Errorf("got %+v; want 255 and Permission denied", res)
		}
		evs := f.gatewayEvents(event.AuthFailure)
		var n int
		for _, e := range evs {
			if hasMeta(e, map[string]string{"user": "alice", "key": strangerFP, "method": "publickey", "reason": "key not authorized for user"}) && e.Meta["remote"] != "" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d auth.failure events for the stranger key; want exactly 1 (query and attempt are one failure): %v", n, evs)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		res := sshtest.Run(t, &sshtest.Client{Addr: f.addr, User: "mallory", Key: f.keys["alice"], Options: []string{"-b", "127.0.0.12"}, Args: []string{"demo"}})
		if res.Exit != 255 {
			t.Errorf("exit = %d; want 255", res.Exit)
		}
		if _, ok := findEvent(f.gatewayEvents(event.AuthFailure), event.AuthFailure, map[string]string{"user": "mallory", "key": aliceFP, "reason": "unknown user"}); !ok {
			t.Error("no auth.failure for mallory")
		}
	})
	t.Run("password", func(t *testing.T) {
		// The bastion does not offer password: the client never sends
		// it (x/crypto refuses one sent anyway: no PasswordCallback).
		_, err := f.dialFrom("127.0.0.13", "alice", gossh.Password("hunter2"))
		if err == nil {
			t.Fatal("password login accepted")
		}
		if !strings.Contains(err.Error(), "attempted methods [none]") {
			t.Errorf("dial = %v; want password never attempted (not offered)", err)
		}
		for _, e := range f.gatewayEvents(event.AuthFailure) {
			if strings.Contains(e.MetaText(), "hunter2") {
				t.Errorf("password recorded: %v", e.Meta)
			}
		}
	})
	t.Run("keyboard-interactive", func(t *testing.T) {
		var questions []string
		var told string
		ki := gossh.KeyboardInteractive(func(_, instruction string, qs []string, _ []bool) ([]string, error) {
			questions = append(questions, qs...)
			told += instruction
			return make([]string, len(qs)), nil
		})
		if _, err := f.dialFrom("127.0.0.14", "bob", ki); err == nil {
			t.Fatal("keyboard-interactive login accepted")
		}
		if len(questions) != 0 {
			t.Errorf("the gateway asked keyboard-interactive questions: %q", questions)
		}
		if told != keysOnlyMessage {
			t.Errorf("keyboard-interactive instruction %q; want %q", told, keysOnlyMessage)
		}
		if _, ok := findEvent(f.gatewayEvents(event.AuthFailure), event.AuthFailure, map[string]string{"user": "bob", "method": "keyboard-interactive"}); !ok {
			t.Error("no keyboard-interactive auth.failure")
		}
	})
	t.Run("openssh without a key", func(t *testing.T) {
		// What a user without a usable key sees: the reason, before any
		// password prompt (none comes here: only keyboard-interactive).
		// (sshtest.Client runs in BatchMode, which skips keyboard-interactive.)
		_, port, _ := net.SplitHostPort(f.addr)
		cmd := exec.Command(sshtest.SSHPath, "-F", "/dev/null", "-b", "127.0.0.15", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=keyboard-interactive", "-p", port, "alice@127.0.0.1", "demo")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil || !strings.Contains(stderr.String(), keysOnlyMessage) {
			t.Errorf("ssh without a key: %v, stderr %q; want a failure that says %q", err, stderr.String(), keysOnlyMessage)
		}
	})
	t.Run("accepted key without signature", func(t *testing.T) {
		// The key passes the query, but the client cannot sign: the
		// login never completes and is recorded as a failure.
		signer := failingSigner{sshtest.Signer(t, f.keys["carol"])}
		if _, err := f.dialFrom("127.0.0.16", "carol", gossh.PublicKeys(signer)); err == nil {
			t.Fatal("login without a signature accepted")
		}
		fp := gossh.FingerprintSHA256(signer.PublicKey())
		deadline := time.Now().Add(timeout)
		for {
			evs := f.gatewayEvents(event.AuthFailure)
			if e, ok := findEvent(evs, event.AuthFailure, map[string]string{"user": "carol", "key": fp, "method": "publickey"}); ok {
				if !strings.HasPrefix(e.Meta["reason"], "key accepted but login not completed") {
					t.Errorf("reason = %q", e.Meta["reason"])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no auth.failure for the unsigned login: %v", metas(evs))
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("user switch during auth", func(t *testing.T) {
		// SSH lets a client change the user name between attempts: bob's
		// key accepted for "bob" must not then be accepted for "alice".
		bobKey := sshtest.Signer(t, f.keys["bob"]).PublicKey()
		cfg := f.srv.connConfig(&connState{remote: "192.0.2.1:1"})
		if _, err := cfg.PublicKeyCallback(connMeta("bob"), bobKey); err != nil {
			t.Fatalf("bob's key for bob: %v", err)
		}
		if _, err := cfg.PublicKeyCallback(connMeta("alice"), bobKey); err == nil {
			t.Fatal("bob's key accepted for alice")
		}
	})
}

// TestForwardingDenied checks that every kind of forwarding is refused
// and recorded.
func TestForwardingDenied(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c, err := f.dial("alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Dial("tcp", f.target.Addr()); err == nil {
		t.Error("direct-tcpip (ssh -L) accepted")
	}
	if _, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
		t.Error("tcpip-forward (ssh -R) accepted")
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.SendRequest("auth-agent-req@openssh.com", true, nil); ok || err != nil {
		t.Errorf("agent forwarding request = %v, %v; want refused", ok, err)
	}
	x11 := gossh.Marshal(&struct {
		Single   bool
		Protocol string
		Cookie   string
		Screen   uint32
	}{false, "MIT-MAGIC-COOKIE-1", "00", 0})
	if ok, err := s.SendRequest("x11-req", true, x11); ok || err != nil {
		t.Errorf("x11 request = %v, %v; want refused", ok, err)
	}
	if err := s.RequestSubsystem("netconf"); err == nil {
		t.Error("netconf subsystem accepted")
	}

	// The real client: `ssh -R` fails when the bastion refuses.
	cl := f.client("alice", false)
	cl.Options = []string{"-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"}
	res := runClient(t, cl)
	if res.Exit != 255 || !strings.Contains(res.Stderr, "remote port forwarding failed") {
		t.Errorf("ssh -R: got %+v", res)
	}

	evs := f.gatewayEvents(event.ForwardDenied)
	for _, want := range []map[string]string{
		{"user": "alice", "kind": "direct-tcpip", "detail": "to " + f.target.Addr() + " from 0.0.0.0:0"},
		{"user": "alice", "kind": "tcpip-forward", "detail": "listen 127.0.0.1:0"},
		{"user": "alice", "kind": "tcpip-forward", "detail": "listen localhost:0"},
		{"user": "alice", "kind": "agent"},
		{"user": "alice", "kind": "x11", "detail": "MIT-MAGIC-COOKIE-1"},
	} {
		if _, ok := findEvent(evs, event.ForwardDenied, want); !ok {
			t.Errorf("no forward.denied with %v in %v", want, metas(evs))
		}
	}
	if _, ok := findEvent(f.gatewayEvents(event.AccessDenied), event.AccessDenied, map[string]string{"reason": "subsystem netconf is not supported"}); !ok {
		t.Error("no access.denied for the netconf subsystem")
	}
}

// connMeta is the ConnMetadata of an authentication attempt as user.
type connMeta string

func (m connMeta) User() string        { return string(m) }
func (connMeta) SessionID() []byte     { return nil }
func (connMeta) ClientVersion() []byte { return nil }
func (connMeta) ServerVersion() []byte { return nil }
func (connMeta) RemoteAddr() net.Addr  { return &net.TCPAddr{} }
func (connMeta) LocalAddr() net.Addr   { return &net.TCPAddr{} }

// failingSigner offers a real public key but cannot sign.
type failingSigner struct{ gossh.Signer }

func (failingSigner) Sign(io.Reader, []byte) (*gossh.Signature, error) {
	return nil, errors.New("token unplugged")
}

func metas(evs []event.Event) []map[string]string {
	out := make([]map[string]string, len(evs))
	for i, e := range evs {
		out[i] = e.Meta
	}
	return out
}
