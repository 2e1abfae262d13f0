package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
)

// reconfigure replaces the fixture's gateway by one serving its
// configuration as changed by edit (then validated); the fixture's
// cleanup stops the new one. Tests use it for policies and users the
// shared template does not offer.
func (f *fixture) reconfigure(t testing.TB, edit func(c *config.Config)) {
	t.Helper()
	f.restart(t, edit, true)
}

// reconfigureUnchecked is reconfigure without validation, for states
// validation refuses but the gateway must withstand anyway (a key shared
// by two users).
func (f *fixture) reconfigureUnchecked(t testing.TB, edit func(c *config.Config)) {
	t.Helper()
	f.restart(t, edit, false)
}

// restart closes the gateway, edits its configuration and starts a new
// one on a new port.
func (f *fixture) restart(t testing.TB, edit func(c *config.Config), validate bool) {
	t.Helper()
	opts := f.srv.opts // recorder, audit, logger: as the fixture chose
	f.srv.Close()
	if err := <-f.serveErr; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v; want ErrServerClosed", err)
	}
	// Until the new server runs, the fixture's cleanup must not wait
	// for the old one's Serve again.
	closed := make(chan error, 1)
	closed <- ErrServerClosed
	f.serveErr = closed
	edit(f.cfg)
	if err := f.cfg.Validate(); validate && err != nil {
		t.Fatalf("edited configuration: %v", err)
	}
	srv, err := New(f.cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	f.srv, f.addr, f.serveErr = srv, l.Addr().String(), serveErr
	go func() { serveErr <- srv.Serve(l) }()
}

// addUser adds a user with a new key (or, with sameKeyAs, another user's
// key: a key shared between accounts) to c.
func (f *fixture) addUser(t *testing.T, c *config.Config, name, sameKeyAs string, roles ...string) {
	t.Helper()
	if sameKeyAs != "" {
		f.keys[name] = f.keys[sameKeyAs]
	} else {
		f.keys[name], _ = sshtest.Keygen(t, filepath.Join(f.dir, "keys"), name)
	}
	pub := sshtest.Signer(t, f.keys[name]).PublicKey()
	c.Users = append(c.Users, config.User{Name: name, Keys: []string{authorizedKey(pub)}, Roles: roles})
}

// requestOn starts alice's interactive four-eyes session on host, gives
// the reason and returns her client and the session id.
func (f *fixture) requestOn(t *testing.T, host, reason string) (*sshtest.Client, string) {
	t.Helper()
	alice := f.client("alice", true, host)
	alice.Start(t)
	alice.Expect("Reason for this session: ", timeout)
	alice.Send(reason + "\r")
	m := idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))
	alice.Expect("join "+m[1], timeout)
	return alice, m[1]
}

// connCount returns how many SSH connections the gateway holds.
func (f *fixture) connCount() int {
	f.srv.mu.Lock()
	defer f.srv.mu.Unlock()
	return len(f.srv.conns)
}

// countEvents returns how many events of typ by actor evs holds.
func countEvents(evs []event.Event, typ event.Type, actor string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ && e.Actor == actor {
			n++
		}
	}
	return n
}

// relay is a TCP forwarder placed in front of a host: it counts the
// connections it accepted, which tells a test whether the bastion
// reached the host at all.
type relay struct {
	ln       net.Listener
	target   string
	accepted atomic.Int32
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

// startRelay forwards a new local port to target until the test ends.
func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target}
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for _, c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

// serve accepts until the listener closes; each connection is copied
// both ways by two goroutines that end when either side closes.
func (r *relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.accepted.Add(1)
		u, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, c, u)
		r.mu.Unlock()
		r.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer r.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(u, c)
		go pipe(c, u)
	}
}

