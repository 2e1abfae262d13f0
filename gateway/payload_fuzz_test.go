package gateway

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// sessionRequestTypes are the channel requests a client can send before
// (and after) it starts a session; the fuzz target picks one per step.
var sessionRequestTypes = []string{
	"pty-req", "env", "window-change", "signal", "subsystem", "x11-req",
	"auth-agent-req@openssh.com", "keepalive@openssh.com", "break", "xon-xoff", "exit-status", "no-such-request",
}

// startCommands are the only commands the fuzz target starts: it must not
// run arbitrary bytes as commands on the demo host.
var startCommands = []string{"", "demo", "demo -- true", "sessions", "no-such-host"}

// FuzzSessionRequests sends garbage channel requests to a real gateway
// over a real SSH connection: every payload the client controls (pty-req
// modes and sizes, env names and values, window sizes, signals, subsystem
// names) is decoded by the gateway. It must never crash or wedge, and it
// must keep serving: after each input a well-formed exec still runs.
func FuzzSessionRequests(f *testing.F) {
	// The fuzzer connects a few hundred times a second from one address:
	// far over the per-source connection rate a real client gets.
	fx := newFixture(f, fixtureOptions{editConfig: func(y string) string {
		return y + "limits: {connection_rate_per_source: 100000, connection_burst_per_source: 100000}\n"
	}})
	cc := &gossh.ClientConfig{
		User:            "alice",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(sshtest.Signer(f, fx.keys["alice"]))},
		HostKeyCallback: gossh.FixedHostKey(fx.srv.hostSigner.PublicKey()),
		Timeout:         timeout,
	}
	f.Add([]byte{0, 1, 2, 3}, []byte("\x00\x00\x00\x05xterm\x00\x00\x00\x50\x00\x00\x00\x18\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00"), uint8(1))
	f.Add([]byte{1}, []byte("\x00\x00\x00\x06LC_ALL\x00\x00\x00\x01C"), uint8(0))
	f.Add([]byte{2}, []byte("\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00"), uint8(2))
	f.Add([]byte{3, 4}, []byte("\x00\x00\x00\x04KILL"), uint8(3))
	f.Fuzz(func(t *testing.T, kinds, payload []byte, start uint8) {
		if len(kinds) > 8 || len(payload) > 1<<16 {
			return
		}
		step := "dial"
		wd := time.AfterFunc(timeout, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("wedged at %s (kinds %v, start %d)\n%s", step, kinds, start, buf[:runtime.Stack(buf, true)]))
		})
		defer wd.Stop()
		c, err := gossh.Dial("tcp", fx.addr, cc)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			t.Fatalf("open session: %v", err)
		}
		go gossh.DiscardRequests(reqs)
		for i, k := range kinds {
			typ := sessionRequestTypes[int(k)%len(sessionRequestTypes)]
			p := payload
			if i%2 == 1 && len(p) > 0 {
				p = p[:len(p)/2]
			}
			step = typ
			if _, err := ch.SendRequest(typ, true, p); err != nil {
				break // the gateway closed the channel: a refusal, not a crash
			}
		}
		cmd := startCommands[int(start)%len(startCommands)]
		step = "start " + cmd
		if cmd == "" {
			ch.SendRequest("shell", true, nil)
		} else {
			ch.SendRequest("exec", true, gossh.Marshal(struct{ Cmd string }{cmd}))
		}
		ch.Close()

		// Still serving: a well-formed exec on the same gateway works.
		step = "exec after garbage"
		s, err := c.NewSession()
		if err != nil {
			t.Fatalf("new session after garbage: %v", err)
		}
		defer s.Close()
		if out, err := s.CombinedOutput("demo -- echo alive"); err != nil || string(out) != "alive\n" {
			t.Fatalf("exec after garbage = %q, %v; want alive", out, err)
		}
	})
}
