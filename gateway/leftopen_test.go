package gateway

import (
	"regexp"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
)

// ignoresHangup is a command without a terminal that outlives the
// bastion's hangup on any host: it ignores SIGHUP and writes nothing, so
// closing its pipes does not end it either.
const ignoresHangup = "trap '' HUP; sleep "

// sessionEnd returns the session.end of recording id.
func (f *fixture) sessionEnd(t *testing.T, id string) event.Event {
	t.Helper()
	evs := f.streams()[id]
	if len(evs) == 0 || evs[len(evs)-1].Type != event.SessionEnd {
		t.Fatalf("recording %s does not end with session.end: %d events", id, len(evs))
	}
	return evs[len(evs)-1]
}

// TestHostKeptChannelOpenShared: an admin's command that ignores the
// hangup (no terminal, OpenSSH's sshd with a root login) is killed while
// a sibling channel of the same ControlMaster connection shares the
// upstream login. The session ends; its session.end says that the host
// kept the channel open and that the login was retired; the next channel
// of the same client connection logs in anew, the sibling goes on on the
// old login, and the old login closes with the sibling.
func TestHostKeptChannelOpenShared(t *testing.T) {
	f := newFixture(t, fixtureOptions{sshd: true, editConfig: killRole})
	f.srv.closeWait.Store(int64(time.Second)) // the host never closes it: a shorter wait changes nothing but the test's length
	real := f.countLogins(t, "real")
	mux := f.startMux(t, "alice", "real")
	sibling := mux.client(true)
	sibling.Start(t)
	sibling.Send("echo sib-$((6*7))\r")
	sibling.Expect("sib-42", timeout)

	t.Cleanup(func() { killProcessesWith("sleep\x0031345") })
	exec := mux.client(false, ignoresHangup+"31345")
	exec.Start(t)
	waitFor(t, "the remote sleep", func() bool { return processWith("sleep\x0031345") })
	id := f.otherSession(t, func(i recorder.StartInfo) bool { return i.Host == "real" && i.Kind == "exec" })
	f.killSession(t, "alice", id, exec)

	end := f.sessionEnd(t, id)
	if want := map[string]string{hostChannelOpenKey: "true", hostChannelActionKey: hostChannelLoginRetired}; !hasMeta(end, want) {
		t.Errorf("session.end meta = %v; want %v", end.Meta, want)
	}
	if !processWith("sleep\x0031345") {
		t.Error("the remote command ended: the test no longer exercises a channel the host keeps open")
	}
	if st := f.srv.Stats(); st.HostChannelsKeptOpen != 1 || st.HostChannelsOpenNow != 1 {
		t.Errorf("stats: kept open %d, open now %d; want 1, 1", st.HostChannelsKeptOpen, st.HostChannelsOpenNow)
	}

	// A new channel of the same client connection: a new login, not the
	// retired one that still holds the left-open channel.
	if res := sshtest.RunSFTP(t, mux.client(false), "pwd\n"); res.Exit != 0 {
		t.Fatalf("sftp after the kill: %+v", res)
	}
	if n := real.logins(); n != 2 {
		t.Errorf("%d logins; want 2 (the retired login served a new channel)", n)
	}
	// The sibling goes on on the retired login; when it ends, the login
	// closes and the left-open channel with it.
	sibling.Send("echo sib-$((7*8))\r")
	sibling.Expect("sib-56", timeout)
	sibling.Send("exit\r")
	sibling.Wait()
	waitFor(t, "the retired login closed", func() bool { return real.openConns() == 1 }) // the sftp login stays, idle
	waitFor(t, "the left-open channel counted closed", func() bool { return f.srv.Stats().HostChannelsOpenNow == 0 })
	if n := f.connCount(); n != 1 {
		t.Errorf("%d client connections; want the master's", n)
	}
}

// TestHostKeptChannelOpenAlone: the same command killed with no sibling
// on the login: session.end says the host kept the channel open and the
// login was closed; it is closed at once although the client connection
// (the master) stays.
func TestHostKeptChannelOpenAlone(t *testing.T) {
	f := newFixture(t, fixtureOptions{sshd: true, editConfig: killRole})
	f.srv.closeWait.Store(int64(time.Second))
	real := f.countLogins(t, "real")
	mux := f.startMux(t, "alice", "real")

	t.Cleanup(func() { killProcessesWith("sleep\x0031346") })
	exec := mux.client(false, ignoresHangup+"31346")
	exec.Start(t)
	waitFor(t, "the remote sleep", func() bool { return processWith("sleep\x0031346") })
	id := f.otherSession(t, func(i recorder.StartInfo) bool { return i.Host == "real" && i.Kind == "exec" })
	f.killSession(t, "alice", id, exec)

	end := f.sessionEnd(t, id)
	if want := map[string]string{hostChannelOpenKey: "true", hostChannelActionKey: hostChannelLoginClosed}; !hasMeta(end, want) {
		t.Errorf("session.end meta = %v; want %v", end.Meta, want)
	}
	waitFor(t, "the login closed", func() bool { return real.openConns() == 0 })
	if n := f.connCount(); n != 1 {
		t.Errorf("%d client connections; want the master's, still connected", n)
	}
	if st := f.srv.Stats(); st.HostChannelsKeptOpen != 1 {
		t.Errorf("stats: kept open %d; want 1", st.HostChannelsKeptOpen)
	}
	waitFor(t, "the left-open channel counted closed", func() bool { return f.srv.Stats().HostChannelsOpenNow == 0 })
}

