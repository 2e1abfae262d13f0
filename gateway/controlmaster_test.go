package gateway

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
)

// muxConn is a stock OpenSSH ControlMaster connection (ssh -M) to the
// gateway as user+host: the one client connection whose channels the
// ControlMaster and pool tests open.
type muxConn struct {
	f          *fixture
	user, host string
	opts       []string // the ControlPath options that route a client through it
}

// startMux starts the master (-N -f, persisting) and returns it. The
// master is told to exit when the test ends.
func (f *fixture) startMux(t *testing.T, user, host string) *muxConn {
	t.Helper()
	dir, err := os.MkdirTemp("", "fecm") // short: a socket path is limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := "ControlPath=" + filepath.Join(dir, "m")
	m := &muxConn{f: f, user: user, host: host, opts: []string{"-o", path, "-o", "ControlMaster=no"}}
	master := m.client(false)
	master.Options = []string{"-o", "ControlMaster=yes", "-o", path, "-o", "ControlPersist=60s", "-N", "-f"}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := master.Command(ctx)
	log, err := os.Create(filepath.Join(t.TempDir(), "master.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log // files, not pipes: the backgrounded master keeps them
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(log.Name())
		t.Fatalf("ssh master: %v\n%s", err, out)
	}
	t.Cleanup(func() { m.exit() }) // an error means the master is gone already
	return m
}

// client is the user's stock ssh to the host through the master.
func (m *muxConn) client(tty bool, args ...string) *sshtest.Client {
	c := m.f.client(m.user, tty, args...)
	c.User += TargetSep + m.host
	c.Options = m.opts
	return c
}

// exit asks the master to exit (ssh -O exit), which ends the client
// connection.
func (m *muxConn) exit() error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := m.client(false)
	c.Options = append(append([]string{}, m.opts...), "-O", "exit")
	return c.Command(ctx).Run()
}

