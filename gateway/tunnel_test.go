package gateway

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"

	"github.com/foureyes/foureyes/internal/freeport"
)

// echoListener is a TCP echo server on the target machine's loopback
// (here, the test's), the stand-in for a database a tunnel reaches.
func echoListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String()
}

// freeLocalPort returns a port nothing listens on right now.
func freeLocalPort(t *testing.T) string {
	t.Helper()
	return strconv.Itoa(freeport.MustPort(t))
}

// withTunnels allows dests on host (demo or demo-prod) in the fixture's
// configuration.
func withTunnels(host string, dests ...string) func(string) string {
	return func(y string) string {
		list := `"` + strings.Join(dests, `", "`) + `"`
		return strings.Replace(y, "{name: "+host+", address:", "{name: "+host+", tunnels: ["+list+"], address:", 1)
	}
}

// startTunnel runs `ssh -v -N -L LPORT:DEST user@bastion` (-v: the
// client shows a refused channel's message at INFO, which sshtest's
// LogLevel=ERROR hides) and returns the
// client and the local address once a connection through it works.
func (f *fixture) startTunnel(t *testing.T, user, dest string) (*sshtest.Client, string) {
	t.Helper()
	lport := freeLocalPort(t)
	c := f.client(strings.SplitN(user, "+", 2)[0], false)
	c.User = user
	c.Options = []string{"-v", "-N", "-o", "ExitOnForwardFailure=yes", "-L", "127.0.0.1:" + lport + ":" + dest}
	c.Start(t)
	return c, "127.0.0.1:" + lport
}

// dialEventually connects to addr once ssh listens there.
func dialEventually(t *testing.T, addr string) net.Conn {
	t.Helper()
	var conn net.Conn
	waitFor(t, "ssh -L listening on "+addr, func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		conn = c
		return true
	})
	if conn == nil {
		t.FailNow()
	}
	return conn
}

// echoOnce sends msg through conn and reads the echo; it reports
// whether the echo came back.
func echoOnce(conn net.Conn, msg string) bool {
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte(msg + "\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && line == msg+"\n"
}

// TestTunnelAllowedDestination drives a real `ssh -L` through the
// bastion to a destination the host allows: the bytes pass, and the
// tunnel connection is its own recording with tunnel.open and
// tunnel.close (bytes each way), the bytes themselves not recorded.
func TestTunnelAllowedDestination(t *testing.T) {
	echo := echoListener(t)
	f := newFixture(t, fixtureOptions{editConfig: withTunnels("demo", echo)})
	c, local := f.startTunnel(t, "alice+demo", echo)
	conn := dialEventually(t, local)
	if !echoOnce(conn, "select-42") {
		t.Fatal("no echo through the tunnel")
	}
	conn.Close()
	var id string
	waitFor(t, "tunnel recording", func() bool {
		ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "tunnel" })
		if len(ids) == 1 {
			id = ids[0]
		}
		return id != ""
	})
	waitFor(t, "tunnel closed", func() bool {
		for _, e := range f.streams()[id] {
			if e.Type == event.SessionEnd {
				return true
			}
		}
		return false
	})
	c.Close()
	evs := f.streams()[id]
	requireEvent(t, evs, event.TunnelOpen, "alice", map[string]string{"dest": echo, "via": "demo"})
	requireEvent(t, evs, event.TunnelClose, "alice", map[string]string{"dest": echo, "bytes_up": "10", "bytes_down": "10", "reason": "closed"})
	for _, e := range evs {
		if strings.Contains(string(e.Data), "select-42") {
			t.Errorf("tunnel bytes recorded in %s", e.Type)
		}
	}
	if evs[0].Meta["dest"] != echo || evs[0].Meta["host"] != "demo" {
		t.Errorf("session.start meta = %v", evs[0].Meta)
	}
}

