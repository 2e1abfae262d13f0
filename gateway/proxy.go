package gateway

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
	gossh "golang.org/x/crypto/ssh"
)

// proxy opens the session on the host, mirrors the client's pty, locale
// and command, and copies bytes both ways (recording them) until the host
// ends the command, the client goes away, the server shuts down or the
// recording fails. It returns the exit result and the session.end meta.
// Ending the session closes its own channel on up, never the connection
// (upstreampool.go).
func (sess *clientSession) proxy(rec *recorder.Session, up *upstreamLease, h *config.Host, remote string) (exitResult, map[string]string) {
	uch, ureqs, uerr := sess.prepareChannel(up, h, sess.pty)
	if uerr != nil {
		return sess.refuse(uerr), map[string]string{"error": uerr.Err.Error()}
	}
	defer uch.Close()
	if why := sess.commitStart(); why != "" {
		return sess.refuse(userErrorf(ErrAccessDenied, "%s; nothing was run on %s", why, h.Name)), map[string]string{"error": why}
	}
	if uerr := sess.startChannel(uch, h, remote); uerr != nil {
		return sess.refuse(uerr), map[string]string{"error": uerr.Err.Error()}
	}
	sess.s.active.Add(1)
	defer sess.s.active.Add(-1)
	upDone, exitOf := sess.watchExit(ureqs)
	var stopHold func()
	sess.outStop, stopHold = sess.holdStop(up.dead())
	defer stopHold()
	// Output, both streams; they end at the host's EOF or close.
	outDone := make(chan struct{})
	sess.s.goTracked(func() {
		defer close(outDone)
		errDone := make(chan struct{})
		sess.s.goTracked(func() {
			defer close(errDone)
			sess.copyOutput(rec, sess.ch.Stderr(), uch.Stderr(), streamErr)
		})
		sess.copyOutput(rec, sess.ch, uch, streamOut)
		<-errDone
	})
	// Input; ends at the client's EOF or when the channel closes.
	sess.inputDone = make(chan struct{})
	sess.s.goTracked(func() {
		defer close(sess.inputDone)
		sess.copyInput(rec, uch)
	})

	meta := map[string]string{}
	res := exitResult{status: statusLost}
	recDone := rec.Done()
	var loss *recordingLoss // best effort: the session runs on unrecorded
loop:
	for {
		select {
		case w := <-sess.winch:
			uch.SendRequest("window-change", false, gossh.Marshal(&w))
			rec.Resize(int(w.Cols), int(w.Rows))
		case name := <-sess.sigs:
			uch.SendRequest("signal", false, gossh.Marshal(&struct{ Name string }{name}))
			if err := rec.Record(event.Signal, sess.user.Name, nil, map[string]string{"signal": name}); err != nil {
				sess.log.Warn("record signal", "err", err)
			}
		case <-upDone:
			<-outDone // drained: the host sends EOF before close
			if exit := exitOf(); exit != nil {
				res = *exit
				if exit.signal != nil {
					meta["exit_signal"] = exit.signal.Signal
				}
			} else {
				meta["reason"] = sess.noExitReason()
			}
			if sess.startUnconfirmed {
				meta["start"] = "unconfirmed"
				if exitOf() == nil {
					sess.say(h.Name + " closed the session without confirming the start or sending an exit status")
				}
			}
			break loop
		case <-sess.ctx.Done():
			cause := context.Cause(sess.ctx)
			var order *endOrder // revoked, killed, a session limit: revoke.go
			switch {
			case errors.Is(cause, ErrShuttingDown):
				meta["reason"] = "bastion shutting down"
				sess.say("bastion shutting down; session terminated")
			case errors.Is(cause, errClientGone):
				meta["reason"] = "client disconnected"
			case errors.As(cause, &order):
				meta["reason"] = order.reason
				sess.say(order.msg)
				order.record(sess)
			default:
				meta["reason"] = cause.Error()
			}
			noteLeftOpen(meta, sess.closeUpstream(up, uch, stopHold, outDone))
			break loop
		case <-recDone:
			if sess.bestEffort {
				recDone = nil
				loss = sess.bestEffortLoss(rec, h, remote)
				continue
			}
			recDone = nil
			meta["reason"] = "recording failed"
			sess.say(recordingFailed(rec.Err()).Message)
			noteLeftOpen(meta, sess.closeUpstream(up, uch, stopHold, outDone))
			sess.reportStrict(rec, h, remote)
			break loop
		}
	}
	if recDone != nil && rec.Err() != nil {
		// The recording failed as the session ended (the host exited
		// while its last output was refused): still not silent.
		if sess.bestEffort {
			loss = sess.bestEffortLoss(rec, h, remote)
		} else {
			meta["reason"] = "recording failed"
			sess.say(recordingFailed(rec.Err()).Message)
			res = exitResult{status: statusLost}
			sess.reportStrict(rec, h, remote)
		}
	}
	if loss != nil {
		sess.endBestEffort(loss, meta)
	}
	if len(meta) == 0 {
		meta = nil
	}
	return res, meta
}