// TestFourEyesCountTwo: with count 2, one approval connects nothing, the
// same reviewer approving again (second connection) does not count
// twice, and a second distinct reviewer completes the approval.
func TestFourEyesCountTwo(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	rl := startRelay(t, f.target.Addr())
	f.reconfigure(t, func(c *config.Config) {
		c.ApprovalPolicies[0].Count = 2
		f.addUser(t, c, "frank", "", "reviewer")
		h, _ := c.Host("demo-prod")
		h.Address = rl.addr()
	})
	alice, id := f.request(t, "two pairs of eyes")
	listing := func(want string) {
		t.Helper()
		res := f.run("frank", "sessions")
		if res.Exit != 0 || !regexp.MustCompile(regexp.QuoteMeta(id)+`\s+alice\s+demo-prod\s+root\s+pending\s.*\s`+want+`\s+two pairs of eyes`).MatchString(res.Stdout) {
			t.Errorf("frank sessions: want %s pending:\n%+v", want, res)
		}
	}

	dave := f.approve(t, "dave", id)
	dave.Expect("waiting for more approvals before connecting (1 of 2)", timeout)
	alice.Expect("dave approved (1 of 2)", timeout)
	listing("1/2")

	// dave again, from a second connection: still one approval.
	dave2 := f.review(t, "dave", id)
	dave2.Expect("approvals 1 of 2 (dave)", timeout)
	dave2.Expect("Approve this session? [y/n] ", timeout)
	dave2.Send("y\r")
	dave2.Expect("watching as observer", timeout)
	dave2.Expect("waiting for more approvals before connecting (1 of 2)", timeout)
	alice.Expect("dave approved (1 of 2)", timeout)
	listing("1/2")
	if n := rl.accepted.Load(); n != 0 {
		t.Fatalf("the host was reached %d times with one reviewer's approval", n)
	}
	if out := alice.Output(); strings.Contains(out, "demo$") || strings.Contains(out, "connected to") {
		t.Fatalf("alice reached the host with one approval:\n%q", out)
	}

	frank := f.approve(t, "frank", id)
	alice.Expect("approved by dave, frank; connected to demo-prod", timeout)
	alice.Expect("demo$ ", timeout)
	alice.Send("echo two-$((1+1))\r")
	for _, c := range []*sshtest.Client{alice, dave, dave2, frank} {
		c.Expect("two-2", timeout)
	}
	alice.Send("exit\r")
	for _, c := range []*sshtest.Client{dave, dave2, frank} {
		c.Expect("session ended: alice's shell exited with status 0", timeout)
		c.Wait()
	}
	if got := alice.Wait(); got != 0 {
		t.Errorf("alice exit = %d; want 0", got)
	}
	if n := rl.accepted.Load(); n != 1 {
		t.Errorf("host connections = %d; want 1", n)
	}

	evs := f.sessionEvents(id)
	if n := countEvents(evs, event.ApprovalGrant, "dave"); n != 2 {
		t.Errorf("%d approval.grant by dave; want 2 (recorded, counted once)", n)
	}
	for _, e := range evs {
		if e.Type == event.ApprovalGrant && e.Actor == "dave" && e.Meta["approvals"] != "1" {
			t.Errorf("dave's approval counted as %s", e.Meta["approvals"])
		}
	}
	requireEvent(t, evs, event.ApprovalGrant, "frank", map[string]string{"approvals": "2", "count": "2"})
	requireEvent(t, evs, event.ApprovalRequest, "alice", map[string]string{"count": "2", "approvers": "dave,frank"})
	if end := evs[len(evs)-1]; end.Type != event.SessionEnd || end.Meta["approvers"] != "dave,frank" {
		t.Errorf("session.end = %s %v; want approvers dave,frank", end.Type, end.Meta)
	}
	if err := event.Verify(evs); err != nil {
		t.Errorf("chain: %v", err)
	}
}

