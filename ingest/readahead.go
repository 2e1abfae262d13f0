package ingest

import (
	"context"
	"net"
	"sync"
	"time"
)

// readAheadSize is how many bytes a consumer connection reads from the
// socket at once: a fetch response of up to MaxBytes arrives in a few
// reads instead of one per 4 KiB.
const readAheadSize = 128 << 10

// readAheadConn is the consumer's connection to a broker. kafka-go reads a
// fetch response through a 4 KiB buffer and sets a read deadline before
// every message; on a plain TCP connection that is a read system call per
// few messages and a timer reset per message (together about a tenth of
// ingest's CPU, BENCHMARKS.md "Ingest pipeline overlap"). readAheadConn
// reads in large chunks and applies a read deadline only when a read has
// to wait for the socket, or at once while one does, so a deadline still
// bounds every wait.
type readAheadConn struct {
	net.Conn
	buf  []byte
	r, w int // buf[r:w] is read but not yet returned

	mu       sync.Mutex
	deadline time.Time // the read deadline last set
	applied  time.Time // the read deadline the socket has
	waiting  bool      // a Read is waiting on the socket
}

func newReadAheadConn(c net.Conn, size int) *readAheadConn {
	return &readAheadConn{Conn: c, buf: make([]byte, size)}
}

// Read returns buffered bytes, or waits for the socket (under the read
// deadline) and buffers what it returns.
func (c *readAheadConn) Read(p []byte) (int, error) {
	if c.r == c.w {
		if len(p) >= len(c.buf) {
			return c.wait(p)
		}
		n, err := c.wait(c.buf)
		c.r, c.w = 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}

// wait reads from the socket under the current read deadline.
func (c *readAheadConn) wait(p []byte) (int, error) {
	c.mu.Lock()
	if !c.deadline.Equal(c.applied) {
		if err := c.Conn.SetReadDeadline(c.deadline); err != nil {
			c.mu.Unlock()
			return 0, err
		}
		c.applied = c.deadline
	}
	c.waiting = true
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.waiting = false
	c.mu.Unlock()
	return n, err
}

// SetReadDeadline records t for the next wait on the socket, or sets it
// at once while a Read waits.
func (c *readAheadConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	if !c.waiting {
		return nil
	}
	c.applied = t
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets the read deadline as SetReadDeadline does and the
// write deadline at once.
func (c *readAheadConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// dialReadAhead dials a broker over TCP and returns a readAheadConn.
func dialReadAhead(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return newReadAheadConn(c, readAheadSize), nil
}
