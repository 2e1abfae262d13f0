package guard

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
)

// Errors of Gate.Admit; both mean "closed before the handshake".
var (
	// ErrTooManyUnauthenticated is the global cap.
	ErrTooManyUnauthenticated = errors.New("guard: too many unauthenticated connections")
	// ErrTooManyFromSource is the per-source cap.
	ErrTooManyFromSource = errors.New("guard: too many unauthenticated connections from this source")
	// ErrTooFastFromSource is the per-source rate of new connections.
	ErrTooFastFromSource = errors.New("guard: too many new connections from this source")
)

// Gate counts the connections that have not logged in yet, in total and
// per source, and refuses new ones beyond its caps. It is safe for
// concurrent use.
type Gate struct {
	max, perSource int
	rate           *sourceRate

	mu       sync.Mutex
	total    int
	bySource map[string]int

	refused atomic.Int64
}

// NewGate returns a gate admitting at most max unauthenticated
// connections, perSource of them from one source, and new connections
// from one source at ratePerSecond on average (burst at once).
func NewGate(max, perSource int, ratePerSecond float64, burst int) *Gate {
	return &Gate{max: max, perSource: perSource, rate: newSourceRate(ratePerSecond, burst), bySource: map[string]int{}}
}

// Admit reserves a place for a connection from source. The ticket is
// released when the connection logs in or closes.
func (g *Gate) Admit(source string) (*Ticket, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.total >= g.max:
		g.refused.Add(1)
		return nil, ErrTooManyUnauthenticated
	case g.bySource[source] >= g.perSource:
		g.refused.Add(1)
		return nil, ErrTooManyFromSource
	case !g.rate.allow(source):
		g.refused.Add(1)
		return nil, ErrTooFastFromSource
	}
	g.total++
	g.bySource[source]++
	return &Ticket{g: g, source: source}, nil
}

// Unauthenticated returns the number of admitted connections not yet
// released.
func (g *Gate) Unauthenticated() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total
}

// Refused returns how many connections Admit refused.
func (g *Gate) Refused() int64 { return g.refused.Load() }

// Ticket is one admitted connection's place in a Gate.
type Ticket struct {
	g        *Gate
	source   string
	released atomic.Bool
}

// Release gives the place back; later calls do nothing.
func (t *Ticket) Release() {
	if t == nil || !t.released.CompareAndSwap(false, true) {
		return
	}
	g := t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if g.bySource[t.source]--; g.bySource[t.source] <= 0 {
		delete(g.bySource, t.source)
	}
}

// Listener admits accepted connections through a Gate: a connection
// over a cap is closed at once (with a reset, leaving no TIME_WAIT) and
// Accept goes on with the next one. Admitted connections are *Conn.
type Listener struct {
	net.Listener
	Gate *Gate
	// Refused, if set, is told about every refused connection. It runs
	// on the accept loop and must not block.
	Refused func(source string, remote net.Addr, err error)
}

// Accept returns the next admitted connection.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := Source(c.RemoteAddr())
		t, err := l.Gate.Admit(src)
		if err == nil {
			return &Conn{Conn: c, Ticket: t}, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
		if l.Refused != nil {
			l.Refused(src, c.RemoteAddr(), err)
		}
	}
}

// Conn is an admitted connection; closing it releases its ticket.
type Conn struct {
	net.Conn
	// Ticket is released on login (by the gateway) or on Close.
	Ticket *Ticket
}

// Close releases the ticket and closes the connection.
func (c *Conn) Close() error {
	c.Ticket.Release()
	return c.Conn.Close()
}