// TestFourEyesCountTwoSharedKey: two reviewer accounts holding the same
// key are one person: the second account's approval is refused and
// does not make a second pair of eyes. (Validation refuses such a
// configuration; the gateway withstands it anyway.)
func TestFourEyesCountTwoSharedKey(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	rl := startRelay(t, f.target.Addr())
	f.reconfigureUnchecked(t, func(c *config.Config) {
		c.ApprovalPolicies[0].Count = 2
		f.addUser(t, c, "davealt", "dave", "reviewer")
		f.addUser(t, c, "frank", "", "reviewer")
		h, _ := c.Host("demo-prod")
		h.Address = rl.addr()
	})
	alice, id := f.request(t, "shared key")
	dave := f.approve(t, "dave", id)
	alice.Expect("dave approved (1 of 2)", timeout)

	alt := f.review(t, "davealt", id)
	alt.Expect("Approve this session? [y/n] ", timeout)
	alt.Send("y\r")
	alt.Expect("approval refused: your key already approved session "+id+" under another name; a second person must approve", timeout)
	if got := alt.Wait(); got != 1 {
		t.Errorf("davealt exit = %d; want 1", got)
	}
	if res := f.run("frank", "sessions"); !strings.Contains(res.Stdout, "1/2") {
		t.Errorf("frank sessions after a shared-key approval: want 1/2\n%+v", res)
	}
	if n := rl.accepted.Load(); n != 0 {
		t.Fatalf("one key's two approvals reached the host (%d connections)", n)
	}

	frank := f.approve(t, "frank", id)
	alice.Expect("approved by dave, frank; connected to demo-prod", timeout)
	alice.Send("exit\r")
	alice.Wait()
	for _, c := range []*sshtest.Client{dave, frank} {
		c.Wait()
	}
	evs := f.sessionEvents(id)
	requireEvent(t, evs, event.ApprovalRefused, "davealt", map[string]string{"reason": "key already approved under another name"})
	if n := countEvents(evs, event.ApprovalGrant, "davealt"); n != 0 {
		t.Errorf("%d approval.grant by davealt; want 0", n)
	}
	if _, ok := findEvent(f.gatewayEvents(event.AccessDenied), event.AccessDenied, map[string]string{"user": "davealt", "session": id}); !ok {
		t.Error("no access.denied for davealt in the gateway stream")
	}
	requireEvent(t, evs, event.ApprovalGrant, "frank", map[string]string{"approvals": "2"})
	if end := evs[len(evs)-1]; end.Type != event.SessionEnd || end.Meta["approvers"] != "dave,frank" {
		t.Errorf("session.end approvers = %q; want dave,frank", end.Meta["approvers"])
	}
}

