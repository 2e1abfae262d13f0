package gateway

import "io"

// crlfWriter turns "\n" into "\r\n" for text the gateway itself writes to
// a client with a pty (help, audit output, refusals): the client's
// terminal is in raw mode and would otherwise print a staircase. Proxied
// host output never passes through it.
type crlfWriter struct {
	w    io.Writer
	cr   bool // the last byte written was '\r'
	line []byte
}

// newTextWriter returns w, or a crlfWriter around it when pty is set.
func newTextWriter(w io.Writer, pty bool) io.Writer {
	if !pty {
		return w
	}
	return &crlfWriter{w: w}
}

// Write writes p with each lone "\n" replaced by "\r\n". It reports
// len(p) on success.
func (c *crlfWriter) Write(p []byte) (int, error) {
	c.line = c.line[:0]
	for _, b := range p {
		if b == '\n' && !c.cr {
			c.line = append(c.line, '\r')
		}
		c.line = append(c.line, b)
		c.cr = b == '\r'
	}
	if _, err := c.w.Write(c.line); err != nil {
		return 0, err
	}
	return len(p), nil
}
