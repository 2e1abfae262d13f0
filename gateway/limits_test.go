package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// dialFrom opens an x/crypto client as user from the loopback address
// src (127.0.0.0/8 is all local on Linux), so that per-source limits
// and failure aggregation see a source of the test's own.
func (f *fixture) dialFrom(src, user string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	if auth == nil {
		auth = []gossh.AuthMethod{gossh.PublicKeys(sshtest.Signer(f.t, f.keys[user]))}
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: timeout}
	conn, err := d.Dial("tcp", f.addr)
	if err != nil {
		return nil, err
	}
	c, chans, reqs, err := gossh.NewClientConn(conn, f.addr, &gossh.ClientConfig{
		User:            user,
		Auth:            auth,
		HostKeyCallback: gossh.FixedHostKey(f.srv.hostSigner.PublicKey()),
		Timeout:         timeout,
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	client := gossh.NewClient(c, chans, reqs)
	f.t.Cleanup(func() { client.Close() })
	return client, nil
}

// rawFrom opens a TCP connection from src that says nothing; it is
// closed when the test ends.
func (f *fixture) rawFrom(t *testing.T, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: timeout}
	c, err := d.Dial("tcp", f.addr)
	if errors.Is(err, syscall.ECONNRESET) {
		// Refused so fast that the reset beat the end of connect: a
		// connection that reads as closed, as greeted expects.
		c, peer := net.Pipe()
		peer.Close()
		return c
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// greeted reports whether the server sent its SSH version line on c
// (an admitted connection) rather than closing it (a refused one).
func greeted(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(timeout))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 8)
	n, err := io.ReadFull(c, buf)
	if isTimeout(err) {
		t.Fatalf("server neither greeted nor closed the connection within %s", timeout)
	}
	return n == len(buf) && string(buf) == "SSH-2.0-"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// setLimits restarts the fixture's gateway with edited limits.
func (f *fixture) setLimits(t testing.TB, edit func(l *config.Limits)) {
	t.Helper()
	f.reconfigure(t, func(c *config.Config) { edit(&c.Limits) })
}

// authFailuresFrom returns the auth.failure events whose remote is src
// (detailed ones carry src:port, summaries src).
func (f *fixture) authFailuresFrom(src string) (detailed, summaries []event.Event) {
	f.t.Helper()
	for _, e := range f.gatewayEvents(event.AuthFailure) {
		switch {
		case e.Meta["aggregated"] == "true" && e.Meta["remote"] == src:
			summaries = append(summaries, e)
		case strings.HasPrefix(e.Meta["remote"], src+":"):
			detailed = append(detailed, e)
		}
	}
	return detailed, summaries
}

// TestNoPasswordPrompt (issue 14): the bastion offers public keys and a
// keys-only notice, never "password", so OpenSSH run interactively by a
// user without a usable key shows the notice and never prompts for a
// secret. The old server offered password and ssh asked for one.
func TestNoPasswordPrompt(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	stranger, _ := sshtest.Keygen(t, t.TempDir(), "stranger")
	_, port, _ := net.SplitHostPort(f.addr)
	cmd := exec.Command(sshtest.SSHPath, "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=no", "-o", "IdentitiesOnly=yes", "-i", stranger,
		"-o", "PreferredAuthentications=publickey,keyboard-interactive,password",
		"-p", port, "alice@127.0.0.1", "demo")
	ptmx, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	prompt := regexp.MustCompile(`(?i)password`)
	deadline := time.After(timeout)
	for done := false; !done; {
		select {
		case <-exited:
			done = true
		case <-deadline:
			cmd.Process.Kill()
			<-exited
			t.Fatalf("ssh still waiting after %s; output %q", timeout, out.String())
		case <-time.After(20 * time.Millisecond):
			mu.Lock()
			asked := prompt.MatchString(strings.ReplaceAll(out.String(), "Passwords are refused", ""))
			mu.Unlock()
			if asked {
				cmd.Process.Kill()
				<-exited
				t.Fatalf("ssh prompted for a password: %q", out.String())
			}
		}
	}
	ptmx.Close()
	<-readDone
	got := out.String()
	if !strings.Contains(got, keysOnlyMessage) {
		t.Errorf("output %q lacks the keys-only notice", got)
	}
	if !strings.Contains(got, "Permission denied (publickey,keyboard-interactive).") {
		t.Errorf("output %q; want the methods offered to be publickey and keyboard-interactive only", got)
	}
	if n := strings.Count(got, keysOnlyMessage); n != 1 {
		t.Errorf("notice shown %d times; want once", n)
	}
}

// TestLoginGrace: a connection that does not log in within
// limits.login_grace is closed, whatever the keepalive says. The old
// gateway waited 2 minutes, or forever with keepalive_interval <= 0.
func TestLoginGrace(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.setLimits(t, func(l *config.Limits) { l.LoginGrace = time.Second })
	c := f.rawFrom(t, "127.0.0.51")
	if !greeted(t, c) {
		t.Fatal("connection refused; want it admitted")
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	if _, err := io.ReadAll(c); isTimeout(err) {
		t.Fatalf("connection still open after %s; want it closed after the 1s login grace", timeout)
	}
	waitFor(t, "auth.failure for the grace time", func() bool {
		d, _ := f.authFailuresFrom("127.0.0.51")
		return len(d) == 1 && d[0].Meta["reason"] == "login grace time exceeded (1s)"
	})
}

// TestUnauthenticatedLimits: connections not logged in are capped per
// source and in total; excess ones are closed before the SSH greeting;
// a logged-in connection no longer counts.
func TestUnauthenticatedLimits(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.setLimits(t, func(l *config.Limits) { l.MaxUnauthenticated, l.MaxUnauthenticatedPerSource = 5, 3 })
	var held []net.Conn
	for i := 0; i < 3; i++ {
		c := f.rawFrom(t, "127.0.0.61")
		if !greeted(t, c) {
			t.Fatalf("connection %d from 127.0.0.61 refused; want 3 admitted", i+1)
		}
		held = append(held, c)
	}
	if greeted(t, f.rawFrom(t, "127.0.0.61")) {
		t.Error("4th unauthenticated connection from one source admitted; want it closed (max 3 per source)")
	}
	// A logged-in connection from the same source is not counted.
	if _, err := f.dialFrom("127.0.0.62", "alice"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		c := f.rawFrom(t, "127.0.0.62")
		if !greeted(t, c) {
			t.Fatalf("connection %d from 127.0.0.62 refused; want admitted (5 in total)", i+1)
		}
		held = append(held, c)
	}
	if greeted(t, f.rawFrom(t, "127.0.0.63")) {
		t.Error("6th unauthenticated connection admitted; want it closed (max 5)")
	}
	// A real user is refused while the gateway is full, and gets in once
	// a place is free.
	if res := f.run("alice", "demo", "--", "true"); res.Exit != 255 {
		t.Errorf("login while full: %+v; want refused", res)
	}
	held[0].Close()
	waitFor(t, "a free place", func() bool { return f.srv.gate.Unauthenticated() < 5 })
	if res := f.run("alice", "demo", "--", "echo in"); res.Exit != 0 || res.Stdout != "in\n" {
		t.Errorf("login after a place was freed: %+v", res)
	}
	if st := f.srv.Stats(); st.RefusedConnections != 3 || st.Unauthenticated != 4 {
		t.Errorf("Stats = %+v; want 3 refused connections and 4 unauthenticated", st)
	}
	d, _ := f.authFailuresFrom("127.0.0.61")
	if len(d) != 1 || d[0].Meta["method"] != "connect" || !strings.Contains(d[0].Meta["reason"], "from this source") {
		t.Errorf("refused connection events from 127.0.0.61: %v; want one connect failure per source", metas(d))
	}
}

// TestMaxAuthTries: a connection may try limits.max_auth_tries keys;
// the next attempt closes it even if it is the right key. The old
// gateway left x/crypto's 6 (and queries for unknown keys hardly count).
func TestMaxAuthTries(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	var signers []gossh.Signer
	for i := 0; i < 3; i++ {
		p, _ := sshtest.Keygen(t, t.TempDir(), "wrong"+strconv.Itoa(i))
		signers = append(signers, sshtest.Signer(t, p))
	}
	signers = append(signers, sshtest.Signer(t, f.keys["alice"]))
	if _, err := f.dialFrom("127.0.0.71", "alice", gossh.PublicKeys(signers...)); err == nil {
		t.Fatal("login with the 4th key accepted; want at most 3 attempts")
	}
	// Three wrong keys and then the right one, within the limit: accepted.
	if _, err := f.dialFrom("127.0.0.72", "alice", gossh.PublicKeys(signers[1:]...)); err != nil {
		t.Errorf("login with the 3rd key: %v", err)
	}
	waitFor(t, "summary of 127.0.0.71", func() bool {
		d, s := f.authFailuresFrom("127.0.0.71")
		all := metas(d)
		for _, e := range s {
			all = append(all, e.Meta)
		}
		for _, m := range all {
			if m["reason"] == "too many authentication attempts (limits.max_auth_tries)" || strings.Contains(m["reasons"], "too many authentication attempts") {
				return true
			}
		}
		return false
	})
}

// TestLongUserName: a 200 KiB user name is refused unread and only a
// bounded, escaped prefix is recorded (the old gateway wrote a 1.2 MB
// event); control characters in a name are escaped.
func TestLongUserName(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	long := strings.Repeat("A", 200<<10)
	key := gossh.PublicKeys(sshtest.Signer(t, f.keys["alice"]))
	if _, err := f.dialFrom("127.0.0.81", long, key); err == nil {
		t.Fatal("login with a 200 KiB name accepted")
	}
	if _, err := f.dialFrom("127.0.0.82", "\x1b[2Jroot", key); err == nil {
		t.Fatal("login with an escape sequence accepted")
	}
	d, _ := f.authFailuresFrom("127.0.0.81")
	if len(d) != 1 {
		t.Fatalf("%d auth.failure from 127.0.0.81; want 1", len(d))
	}
	if u := d[0].Meta["user"]; len(u) > 100 || !strings.HasSuffix(u, "…(204800 bytes)") || !strings.HasPrefix(u, `"AAAA`) {
		t.Errorf("recorded user %.200q (%d bytes); want a quoted 64-byte prefix and the length", u, len(u))
	}
	if r := d[0].Meta["reason"]; r != "user name too long (204800 bytes; limits.max_user_name)" {
		t.Errorf("reason = %q", r)
	}
	d, _ = f.authFailuresFrom("127.0.0.82")
	if len(d) != 1 || d[0].Meta["user"] != `"\x1b[2Jroot"` {
		t.Errorf("escape-sequence name recorded as %v; want it quoted", metas(d))
	}
}

// TestFailureAggregation: a flood of failed logins from one source is
// one detailed event (at once) and one summary per interval with the
// count, not one event per attempt.
func TestFailureAggregation(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.setLimits(t, func(l *config.Limits) {
		l.FailureReportInterval = time.Second
		l.Lockout.SourceFailures = 1000
	})
	stranger, _ := sshtest.Keygen(t, t.TempDir(), "stranger")
	wrong := gossh.PublicKeys(sshtest.Signer(t, stranger))
	const n = 40
	for i := 0; i < n; i++ {
		if _, err := f.dialFrom("127.0.0.91", "user"+strconv.Itoa(i), wrong); err == nil {
			t.Fatal("wrong key accepted")
		}
	}
	var detailed, summaries []event.Event
	waitFor(t, "summaries counting every failure", func() bool {
		detailed, summaries = f.authFailuresFrom("127.0.0.91")
		total := len(detailed)
		for _, s := range summaries {
			c, _ := strconv.Atoi(s.Meta["count"])
			total += c
		}
		return total == n
	})
	if len(detailed) != 1 || detailed[0].Meta["user"] != "user0" {
		t.Errorf("detailed events %v; want only the first failure (user0)", metas(detailed))
	}
	if len(summaries) == 0 || len(summaries) > 4 {
		t.Errorf("%d summaries; want a handful (one per 1s interval)", len(summaries))
	}
	if s := summaries[0]; !strings.Contains(s.Meta["users"], `"user1":1`) || !strings.Contains(s.Meta["methods"], `"publickey"`) || s.Meta["first"] == "" {
		t.Errorf("summary meta %v", s.Meta)
	}
}

// TestLockout: too many failed logins lock the user (from anywhere) and
// the source (for everyone); a locked login fails exactly like a wrong
// key; an admin with the unlock permission lifts locks; every step is
// recorded.
func TestLockout(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.reconfigure(t, func(c *config.Config) {
		c.Limits.Lockout.UserFailures, c.Limits.Lockout.SourceFailures = 2, 3
		c.Roles["locksmith"] = config.Role{Unlock: true}
		for i := range c.Users {
			if c.Users[i].Name == "carol" {
				c.Users[i].Roles = append(c.Users[i].Roles, "locksmith")
			}
		}
	})
	stranger, _ := sshtest.Keygen(t, t.TempDir(), "stranger")
	from := func(src, user, key string) sshtest.Result {
		return sshtest.Run(t, &sshtest.Client{Addr: f.addr, User: user, Key: key, Options: []string{"-b", src}, Args: []string{"demo", "--", "echo in"}})
	}
	var wrong sshtest.Result
	for i := 0; i < 2; i++ {
		wrong = from("127.0.0.101", "alice", stranger)
	}
	// The failed login is counted when the server sees the connection
	// end, which may be just after ssh exits.
	waitFor(t, "auth.lockout for alice after 2 failed logins", func() bool {
		_, ok := findEvent(f.gatewayEvents(event.AuthLockout), event.AuthLockout, map[string]string{"scope": "user", "target": "alice", "failures": "2"})
		return ok
	})
	locked := from("127.0.0.102", "alice", f.keys["alice"])
	if locked.Exit != 255 || locked.Stdout != "" {
		t.Fatalf("locked alice with her key: %+v; want refused", locked)
	}
	if locked.Stderr != wrong.Stderr {
		t.Errorf("a locked user sees %q, a wrong key %q; want the same", locked.Stderr, wrong.Stderr)
	}
	d, _ := f.authFailuresFrom("127.0.0.102")
	if len(d) != 1 || !strings.HasPrefix(d[0].Meta["reason"], "locked out: user alice until ") {
		t.Errorf("locked attempt recorded as %v", metas(d))
	}
	// bob may not unlock (nor sees it in help); carol (locksmith) lists
	// and lifts.
	if res := f.run("carol", "help"); !strings.Contains(res.Stdout, "ssh BASTION unlock [USER|ADDRESS]") {
		t.Errorf("carol's help lacks unlock:\n%s", res.Stdout)
	}
	if res := f.run("bob", "help"); strings.Contains(res.Stdout, "unlock") {
		t.Errorf("bob's help lists unlock:\n%s", res.Stdout)
	}
	if res := f.run("bob", "unlock", "alice"); res.Exit != 1 || res.Stderr != "foureyes: unlock denied for bob: no role with unlock\n" {
		t.Errorf("bob unlock: %+v", res)
	}
	if res := f.run("carol", "unlock"); res.Exit != 0 || !regexp.MustCompile(`user\s+alice\s+until \S+\s+\(2 failed logins\)`).MatchString(res.Stdout) {
		t.Errorf("carol unlock (list): %+v", res)
	}
	if res := f.run("carol", "unlock", "alice"); res.Exit != 0 || !strings.HasPrefix(res.Stdout, "Unlocked user alice (locked until ") {
		t.Errorf("carol unlock alice: %+v", res)
	}
	if res := from("127.0.0.102", "alice", f.keys["alice"]); res.Exit != 0 || res.Stdout != "in\n" {
		t.Errorf("alice after unlock: %+v", res)
	}
	if _, ok := findEvent(f.gatewayEvents(event.AuthUnlock), event.AuthUnlock, map[string]string{"scope": "user", "target": "alice"}); !ok {
		t.Error("no auth.unlock")
	}
	if _, ok := findEvent(f.gatewayEvents(event.AccessDenied), event.AccessDenied, map[string]string{"user": "bob", "reason": "unlock requires a role with unlock"}); !ok {
		t.Error("bob's unlock attempt not recorded")
	}

	// A source: failures under any names lock it for everyone.
	for i := 0; i < 3; i++ {
		from("127.0.0.103", "nobody"+strconv.Itoa(i), stranger)
	}
	waitFor(t, "auth.lockout for the source", func() bool {
		_, ok := findEvent(f.gatewayEvents(event.AuthLockout), event.AuthLockout, map[string]string{"scope": "source", "target": "127.0.0.103"})
		return ok
	})
	if res := from("127.0.0.103", "bob", f.keys["bob"]); res.Exit != 255 {
		t.Errorf("bob from a locked source: %+v; want refused", res)
	}
	if res := from("127.0.0.104", "bob", f.keys["bob"]); res.Exit != 0 {
		t.Errorf("bob from another source: %+v", res)
	}
	if res := f.run("carol", "unlock", "127.0.0.103"); res.Exit != 0 || !strings.HasPrefix(res.Stdout, "Unlocked source 127.0.0.103") {
		t.Errorf("carol unlock source: %+v", res)
	}
	if res := from("127.0.0.103", "bob", f.keys["bob"]); res.Exit != 0 {
		t.Errorf("bob after the source was unlocked: %+v", res)
	}
	if res := f.run("carol", "unlock", "alice"); res.Exit != 1 || !strings.Contains(res.Stderr, "alice is not locked out") {
		t.Errorf("unlock of an unlocked user: %+v", res)
	}
}

// TestChannelLimit: a connection may hold limits.max_channels channels
// at once; more are refused, the first refusal is recorded.
func TestChannelLimit(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.setLimits(t, func(l *config.Limits) { l.MaxChannels = 3 })
	c, err := f.dialFrom("127.0.0.111", "alice")
	if err != nil {
		t.Fatal(err)
	}
	var open []*gossh.Session
	for i := 0; i < 3; i++ {
		s, err := c.NewSession()
		if err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
		open = append(open, s)
	}
	for i := 0; i < 10; i++ {
		_, err := c.NewSession()
		var oce *gossh.OpenChannelError
		if !errors.As(err, &oce) || oce.Reason != gossh.ResourceShortage {
			t.Fatalf("session beyond the limit: %v; want resource shortage", err)
		}
	}
	open[0].Close()
	waitFor(t, "a channel closed", func() bool {
		s, err := c.NewSession()
		if err != nil {
			return false
		}
		open = append(open, s)
		return true
	})
	denied := 0
	for _, e := range f.gatewayEvents(event.AccessDenied) {
		if e.Meta["user"] == "alice" && strings.HasPrefix(e.Meta["reason"], "too many channels") {
			denied++
		}
	}
	if denied != 1 {
		t.Errorf("%d access.denied for channels; want 1 per connection", denied)
	}
	c.Close()
	// At least the 10 refused above; waiting for the closed channel's
	// place may have been refused a few more times.
	waitFor(t, "logout counting refused channels", func() bool {
		for _, e := range f.gatewayEvents(event.Logout) {
			n, _ := strconv.Atoi(e.Meta["channels_refused"])
			if e.Meta["user"] == "alice" && n >= 10 && e.Meta["channels"] != "0" {
				return true
			}
		}
		return false
	})
}

// TestEnvLimits: a session channel keeps at most limits.max_env
// variables and limits.max_env_bytes of them; the rest are refused.
func TestEnvLimits(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.setLimits(t, func(l *config.Limits) { l.MaxEnv, l.MaxEnvBytes = 4, 1024 })
	c, err := f.dialFrom("127.0.0.121", "alice")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for i := 0; i < 10; i++ {
		if s.Setenv("LC_V"+strconv.Itoa(i), "x") == nil {
			accepted++
		}
	}
	if accepted != 4 {
		t.Errorf("%d of 10 variables accepted; want 4", accepted)
	}
	s2, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Setenv("LC_BIG", strings.Repeat("x", 2000)); err == nil {
		t.Error("a 2000-byte variable accepted; want refused (max 1024 bytes)")
	}
	if err := s2.Setenv("LC_SMALL", "x"); err != nil {
		t.Errorf("a small variable after a refused big one: %v", err)
	}
	if err := s2.Setenv(reasonEnv, strings.Repeat("r", 4000)); err == nil {
		t.Error("a 4000-byte FOUREYES_REASON accepted; want refused")
	}
}

// TestLoginLogoutEvents (issue 15): a login without a session (ssh -N)
// is recorded, and so is its end.
func TestLoginLogoutEvents(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.client("alice", false)
	c.Options = []string{"-N"}
	c.Start(t)
	aliceFP := gossh.FingerprintSHA256(sshtest.Signer(t, f.keys["alice"]).PublicKey())
	waitFor(t, "login event", func() bool {
		_, ok := findEvent(f.gatewayEvents(event.Login), event.Login, map[string]string{"user": "alice", "key": aliceFP, "method": "publickey"})
		return ok
	})
	c.Close()
	waitFor(t, "logout event", func() bool {
		e, ok := findEvent(f.gatewayEvents(event.Logout), event.Logout, map[string]string{"user": "alice", "key": aliceFP, "channels": "0"})
		return ok && e.Actor == "alice" && e.Meta["duration_ms"] != "" && strings.HasPrefix(e.Meta["remote"], "127.0.0.1:")
	})
}

// TestSelfApprovalSharedKey (issue 12): frank holds alice's second key;
// alice requests with her first key; frank is alice, and may not
// approve. The old check compared the connection's key only. (Validation
// refuses such a configuration; the gateway withstands it anyway.)
func TestSelfApprovalSharedKey(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	f.reconfigureUnchecked(t, func(c *config.Config) { f.addUser(t, c, "frank", "alice2", "reviewer") })
	alice, id := f.request(t, "shared key")
	res := f.run("frank", "join", id)
	if res.Exit != 1 || !strings.Contains(res.Stderr, "you cannot review your own session "+id) {
		t.Errorf("frank (alice's key) join: %+v; want refused as self-approval", res)
	}
	if res := f.run("frank", "sessions"); strings.Contains(res.Stdout, id) {
		t.Errorf("frank sees alice's session in his review list:\n%s", res.Stdout)
	}
	alice.Close()
	evs := f.sessionEvents(id)
	requireEvent(t, evs, event.ApprovalRefused, "frank", map[string]string{"reason": "self-approval"})
}

// TestRefusalFlood: a logged-in client looping on refused requests gets
// maxRecordedRefusals of them recorded, each with bounded values; the
// rest are counted in its logout. The old gateway recorded every one,
// with the client's 64 KiB address in full.
func TestRefusalFlood(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c, err := f.dialFrom("127.0.0.131", "alice")
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("h", 64<<10)
	const n = 200
	for i := 0; i < n; i++ {
		ok, _, err := c.SendRequest("tcpip-forward", true, gossh.Marshal(&tcpipForward{BindAddr: big, BindPort: uint32(i)}))
		if err != nil || ok {
			t.Fatalf("forward request %d = %v, %v; want refused", i, ok, err)
		}
	}
	c.Close()
	var logout event.Event
	waitFor(t, "logout", func() bool {
		var ok bool
		logout, ok = findEvent(f.gatewayEvents(event.Logout), event.Logout, map[string]string{"user": "alice"})
		return ok
	})
	if got, want := logout.Meta["refusals_unrecorded"], strconv.Itoa(n-maxRecordedRefusals); got != want {
		t.Errorf("logout refusals_unrecorded = %s; want %s", got, want)
	}
	recorded := 0
	for _, e := range f.gatewayEvents(event.ForwardDenied) {
		if e.Meta["user"] != "alice" {
			continue
		}
		recorded++
		if d := e.Meta["detail"]; len(d) > maxMetaValue+64 || !regexp.MustCompile(`^"listen h+"…\(6554\d bytes\)$`).MatchString(d) {
			t.Fatalf("detail of %d bytes (%.80q…); want a bounded prefix", len(d), d)
		}
	}
	if recorded != maxRecordedRefusals {
		t.Errorf("%d forward.denied recorded; want %d", recorded, maxRecordedRefusals)
	}
}

// TestConnectionRate: one source may open new connections at
// limits.connection_rate_per_source (burst connection_burst_per_source),
// even when it closes each at once: every connection costs a key
// exchange. Excess ones are closed before the greeting.
func TestConnectionRate(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.setLimits(t, func(l *config.Limits) { l.ConnectionRatePerSource, l.ConnectionBurstPerSource = 1, 3 })
	// Open and close connections until one is refused: the burst of 3,
	// plus one per second that passed meanwhile (tokens refill at 1/s).
	start := time.Now()
	admitted, refused := 0, false
	for i := 0; i < 100 && !refused; i++ {
		c := f.rawFrom(t, "127.0.0.141")
		if greeted(t, c) {
			admitted++
		} else {
			refused = true
		}
		c.Close()
	}
	elapsed := time.Since(start)
	if !refused || admitted < 3 || admitted > 3+int(elapsed.Seconds())+1 {
		t.Errorf("%d connections admitted in %s before a refusal (refused: %v); want the burst of 3 plus at most one per second", admitted, elapsed, refused)
	}
	if !greeted(t, f.rawFrom(t, "127.0.0.142")) {
		t.Error("another source refused")
	}
	d, _ := f.authFailuresFrom("127.0.0.141")
	if len(d) != 1 || d[0].Meta["reason"] != "too many new connections from this source (limits.connection_rate_per_source)" {
		t.Errorf("events from 127.0.0.141: %v", metas(d))
	}
}

// TestHostileSessionRequests: a terminal name and a signal name end up
// in recorded events and on the host; huge or control-character ones are
// refused. The old gateway accepted (and recorded) them whole.
func TestHostileSessionRequests(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c, err := f.dialFrom("127.0.0.151", "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, term := range []string{strings.Repeat("x", 100<<10), "xterm\x1b]0;pwned\x07"} {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RequestPty(term, 24, 80, gossh.TerminalModes{}); err == nil {
			t.Errorf("pty-req with TERM %.20q… accepted", term)
		}
		if err := s.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{}); err != nil {
			t.Errorf("a sane pty-req after a refused one: %v", err)
		}
		s.Close()
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("demo -- sleep 30"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{strings.Repeat("S", 10<<10), "INT\x1b[2J"} {
		if ok, err := s.SendRequest("signal", true, gossh.Marshal(&struct{ Name string }{name})); ok || err != nil {
			t.Errorf("signal %.20q… = %v, %v; want refused", name, ok, err)
		}
	}
	if ok, err := s.SendRequest("signal", true, gossh.Marshal(&struct{ Name string }{"TERM"})); !ok || err != nil {
		t.Errorf("signal TERM = %v, %v; want accepted", ok, err)
	}
}
