package benche2e

import (
	"errors"
	"io"
	"net"
	"sync"

	gossh "golang.org/x/crypto/ssh"
)

// Relay is a bare SSH relay: an x/crypto SSH server that accepts any
// client key and pipes each session channel to a session channel of an
// x/crypto client connection to one upstream host, requests and replies
// included. It records nothing and checks nothing; it is the ceiling a
// bastion reaches on a machine, not a bastion.
type Relay struct {
	ln       net.Listener
	server   *gossh.ServerConfig
	upstream string
	client   *gossh.ClientConfig
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
}

// NewRelay listens on 127.0.0.1:0 and relays to upstream with client.
// hostKey is the relay's own host key. ciphers, when not empty, restricts
// both legs' ciphers.
func NewRelay(hostKey gossh.Signer, upstream string, client *gossh.ClientConfig, ciphers []string) (*Relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &gossh.ServerConfig{
		PublicKeyCallback: func(gossh.ConnMetadata, gossh.PublicKey) (*gossh.Permissions, error) { return nil, nil },
	}
	srv.Ciphers = ciphers
	srv.AddHostKey(hostKey)
	c := *client
	if len(ciphers) > 0 {
		c.Ciphers = ciphers
	}
	r := &Relay{ln: ln, server: srv, upstream: upstream, client: &c, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// Addr returns the relay's listen address.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Close stops accepting, closes every connection and waits for their
// goroutines.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	err := r.ln.Close()
	r.wg.Wait()
	return err
}

// track adds (or with add false removes) c from the open connections;
// it reports false when the relay is closed.
func (r *Relay) track(c net.Conn, add bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !add {
		delete(r.conns, c)
		return true
	}
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(c, true) {
			c.Close()
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer r.track(c, false)
			defer c.Close()
			r.handle(c)
		}()
	}
}

// handle serves one client connection over one upstream connection.
func (r *Relay) handle(c net.Conn) {
	sconn, chans, reqs, err := gossh.NewServerConn(c, r.server)
	if err != nil {
		return
	}
	defer sconn.Close()
	go gossh.DiscardRequests(reqs)
	up, err := gossh.Dial("tcp", r.upstream, r.client)
	if err != nil {
		for nc := range chans {
			nc.Reject(gossh.ConnectionFailed, err.Error())
		}
		return
	}
	defer up.Close()
	var wg sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(gossh.Prohibited, "only session channels")
			continue
		}
		uch, ureqs, err := up.OpenChannel("session", nc.ExtraData())
		if err != nil {
			var oe *gossh.OpenChannelError
			if errors.As(err, &oe) {
				nc.Reject(oe.Reason, oe.Message)
			} else {
				nc.Reject(gossh.ConnectionFailed, err.Error())
			}
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			uch.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pipeChannel(ch, creqs, uch, ureqs)
		}()
	}
	wg.Wait()
}

// pipeChannel copies data, stderr and requests between the client's
// channel ch and the upstream channel uch until both directions ended.
func pipeChannel(ch gossh.Channel, creqs <-chan *gossh.Request, uch gossh.Channel, ureqs <-chan *gossh.Request) {
	var in, out sync.WaitGroup
	in.Add(1)
	go func() {
		defer in.Done()
		io.Copy(uch, ch)
		uch.CloseWrite()
	}()
	out.Add(3)
	go func() {
		defer out.Done()
		io.Copy(ch, uch)
	}()
	go func() {
		defer out.Done()
		io.Copy(ch.Stderr(), uch.Stderr())
	}()
	// Upstream requests (exit-status, exit-signal) come before its close.
	go func() {
		defer out.Done()
		forwardRequests(ch, ureqs)
	}()
	go func() {
		out.Wait()
		ch.CloseWrite()
		ch.Close()
	}()
	forwardRequests(uch, creqs) // until the client closes its channel
	uch.Close()
	in.Wait()
	out.Wait()
}

// forwardRequests sends each request of in to dst and relays the reply.
func forwardRequests(dst gossh.Channel, in <-chan *gossh.Request) {
	for req := range in {
		ok, err := dst.SendRequest(req.Type, req.WantReply, req.Payload)
		if req.WantReply {
			req.Reply(ok && err == nil, nil)
		}
	}
}
