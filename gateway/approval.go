package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
	"github.com/foureyes/foureyes/termsafe"
	gossh "golang.org/x/crypto/ssh"
)

// reasonEnv is the environment variable that gives the reason for a
// four-eyes session without a prompt: `ssh -o SetEnv=FOUREYES_REASON=…`
// or SendEnv. It is read by the bastion and never passed to the host.
const reasonEnv = "FOUREYES_REASON"

// ErrReasonRequired refuses a four-eyes session without a reason.
var ErrReasonRequired = errors.New("gateway: reason required")

// reasonPrompt asks the requester for the reason; the line before it
// (reasonLimit) says the limit.
const reasonPrompt = "Reason for this session: "

// reasonLimit is said before the first reason prompt.
var reasonLimit = "one line, at most " + strconv.Itoa(maxLine) + " characters; the reviewers see exactly what you type."

// badReason says what is wrong with a reason given in FOUREYES_REASON,
// or "" when nothing is: the same rule as at the prompt, so that what
// reviewers read is what the requester sent.
func badReason(r string) string {
	if n := utf8.RuneCountInString(r); n > maxLine {
		return fmt.Sprintf("is %d characters long", n)
	}
	for i, c := range r {
		if c == utf8.RuneError || !termsafe.Visible(c) {
			if _, size := utf8.DecodeRuneInString(r[i:]); c == utf8.RuneError && size == 1 {
				return "is not valid UTF-8"
			}
			return "contains the control or invisible character " + termsafe.Quote(string(c))
		}
	}
	return ""
}

// lineResult is a line typed at a prompt, or an abort.
type lineResult struct {
	line  string
	abort bool
}

// ownerInput is the requester's input reader (readOwnerInput). It starts
// with the reason prompt (pty clients) or at approval (others).
type ownerInput struct {
	lines   chan lineResult // the reason, typed at the prompt
	done    chan struct{}   // closed when the reader returned
	started bool
}