// TestTunnelRefusedDestinations: a destination the host does not list
// (another port, the same port under another name, the host's SSH
// port), a host without tunnels, a host the user may not reach, and a
// four-eyes host without a window are each refused with a message the
// real client shows, and recorded as forward.denied.
func TestTunnelRefusedDestinations(t *testing.T) {
	echo := echoListener(t)
	_, port, _ := net.SplitHostPort(echo)
	f := newFixture(t, fixtureOptions{fourEyes: true, editConfig: func(y string) string {
		return withTunnels("demo-prod", echo)(withTunnels("demo", echo)(y))
	}})
	tests := []struct {
		name, user, dest, message, reason string
	}{
		{"other port", "alice+demo", "127.0.0.1:" + freeLocalPort(t), "is not allowed on demo (allowed: " + echo + ")", "destination not in hosts[].tunnels"},
		{"other name", "alice+demo", "localhost:" + port, "is not allowed on demo", "destination not in hosts[].tunnels"},
		{"ssh port of the host", "alice+demo", f.target.Addr(), "is not allowed on demo", "destination not in hosts[].tunnels"},
		{"host without tunnels", "alice+badkey", echo, "allowed: none", "destination not in hosts[].tunnels"},
		{"forbidden host", "bob+demo-prod", echo, "no host demo-prod you may connect to", "unknown or forbidden host"},
		{"unknown host", "alice+nowhere", echo, "no host nowhere you may connect to", "unknown or forbidden host"},
		{"four-eyes without a window", "alice+demo-prod", echo, "request demo-prod --for 1h --reason TEXT", "four-eyes host without an open approval window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, local := f.startTunnel(t, tt.user, tt.dest)
			conn := dialEventually(t, local)
			if echoOnce(conn, "leak") {
				t.Fatal("a refused tunnel carried bytes")
			}
			conn.Close()
			c.Expect(tt.message, timeout)
			c.Close()
		})
	}
	evs := f.gatewayEvents(event.ForwardDenied)
	for _, tt := range tests {
		person, host, _ := strings.Cut(tt.user, "+")
		found := false
		for _, e := range evs {
			found = found || hasMeta(e, map[string]string{"user": person, "kind": "direct-tcpip", "host": host, "reason": tt.reason}) &&
				strings.HasPrefix(e.Meta["detail"], "to "+tt.dest+" from 127.0.0.1:")
		}
		if !found {
			t.Errorf("%s: no forward.denied in %v", tt.name, metas(evs))
		}
	}
	if ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "tunnel" }); len(ids) != 0 {
		t.Errorf("refused tunnels were started: %v", ids)
	}
}

// TestJumpRefused: `ssh -J bastion HOST` asks the bastion for a raw
// connection to the host's SSH port, which it could not record. The
// real client fails with the bastion's message naming the supported
// way, and the attempt is recorded.
func TestJumpRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	host, port, _ := net.SplitHostPort(f.addr)
	for _, jump := range []string{"alice", "alice+demo"} {
		t.Run(jump, func(t *testing.T) {
			c := f.client("alice", false, "true")
			// ssh passes only -F on to the ssh it runs for -J: the
			// options and the key go in a configuration file.
			cfg := filepath.Join(t.TempDir(), "ssh_config")
			if err := os.WriteFile(cfg, []byte("Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  BatchMode yes\n"+
				"  IdentitiesOnly yes\n  IdentityFile "+f.keys["alice"]+"\n  LogLevel INFO\n  ConnectTimeout 20\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c.Options = []string{"-F", cfg, "-J", jump + "@" + host + ":" + port}
			c.Addr = f.target.Addr()
			res := runClient(t, c)
			if res.Exit != 255 {
				t.Errorf("ssh -J exit = %d; want 255", res.Exit)
			}
			if !strings.Contains(res.Stderr, "use `ssh alice+HOST@BASTION` (or `ssh BASTION HOST`)") {
				t.Errorf("ssh -J stderr does not name the supported way:\n%s", res.Stderr)
			}
		})
	}
	evs := f.gatewayEvents(event.ForwardDenied)
	_, tport, _ := net.SplitHostPort(f.target.Addr())
	for _, want := range []map[string]string{
		{"user": "alice", "kind": "direct-tcpip", "host": "", "reason": "no host in the user name (ssh -J or -W)"},
		{"user": "alice", "kind": "direct-tcpip", "host": "demo", "reason": "destination not in hosts[].tunnels"},
	} {
		e, ok := findEvent(evs, event.ForwardDenied, want)
		if !ok {
			t.Errorf("no forward.denied with %v in %v", want, metas(evs))
		} else if !strings.HasPrefix(e.Meta["detail"], "to 127.0.0.1:"+tport) {
			t.Errorf("detail = %q; want the jump's destination", e.Meta["detail"])
		}
	}
	if ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "tunnel" }); len(ids) != 0 {
		t.Errorf("jumps were started as tunnels: %v", ids)
	}
}

// TestTunnelRevoked: a reload that takes the destination off the host's
// list ends the live tunnel at once, recorded.
func TestTunnelRevoked(t *testing.T) {
	echo := echoListener(t)
	f := newFixture(t, fixtureOptions{editConfig: withTunnels("demo", echo)})
	c, local := f.startTunnel(t, "alice+demo", echo)
	conn := dialEventually(t, local)
	if !echoOnce(conn, "before") {
		t.Fatal("no echo through the tunnel")
	}
	if _, err := f.reload(replaceOnce(t, `tunnels: ["`+echo+`"], `, "")); err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(timeout))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Errorf("tunnel still open after revocation (read %d bytes)", n)
	}
	conn.Close()
	c.Close()
	// The gateway closes the tunnel's channel before it records
	// tunnel.close (it needs both copiers' byte counts): wait for the end.
	var evs []event.Event
	waitFor(t, "the tunnel's session.end", func() bool {
		evs = f.sessionOf(func(i recorder.StartInfo) bool { return i.Kind == "tunnel" })
		return len(evs) > 0 && evs[len(evs)-1].Type == event.SessionEnd
	})
	requireEvent(t, evs, event.TunnelClose, "alice", map[string]string{"reason": "access revoked: tunnel to " + echo + " no longer allowed", "bytes_up": "7"})
}