// TestFourEyesReviewerScope: a reviewer for staging only neither sees
// nor joins a production session, a production reviewer does not see
// staging ones, and a user without any reviewer role is refused
// outright; every refusal is recorded.
func TestFourEyesReviewerScope(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	f.reconfigure(t, func(c *config.Config) {
		p := c.ApprovalPolicies[0]
		p.Hosts = []string{"demo"} // erin (approve: demo) reviews these
		c.ApprovalPolicies = append(c.ApprovalPolicies, p)
	})
	alice, prodID := f.requestOn(t, "demo-prod", "prod secret reason")
	aliceStg, stgID := f.requestOn(t, "demo", "staging reason")

	for _, tt := range []struct {
		user         string
		sees, hidden string
	}{
		{"erin", stgID, prodID},
		{"dave", prodID, stgID},
	} {
		res := f.run(tt.user, "sessions")
		if res.Exit != 0 || !strings.Contains(res.Stdout, tt.sees) || strings.Contains(res.Stdout, tt.hidden) {
			t.Errorf("%s sessions: want %s listed and %s not:\n%+v", tt.user, tt.sees, tt.hidden, res)
		}
	}
	if res := f.run("erin", "sessions"); strings.Contains(res.Stdout, "demo-prod") || strings.Contains(res.Stdout, "prod secret") {
		t.Errorf("erin's listing mentions the production session:\n%s", res.Stdout)
	}

	madeUp := "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	refusals := []struct {
		name, user, id string
		args           []string
		want           string
	}{
		// A session the reviewer may not see is answered as one that
		// does not exist: join is no existence oracle.
		{"staging reviewer joins prod", "erin", prodID, nil, "foureyes: no session " + prodID + " is waiting for review or running\n"},
		{"staging reviewer joins prod as peer", "erin", prodID, []string{"--mode", "peer"}, "foureyes: no session " + prodID + " is waiting for review or running\n"},
		{"prod reviewer joins staging", "dave", stgID, nil, "foureyes: no session " + stgID + " is waiting for review or running\n"},
		{"made-up id, same answer", "erin", madeUp, nil, "foureyes: no session " + madeUp + " is waiting for review or running\n"},
		{"no reviewer role", "bob", prodID, nil, "foureyes: join denied for bob: no reviewer role\n"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			res := f.run(tt.user, append([]string{"join", tt.id}, tt.args...)...)
			if res.Exit != 1 || res.Stdout != "" || res.Stderr != tt.want {
				t.Errorf("got %+v; want exit 1 and %q", res, tt.want)
			}
		})
	}
	// The same refusals with a terminal show nothing of the session.
	erin := f.review(t, "erin", prodID)
	if got := erin.Wait(); got != 1 {
		t.Errorf("erin's interactive join exit = %d; want 1", got)
	}
	for _, leak := range []string{"prod secret", "alice", "demo-prod", "Approve"} {
		if strings.Contains(erin.Output(), leak) {
			t.Errorf("erin's refused join shows %q:\n%q", leak, erin.Output())
		}
	}
	if res := f.run("bob", "sessions"); res.Exit != 1 || res.Stderr != "foureyes: sessions denied for bob: no reviewer role\n" {
		t.Errorf("bob sessions: %+v", res)
	}

	// erin's entitlement is real: she approves the staging session.
	erinOK := f.approve(t, "erin", stgID)
	aliceStg.Expect("approved by erin; connected to demo", timeout)
	aliceStg.Expect("demo$ ", timeout)
	if res := f.run("erin", "sessions"); !strings.Contains(res.Stdout, stgID) || !strings.Contains(res.Stdout, "active") || strings.Contains(res.Stdout, prodID) {
		t.Errorf("erin sessions while watching: %+v", res)
	}
	aliceStg.Send("exit\r")
	aliceStg.Wait()
	erinOK.Wait()
	alice.Send("\x03")
	alice.Expect("request cancelled: cancelled by alice", timeout)
	alice.Wait()

	prod := f.sessionEvents(prodID)
	if n := countEvents(prod, event.ApprovalRefused, "erin"); n != 3 {
		t.Errorf("%d approval.refused by erin in the production session; want 3 (%v)", n, types(prod))
	}
	for _, e := range prod {
		if (e.Actor == "erin" || e.Actor == "bob") && e.Type != event.ApprovalRefused {
			t.Errorf("production session records %s by %s", e.Type, e.Actor)
		}
	}
	requireEvent(t, prod, event.ApprovalRefused, "bob", map[string]string{"reason": "join requires a role with approve"})
	requireEvent(t, f.sessionEvents(stgID), event.ApprovalRefused, "dave", map[string]string{"reason": "no reviewer role for the session's host"})
	denied := f.gatewayEvents(event.AccessDenied)
	for _, want := range []map[string]string{
		{"user": "erin", "session": prodID, "reason": "no reviewer role for the session's host"},
		{"user": "dave", "session": stgID, "reason": "no reviewer role for the session's host"},
		{"user": "bob", "command": "join " + prodID, "reason": "join requires a role with approve"},
		{"user": "bob", "command": "sessions", "reason": "sessions requires a role with approve"},
	} {
		if _, ok := findEvent(denied, event.AccessDenied, want); !ok {
			t.Errorf("no access.denied with %v in the gateway stream", want)
		}
	}
}