// commitStart is the last check before the host is asked to run what a
// session (not a four-eyes one: activate commits those) asked for, made
// after the upstream login and the channel's preparation, which take
// round trips: the session was not ended meanwhile (kill, revocation,
// its window's end, the client leaving), its approval window, if any,
// still holds it (window.commit, under the lock the window's end takes),
// and the configuration in force now allows it, by the rule the reload's
// sweep applies (a reload between connect's checks and here is met
// either by that sweep or by this check). It returns why not, or "".
func (sess *clientSession) commitStart() string {
	var w *window
	if sess.winMember != nil {
		w = sess.hub.win
	}
	return lastCheck(sess.ctx, "session", w, sess.winMember, func() string {
		return sess.s.sessionRefusal(sess.s.pol.Load(), sess, now())
	})
}

// lastCheck is the check right before the host is asked to act for a
// session or a tunnel (what names it): ctx not ended, its window (w, nil
// outside one) still holding its member m, and refusal, the reload
// sweep's rule applied to the configuration in force, finding nothing.
// It returns why not, or "".
func lastCheck(ctx context.Context, what string, w *window, m *windowMember, refusal func() string) string {
	if ctx.Err() != nil {
		if o, ok := context.Cause(ctx).(*endOrder); ok {
			return o.msg
		}
		return what + " ended before it started (" + ctxReason(ctx) + ")"
	}
	if w != nil && !w.commit(m) {
		return "approval window " + w.id + " has ended"
	}
	if why := refusal(); why != "" {
		return "access revoked: " + why
	}
	return ""
}

// prepareChannel opens a session channel on the host and requests pty
// (if not nil) and the client's locale: nothing runs on the host yet,
// and closing the channel leaves no trace there but a login.
func (sess *clientSession) prepareChannel(up *upstreamLease, h *config.Host, pty *ptyRequest) (gossh.Channel, <-chan *gossh.Request, *UserError) {
	var uch gossh.Channel
	var ureqs <-chan *gossh.Request
	err := up.open(sess.ctx, sess.s, sess.cs, func(c *gossh.Client) (err error) {
		uch, ureqs, err = c.OpenChannel("session", nil)
		return err
	})
	if err != nil {
		return nil, nil, userErrorf(err, "%s refused the session: %v", h.Name, err)
	}
	if pty != nil {
		if ok, err := uch.SendRequest("pty-req", true, gossh.Marshal(pty)); err != nil {
			uch.Close()
			return nil, nil, userErrorf(errors.New("closed before pty-req reply"), "%s closed the session before it started", h.Name)
		} else if !ok {
			uch.Close()
			return nil, nil, userErrorf(errors.New("pty-req refused"), "%s refused a terminal", h.Name)
		}
	}
	for _, kv := range sess.env {
		uch.SendRequest("env", false, gossh.Marshal(&kv))
	}
	return uch, ureqs, nil
}

// startChannel asks the host to run the subsystem, the shell (remote
// empty) or the command: from here on something may have run there. On
// a refusal it closes uch.
func (sess *clientSession) startChannel(uch gossh.Channel, h *config.Host, remote string) *UserError {
	var ok bool
	var err error
	if sess.subsystem != "" {
		ok, err = uch.SendRequest("subsystem", true, gossh.Marshal(&struct{ Name string }{sess.subsystem}))
	} else if remote == "" {
		ok, err = uch.SendRequest("shell", true, nil)
	} else {
		ok, err = uch.SendRequest("exec", true, gossh.Marshal(&struct{ Command string }{remote}))
	}
	if err != nil {
		// The host closed the channel (or the connection) without
		// answering. That is no refusal: a host may run a quick command,
		// send its output, exit status and close before its reply (an
		// x/crypto server that replies after its exit goroutine closed
		// the channel does). What arrived is buffered in uch and ureqs;
		// the proxy collects and records it like any other session.
		sess.log.Warn("host closed the session before confirming the start", "host", h.Name, "err", err)
		sess.startUnconfirmed = true
		return nil
	}
	if !ok {
		uch.Close()
		if sess.subsystem != "" {
			return userErrorf(errors.New("subsystem refused"), "%s refused the %s subsystem (is an SFTP server installed there?)", h.Name, sess.subsystem)
		}
		return userErrorf(errors.New("start refused"), "%s refused to start the command", h.Name)
	}
	return nil
}

// watchExit serves the host's channel requests (exit-status or
// exit-signal, then close) on a tracked goroutine. The returned channel
// is closed when the host closed the channel; exitOf then returns how
// the command ended, or nil if the host did not say.
func (sess *clientSession) watchExit(ureqs <-chan *gossh.Request) (<-chan struct{}, func() *exitResult) {
	var exit *exitResult
	upDone := make(chan struct{})
	sess.s.goTracked(func() {
		defer close(upDone)
		for req := range ureqs {
			switch req.Type {
			case "exit-status":
				var st struct{ Status uint32 }
				if gossh.Unmarshal(req.Payload, &st) == nil {
					exit = &exitResult{status: int(st.Status)}
				}
			case "exit-signal":
				var sig exitSignalMsg
				if gossh.Unmarshal(req.Payload, &sig) == nil {
					exit = &exitResult{status: 128 + signalNumber(sig.Signal), signal: &sig}
				}
			}
			if req.WantReply {
				req.Reply(false, nil) // keepalives
			}
		}
	})
	return upDone, func() *exitResult { <-upDone; return exit }
}

