package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
	gossh "golang.org/x/crypto/ssh"
)

func TestShutdownEndsSessions(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.client("alice", true, "demo")
	c.Start(t)
	c.Expect("demo$ ", timeout)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	c.Expect("foureyes: bastion shutting down; session terminated\r\n", timeout)
	if got := c.Wait(); got != statusLost {
		t.Errorf("exit = %d; want %d", got, statusLost)
	}
	if err := <-f.serveErr; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v; want ErrServerClosed", err)
	}
	f.serveErr <- ErrServerClosed // for the fixture's cleanup
	if _, err := net.Dial("tcp", f.addr); err == nil {
		t.Error("still accepting after Shutdown")
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.Kind == "shell" })
	if end := evs[len(evs)-1]; end.Type != event.SessionEnd || end.Meta["reason"] != "bastion shutting down" || end.Meta["exit_status"] != "255" {
		t.Errorf("last event %s %v", end.Type, end.Meta)
	}
	gw := f.streams()[f.srv.gw.ID()]
	if gw[len(gw)-1].Type != event.SessionEnd {
		t.Errorf("gateway stream not ended: %v", types(gw))
	}
}

func TestCloseWithActiveSession(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.client("alice", true, "demo")
	c.Start(t)
	c.Expect("demo$ ", timeout)
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if got := c.Wait(); got != 255 {
		t.Errorf("exit = %d; want 255", got)
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.Kind == "shell" })
	if end := evs[len(evs)-1]; end.Type != event.SessionEnd {
		t.Errorf("last event %s; want session.end", end.Type)
	}
}

func TestClientDisconnectEndsUpstream(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.client("alice", true, "demo")
	c.Start(t)
	c.Expect("demo$ ", timeout)
	c.Close() // kill ssh: the connection drops
	deadline := time.Now().Add(timeout)
	for {
		evs := f.streams()[firstID(f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "shell" }))]
		if len(evs) > 0 && evs[len(evs)-1].Type == event.SessionEnd {
			if r := evs[len(evs)-1].Meta["reason"]; r != "client disconnected" {
				t.Errorf("session.end reason = %q", r)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session.end after the client went away: %v", types(evs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func firstID(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

func TestRecordingFailureTerminatesSession(t *testing.T) {
	f := newFixture(t, fixtureOptions{spoolMaxBytes: 256 << 10})
	res := f.run("alice", "demo", "--", "head -c 2000000 /dev/zero | tr '\\0' x; sleep 30")
	if res.Exit != statusLost || !strings.Contains(res.Stderr, "foureyes: recording failed (") || !strings.HasSuffix(res.Stderr, "; session terminated\n") {
		t.Errorf("got exit %d stderr %q; want %d and the recording failure", res.Exit, res.Stderr, statusLost)
	}
	if len(res.Stdout) >= 2000000 {
		t.Errorf("all %d bytes reached the client after the recording failed", len(res.Stdout))
	}
}

// freezeProxy relays TCP between a client and addr; after freeze, bytes
// from the client are dropped, as if its replies were lost.
type freezeProxy struct {
	l      net.Listener
	frozen atomic.Bool
	wg     sync.WaitGroup
}

func newFreezeProxy(t *testing.T, addr string) *freezeProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{l: l}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			cc, err := l.Accept()
			if err != nil {
				return
			}
			sc, err := net.Dial("tcp", addr)
			if err != nil {
				cc.Close()
				continue
			}
			p.wg.Add(2)
			go func() { // server → client
				defer p.wg.Done()
				io.Copy(cc, sc)
				cc.Close()
			}()
			go func() { // client → server, until frozen
				defer p.wg.Done()
				defer sc.Close()
				buf := make([]byte, 4096)
				for {
					n, err := cc.Read(buf)
					if n > 0 && !p.frozen.Load() {
						if _, err := sc.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); p.wg.Wait() })
	return p
}

func TestKeepaliveDropsSilentClient(t *testing.T) {
	const interval = 200 * time.Millisecond
	f := newFixture(t, fixtureOptions{keepalive: interval})
	p := newFreezeProxy(t, f.addr)
	conn, err := net.Dial("tcp", p.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cc, chans, reqs, err := gossh.NewClientConn(conn, f.addr, &gossh.ClientConfig{
		User:            "alice",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(signerOf(t, f, "alice"))},
		HostKeyCallback: gossh.FixedHostKey(f.srv.hostSigner.PublicKey()),
	})
	if err != nil {
		t.Fatal(err)
	}
	var probes atomic.Int32
	none := make(chan *gossh.Request)
	go func() { // answer keepalives like OpenSSH: with a failure reply
		defer close(none)
		for r := range reqs {
			probes.Add(1)
			r.Reply(false, nil)
		}
	}()
	client := gossh.NewClient(cc, chans, none)
	defer client.Close()
	s, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 24, 80, nil); err != nil {
		t.Fatal(err)
	}
	out, _ := s.StdoutPipe()
	if err := s.Start("demo"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	// A client that answers stays connected over many intervals.
	waitFor(t, "8 keepalive probes", func() bool { return probes.Load() >= 8 })
	if _, _, err := client.SendRequest("keepalive@openssh.com", true, nil); err != nil {
		t.Fatalf("answering client was disconnected: %v", err)
	}
	// Once its answers are lost, the gateway hangs up.
	p.frozen.Store(true)
	done := make(chan error, 1)
	go func() { done <- client.Wait() }()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatal("silent client still connected")
	}
	deadline := time.Now().Add(timeout)
	for {
		evs := f.streams()[firstID(f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "shell" }))]
		if len(evs) > 0 && evs[len(evs)-1].Type == event.SessionEnd {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session.end after keepalive disconnect: %v", types(evs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func signerOf(t *testing.T, f *fixture, user string) gossh.Signer {
	t.Helper()
	return sshtestSigner(t, f.keys[user])
}

