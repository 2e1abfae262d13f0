package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
	gossh "golang.org/x/crypto/ssh"
)

// loginCounter is a TCP relay in front of a host that counts the
// connections made to it (each one an upstream login) and can drop them
// all, as a host that goes away does.
type loginCounter struct {
	ln   net.Listener
	dest string
	wg   sync.WaitGroup

	mu       sync.Mutex
	accepted int
	open     map[net.Conn]net.Conn // client side → host side
}

// startLoginCounter relays 127.0.0.1:PORT to dest until the test ends.
func startLoginCounter(t testing.TB, dest string) *loginCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lc := &loginCounter{ln: ln, dest: dest, open: map[net.Conn]net.Conn{}}
	lc.wg.Add(1)
	go func() {
		defer lc.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", dest)
			if err != nil {
				c.Close()
				continue
			}
			lc.mu.Lock()
			lc.accepted++
			lc.open[c] = up
			lc.mu.Unlock()
			lc.wg.Add(2)
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				defer lc.wg.Done()
				io.Copy(dst, src)
				done <- struct{}{}
			}
			go pipe(up, c)
			go pipe(c, up)
			lc.wg.Add(1)
			go func() {
				defer lc.wg.Done()
				<-done
				c.Close()
				up.Close()
				lc.mu.Lock()
				delete(lc.open, c)
				lc.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		lc.dropAll()
		lc.wg.Wait()
	})
	return lc
}

// addr is the relay's address.
func (lc *loginCounter) addr() string { return lc.ln.Addr().String() }

// logins returns how many connections reached the host.
func (lc *loginCounter) logins() int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.accepted
}

// openConns returns how many connections are open now.
func (lc *loginCounter) openConns() int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return len(lc.open)
}

// dropAll closes every relayed connection.
func (lc *loginCounter) dropAll() {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for c, up := range lc.open {
		c.Close()
		up.Close()
	}
}

// countLogins reloads the gateway with host name's address pointing at a
// new loginCounter in front of the host (at dest, or else at the
// configured address), and returns it.
func (f *fixture) countLogins(t testing.TB, name string, dest ...string) *loginCounter {
	t.Helper()
	re := regexp.MustCompile(`(- \{name: ` + regexp.QuoteMeta(name) + `, address: ")([^"]+)(")`)
	m := re.FindStringSubmatch(f.yaml)
	if m == nil {
		t.Fatalf("no host %s in the config", name)
	}
	to := m[2]
	if len(dest) > 0 {
		to = dest[0]
	}
	lc := startLoginCounter(t, to)
	if _, err := f.reload(func(y string) string { return re.ReplaceAllString(y, "${1}"+lc.addr()+"${3}") }); err != nil {
		t.Fatal(err)
	}
	return lc
}

// processWith reports whether a process whose command line contains
// token runs on this machine (a zombie has an empty command line).
func processWith(token string) bool {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	self := fmt.Sprint(os.Getpid())
	for _, d := range dirs {
		if filepath.Base(d) == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err == nil && bytes.Contains(b, []byte(token)) {
			return true
		}
	}
	return false
}

// killProcessesWith kills the processes processWith finds for token
// (ones this test started on the host).
func killProcessesWith(token string) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(token)) {
			continue
		}
		var pid int
		if _, err := fmt.Sscan(filepath.Base(d), &pid); err == nil && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// otherSession returns the id of the recording that match selects and
// that is none of known (a sibling's); it fails the test when there is
// none.
func (f *fixture) otherSession(t *testing.T, match func(recorder.StartInfo) bool, known ...string) string {
	t.Helper()
	for _, id := range f.spy.find(match) {
		if !slices.Contains(known, id) {
			return id
		}
	}
	t.Fatalf("no recording to act on besides %v", known)
	return ""
}

// killSession has killer end session id with `kill` and waits until its
// client c was told and exited.
func (f *fixture) killSession(t *testing.T, killer, id string, c *sshtest.Client) {
	t.Helper()
	if res := f.run(killer, "kill", id, "--reason", "pool test"); res.Exit != 0 {
		t.Fatalf("kill %s: %+v", id, res)
	}
	c.Expect("session terminated by "+killer+": pool test", timeout)
	c.Wait()
}