// fourEyes runs a session on a host whose approval policy applies:
// reason, recording, the wait for approval (nothing reaches the host),
// then the watched session until it ends.
func (sess *clientSession) fourEyes(h *config.Host, pol *config.ApprovalPolicy, remote string) exitResult {
	s, user := sess.s, sess.user.Name
	hb := newHub(s, user, sess.keyFP, h, pol, remote)
	sess.hub = hb
	hb.tap = sess.tap
	s.live.owns(sess, hb) // for revocation, kill and session limits
	in := &ownerInput{lines: make(chan lineResult, 1), done: make(chan struct{})}
	if sess.pty != nil {
		hb.cols, hb.rows = sess.pty.Cols, sess.pty.Rows
	} else {
		for i := range hb.views {
			hb.views[i].crlf = true
		}
	}

	reason := strings.Trim(sess.reasonEnv, " ")
	if msg := badReason(reason); msg != "" {
		s.recordGateway(event.AccessDenied, user, map[string]string{"user": user, "host": h.Name, "reason": "bad " + reasonEnv + ": " + msg, "remote": sess.remote})
		return sess.refuse(userErrorf(ErrReasonRequired, "%s %s; give one line of at most %d visible characters", reasonEnv, msg, maxLine))
	}
	if reason == "" {
		if sess.pty == nil {
			s.recordGateway(event.AccessDenied, user, map[string]string{"user": user, "host": h.Name, "reason": "four-eyes session without a reason", "remote": sess.remote})
			if sess.subsystem != "" { // sftp and scp cannot prompt
				return sess.refuse(userErrorf(ErrReasonRequired,
					"%s requires four-eyes approval and a reason: sftp -o 'SetEnv=%s=\"why\"' (scp takes the same -o)", h.Name, reasonEnv))
			}
			return sess.refuse(userErrorf(ErrReasonRequired,
				"%s requires four-eyes approval and a reason: use ssh -t to be asked, or ssh -o 'SetEnv=%s=\"why\"'", h.Name, reasonEnv))
		}
		sess.startOwnerInput(in)
		sess.say(h.Name + " requires four-eyes approval: a reviewer must approve before anything reaches it.")
		sess.say("give a reason: " + reasonLimit)
		// Abandoned before a recording exists: the gateway stream keeps
		// the attempt.
		abandoned := func(why string) {
			meta := map[string]string{"user": user, "host": h.Name, "login": h.Login, "remote": sess.remote, "reason": why}
			if remote != "" {
				meta["command"] = remote
			}
			s.recordGateway(event.ApprovalCancel, user, meta)
		}
		for asked := false; reason == ""; asked = true {
			if asked {
				sess.say("a reason is required (" + reasonLimit + " Ctrl-C cancels).")
			}
			sess.ch.Write([]byte(reasonPrompt))
			select {
			case r := <-in.lines:
				if r.abort {
					abandoned("cancelled at the reason prompt")
					return sess.refuse(userErrorf(nil, "request cancelled"))
				}
				reason = r.line
			case <-sess.ctx.Done():
				abandoned("disconnected at the reason prompt")
				return exitResult{status: statusLost}
			}
		}
	}

	kind := sess.kindOf(remote)
	info := recorder.StartInfo{
		Kind: kind, User: user, Host: h.Name, Login: h.Login, Remote: sess.remote,
		KeyFingerprint: sess.keyFP, Command: remote, Class: h.Class, Retention: s.cfg().RetentionDays(h.Class),
		Meta: map[string]string{"reason": reason, "approval": "required"},
	}
	if sess.pty != nil {
		info.Term, info.Cols, info.Rows = sess.pty.Term, int(sess.pty.Cols), int(sess.pty.Rows)
	}
	rec, err := s.opts.Recorder.Start(info)
	if err != nil {
		sess.log.Error("start recording", "host", h.Name, "err", err)
		return sess.refuse(userErrorf(fmt.Errorf("%w: %w", ErrRecordingFailed, err), "recording unavailable (%v); session refused", err))
	}
	sess.rec = rec
	if sess.subsystem != "" {
		hb.sftp = sess.startSFTP(rec, h)
	}
	hb.id, hb.reason, hb.since, hb.rec = rec.ID(), reason, now(), rec
	hb.local = sess.localAddr()
	hb.log = hb.log.With("session", hb.id)
	reqMeta := map[string]string{
		"host": h.Name, "login": h.Login, "reason": reason, "count": strconv.Itoa(pol.Count),
		"approvers": strings.Join(hb.approvers, ","), "pending_timeout": pol.PendingTimeout.String(),
	}
	if remote != "" {
		reqMeta["command"] = remote
	}
	if err := rec.Record(event.ApprovalRequest, user, nil, reqMeta); err != nil {
		if rec.Err() != nil {
			sess.reportStrict(rec, h, remote)
		}
		return sess.endWith(sess.refuse(recordingFailed(err)), map[string]string{"error": err.Error(), "reason": reason})
	}
	hb.mu.Lock()
	hb.state = statePending
	hb.mu.Unlock()
	s.hubs.add(hb)
	defer s.hubs.remove(hb)
	hb.log.Info("four-eyes session requested", "reason", reason)
	sess.showPending(hb)
	s.notify(hb, event.ApprovalRequest, user, "")

	res, meta, msg := sess.superviseFourEyes(hb, in, remote)
	approvers := hb.finish(msg)
	if msg != "" {
		sess.banner(msg)
	}
	if meta == nil {
		meta = map[string]string{}
	}
	if r, ok := meta["reason"]; ok {
		meta["end_reason"] = r
	}
	meta["reason"] = reason // the sessions summary's reason is the request's
	meta["approvers"] = strings.Join(approvers, ",")
	hb.log.Info("four-eyes session end", "status", res.status, "meta", meta)
	return sess.endWith(res, meta)
}