// TestHostClosedChannelNoFalseAlarm: killed sessions whose host closes
// the channel on the hangup (a command and a terminal session that
// honour SIGHUP, with a sibling on the login) carry no host_channel
// field, keep the login for the next channel and count nothing; the
// default wait applies, so a prompt close is never taken for a kept one.
func TestHostClosedChannelNoFalseAlarm(t *testing.T) {
	f := newFixture(t, fixtureOptions{editConfig: killRole})
	demo := f.countLogins(t, "demo")
	mux := f.startMux(t, "bob", "demo")
	sibling := mux.client(true)
	sibling.Start(t)
	sibling.Expect("demo$ ", timeout)
	siblingID := f.otherSession(t, func(i recorder.StartInfo) bool { return i.User == "bob" && i.Kind == "shell" })

	t.Cleanup(func() { killProcessesWith("sleep\x0031347") })
	exec := mux.client(false, hupDefault+"sleep 31347")
	exec.Start(t)
	waitFor(t, "the command's sleep", func() bool { return processWith("sleep\x0031347") })
	execID := f.otherSession(t, func(i recorder.StartInfo) bool { return i.User == "bob" && i.Kind == "exec" })
	f.killSession(t, "alice", execID, exec)

	tty := mux.client(true)
	tty.Start(t)
	tty.Expect("demo$ ", timeout)
	tty.Send(hupDefault + "sleep 31347\r")
	waitFor(t, "the terminal's sleep", func() bool { return processWith("sleep\x0031347") })
	ttyID := f.otherSession(t, func(i recorder.StartInfo) bool { return i.User == "bob" && i.Kind == "shell" }, siblingID)
	f.killSession(t, "alice", ttyID, tty)

	for _, id := range []string{execID, ttyID} {
		end := f.sessionEnd(t, id)
		for _, k := range []string{hostChannelOpenKey, hostChannelActionKey} {
			if v, ok := end.Meta[k]; ok {
				t.Errorf("session %s: session.end has %s=%q for a channel the host closed", id, k, v)
			}
		}
	}
	if res := runClient(t, mux.client(false, "echo", "next")); res.Exit != 0 || res.Stdout != "next\n" {
		t.Errorf("exec after the kills: %+v", res)
	}
	if n := demo.logins(); n != 1 {
		t.Errorf("%d logins; want 1 (the login was retired without cause)", n)
	}
	if st := f.srv.Stats(); st.HostChannelsKeptOpen != 0 || st.HostChannelsOpenNow != 0 || st.AfterEndOutputBytes != 0 {
		t.Errorf("stats = %+v; want nothing kept open", st)
	}
	sibling.Send("exit\r")
	sibling.Wait()
}

// TestHostKeptChannelOpenFourEyes: on a four-eyes host, a reviewer
// terminating an approved command that ignores the hangup (OpenSSH's
// sshd) ends the session; its session.end carries the request's reason,
// the terminating reviewer and host_channel_open, and the login is closed.
func TestHostKeptChannelOpenFourEyes(t *testing.T) {
	f := newFixture(t, fixtureOptions{sshd: true, fourEyes: true, editConfig: func(y string) string {
		return regexp.MustCompile(`(- \{name: real, [^}\n]*)\}`).ReplaceAllString(y, "${1}, labels: {env: production}}")
	}})
	f.srv.closeWait.Store(int64(time.Second))
	real := f.countLogins(t, "real")
	t.Cleanup(func() { killProcessesWith("sleep\x0031349") })
	alice := f.client("alice", false, "real", "--", ignoresHangup+"31349")
	alice.Options = []string{"-o", "SetEnv=" + reasonEnv + "=\"left open\""}
	alice.Start(t)
	id := idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))[1]
	dave := f.approve(t, "dave", id)
	waitFor(t, "the remote sleep", func() bool { return processWith("sleep\x0031349") })
	dave.Send("\x1dt")
	alice.Expect("session terminated by dave", timeout)
	alice.Wait()
	dave.Wait()

	end := f.sessionEnd(t, id)
	want := map[string]string{hostChannelOpenKey: "true", hostChannelActionKey: hostChannelLoginClosed, "terminated_by": "dave", "reason": "left open"}
	if !hasMeta(end, want) {
		t.Errorf("session.end meta = %v; want %v", end.Meta, want)
	}
	waitFor(t, "the login closed", func() bool { return real.openConns() == 0 })
}