// TestUpstreamPoolControlMasterOneLogin: the channels of one stock
// OpenSSH ControlMaster connection (execs, a terminal session, an sftp
// run) log in to the host once, the in-process host and OpenSSH's sshd
// alike; each channel is still its own recording.
func TestUpstreamPoolControlMasterOneLogin(t *testing.T) {
	sshtest.RequireSFTP(t)
	f := newFixture(t, fixtureOptions{sshd: true, noPublish: true})
	demo := f.countLogins(t, "demo")
	real := f.countLogins(t, "real")
	local := t.TempDir()
	randomFile(t, filepath.Join(local, "up.bin"), 16<<10, 5)

	mux := f.startMux(t, "alice", "demo")
	for i := 0; i < 3; i++ {
		if res := runClient(t, mux.client(false, "echo", fmt.Sprint("pooled-", i))); res.Exit != 0 || res.Stdout != fmt.Sprintf("pooled-%d\n", i) {
			t.Errorf("exec %d over the master: %+v", i, res)
		}
	}
	shell := mux.client(true)
	shell.Start(t)
	shell.Expect("demo$ ", timeout)
	shell.Send("echo tty-$((6*7))\r")
	shell.Expect("tty-42", timeout)
	shell.Send("exit\r")
	if got := shell.Wait(); got != 0 {
		t.Errorf("shell over the master exit = %d", got)
	}
	if res := sshtest.RunSFTP(t, mux.client(false), "put "+filepath.Join(local, "up.bin")+" pooled.bin\n"); res.Exit != 0 {
		t.Errorf("sftp over the master: %+v", res)
	}
	if n := demo.logins(); n != 1 {
		t.Errorf("demo: %d upstream logins for 5 channels of one client connection; want 1", n)
	}
	for kind, want := range map[string]int{"exec": 3, "shell": 1, "sftp": 1} {
		if ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Host == "demo" && i.Kind == kind }); len(ids) != want {
			t.Errorf("demo: %d %s recordings; want %d", len(ids), kind, want)
		}
	}

	// OpenSSH's sshd as the host: no command runs (this machine's root
	// login shell costs seconds per command), sftp sessions do.
	rmux := f.startMux(t, "alice", "real")
	for i := 0; i < 3; i++ {
		if res := sshtest.RunSFTP(t, rmux.client(false), "pwd\n"); res.Exit != 0 {
			t.Errorf("sftp %d to sshd over the master: %+v", i, res)
		}
	}
	if n := real.logins(); n != 1 {
		t.Errorf("sshd: %d upstream logins for 3 channels of one client connection; want 1", n)
	}
	if ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Host == "real" && i.Kind == "sftp" }); len(ids) != 3 {
		t.Errorf("sshd: %d sftp recordings; want 3", len(ids))
	}
}

// TestUpstreamPoolNotShared: two client connections never share an
// upstream login, whether they are one user's or two users'.
func TestUpstreamPoolNotShared(t *testing.T) {
	f := newFixture(t, fixtureOptions{noPublish: true})
	demo := f.countLogins(t, "demo")
	// One user, two connections open at once.
	m1 := f.startMux(t, "alice", "demo")
	m2 := f.startMux(t, "alice", "demo")
	// A second user.
	m3 := f.startMux(t, "bob", "demo")
	for i, c := range []struct {
		user string
		mux  *muxConn
	}{{"alice", m1}, {"alice", m2}, {"bob", m3}, {"alice", m1}, {"alice", m2}, {"bob", m3}} {
		if res := runClient(t, c.mux.client(false, "echo", "ok")); res.Exit != 0 {
			t.Errorf("exec %d by %s: %+v", i, c.user, res)
		}
	}
	if n := demo.logins(); n != 3 {
		t.Errorf("%d upstream logins for three client connections; want 3 (one each)", n)
	}
	// Plain connections, one after another: each logs in itself.
	for i := 0; i < 2; i++ {
		if res := f.run("alice", "demo", "--", "true"); res.Exit != 0 {
			t.Errorf("plain exec %d: %+v", i, res)
		}
	}
	if n := demo.logins(); n != 5 {
		t.Errorf("%d upstream logins after two more client connections; want 5", n)
	}
}