// joinCommand is the command reviewer runs to join session id: the bastion
// as gateway.public_address names it, else as the requester reached it
// (local), else a placeholder.
func (s *Server) joinCommand(reviewer, id string, local net.Addr) string {
	host, port := "BASTION", ""
	if a := s.cfg().Gateway.PublicAddress; a != "" {
		host, port, _ = config.SplitPublicAddress(a) // validated with the config
	} else if local != nil {
		if h, p, err := net.SplitHostPort(local.String()); err == nil {
			host, port = h, p
		}
	}
	if port != "" && port != "22" {
		return fmt.Sprintf("ssh -t -p %s %s@%s join %s", port, reviewer, host, id)
	}
	return fmt.Sprintf("ssh -t %s@%s join %s", reviewer, host, id)
}

// showPending tells the requester who may approve and how.
func (sess *clientSession) showPending(hb *hub) {
	reviewer := "REVIEWER"
	if len(hb.approvers) == 1 {
		reviewer = hb.approvers[0]
	}
	need := "an approval"
	if hb.pol.Count > 1 {
		need = strconv.Itoa(hb.pol.Count) + " approvals"
	}
	w := newTextWriter(sess.ch.Stderr(), sess.pty != nil)
	fmt.Fprintf(w, "foureyes: session %s is waiting for %s; nothing reaches %s until then.\n", hb.id, need, hb.host.Name)
	fmt.Fprintf(w, "foureyes: who may approve: %s\n", joinList(hb.approvers))
	fmt.Fprintf(w, "foureyes: a reviewer runs:  %s\n", hb.s.joinCommand(reviewer, hb.id, hb.local))
	cancel := ""
	if sess.pty != nil {
		cancel = "; Ctrl-C cancels"
	}
	fmt.Fprintf(w, "foureyes: the request expires in %v%s.\n", hb.pol.PendingTimeout, cancel)
}

// banner writes a notice on its own line of the requester's terminal. On
// a pty it goes to the same stream as the host's output: the ssh client
// writes stdout and stderr from separate buffers, so a banner on stderr
// could reach the screen after output the gateway sent later.
func (sess *clientSession) banner(msg string) {
	if sess.pty == nil {
		sess.say(msg)
		return
	}
	sess.ch.Write([]byte(noticeStart + msg + "]\x1b[0m\r\n"))
}

// superviseFourEyes waits for the decision, then runs the approved
// session. It returns the exit result, the session.end meta and the
// message everyone is told at the end (empty: none).
func (sess *clientSession) superviseFourEyes(hb *hub, in *ownerInput, remote string) (exitResult, map[string]string, string) {
	s, pol := sess.s, hb.pol
	expire := time.NewTimer(pol.PendingTimeout)
	defer expire.Stop()
	recDone := hb.rec.Done() // four-eyes sessions are always strict
	pty := sess.pty
	if pty != nil {
		p := *pty
		p.Modes = forceEcho(p.Modes) // reviewers see what is typed
		pty = &p
	}
	for {
		select {
		case <-hb.wake:
			hb.mu.Lock()
			end, ready := hb.end, hb.readyLocked()
			hb.mu.Unlock()
			if end != nil {
				return exitResult{status: 1}, map[string]string{"reason": end.msg}, end.msg
			}
			if ready {
				res, meta, msg, ok := sess.activate(hb, in, pty, remote)
				if ok {
					return res, meta, msg
				}
			}
		case msg := <-hb.notes:
			sess.banner(msg)
		case w := <-sess.winch:
			if pty != nil {
				pty.Cols, pty.Rows = w.Cols, w.Rows
				hb.resized(w.Cols, w.Rows)
			}
		case <-sess.sigs: // nothing runs yet
		case <-expire.C:
			if hb.expire() {
				msg := fmt.Sprintf("request expired: nobody approved within %v", pol.PendingTimeout)
				s.notify(hb, event.ApprovalExpire, "", "")
				return exitResult{status: 1}, map[string]string{"reason": msg}, msg
			}
		case <-sess.ctx.Done():
			why := ctxReason(sess.ctx)
			hb.cancel(why)
			return exitResult{status: statusLost}, map[string]string{"reason": why}, "request cancelled: " + why
		case <-recDone:
			err := hb.rec.Err()
			sess.reportStrict(hb.rec, hb.host, remote)
			return exitResult{status: statusLost}, map[string]string{"reason": "recording failed"}, recordingFailed(err).Message
		}
	}
}