// TestFourEyesUndecidedJoins: reviewers who join a pending session and
// leave without deciding, in every way a person can, do not end it; a
// later reviewer still approves it.
func TestFourEyesUndecidedJoins(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	alice, id := f.request(t, "undecided")
	leaves := []struct {
		name  string
		steps func(c *sshtest.Client)
		kill  bool
	}{
		{"ctrl-c at the prompt", func(c *sshtest.Client) { c.Send("\x03") }, false},
		{"ctrl-d at the prompt", func(c *sshtest.Client) { c.Send("\x04") }, false},
		{"esc then ctrl-c at the prompt", func(c *sshtest.Client) { c.Send("\x1b"); c.Send("\x03") }, false},
		{"ctrl-c at the denial note", func(c *sshtest.Client) {
			c.Send("n\r")
			c.Expect("Reason for denying", timeout)
			c.Send("\x03")
		}, false},
		{"ssh killed at the prompt", func(c *sshtest.Client) {}, true},
		{"ssh killed at the denial note", func(c *sshtest.Client) {
			c.Send("n\r")
			c.Expect("Reason for denying", timeout)
			c.Send("half a note")
		}, true},
	}
	for _, tt := range leaves {
		t.Run(tt.name, func(t *testing.T) {
			dave := f.review(t, "dave", id)
			dave.Expect("Approve this session? [y/n] ", timeout)
			tt.steps(dave)
			if tt.kill {
				dave.Close()
			} else {
				dave.Expect("you left without deciding; the session still waits for review", timeout)
				if got := dave.Wait(); got != 1 {
					t.Errorf("dave exit = %d; want 1", got)
				}
			}
			waitFor(t, "only alice connected", func() bool { return f.connCount() == 1 })
			if res := f.run("dave", "sessions"); !regexp.MustCompile(regexp.QuoteMeta(id) + `\s+alice\s.*\spending\s.*\s0/1\s`).MatchString(res.Stdout) {
				t.Fatalf("sessions after the undecided join: want %s pending 0/1:\n%+v", id, res)
			}
		})
	}
	if out := alice.Output(); strings.Contains(out, "denied") || strings.Contains(out, "cancelled") || strings.Contains(out, "approved") {
		t.Fatalf("alice was told of a decision nobody made:\n%q", out)
	}
	dave := f.approve(t, "dave", id)
	alice.Expect("approved by dave; connected to demo-prod", timeout)
	alice.Expect("demo$ ", timeout)
	alice.Send("exit\r")
	if got := alice.Wait(); got != 0 {
		t.Errorf("alice exit = %d; want 0", got)
	}
	dave.Wait()
	evs := f.sessionEvents(id)
	for _, typ := range []event.Type{event.ApprovalDeny, event.ApprovalCancel, event.ApprovalExpire} {
		if _, ok := findEvent(evs, typ, nil); ok {
			t.Errorf("undecided joins recorded %s", typ)
		}
	}
	if n := countEvents(evs, event.ApprovalGrant, "dave"); n != 1 {
		t.Errorf("%d approval.grant; want 1", n)
	}
	// Every view is recorded, and each undecided one says so.
	if n := countEvents(evs, event.ApprovalView, "dave"); n != 2*len(leaves)+1 {
		t.Errorf("%d approval.view by dave; want %d (%v)", n, 2*len(leaves)+1, types(evs))
	}
	left := 0
	for _, e := range evs {
		if e.Type == event.ApprovalView && e.Meta["outcome"] == "left without deciding" {
			left++
		}
	}
	if left != len(leaves) {
		t.Errorf("%d views left without deciding; want %d", left, len(leaves))
	}
}

