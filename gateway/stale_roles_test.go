package gateway

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStartUsesRolesInForce_Connect: bob opens a session channel and
// sends nothing; a reload takes his role for demo away; his exec on that
// channel is judged on the roles in force when it comes, so it is
// refused like a fresh connection (it used to run on the roles read when
// the channel opened).
func TestStartUsesRolesInForce_Connect(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	_, s := f.sessionAs(t, "bob")
	if _, err := f.reload(replaceOnce(t, `roles: [staging]}`, `roles: [auditor]}`)); err != nil {
		t.Fatal(err)
	}
	// A fresh connection is refused.
	if res := f.run("bob", "demo", "--", "echo", "fresh"); res.Exit == 0 {
		t.Fatalf("fresh connection allowed after revocation: %+v", res)
	}
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	err := s.Run("demo -- echo STALE-ROLE-RAN")
	t.Logf("pre-opened channel: err=%v stdout=%q stderr=%q", err, out.String(), errb.String())
	if strings.Contains(out.String(), "STALE-ROLE-RAN") {
		t.Fatalf("a channel opened before the reload ran a command on demo after bob's role for it was removed")
	}
}

// TestStartUsesRolesInForce_ApproveWindow: dave opens a channel, a
// reload takes his reviewer role, then he answers alice's window request
// on that channel: no approval.
func TestStartUsesRolesInForce_ApproveWindow(t *testing.T) {
	f := newFixture(t, windowOptions())
	_, s := f.sessionAs(t, "dave")
	if _, err := f.reload(replaceOnce(t, `"`+f.keyLine("dave")+`"], roles: [reviewer]}`, `"`+f.keyLine("dave")+`"], roles: [auditor]}`)); err != nil {
		t.Fatal(err)
	}
	alice, id := f.requestWindow(t, "alice", "demo-prod --for 30m --reason stale reviewer")
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	s.Stdin = strings.NewReader("y\n")
	err := s.Run("join " + id)
	t.Logf("dave (revoked) join: err=%v stdout=%q stderr=%q", err, out.String(), errb.String())
	if !strings.Contains(errb.String(), "you approved window "+id) {
		alice.Close() // refused, as it must be
		return
	}
	alice.Expect("approved by dave", timeout)
	alice.Wait()
	res := f.run("alice", "demo-prod", "--", "echo", "UNDER-STALE-APPROVAL")
	t.Logf("alice under window: %+v", res)
	t.Fatalf("dave, no longer a reviewer, approved window %s on a channel opened before the reload", id)
}

// TestStartUsesRolesInForce_ApproveSession: dave opens a channel, a
// reload takes his reviewer role, alice asks for demo-prod: dave's join
// on the old channel must not approve it (it did, and alice's shell
// reached the host).
func TestStartUsesRolesInForce_ApproveSession(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	_, s := f.sessionAs(t, "dave")
	if _, err := f.reload(replaceOnce(t, `"`+f.keyLine("dave")+`"], roles: [reviewer]}`, `"`+f.keyLine("dave")+`"], roles: [auditor]}`)); err != nil {
		t.Fatal(err)
	}
	// A fresh connection of dave's is refused.
	if res := f.run("dave", "sessions"); res.Exit == 0 {
		t.Fatalf("fresh sessions allowed after revocation: %+v", res)
	}
	alice, id := f.request(t, "stale reviewer")
	if err := s.RequestPty("xterm", 24, 80, nil); err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	var out syncBuf
	s.Stdout = &out
	if err := s.Start("join " + id); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err := <-done:
		if strings.Contains(out.String(), "Approve this session?") || err == nil {
			t.Fatalf("dave's join on a channel opened before the reload: err=%v, saw %q; want a refusal", err, out.String())
		}
		alice.Close()
		return
	case <-time.After(30 * time.Second): // bounds a hang; asserts no speed
	}
	in.Write([]byte("y\r"))
	alice.Expect("demo$ ", timeout)
	alice.Send("echo APPROVED-BY-REVOKED\r")
	alice.Expect("APPROVED-BY-REVOKED", timeout)
	t.Fatalf("dave (reviewer role removed) approved session %s on a channel opened before the reload; alice reached the host; dave saw %q", id, out.String())
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestStartUsesRolesInForce_Audit: carol opens a channel, a reload takes
// her auditor role, then she runs audit on it: refused.
func TestStartUsesRolesInForce_Audit(t *testing.T) {
	ran := make(chan struct{}, 1)
	audit := func(ctx context.Context, user string, args []string, stdout, stderr io.Writer) int {
		ran <- struct{}{}
		io.WriteString(stdout, "AUDIT-RAN\n")
		return 0
	}
	f := newFixture(t, fixtureOptions{audit: audit})
	_, s := f.sessionAs(t, "carol")
	if _, err := f.reload(replaceOnce(t, `"`+f.keyLine("carol")+`"], roles: [auditor]}`, `"`+f.keyLine("carol")+`"], roles: [staging]}`)); err != nil {
		t.Fatal(err)
	}
	if res := f.run("carol", "audit", "sessions"); res.Exit == 0 {
		t.Fatalf("fresh audit allowed: %+v", res)
	}
	out, err := s.Output("audit sessions")
	t.Logf("pre-opened: %q %v", out, err)
	if strings.Contains(string(out), "AUDIT-RAN") {
		t.Errorf("carol ran audit on a channel opened before the reload that removed her auditor role")
	}
}
