package gateway

import (
	"context"
	"sync"

	gossh "golang.org/x/crypto/ssh"
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
// (sess.ctx) or the connection to the host up closes, as every way of
// ending a session does (client gone, kill, revocation, a reviewer's
// terminate, shutdown, recording failure): an output copier held back by
// the recorder stops waiting then. It costs one goroutine per session,
// which ends with the host connection.
func (sess *clientSession) holdStop(up *gossh.Client) <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	closeCh := func() { once.Do(func() { close(ch) }) }
	stopCtx := context.AfterFunc(sess.ctx, closeCh)
	sess.s.goTracked(func() {
		up.Wait()
		stopCtx()
		closeCh()
	})
	return ch
}