// TestFourEyesDenialNote: the reviewer's note reaches alice verbatim but
// sanitized, her ssh exits non-zero, nothing ran on the host, and the
// denial is in the recording.
func TestFourEyesDenialNote(t *testing.T) {
	const typed = "see \x1b[31mrunbook\x1b[0m §4.2\u009b2J \u202eask Ünal\r"
	const want = "see runbook §4.22J ask Ünal" // C1 and bidi refused at the prompt
	tests := []struct {
		name string
		exec bool
	}{
		{"interactive", false},
		{"exec", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{fourEyes: true})
			var alice *sshtest.Client
			var id string
			if tt.exec {
				alice = f.client("alice", false, "demo-prod", "--", "touch ran-anyway")
				alice.Options = []string{"-o", "SetEnv=" + reasonEnv + "=\"quick fix\""}
				alice.Start(t)
				id = idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))[1]
			} else {
				alice, id = f.request(t, "quick fix")
			}
			dave := f.review(t, "dave", id)
			dave.Expect("Approve this session? [y/n] ", timeout)
			dave.Send("n\r")
			dave.Expect("Reason for denying (optional, shown to alice; at most 200 characters): ", timeout)
			dave.Send(typed)
			dave.Expect("you denied session "+id+"; alice has been told.", timeout)
			if got := dave.Wait(); got != 0 {
				t.Errorf("dave exit = %d; want 0", got)
			}
			alice.Expect("session denied by dave: "+want, timeout)
			if got := alice.Wait(); got == 0 {
				t.Errorf("alice exit = 0; want non-zero")
			}
			out := alice.Output()
			for _, bad := range []string{"\x1b[31m", "\u009b", "\u202e", "demo$"} {
				if strings.Contains(out, bad) {
					t.Errorf("alice's terminal got %q:\n%q", bad, out)
				}
			}
			if _, err := os.Stat(filepath.Join(f.dir, "home", "ran-anyway")); err == nil {
				t.Error("the denied command ran on the host")
			}
			evs := f.sessionEvents(id)
			requireEvent(t, evs, event.ApprovalDeny, "dave", map[string]string{"reason": want})
			end := evs[len(evs)-1]
			if end.Type != event.SessionEnd || end.Meta["end_reason"] != "session denied by dave: "+want || end.Meta["exit_status"] != "1" || end.Meta["approvers"] != "" {
				t.Errorf("session.end = %s %v", end.Type, end.Meta)
			}
			if countEvents(evs, event.Exec, "alice") != 0 || countEvents(evs, event.Output, "") != 0 {
				t.Errorf("denied session recorded host activity: %v", types(evs))
			}
			if err := event.Verify(evs); err != nil {
				t.Errorf("chain: %v", err)
			}
		})
	}
}

// TestFourEyesObserverKeystrokesNeverReachHost: whatever an observer
// types (text, Enter, Ctrl-C, a literal Ctrl-]) never reaches the
// host's shell: a `read` waiting there gets alice's line, not theirs.
func TestFourEyesObserverKeystrokesNeverReachHost(t *testing.T) {
	tests := []struct {
		name      string
		joinArgs  []string
		allowPeer bool
		notice    string
	}{
		{"observer", nil, true, ""},
		{"peer on a policy without peer input", []string{"--mode", "peer"}, false, "peer input is not allowed on demo-prod; joining as observer."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{fourEyes: true})
			if !tt.allowPeer {
				f.reconfigure(t, func(c *config.Config) { c.ApprovalPolicies[0].AllowPeerInput = false })
			}
			alice, id := f.request(t, "watch me")
			dave := f.review(t, "dave", id, tt.joinArgs...)
			if tt.notice != "" {
				dave.Expect(tt.notice, timeout)
			}
			dave.Expect("Approve this session? [y/n] ", timeout)
			dave.Send("y\r")
			dave.Expect("watching as observer", timeout)
			alice.Expect("demo$ ", timeout)
			// alice types only once "ready-36" is out: the shell has
			// then left its line editor's raw mode. Keys that arrive
			// before keep raw mode's bare CR, which no read ever ends.
			alice.Send("echo ready-$((6*6)); read -r x; echo got-[$x]\r")
			alice.Expect("ready-36", timeout)
			dave.Expect("read -r x", timeout)
			dave.Send("observer-typed\r")
			dave.Expect("observers cannot type", timeout)
			dave.Send("\x03\x1d\x1d\x04touch observer-was-here\r")
			dave.Send("\x1dx") // unknown hotkey: help, nothing sent
			dave.Expect("Ctrl-] t terminates the session", timeout)
			alice.Send("alice-typed\r")
			alice.Expect("got-[alice-typed]", timeout)
			dave.Expect("got-[alice-typed]", timeout)
			alice.Send("ls; echo listed-$((6*7))\r")
			alice.Expect("listed-42", timeout)
			if _, err := os.Stat(filepath.Join(f.dir, "home", "observer-was-here")); err == nil {
				t.Error("the observer's command ran on the host")
			}
			alice.Send("exit\r")
			if got := alice.Wait(); got != 0 {
				t.Errorf("alice exit = %d; want 0 (an observer's Ctrl-C or Ctrl-D reached the shell?)", got)
			}
			dave.Wait()
			if out := alice.Output(); strings.Contains(out, "observer-typed") || strings.Contains(out, "observer-was-here") {
				t.Errorf("the observer's typing reached alice's terminal (so the host):\n%q", out)
			}
			evs := f.sessionEvents(id)
			if in := inputBy(evs, "dave"); in != "" {
				t.Errorf("observer input recorded as sent: %q", in)
			}
			requireEvent(t, evs, event.ParticipantJoin, "dave", map[string]string{"mode": "observer"})
			var out strings.Builder
			for _, e := range evs {
				if e.Type == event.Output {
					out.Write(e.Data)
				}
			}
			if strings.Contains(out.String(), "observer") {
				t.Errorf("the host echoed the observer's typing:\n%q", out.String())
			}
		})
	}
}