// TestControlMasterChannelsRecorded: over one OpenSSH ControlMaster
// connection, an exec, a terminal session and an sftp run are each their
// own recording; on a four-eyes host without a window each channel is
// asked or refused as a fresh connection is, none reaches the host, and
// the refusals are recorded; a window opened while the master stays
// connected admits the next channel, linked to the window.
func TestControlMasterChannelsRecorded(t *testing.T) {
	sshtest.RequireSFTP(t)
	o := windowOptions()
	// An OpenSSH master notices a killed mux client only when something
	// wakes its event loop; the gateway's keepalive does, so a short one
	// keeps the pending channel's end prompt.
	o.keepalive = time.Second
	f := newFixture(t, o)
	home := filepath.Join(f.dir, "home")
	local := t.TempDir()
	upload := randomFile(t, filepath.Join(local, "up.bin"), 64<<10, 3)

	t.Run("ordinary host", func(t *testing.T) {
		mux := f.startMux(t, "alice", "demo")
		if res := runClient(t, mux.client(false, "echo", "mux-exec")); res.Exit != 0 || res.Stdout != "mux-exec\n" {
			t.Errorf("exec over the master: %+v", res)
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
		if res := sshtest.RunSFTP(t, mux.client(false), "put "+filepath.Join(local, "up.bin")+" mux.bin\n"); res.Exit != 0 {
			t.Errorf("sftp over the master: %+v", res)
		}
		if got, err := os.ReadFile(filepath.Join(home, "mux.bin")); err != nil || sha(got) != sha(upload) {
			t.Errorf("sftp upload on the host: %d bytes, %v", len(got), err)
		}
		if n := f.connCount(); n != 1 {
			t.Errorf("the gateway holds %d connections; want the master's only", n)
		}
		streams := f.streams()
		for _, kind := range []string{"exec", "shell", "sftp"} {
			ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Host == "demo" && i.Kind == kind })
			if len(ids) != 1 {
				t.Errorf("%d %s recordings; want 1", len(ids), kind)
				continue
			}
			evs := streams[ids[0]]
			if end := evs[len(evs)-1]; end.Type != event.SessionEnd {
				t.Errorf("%s recording ends with %s", kind, end.Type)
			}
			switch kind {
			case "exec":
				requireEvent(t, evs, event.Exec, "alice", nil)
			case "shell":
				requireEvent(t, evs, event.Input, "alice", nil)
			case "sftp":
				requireEvent(t, evs, event.Transfer, "alice", map[string]string{"direction": "upload", "sha256_up": sha(upload)})
			}
		}
	})

	t.Run("four-eyes host", func(t *testing.T) {
		mux := f.startMux(t, "alice", "demo-prod")
		if res := runClient(t, mux.client(false, "touch", "marker-exec")); res.Exit == 0 || !strings.Contains(res.Stderr, "demo-prod requires four-eyes approval and a reason") {
			t.Errorf("exec over the master: %+v", res)
		}
		// A terminal session asks for a reason and waits for a reviewer,
		// as a fresh connection's does; nothing reaches the host.
		shell := mux.client(true)
		shell.Start(t)
		shell.Expect("give a reason", timeout)
		shell.Send("touch marker-tty\r")
		shell.Expect("waiting for", timeout)
		shell.Close()
		if res := sshtest.RunSFTP(t, mux.client(false), "put "+filepath.Join(local, "up.bin")+" marker-sftp\n"); res.Exit == 0 || !strings.Contains(res.Stderr, "requires four-eyes approval and a reason") {
			t.Errorf("sftp over the master: %+v", res)
		}
		for _, m := range []string{"marker-exec", "marker-tty", "marker-sftp"} {
			if _, err := os.Stat(filepath.Join(home, m)); !os.IsNotExist(err) {
				t.Errorf("%s reached the host: %v", m, err)
			}
		}
		if ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Host == "demo-prod" && i.Kind != "shell" }); len(ids) != 0 {
			t.Errorf("%d exec or sftp recordings on demo-prod without a window", len(ids))
		}
		denied := 0
		for _, e := range f.gatewayEvents(event.AccessDenied) {
			if hasMeta(e, map[string]string{"user": "alice", "host": "demo-prod", "reason": "four-eyes session without a reason"}) {
				denied++
			}
		}
		if denied != 2 {
			t.Errorf("%d access.denied for demo-prod; want 2 (exec, sftp)", denied)
		}
		// The pending terminal session is recorded, with its reason, and
		// never approved.
		ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Host == "demo-prod" && i.Kind == "shell" })
		if len(ids) != 1 {
			t.Fatalf("%d pending shell recordings; want 1", len(ids))
		}
		waitFor(t, "the pending shell ended", func() bool {
			evs := f.streams()[ids[0]]
			return evs[len(evs)-1].Type == event.SessionEnd
		})
		evs := f.streams()[ids[0]]
		if evs[0].Meta["reason"] != "touch marker-tty" || evs[0].Meta["approval"] != "required" {
			t.Errorf("pending shell session.start meta = %v", evs[0].Meta)
		}
		if _, ok := findEvent(evs, event.ApprovalGrant, nil); ok {
			t.Error("the pending shell was approved")
		}

		// A window opened while the master stays connected admits the
		// next channel, linked to it.
		id := f.openWindow(t, "demo-prod --for 30m --reason mux")
		if res := runClient(t, mux.client(false, "touch", "marker-window")); res.Exit != 0 {
			t.Errorf("exec over the master within the window: %+v", res)
		}
		if _, err := os.Stat(filepath.Join(home, "marker-window")); err != nil {
			t.Errorf("exec within the window did not reach the host: %v", err)
		}
		execs := f.spy.find(func(i recorder.StartInfo) bool {
			return i.Host == "demo-prod" && i.Kind == "exec" && i.Meta["window"] == id
		})
		if len(execs) != 1 {
			t.Errorf("%d exec recordings under the window; want 1", len(execs))
		}
		if n := f.connCount(); n != 1 { // the first master exited with its subtest
			t.Errorf("the gateway holds %d connections; want the master's only", n)
		}
	})
}