// TestUpstreamPoolKillOneChannel: killing one session ends exactly that
// channel's remote process, a terminal session's and a command's
// without a terminal; the sibling channels on the same upstream login
// keep working.
func TestUpstreamPoolKillOneChannel(t *testing.T) {
	f := newFixture(t, fixtureOptions{editConfig: killRole, noPublish: true})
	demo := f.countLogins(t, "demo")
	mux := f.startMux(t, "bob", "demo")

	sibling := mux.client(true)
	sibling.Start(t)
	sibling.Expect("demo$ ", timeout)
	shells := f.spy.find(func(i recorder.StartInfo) bool { return i.User == "bob" && i.Kind == "shell" })
	if len(shells) != 1 {
		t.Fatalf("bob's shells: %v", shells)
	}
	siblingID := shells[0]

	tty := mux.client(true)
	tty.Start(t)
	tty.Expect("demo$ ", timeout)
	tty.Send(hupDefault + "sleep 31337; echo after-$((40+2))\r")
	waitFor(t, "the terminal's sleep", func() bool { return processWith("sleep\x0031337") })

	exec := mux.client(false, hupDefault+"sleep 31338; echo after-exec")
	exec.Start(t)
	waitFor(t, "the command's sleep", func() bool { return processWith("sleep\x0031338") })

	for _, c := range []struct {
		client *sshtest.Client
		kind   string
		token  string
	}{{tty, "shell", "sleep\x0031337"}, {exec, "exec", "sleep\x0031338"}} {
		id := f.otherSession(t, func(i recorder.StartInfo) bool { return i.User == "bob" && i.Kind == c.kind }, siblingID)
		f.killSession(t, "alice", id, c.client)
		waitFor(t, c.kind+"'s remote process ended", func() bool { return !processWith(c.token) })
	}
	if strings.Contains(tty.Output(), "after-42") || strings.Contains(exec.Output(), "after-exec") {
		t.Errorf("a killed command ran on: %q / %q", tty.Output(), exec.Output())
	}
	// The sibling on the same login is untouched, and a new channel
	// still uses that login.
	sibling.Send("echo sibling-$((6*7))\r")
	sibling.Expect("sibling-42", timeout)
	if res := runClient(t, mux.client(false, "echo", "next")); res.Exit != 0 || res.Stdout != "next\n" {
		t.Errorf("exec after the kills: %+v", res)
	}
	sibling.Send("exit\r")
	if got := sibling.Wait(); got != 0 {
		t.Errorf("sibling exit = %d", got)
	}
	if n := demo.logins(); n != 1 {
		t.Errorf("%d upstream logins; want 1 (the kills closed channels, not the connection)", n)
	}
}

// TestUpstreamPoolCloses: the pooled login closes when the client
// connection ends and, while it stays, after the idle period; no
// goroutine is left behind.
func TestUpstreamPoolCloses(t *testing.T) {
	checkGoroutines(t)
	f := newFixture(t, fixtureOptions{noPublish: true})
	f.srv.poolIdle.Store(int64(300 * time.Millisecond))
	demo := f.countLogins(t, "demo")

	// Idle: the master stays, the login goes; the next channel dials.
	mux := f.startMux(t, "alice", "demo")
	if res := runClient(t, mux.client(false, "echo", "one")); res.Exit != 0 {
		t.Fatalf("exec: %+v", res)
	}
	waitFor(t, "the idle login closed", func() bool { return demo.openConns() == 0 })
	if n := f.connCount(); n != 1 {
		t.Errorf("%d client connections; want the master's", n)
	}
	if res := runClient(t, mux.client(false, "echo", "two")); res.Exit != 0 || res.Stdout != "two\n" {
		t.Errorf("exec after the idle close: %+v", res)
	}
	if n := demo.logins(); n != 2 {
		t.Errorf("%d logins; want 2", n)
	}

	waitFor(t, "the idle login closed again", func() bool { return demo.openConns() == 0 })

	// The client connection ends: its logins close at once (long idle).
	f.srv.poolIdle.Store(int64(time.Hour))
	mux2 := f.startMux(t, "bob", "demo")
	if res := runClient(t, mux2.client(false, "echo", "three")); res.Exit != 0 {
		t.Fatalf("exec: %+v", res)
	}
	if n := demo.openConns(); n != 1 {
		t.Errorf("%d upstream connections open while bob's master lives idle; want 1", n)
	}
	if err := mux2.exit(); err != nil {
		t.Fatalf("ssh -O exit: %v", err)
	}
	waitFor(t, "the client's upstream login closed", func() bool { return demo.openConns() == 0 })
}