// copyOutput copies the host's output (stdout or stderr) to the client,
// recording each chunk before it is forwarded; stream (streamOut or
// streamErr) says which, for the reviewers' view. Once the recording has
// failed nothing more is forwarded (strict), or it is forwarded and
// counted as lost (best effort). While the recording is behind it stops
// reading (throttle.go).
func (sess *clientSession) copyOutput(rec *recorder.Session, dst io.Writer, src io.Reader, stream int) {
	cb := sess.newCopyBuf()
	failed := rec.Done()
	for {
		buf := cb.b
		n, err := src.Read(buf)
		tap := stream == streamOut && sess.sftp != nil
		// After the session ended with the channel left open on the
		// host, output is only counted (leftopen.go).
		if n > 0 && sess.hostCh.handle(sess.s, n) {
			if tap {
				sess.sftp.Down(buf[:n]) // recorded as file operations, not output
			} else {
				sess.tap.output(rec, stream, buf[:n])
			}
			select {
			case <-failed:
				if !sess.bestEffort {
					sess.hostCh.done()
					return
				}
				sess.rc.outLost.Add(int64(n))
			default:
			}
			sess.rc.outFwd.Add(int64(n))
			if sess.hub != nil && !tap { // reviewers see the SFTP operations as lines instead
				sess.hub.broadcast(stream, buf[:n])
			}
			sess.hostCh.done()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				sess.cancel(errClientGone)
				// Keep reading so the host is not blocked on a full
				// window while the session is torn down.
			}
			cb.after(n)
		}
		if err != nil {
			return
		}
		// Backpressure: while the recording is behind, the host is not
		// read (throttle.go).
		rec.WaitOutput(sess.outStop)
	}
}

// copyInput copies the client's input to the host, recording it as typed
// by the session's user, and forwards the client's EOF. Once the
// recording has failed nothing more reaches the host (strict), or it
// does and is counted as lost (best effort).
func (sess *clientSession) copyInput(rec *recorder.Session, uch gossh.Channel) {
	cb := sess.newCopyBuf()
	user := sess.user.Name
	failed := rec.Done()
	for {
		buf := cb.b
		n, err := sess.ch.Read(buf)
		if n > 0 {
			if sess.sftp != nil {
				sess.sftp.Up(buf[:n]) // recorded as file operations, not input
				if sess.sftp.Broken() && !sess.bestEffort {
					// What the record could not follow never reaches a
					// strictly recorded host; the session is ending
					// (sftpUnparsable).
					return
				}
			} else {
				sess.tap.input(rec, user, buf[:n])
			}
			select {
			case <-failed:
				if !sess.bestEffort {
					return
				}
				sess.rc.inLost.Add(int64(n))
			default:
			}
			if _, werr := uch.Write(buf[:n]); werr != nil {
				return
			}
			sess.rc.inFwd.Add(int64(n))
			cb.after(n)
		}
		if err != nil {
			uch.CloseWrite()
			return
		}
		rec.WaitInput(sess.ctx.Done()) // bulk input waits too; keystrokes have room (throttle.go)
	}
}

// clientGoneGrace bounds how long a session whose host closed without an
// exit status, after the client's input ended, waits to learn whether
// the client's connection is gone.
const clientGoneGrace = 250 * time.Millisecond

// noExitReason returns the session.end reason for a host that closed the
// session without an exit status. When the client's connection drops,
// the gateway forwards its EOF, and a quick host may close before the
// connection's end reaches the session: if the client's input had ended
// and the session is cancelled as the client's within clientGoneGrace,
// the client's disconnection is the reason, as it is when it arrives
// first (TestClientDisconnectEndsUpstream).
func (sess *clientSession) noExitReason() string {
	const hostClosed = "host closed the session without an exit status"
	if sess.inputDone == nil {
		return hostClosed
	}
	select {
	case <-sess.inputDone:
	default:
		return hostClosed // the client is still sending: it is there
	}
	t := time.NewTimer(clientGoneGrace)
	defer t.Stop()
	select {
	case <-sess.ctx.Done():
		if errors.Is(context.Cause(sess.ctx), errClientGone) {
			return "client disconnected"
		}
	case <-t.C:
	}
	return hostClosed
}

// signalNumbers maps SSH signal names (RFC 4254 6.10) to Linux numbers,
// for the recorded exit status 128+n.
var signalNumbers = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9,
	"USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
}

// signalNumber returns the number of an SSH signal name, 0 if unknown.
func signalNumber(name string) int { return signalNumbers[name] }