// TestFourEyesWindowSizeNotice: a reviewer whose window is smaller than
// the requester's is told so when the session connects (having approved
// it while pending), and again when the requester enlarges theirs; a
// reviewer with a larger window is not.
func TestFourEyesWindowSizeNotice(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	alice := f.client("alice", true, "demo-prod")
	alice.Cols, alice.Rows = 120, 40
	alice.Start(t)
	alice.Expect("Reason for this session: ", timeout)
	alice.Send("size check\r")
	id := idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))[1]

	dave := f.review(t, "dave", id) // 80x24
	dave.Expect("Approve this session? [y/n] ", timeout)
	dave.Send("y\r")
	dave.Expect("alice's terminal is 120x40, yours is 80x24; enlarge yours for an exact picture", timeout)
	alice.Expect("demo$ ", timeout)

	big := f.client("dave", true, "join", id) // dave again, from a large window
	big.Cols, big.Rows = 200, 60
	big.Start(t)
	big.Expect("watching as observer", timeout)

	alice.ResizeConfirmed(150, 50, timeout)
	dave.Expect("alice's terminal is 150x50, yours is 80x24", timeout)
	alice.Send("echo after-resize\r")
	big.Expect("after-resize", timeout)
	if out := big.Output(); strings.Contains(out, "enlarge yours") {
		t.Errorf("a 200x60 reviewer was told to enlarge the window:\n%q", out)
	}
	dave.Send("\x1dt")
	alice.Wait()
	dave.Wait()
	big.Wait()
}

// TestFourEyesAbandonedAtReasonPrompt: an empty reason is asked again
// with a word why; a request abandoned at the prompt (Ctrl-C, or the
// client going away) leaves an approval.cancel in the gateway stream,
// since no session recording exists yet.
func TestFourEyesAbandonedAtReasonPrompt(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	alice := f.client("alice", true, "demo-prod")
	alice.Start(t)
	alice.Expect("Reason for this session: ", timeout)
	alice.Send("   \r")
	alice.Expect("a reason is required (one line, at most 200 characters; the reviewers see exactly what you type. Ctrl-C cancels).", timeout)
	alice.Expect("Reason for this session: ", timeout)
	alice.Send("\x03")
	alice.Expect("request cancelled", timeout)
	if got := alice.Wait(); got != 1 {
		t.Errorf("alice exit = %d; want 1", got)
	}

	gone := f.client("alice", true, "demo-prod")
	gone.Start(t)
	gone.Expect("Reason for this session: ", timeout)
	gone.Close() // the client goes away

	want := []map[string]string{
		{"user": "alice", "host": "demo-prod", "login": "root", "reason": "cancelled at the reason prompt"},
		{"user": "alice", "host": "demo-prod", "login": "root", "reason": "disconnected at the reason prompt"},
	}
	waitFor(t, "both approval.cancel events in the gateway stream", func() bool {
		evs := f.gatewayEvents(event.ApprovalCancel)
		for _, w := range want {
			if _, ok := findEvent(evs, event.ApprovalCancel, w); !ok {
				return false
			}
		}
		return true
	})
}