// TestUpstreamPoolRedialsAfterHostDrop: when the host drops the pooled
// connection, the next channel logs in anew and works.
func TestUpstreamPoolRedialsAfterHostDrop(t *testing.T) {
	f := newFixture(t, fixtureOptions{noPublish: true})
	demo := f.countLogins(t, "demo")
	mux := f.startMux(t, "alice", "demo")
	if res := runClient(t, mux.client(false, "echo", "before")); res.Exit != 0 {
		t.Fatalf("exec: %+v", res)
	}
	for i := 0; i < 2; i++ {
		demo.dropAll()
		// No wait: the channel may find the dead login before the pool
		// noticed, and must then log in again.
		if res := runClient(t, mux.client(false, "echo", "after")); res.Exit != 0 || res.Stdout != "after\n" {
			t.Errorf("exec after drop %d: %+v", i, res)
		}
	}
	if n := demo.logins(); n != 3 {
		t.Errorf("%d logins; want 3", n)
	}
}

// TestUpstreamPoolFollowsReload: a reload that moves the host to another
// address, pins another host key or takes the host from the user is
// never served by the login made before it.
func TestUpstreamPoolFollowsReload(t *testing.T) {
	f := newFixture(t, fixtureOptions{noPublish: true})
	first := f.countLogins(t, "demo")
	mux := f.startMux(t, "bob", "demo")
	if res := runClient(t, mux.client(false, "echo", "a")); res.Exit != 0 {
		t.Fatalf("exec: %+v", res)
	}

	// Another address: the next channel logs in there; the old login
	// closes.
	second := f.countLogins(t, "demo", f.target.Addr())
	waitFor(t, "the login to the old address closed", func() bool { return first.openConns() == 0 })
	if res := runClient(t, mux.client(false, "echo", "b")); res.Exit != 0 || res.Stdout != "b\n" {
		t.Errorf("exec after the address change: %+v", res)
	}
	if a, b := first.logins(), second.logins(); a != 1 || b != 1 {
		t.Errorf("logins: old address %d, new %d; want 1, 1", a, b)
	}

	// Access taken away while the login is idle: bob's master stays
	// connected, the login closes, and nothing more reaches the host.
	if res := runClient(t, mux.client(false, "echo", "c")); res.Exit != 0 {
		t.Fatalf("exec: %+v", res)
	}
	if n := second.openConns(); n != 1 {
		t.Fatalf("%d logins open; want the idle one", n)
	}
	revoke := `staging: {connect: ["demo"]}`
	if _, err := f.reload(replaceOnce(t, revoke, `staging: {connect: ["nothing"]}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revoked user's login closed", func() bool { return second.openConns() == 0 })
	if res := runClient(t, mux.client(false, "echo", "d")); res.Exit == 0 {
		t.Errorf("exec after revocation: %+v", res)
	}
	if n := second.logins(); n != 1 {
		t.Errorf("%d logins after revocation; want 1", n)
	}
	if _, err := f.reload(replaceOnce(t, `staging: {connect: ["nothing"]}`, revoke)); err != nil {
		t.Fatal(err)
	}

	// Another pinned host key: the host's real key no longer matches;
	// the kept login must not serve the channel.
	if res := runClient(t, mux.client(false, "echo", "e")); res.Exit != 0 {
		t.Fatalf("exec after access restored: %+v", res)
	}
	re := regexp.MustCompile(`(- \{name: demo, address: "[^"]+", host_key: ")([^"]+)(")`)
	other := regexp.MustCompile(`- \{name: badkey, address: "[^"]+", host_key: "([^"]+)"`).FindStringSubmatch(f.yaml)
	if other == nil || !re.MatchString(f.yaml) {
		t.Fatal("config lines not found")
	}
	if _, err := f.reload(func(y string) string { return re.ReplaceAllString(y, "${1}"+other[1]+"${3}") }); err != nil {
		t.Fatal(err)
	}
	if res := runClient(t, mux.client(false, "echo", "f")); res.Exit == 0 || !strings.Contains(res.Stderr, "host key") {
		t.Errorf("exec after the host key change: %+v; want a host key mismatch", res)
	}
	if n := second.logins(); n != 3 {
		t.Errorf("%d logins to the new address; want 3 (the refused one dialled anew)", n)
	}
	waitFor(t, "no login left open", func() bool { return second.openConns() == 0 })
}

// TestUpstreamPoolKillRealSSHD: against OpenSSH's sshd (logged in as
// this machine's root), killing one session over a shared login ends
// that session at once and leaves its siblings working on the same
// login. A terminal session's process ends (sshd hangs up the pty when
// its channel closes). A command without a terminal keeps running on the
// host: sshd only closes its pipes and ignores the "signal" request for a
// root login (no privilege separation child), exactly as when the bastion
// closed the whole connection before it kept logins; the test pins that
// behaviour so a change in it is noticed. (sshd then keeps that channel
// open: the session says so and the login is retired, see
// TestHostKeptChannelOpenShared.)
func TestUpstreamPoolKillRealSSHD(t *testing.T) {
	f := newFixture(t, fixtureOptions{sshd: true, editConfig: killRole, noPublish: true})
	real := f.countLogins(t, "real")
	mux := f.startMux(t, "alice", "real")
	sibling := mux.client(true)
	sibling.Start(t)
	sibling.Send("echo sib-$((6*7))\r")
	sibling.Expect("sib-42", timeout)
	shells := f.spy.find(func(i recorder.StartInfo) bool { return i.Host == "real" && i.Kind == "shell" })
	if len(shells) != 1 {
		t.Fatalf("shells on real: %v", shells)
	}

	kill := func(c *sshtest.Client, kind, token string) {
		t.Helper()
		waitFor(t, kind+"'s sleep", func() bool { return processWith(token) })
		id := f.otherSession(t, func(i recorder.StartInfo) bool { return i.Host == "real" && i.Kind == kind }, shells[0])
		f.killSession(t, "alice", id, c)
	}

	tty := mux.client(true)
	tty.Start(t)
	tty.Send("sleep 31339\r")
	kill(tty, "shell", "sleep\x0031339")
	waitFor(t, "the terminal's remote sleep ended", func() bool { return !processWith("sleep\x0031339") })

	t.Cleanup(func() { killProcessesWith("sleep\x0031341") })
	exec := mux.client(false, "sleep 31341; echo after-exec")
	exec.Start(t)
	kill(exec, "exec", "sleep\x0031341")
	if !processWith("sleep\x0031341") {
		t.Log("sshd ended the command without a terminal: update the doc comment of hangupSignal")
	}

	sibling.Send("echo sib-$((7*8))\r")
	sibling.Expect("sib-56", timeout)
	sibling.Send("exit\r")
	sibling.Wait()
	if n := real.logins(); n != 1 {
		t.Errorf("%d logins; want 1 (a kill closes its channel, not the shared login)", n)
	}
}

// TestUpstreamPoolRetriesDeadLogin: a channel that finds its kept login
// dead before the pool noticed (the host went away between two channels)
// logs in anew instead of failing.
func TestUpstreamPoolRetriesDeadLogin(t *testing.T) {
	f := newFixture(t, fixtureOptions{noPublish: true})
	demo := f.countLogins(t, "demo")
	h, _ := f.srv.cfg().Host("demo")
	cs := &connState{pool: newUpstreamPool(f.srv)}
	defer cs.pool.close()
	first, err := f.srv.leaseUpstream(context.Background(), cs, h)
	if err != nil {
		t.Fatal(err)
	}
	first.release()
	l, err := f.srv.leaseUpstream(context.Background(), cs, h)
	if err != nil {
		t.Fatal(err)
	}
	defer l.release()
	if !l.reused {
		t.Fatal("the second lease did not reuse the login")
	}
	l.client().Close() // dead, whether or not the pool noticed yet
	if err := l.open(context.Background(), f.srv, cs, func(c *gossh.Client) error {
		s, err := c.NewSession()
		if err == nil {
			s.Close()
		}
		return err
	}); err != nil {
		t.Fatalf("open on a dead kept login: %v", err)
	}
	if n := demo.logins(); n != 2 {
		t.Errorf("%d logins; want 2", n)
	}
	// A host refusing the channel is no dead login: no new login.
	if err := l.open(context.Background(), f.srv, cs, func(c *gossh.Client) error {
		_, _, err := c.OpenChannel("no-such-channel", nil)
		return err
	}); err == nil {
		t.Error("an unknown channel type was accepted")
	}
	if n := demo.logins(); n != 2 {
		t.Errorf("%d logins after a refused channel; want 2", n)
	}
}

// TestUpstreamPoolClientClosesOneChannel: a client closing one of its
// channels (x/crypto, one connection) ends that channel's remote process
// on the host; its sibling keeps working on the same login.
func TestUpstreamPoolClientClosesOneChannel(t *testing.T) {
	f := newFixture(t, fixtureOptions{noPublish: true})
	demo := f.countLogins(t, "demo")
	c, err := f.dial("alice"+TargetSep+"demo", gossh.PublicKeys(sshtestSigner(t, f.keys["alice"])))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killProcessesWith("sleep\x0031343") })
	for _, pty := range []bool{true, false} {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if pty {
			if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Start(hupDefault + "sleep 31343"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the remote sleep", func() bool { return processWith("sleep\x0031343") })
		s.Close()
		waitFor(t, fmt.Sprintf("the remote sleep (pty %v) ended with its channel", pty), func() bool { return !processWith("sleep\x0031343") })
		sib, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if out, err := sib.Output("echo sibling"); err != nil || string(out) != "sibling\n" {
			t.Errorf("sibling after closing a channel: %q, %v", out, err)
		}
	}
	if n := demo.logins(); n != 1 {
		t.Errorf("%d logins; want 1", n)
	}
}

// TestUpstreamPoolReviewerTerminatesOne: two four-eyes sessions over one
// ControlMaster connection share the upstream login once approved; the
// reviewer terminating one ends exactly that session and its remote
// process; the other, approved and watched on its own, goes on.
func TestUpstreamPoolReviewerTerminatesOne(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true, noPublish: true})
	prod := f.countLogins(t, "demo-prod")
	mux := f.startMux(t, "alice", "demo-prod")
	start := func(reason string) (*sshtest.Client, string, *sshtest.Client) {
		c := mux.client(true)
		c.Start(t)
		c.Expect("Reason for this session: ", timeout)
		c.Send(reason + "\r")
		m := idPattern.FindStringSubmatch(c.Expect(idPattern, timeout))
		dave := f.approve(t, "dave", m[1])
		c.Expect("demo$ ", timeout)
		return c, m[1], dave
	}
	one, _, daveOne := start("first")
	two, _, daveTwo := start("second")
	t.Cleanup(func() { killProcessesWith("sleep\x0031344") })
	one.Send(hupDefault + "sleep 31344\r")
	waitFor(t, "the remote sleep", func() bool { return processWith("sleep\x0031344") })

	daveOne.Send("\x1dt")
	one.Expect("session terminated by dave", timeout)
	if got := one.Wait(); got != statusLost {
		t.Errorf("terminated session exit = %d; want %d", got, statusLost)
	}
	daveOne.Wait()
	waitFor(t, "the terminated session's remote sleep ended", func() bool { return !processWith("sleep\x0031344") })

	two.Send("echo still-$((6*7))\r")
	two.Expect("still-42", timeout)
	daveTwo.Expect("still-42", timeout)
	two.Send("exit\r")
	two.Wait()
	daveTwo.Wait()
	if n := prod.logins(); n != 1 {
		t.Errorf("%d logins for two approved sessions of one client connection; want 1", n)
	}
}

// hupDefault prefixes a remote command so that it dies of SIGHUP even when
// the test runs with SIGHUP ignored (nohup, some CI runners): an ignored
// signal is inherited through the in-process host's shell, and these
// tests see a session's end by its process ending on the hangup, as
// under a login whose hangup is not ignored.
const hupDefault = "env --default-signal=HUP "
