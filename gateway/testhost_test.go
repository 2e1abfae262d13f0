package gateway

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// startTestHost starts an SSH server on loopback admitting any key, with
// serve handling each TCP connection (the handshake included); it stops,
// and waits for every connection's serve, when the test ends. It returns
// the listener's address and the host key.
func startTestHost(t *testing.T, serve func(c net.Conn, cfg *gossh.ServerConfig)) (string, gossh.PublicKey) {
	t.Helper()
	signer := sshtest.NewSigner(t)
	cfg := &gossh.ServerConfig{PublicKeyCallback: func(gossh.ConnMetadata, gossh.PublicKey) (*gossh.Permissions, error) { return nil, nil }}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c, cfg)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), signer.PublicKey()
}

// gatePoint is where a gatedHost holds the bastion until the test opens
// its gate.
type gatePoint int

const (
	gateLogin     gatePoint = iota // before the SSH handshake
	gateOpen                       // before accepting each channel
	gateExecReply                  // after noting an exec, before replying to it
)

// gatedHost is an upstream that holds the bastion at one point of its
// way to running something (at), standing in for the round trips of a
// loaded or distant host, until the test opens the gate. It runs execs
// (noting them in ran, replying "ran: CMD", exit status 0) and accepts
// direct-tcpip channels (noting "direct-tcpip").
type gatedHost struct {
	addr    string
	key     gossh.PublicKey
	at      gatePoint
	gate    chan struct{}
	waiting chan struct{} // one each time the bastion is held at the gate
	mu      sync.Mutex
	ran     []string
}

func startGatedHost(t *testing.T, at gatePoint) *gatedHost {
	t.Helper()
	h := &gatedHost{at: at, gate: make(chan struct{}), waiting: make(chan struct{}, 16)}
	h.addr, h.key = startTestHost(t, h.serveConn)
	t.Cleanup(h.open) // registered after the server's: runs first, so held serves end
	return h
}

func (h *gatedHost) hold(at gatePoint) {
	if h.at == at {
		h.waiting <- struct{}{}
		<-h.gate
	}
}

func (h *gatedHost) serveConn(c net.Conn, cfg *gossh.ServerConfig) {
	h.hold(gateLogin)
	sc, chans, reqs, err := gossh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go gossh.DiscardRequests(reqs)
	for nc := range chans {
		h.hold(gateOpen)
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		if nc.ChannelType() == "direct-tcpip" {
			h.note("direct-tcpip")
			go gossh.DiscardRequests(creqs)
			ch.Close()
			continue
		}
		go h.serve(ch, creqs)
	}
}

func (h *gatedHost) serve(ch gossh.Channel, reqs <-chan *gossh.Request) {
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(true, nil)
			continue
		}
		var cmd struct{ Command string }
		gossh.Unmarshal(req.Payload, &cmd)
		h.note(cmd.Command) // it runs from now on
		h.hold(gateExecReply)
		req.Reply(true, nil)
		fmt.Fprintf(ch, "ran: %s\r\n", cmd.Command)
		ch.SendRequest("exit-status", false, gossh.Marshal(&struct{ Status uint32 }{0}))
		ch.Close()
	}
}

func (h *gatedHost) note(what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ran = append(h.ran, what)
}

// open lets everything held go on, and nothing be held again.
func (h *gatedHost) open() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.gate:
	default:
		close(h.gate)
	}
}

func (h *gatedHost) runs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ran...)
}

// host returns its hosts: entry: a production host allowing tunnels to
// 127.0.0.1:5432.
func (h *gatedHost) host(name string) string {
	return fmt.Sprintf(`{name: %s, address: "%s", login: root, host_key: "%s", labels: {env: production}, class: production, tunnels: ["127.0.0.1:5432"]}`, name, h.addr, authorizedKey(h.key))
}

// waitHeld waits until the host holds the bastion at its gate.
func (h *gatedHost) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-h.waiting:
	case <-time.After(timeout): // bounds a hang; asserts no speed
		t.Fatal("the bastion never reached the host's gate")
	}
}