// expire ends a request nobody approved in time; it reports false when
// the request was decided meanwhile.
func (h *hub) expire() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != statePending || h.end != nil || h.readyLocked() {
		return false
	}
	h.end = &ending{kind: event.ApprovalExpire, msg: "request expired"}
	h.recordLocked(event.ApprovalExpire, "", map[string]string{"pending_timeout": h.pol.PendingTimeout.String()})
	return true
}

// ctxReason says why a session's context ended, for its session.end.
func ctxReason(ctx context.Context) string {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, ErrShuttingDown):
		return "bastion shutting down"
	case errors.Is(cause, errClientGone):
		return "client disconnected"
	case cause != nil:
		return cause.Error()
	}
	return ""
}

// activate connects to the host once approved and runs the watched
// session. ok is false when the approval was withdrawn while connecting:
// the host's channel is closed unused and the request waits again.
func (sess *clientSession) activate(hb *hub, in *ownerInput, pty *ptyRequest, remote string) (res exitResult, meta map[string]string, msg string, ok bool) {
	s, h := sess.s, hb.host
	sess.s.notify(hb, event.ApprovalGrant, strings.Join(hb.info().granted, ","), "")
	up, err := s.leaseUpstream(sess.ctx, sess.cs, h)
	if err != nil {
		hb.log.Warn("upstream", "err", err)
		var mismatch *HostKeyMismatchError
		if errors.As(err, &mismatch) {
			if err := hb.rec.Record(event.HostKeyMismatch, "", nil, map[string]string{"host": h.Name, "addr": h.Address, "want": mismatch.Want, "got": mismatch.Got}); err != nil {
				hb.log.Error("record host key mismatch", "err", err)
			}
			return exitResult{status: 1}, map[string]string{"error": "host key mismatch"}, mismatch.Error(), true
		}
		return exitResult{status: 1}, map[string]string{"error": err.Error()}, fmt.Sprintf("cannot reach %s (%s): %v", h.Name, h.Address, errors.Unwrap(err)), true
	}
	defer up.release()
	uch, ureqs, uerr := sess.prepareChannel(up, h, pty)
	if uerr != nil {
		return exitResult{status: 1}, map[string]string{"error": uerr.Err.Error()}, uerr.Message, true
	}
	defer uch.Close()
	// The commit point. The approval is checked, the exec recorded and
	// the session leaves pending under hb.mu, before the host is asked
	// to run anything: a cancel, a deny or an expiry either lands first
	// (the channel closes with nothing run) or is refused, and an
	// approver leaving now leaves a started session (pause, on_leave),
	// never withdraws an approval that something already ran on.
	hb.mu.Lock()
	if hb.end != nil || !hb.readyLocked() {
		end := hb.end
		hb.mu.Unlock()
		if end != nil {
			return exitResult{status: 1}, map[string]string{"reason": end.msg}, end.msg, true
		}
		return exitResult{}, nil, "", false
	}
	if remote != "" && sess.subsystem == "" {
		if err := hb.rec.Record(event.Exec, hb.owner, []byte(remote), nil); err != nil {
			hb.mu.Unlock()
			if hb.rec.Err() != nil {
				sess.reportStrict(hb.rec, h, remote)
			}
			return exitResult{status: statusLost}, map[string]string{"reason": "recording failed"}, recordingFailed(err).Message, true
		}
	}
	hb.state = stateStarting
	hb.mu.Unlock()
	if uerr := sess.startChannel(uch, h, remote); uerr != nil {
		return exitResult{status: 1}, map[string]string{"error": uerr.Err.Error()}, uerr.Message, true
	}
	hb.mu.Lock()
	hb.state, hb.up = stateActive, uch
	// Reviewers who joined while it was pending learn of a smaller window.
	hb.noticeSmallerLocked()
	if len(hb.parts) == 0 && hb.win == nil { // every approver left while the host started it
		hb.pauseLocked("no reviewer present at approval")
	}
	granted := joinList(hb.granted)
	hb.mu.Unlock()
	sess.banner("approved by " + granted + "; connected to " + h.Name + ". Reviewers are watching.")
	hb.log.Info("four-eyes session approved", "by", granted)

	upDone, exitOf := sess.watchExit(ureqs)
	var stopHold func()
	sess.outStop, stopHold = sess.holdStop(up.dead())
	defer stopHold()
	outDone := make(chan struct{})
	sess.s.goTracked(func() {
		defer close(outDone)
		errDone := make(chan struct{})
		sess.s.goTracked(func() {
			defer close(errDone)
			sess.copyOutput(hb.rec, sess.ch.Stderr(), uch.Stderr(), streamErr)
		})
		sess.copyOutput(hb.rec, sess.ch, uch, streamOut)
		<-errDone
	})
	if !in.started {
		sess.startOwnerInput(in)
	}

	meta = map[string]string{}
	res = exitResult{status: statusLost}
	recDone := hb.rec.Done()
	var grace *time.Timer
	var graceC <-chan time.Time
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	stop := func() { noteLeftOpen(meta, sess.closeUpstream(up, uch, stopHold, outDone)) }
	for {
		select {
		case w := <-sess.winch:
			uch.SendRequest("window-change", false, gossh.Marshal(&w))
			hb.rec.Resize(int(w.Cols), int(w.Rows))
			hb.resized(w.Cols, w.Rows)
		case name := <-sess.sigs:
			uch.SendRequest("signal", false, gossh.Marshal(&struct{ Name string }{name}))
			if err := hb.rec.Record(event.Signal, hb.owner, nil, map[string]string{"signal": name}); err != nil {
				hb.log.Warn("record signal", "err", err)
			}
		case m := <-hb.notes:
			sess.banner(m)
		case <-hb.wake:
			hb.mu.Lock()
			end, state := hb.end, hb.state
			hb.mu.Unlock()
			if end != nil {
				stop()
				meta["reason"] = end.msg
				if end.by != "" {
					meta["terminated_by"] = end.by
				}
				return res, meta, end.msg, true
			}
			switch {
			case state == statePaused && grace == nil:
				grace = time.NewTimer(hb.pol.LeaveGrace)
				graceC = grace.C
				sess.banner(fmt.Sprintf("session paused: no reviewer is watching. Your input is frozen until a reviewer rejoins; the session is terminated in %v otherwise.", hb.pol.LeaveGrace))
			case state == stateActive && grace != nil:
				grace.Stop()
				grace, graceC = nil, nil
			}
		case <-graceC:
			hb.mu.Lock()
			if hb.state == statePaused && hb.end == nil {
				hb.end = &ending{kind: event.SessionTerminate, msg: fmt.Sprintf("session terminated: no reviewer rejoined within %v", hb.pol.LeaveGrace)}
				hb.recordLocked(event.SessionTerminate, "", map[string]string{"reason": "no reviewer rejoined within the grace period", "grace": hb.pol.LeaveGrace.String()})
			}
			hb.mu.Unlock()
			grace, graceC = nil, nil
			hb.signal()
		case <-upDone:
			<-outDone
			if err := hb.rec.Err(); err != nil {
				// The recording failed as the host exited: output may
				// have been withheld, so this ends as a failure.
				meta["reason"] = "recording failed"
				sess.reportStrict(hb.rec, h, remote)
				return res, meta, recordingFailed(err).Message, true
			}
			if exit := exitOf(); exit != nil {
				res = *exit
				if exit.signal != nil {
					meta["exit_signal"] = exit.signal.Signal
				}
			} else {
				meta["reason"] = sess.noExitReason()
			}
			what := "shell"
			switch {
			case sess.subsystem != "":
				what = "SFTP session"
			case remote != "":
				what = "command"
			}
			return res, meta, fmt.Sprintf("session ended: %s's %s exited with status %d", hb.owner, what, res.status), true
		case <-sess.ctx.Done():
			why := ctxReason(sess.ctx)
			meta["reason"] = why
			if errors.Is(context.Cause(sess.ctx), ErrShuttingDown) {
				sess.say("bastion shutting down; session terminated")
			}
			stop()
			return res, meta, "session ended: " + why, true
		case <-recDone:
			err := hb.rec.Err()
			meta["reason"] = "recording failed"
			stop()
			sess.reportStrict(hb.rec, h, remote)
			return res, meta, recordingFailed(err).Message, true
		}
	}
}