// TestSessionEndDurableBeforeExit checks that a session's session.end is
// written to the spool files (fsync'd) before the client is told the exit
// status: when ssh returns, the file holds the end and only the gateway's
// own stream is open. End takes about a millisecond, so the reverse order
// fails here only when the machine is slow (as CI once was); the check is
// on the files, the strongest form of the promise.
func TestSessionEndDurableBeforeExit(t *testing.T) {
	f := newFixture(t, fixtureOptions{noPublish: true}) // nothing deletes segments
	seen := map[string]bool{}
	for i := range 10 {
		res := f.run("alice", "demo", "--", "exit 7")
		if res.Exit != 7 {
			t.Fatalf("run %d: exit %d; want 7 (%+v)", i, res.Exit, res)
		}
		var id string
		for _, s := range f.spy.find(func(in recorder.StartInfo) bool { return in.Command == "exit 7" }) {
			if !seen[s] {
				id, seen[s] = s, true
			}
		}
		if id == "" {
			t.Fatalf("run %d: no new recording", i)
		}
		if !hasWireEvent(spoolBytes(t, filepath.Join(f.dir, "spool")), id, event.SessionEnd) {
			t.Fatalf("run %d: ssh returned before session.end of %s was in the spool files", i, id)
		}
		if n := f.rec.Stats().OpenSessions; n != 1 {
			t.Fatalf("run %d: ssh returned with %d open recordings; want 1 (the gateway's own)", i, n)
		}
	}
}

// hasWireEvent reports whether b holds an event of type typ of session
// id in its wire form (event/wire.go): the canonical encoding's tag,
// version and session, then seq and time (16 bytes), then the type.
func hasWireEvent(b []byte, id string, typ event.Type) bool {
	prefix := append([]byte("foureyes-event\x00"), 0, event.Version)
	prefix = binary.BigEndian.AppendUint32(prefix, uint32(len(id)))
	prefix = append(prefix, id...)
	tail := binary.BigEndian.AppendUint32(nil, uint32(len(typ)))
	tail = append(tail, typ...)
	for {
		i := bytes.Index(b, prefix)
		if i < 0 {
			return false
		}
		b = b[i+len(prefix):]
		if len(b) >= 16+len(tail) && bytes.Equal(b[16:16+len(tail)], tail) {
			return true
		}
	}
}

// spoolBytes returns the contents of every file in dir.
func spoolBytes(t *testing.T, dir string) []byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}
