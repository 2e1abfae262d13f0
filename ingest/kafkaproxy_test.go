package ingest

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/foureyes/foureyes/internal/broker"
)

// kafkaProxy relays TCP connections from Kafka clients to one broker and
// can break one of them in the middle of a large response (a fetch
// carrying a backlog), as a broker that dies while writing or a network
// that drops a connection does. It reads the broker's responses by their
// Kafka framing (a 4-byte size, then the body) to know where one ends.
type kafkaProxy struct {
	ln       net.Listener
	upstream string // the broker's real address

	// accepted counts client connections; refused counts those whose
	// broker could not be reached (it was down) and were closed.
	accepted, refused atomic.Int64
	// largest is the largest response frame relayed, for the message
	// of a fault that never found its response.
	largest atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // both ends of every relayed connection
	fault  *proxyFault           // armed by breakResponse; nil once hit
	closed bool
	wg     sync.WaitGroup
}

// breakMode says how breakResponse breaks the connection it cuts.
type breakMode int

const (
	// breakReset aborts the connection on both sides (a TCP reset to
	// the client), the broker staying up.
	breakReset breakMode = iota
	// breakHold stops relaying the response but keeps the client's end
	// open until the broker's end closes or the client gives up: with
	// the broker stopped when hit is closed, a broker that died while
	// writing the response; with the broker up, a connection that went
	// silent (a lost host or route) and only a read deadline ends.
	breakHold
)

// proxyFault is a break armed by breakResponse.
type proxyFault struct {
	minSize int // responses smaller than this do not count
	skip    int // large responses still to relay whole before the cut
	mode    breakMode
	hit     chan struct{} // closed once the response is cut
	// accepted is the proxy's accepted count when the response was cut
	// (set before hit is closed): a later connection is a reconnect.
	accepted int64
}

// startKafkaProxy listens on a free loopback port; setUpstream must give
// it the broker before a client connects. It closes when the test ends.
func startKafkaProxy(tb testing.TB) *kafkaProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &kafkaProxy{ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

// addr is the address clients connect to.
func (p *kafkaProxy) addr() string { return p.ln.Addr().String() }

// setUpstream sets the broker's address.
func (p *kafkaProxy) setUpstream(addr string) {
	p.mu.Lock()
	p.upstream = addr
	p.mu.Unlock()
}

// breakResponse arms a break: after skip whole responses of at least
// minSize bytes, the next one is relayed only up to half its body and
// its connection is broken as mode says. The fault's hit channel is
// closed when that happens.
func (p *kafkaProxy) breakResponse(minSize, skip int, mode breakMode) *proxyFault {
	f := &proxyFault{minSize: minSize, skip: skip, mode: mode, hit: make(chan struct{})}
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
	return f
}

// take reports whether a response of size bytes is the one to break, and
// disarms the fault if so.
func (p *kafkaProxy) take(size int) *proxyFault {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.fault
	if f == nil || size < f.minSize {
		return nil
	}
	if f.skip > 0 {
		f.skip--
		return nil
	}
	p.fault = nil
	return f
}

func (p *kafkaProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.mu.Lock()
		upstream := p.upstream
		p.mu.Unlock()
		u, err := net.Dial("tcp", upstream)
		if err != nil {
			p.refused.Add(1)
			c.Close()
			continue
		}
		if !p.track(c, u) {
			return
		}
		p.wg.Add(2)
		go p.requests(c, u)
		go p.responses(c, u)
	}
}

// track records both ends of a connection; false if the proxy is closed.
func (p *kafkaProxy) track(c, u net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		u.Close()
		return false
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	return true
}

// drop closes both ends of a connection.
func (p *kafkaProxy) drop(c, u net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
	c.Close()
	u.Close()
}

// requests relays the client's requests to the broker as they come.
func (p *kafkaProxy) requests(c, u net.Conn) {
	defer p.wg.Done()
	io.Copy(u, c)
	p.drop(c, u)
}

// responses relays the broker's responses one frame at a time, breaking
// the one an armed fault selects.
func (p *kafkaProxy) responses(c, u net.Conn) {
	defer p.wg.Done()
	defer p.drop(c, u)
	var head [4]byte
	for {
		if _, err := io.ReadFull(u, head[:]); err != nil {
			return
		}
		size := int(binary.BigEndian.Uint32(head[:]))
		if int64(size) > p.largest.Load() {
			p.largest.Store(int64(size)) // one writer per connection; a lost race only blurs a message
		}
		f := p.take(size)
		body := size
		if f != nil {
			body = size / 2
		}
		if _, err := c.Write(head[:]); err != nil {
			return
		}
		if _, err := io.CopyN(c, u, int64(body)); err != nil {
			return
		}
		if f == nil {
			continue
		}
		f.accepted = p.accepted.Load()
		switch f.mode {
		case breakReset:
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // close with a reset, not a FIN
			}
			close(f.hit)
		case breakHold:
			close(f.hit)
			io.Copy(io.Discard, u) // the rest never reaches the client
		}
		return
	}
}

// close stops accepting and closes every relayed connection.
func (p *kafkaProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// advertise makes a broker tell clients to reach it at addr (the proxy's)
// while it listens where broker.Start says (kfake advertises the address
// of its listener); the address it listens on is stored in *listening.
func advertise(addr string, listening *string) broker.Option {
	return func(o *[]kfake.Opt) {
		*o = append(*o, kfake.ListenFn(func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err != nil {
				return nil, err
			}
			*listening = ln.Addr().String()
			a, err := net.ResolveTCPAddr("tcp", addr)
			if err != nil {
				ln.Close()
				return nil, err
			}
			return advertisedListener{Listener: ln, addr: a}, nil
		}))
	}
}

// advertisedListener is a listener that reports another address.
type advertisedListener struct {
	net.Listener
	addr net.Addr
}

// Addr returns the advertised address.
func (l advertisedListener) Addr() net.Addr { return l.addr }