// startOwnerInput starts the requester's input reader.
func (sess *clientSession) startOwnerInput(in *ownerInput) {
	in.started = true
	sess.inputDone = in.done
	sess.s.goTracked(func() {
		defer close(in.done)
		sess.readOwnerInput(in)
	})
}

// readOwnerInput reads the requester's input until the channel ends and
// routes it by the session's state: the reason prompt, Ctrl-C while
// waiting, the host while approved and watched; dropped while paused.
func (sess *clientSession) readOwnerInput(in *ownerInput) {
	hb := sess.hub
	cb := sess.newCopyBuf()
	var ed *lineEditor
	if sess.pty != nil {
		ed = &lineEditor{echo: sess.ch}
	}
	asked := false
	for {
		n, err := sess.ch.Read(cb.b)
		if n > 0 {
			p := cb.b[:n]
			switch hb.current() {
			case stateAsking:
				for i := 0; i < len(p) && !asked && ed != nil; i++ {
					switch ed.feed(p[i]) {
					case lineDone:
						line := ed.line()
						asked = line != ""
						offerLine(in.lines, lineResult{line: line})
					case lineAbort:
						offerLine(in.lines, lineResult{abort: true})
						asked = true
					}
				}
			case statePending:
				if strings.ContainsAny(string(p), "\x03\x04") {
					hb.cancel("cancelled by " + hb.owner)
				}
			case statePaused:
				if hb.sftp != nil && sess.holdWhilePaused(hb) {
					// A dropped piece of an SFTP stream would corrupt it:
					// it is held, not dropped, until a reviewer is back.
					hb.writeInput(hb.owner, p)
				}
			case stateActive:
				hb.writeInput(hb.owner, p)
				// Bulk input waits while the recording is behind
				// (throttle.go); a reviewer's typing never does, so
				// the terminate hotkey always works.
				hb.rec.WaitInput(sess.ctx.Done())
			}
			cb.after(n)
		}
		if err != nil {
			hb.mu.Lock()
			up := hb.up
			hb.mu.Unlock()
			if up != nil {
				up.CloseWrite()
			}
			return
		}
	}
}

// holdWhilePaused waits while hb is paused and reports whether it is
// active again (false: it ended, or the client went away).
func (sess *clientSession) holdWhilePaused(hb *hub) bool {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		switch hb.current() {
		case stateActive:
			return true
		case statePaused:
		default:
			return false
		}
		select {
		case <-hb.closed:
			return false
		case <-sess.ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// offerLine hands a prompt's answer to its reader without blocking: the
// reader takes one answer at a time and may be gone.
func offerLine(ch chan lineResult, r lineResult) {
	select {
	case ch <- r:
	default:
	}
}
