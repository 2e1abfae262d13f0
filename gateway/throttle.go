package gateway

import (
	"context"
	"sync"
)

// Backpressure on the gateway's side: the copiers call the recording's
// WaitOutput or WaitInput after each read, which blocks while the
// recording is behind (recorder/backpressure.go). A copier blocked there
// does not read, so the SSH window of that direction closes and the
// sender stalls; keystrokes, resizes and signals take other paths and
// are never held behind bulk output. The wait ends when the session is
// being ended, which is what holdStop signals.

// pasteBytes is the smallest read from a peer reviewer that waits while
// the recording is behind: a paste or a program, not typing. A
// reviewer's typing and hotkeys never wait, so a reviewer can always
// terminate; a peer cannot fill the spool with bulk input either.
const pasteBytes = 256

// holdStop returns a channel closed when the client's session ends
// (sess.ctx), the connection to the host ends (dead) or the session's
// upstream channel is being closed (the returned stop, which ends the
// session's own wait; every way of ending a session calls it: client
// gone, kill, revocation, a reviewer's terminate, shutdown, recording
// failure): an output copier held back by the recorder stops waiting
// then. It costs one goroutine per session, which ends with stop.
func (sess *clientSession) holdStop(dead <-chan struct{}) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	done := make(chan struct{})
	var once, stopOnce sync.Once
	closeCh := func() { once.Do(func() { close(ch) }) }
	stopCtx := context.AfterFunc(sess.ctx, closeCh)
	sess.s.goTracked(func() {
		select {
		case <-dead:
		case <-done:
		}
		stopCtx()
		closeCh()
	})
	return ch, func() { stopOnce.Do(func() { close(done) }) }
}
