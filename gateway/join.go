package gateway

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/termsafe"
	"github.com/google/uuid"
)

// Moderator hotkeys, typed by a reviewer: hotkeyPrefix, then a key.
const (
	hotkeyPrefix    = 0x1d // Ctrl-]
	hotkeyTerminate = 't'  // end the session for everyone
	hotkeyLeave     = 'q'  // leave; the session goes on (or pauses)
)

// hotkeyHelp is shown after an unknown hotkey and to observers who type.
const hotkeyHelp = "Ctrl-] t terminates the session, Ctrl-] q leaves, Ctrl-] Ctrl-] sends Ctrl-]"

// parseJoinArgs parses "ID [--mode observer|peer]".
func parseJoinArgs(args string) (id, mode string, err error) {
	mode = modeObserver
	words := strings.Fields(args)
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--mode" && i+1 < len(words):
			mode = words[i+1]
			i++
		case strings.HasPrefix(w, "--mode="):
			mode = strings.TrimPrefix(w, "--mode=")
		case strings.HasPrefix(w, "-") || id != "":
			return "", "", fmt.Errorf("unexpected %q", w)
		default:
			id = w
		}
	}
	if id == "" {
		return "", "", fmt.Errorf("missing SESSION_ID")
	}
	if mode != modeObserver && mode != modePeer {
		return "", "", fmt.Errorf("mode %q: use observer or peer", mode)
	}
	return id, mode, nil
}

// reviewerInput is a reviewer's input reader: lines for the approval
// prompt first, then hotkeys and (peers) typing.
type reviewerInput struct {
	lines     chan lineResult
	watching  atomic.Bool
	leave     chan struct{} // closed by the leave hotkey
	leaveOnce sync.Once
	done      chan struct{} // closed when the reader returned
}

// join lets a reviewer approve or deny a pending session and watch it
// (observer) or take part (peer), with moderator hotkeys.
func (sess *clientSession) join(args string) exitResult {
	if res, refused := sess.refuseNonReviewer("join", args); refused {
		// The attempt is in the session's own record too, when it exists;
		// the message above says nothing about it.
		if id, _, err := parseJoinArgs(args); err == nil {
			if w, ok := sess.s.windows.get(id); ok {
				w.mu.Lock()
				w.recordLocked(event.ApprovalRefused, sess.user.Name, map[string]string{
					"reason": "join requires a role with approve", "key": sess.keyFP, "remote": sess.remote})
				w.mu.Unlock()
			} else if hb, ok := sess.s.hubs.get(id); ok && hb.current() != stateAsking {
				hb.mu.Lock()
				hb.recordLocked(event.ApprovalRefused, sess.user.Name, map[string]string{
					"reason": "join requires a role with approve", "key": sess.keyFP, "remote": sess.remote})
				hb.mu.Unlock()
			}
		}
		return res
	}
	s, user := sess.s, sess.user.Name
	id, mode, err := parseJoinArgs(args)
	if err != nil {
		return sess.refuse(userErrorf(err, "join: %v; usage: join SESSION_ID [--mode observer|peer]", err))
	}
	denied := func(hb *hub, reason string) {
		s.recordGateway(event.AccessDenied, user, map[string]string{"user": user, "host": "", "reason": reason, "command": "join " + args, "session": id, "remote": sess.remote})
		if hb != nil {
			hb.mu.Lock()
			hb.recordLocked(event.ApprovalRefused, user, map[string]string{"reason": reason, "key": sess.keyFP, "remote": sess.remote})
			hb.mu.Unlock()
		}
	}
	if w, ok := s.windows.get(id); ok {
		return sess.reviewWindow(w) // an approval window: window_review.go
	}
	hb, ok := s.hubs.get(id)
	if !ok || hb.current() == stateAsking {
		denied(nil, "no such session")
		return sess.refuse(userErrorf(nil, "no session %s is waiting for review or running", printableID(id)))
	}
	if sess.isOwner(hb) {
		denied(hb, "self-approval")
		return sess.refuse(userErrorf(ErrAccessDenied, "you cannot review your own session %s: another person must approve it", id))
	}
	if !s.cfg().CanApproveSession(sess.user, hb.host, hb.pol) {
		// Answered as for an id that does not exist: a reviewer must not
		// learn that a session they may not see is running.
		denied(hb, "no reviewer role for the session's host")
		return sess.refuse(userErrorf(nil, "no session %s is waiting for review or running", printableID(id)))
	}
	w := newTextWriter(sess.ch, sess.pty != nil)
	if mode == modePeer && hb.win != nil {
		fmt.Fprintf(w, "foureyes: sessions under an approval window are watched, not shared; joining as observer.\n")
		mode = modeObserver
	} else if mode == modePeer && !hb.pol.AllowPeerInput {
		fmt.Fprintf(w, "foureyes: peer input is not allowed on %s; joining as observer.\n", hb.host.Name)
		mode = modeObserver
	}
	p := newParticipant(user, sess.keyFP, sess.remote, mode)
	if sess.pty != nil {
		p.cols, p.rows = sess.pty.Cols, sess.pty.Rows
	}
	in := hb.info()
	writeRequest(w, in, hb.ownerKey)
	if in.state == statePending {
		hb.mu.Lock()
		hb.recordLocked(event.ApprovalView, user, map[string]string{"key": sess.keyFP, "remote": sess.remote})
		hb.mu.Unlock()
	}

	ri := &reviewerInput{lines: make(chan lineResult, 1), leave: make(chan struct{}), done: make(chan struct{})}
	sess.inputDone = ri.done
	sess.s.goTracked(func() {
		defer close(ri.done)
		sess.readReviewerInput(hb, p, ri)
	})

	grant := false
	if in.state == statePending {
		answer, ok := sess.ask(w, hb, ri, "Approve this session? [y/n] ")
		answer = strings.ToLower(answer)
		for ok && answer != "y" && answer != "yes" && answer != "n" && answer != "no" {
			answer, ok = sess.ask(w, hb, ri, "Please answer y or n: ")
			answer = strings.ToLower(answer)
		}
		if !ok {
			return sess.joinAborted(hb, p)
		}
		if answer == "n" || answer == "no" {
			note, ok := sess.ask(w, hb, ri, "Reason for denying (optional, shown to "+termsafe.Text(in.owner)+"; at most "+strconv.Itoa(maxLine)+" characters): ")
			if !ok {
				return sess.joinAborted(hb, p)
			}
			if !hb.deny(user, sess.keyFP, note) {
				fmt.Fprintf(w, "foureyes: session %s was decided meanwhile; nothing changed.\n", id)
				return exitResult{status: 1}
			}
			s.notify(hb, event.ApprovalDeny, user, note)
			fmt.Fprintf(w, "foureyes: you denied session %s; %s has been told.\n", id, in.owner)
			return exitResult{}
		}
		grant = true
	}
	if grant {
		// The roles may have changed while the reviewer read: decide on
		// the configuration in force now (a reload stores it before its
		// sweep, which ends this seat if the role went away).
		cfg := s.cfg()
		u, okU := cfg.User(user)
		h, okH := cfg.Host(hb.host.Name)
		if !okU || !okH || !cfg.CanApproveSession(u, h, hb.pol) {
			denied(hb, "reviewer role removed before the approval")
			return sess.refuse(userErrorf(ErrAccessDenied, "approval refused: you may no longer approve session %s", id))
		}
	}
	switch hb.admit(p, grant) {
	case admittedLate:
		fmt.Fprintf(w, "foureyes: session %s was approved by others meanwhile; you watch it, your approval was not needed.\n", id)
		grant = false
	case admitEnded:
		return sess.refuse(userErrorf(nil, "session %s has ended", id))
	case admitSameKey:
		denied(hb, "key already approved under another name")
		return sess.refuse(userErrorf(ErrAccessDenied, "approval refused: your key already approved session %s under another name; a second person must approve", id))
	case admitNeedsOK: // cannot happen: states only move forward
		return sess.refuse(userErrorf(nil, "session %s is waiting for approval; join again to approve", id))
	}
	if grant {
		fmt.Fprintf(w, "foureyes: you approved session %s.\n", id)
	}
	fmt.Fprintf(w, "foureyes: watching as %s. %s.\n", mode, hotkeyHelp)
	if in.state != statePending && sess.pty != nil {
		if msg := sizeMismatch(in.owner, in.cols, in.rows, p.cols, p.rows); msg != "" {
			hb.offerFramed(p, []byte(msg))
		}
	}
	if now := hb.info(); now.state == statePending {
		// Approved by enough people, the requester's side connects to the
		// host in a moment; otherwise say how many approvals are missing.
		msg := "approved; connecting to " + now.host
		if len(now.granted) < now.count {
			msg = fmt.Sprintf("waiting for more approvals before connecting (%d of %d)", len(now.granted), now.count)
		}
		hb.offerNotice(p, msg)
	}
	ri.watching.Store(true)

	stop, written := make(chan struct{}), make(chan struct{})
	sess.s.goTracked(func() {
		defer close(written)
		p.writeOutput(sess.ch, stop)
	})
	msg := ""
	for msg == "" {
		select {
		case <-p.done:
			msg = p.endMsg
		case <-ri.leave:
			hb.leave(p, "left")
			msg = "you left session " + id + "; it goes on without you"
		case <-ri.done:
			// The reviewer's input ended: their client went away. Said
			// as the context would say it, which may be cancelled a
			// moment later for the same cause.
			hb.leave(p, "client disconnected")
			msg = "-"
		case <-sess.ctx.Done():
			hb.leave(p, ctxReason(sess.ctx))
			msg = "-"
		case sz := <-sess.winch:
			hb.mu.Lock()
			p.cols, p.rows = sz.Cols, sz.Rows
			hb.mu.Unlock()
		}
	}
	close(stop)
	<-written
	if msg != "-" {
		if sess.pty != nil {
			sess.ch.Write(hb.restoreSequences())
		}
		sess.ch.Write([]byte("\r\n"))
		sess.say(msg)
	}
	return exitResult{}
}

// joinAborted ends a join whose reviewer left the prompt: the pending
// session is not affected; the view is recorded as undecided.
func (sess *clientSession) joinAborted(hb *hub, p *participant) exitResult {
	select {
	case <-hb.closed:
		return sess.refuse(userErrorf(nil, "%s", hb.endMsg))
	default:
	}
	hb.mu.Lock()
	if hb.state == statePending {
		hb.recordLocked(event.ApprovalView, p.user, map[string]string{"key": p.key, "remote": p.remote, "outcome": "left without deciding"})
	}
	hb.mu.Unlock()
	if sess.ctx.Err() != nil {
		return exitResult{status: statusLost}
	}
	sess.say("you left without deciding; the session still waits for review")
	return exitResult{status: 1}
}

// ask prompts and waits for a line. ok is false when the reviewer
// aborted (Ctrl-C, Ctrl-D), went away or the session ended meanwhile.
func (sess *clientSession) ask(w interface{ Write([]byte) (int, error) }, hb *hub, ri *reviewerInput, prompt string) (string, bool) {
	w.Write([]byte(prompt))
	select {
	case r := <-ri.lines:
		return r.line, !r.abort
	case <-hb.closed:
		w.Write([]byte("\n"))
		return "", false
	case <-ri.done:
		return "", false
	case <-sess.ctx.Done():
		return "", false
	}
}

// writeRequest shows who asks, for which host and login, why and since
// when: what a reviewer decides on.
func writeRequest(w interface{ Write([]byte) (int, error) }, in hubInfo, ownerKey string) {
	fmt.Fprintf(w, "Session    %s\n", in.id)
	fmt.Fprintf(w, "Requested  by %s (key %s)\n", termsafe.Text(in.owner), termsafe.Text(ownerKey))
	fmt.Fprintf(w, "Host       %s, as login %s\n", termsafe.Text(in.host), termsafe.Text(in.login))
	switch {
	case in.sftp:
		// Said by the bastion, never taken from the command line: an
		// exec command cannot pass for a file transfer session.
		fmt.Fprintf(w, "Command    SFTP file transfer session (no shell): each file operation is shown to you and recorded\n")
	case in.command != "":
		writeCommand(w, in.command)
	default:
		fmt.Fprintf(w, "Command    (interactive shell)\n")
	}
	fmt.Fprintf(w, "Reason     %s\n", termsafe.Text(in.reason))
	fmt.Fprintf(w, "Since      %s (%s ago)\n", in.since.UTC().Format(time.RFC3339), now().Sub(in.since).Round(time.Second))
	fmt.Fprintf(w, "State      %s; approvals %d of %d", in.state, len(in.granted), in.count)
	if len(in.granted) > 0 {
		fmt.Fprintf(w, " (%s)", joinList(in.granted))
	}
	fmt.Fprintln(w)
	if len(in.watching) > 0 {
		fmt.Fprintf(w, "Watching   %s\n", joinList(in.watching))
	}
}

// writeCommand shows an exec command whole, byte for byte: plain when
// nothing in it could deceive, else quoted as bash reads it, with a note
// that says so and how long it is.
func writeCommand(w interface{ Write([]byte) (int, error) }, cmd string) {
	q := termsafe.Quote(cmd)
	fmt.Fprintf(w, "Command    %s\n", q)
	if q != cmd {
		fmt.Fprintf(w, "           (%d bytes, quoted as bash reads it: \\n, \\xNN, \\uNNNN stand for\n"+
			"           control, invisible or non-ASCII characters and runs of spaces)\n", len(cmd))
	} else if len(cmd) > 200 {
		fmt.Fprintf(w, "           (%d bytes, shown in full)\n", len(cmd))
	}
}

// readReviewerInput reads the reviewer's input until the channel ends:
// prompt answers, then hotkeys; a peer's other typing goes to the host.
func (sess *clientSession) readReviewerInput(hb *hub, p *participant, ri *reviewerInput) {
	buf := make([]byte, smallBufSize)
	ed := &lineEditor{}
	if sess.pty != nil {
		ed.echo = sess.ch
	}
	prefix, told := false, false
	// The reviewer's terminal may answer queries on its own (cursor
	// position, device attributes, colours): those replies are not
	// keystrokes and never reach the host as the reviewer's typing.
	var answers termsafe.Answerback
	var fwd, keys []byte
	for {
		n, err := sess.ch.Read(buf)
		if n > 0 && !ri.watching.Load() {
			for _, b := range buf[:n] {
				switch ed.feed(b) {
				case lineDone:
					offerLine(ri.lines, lineResult{line: ed.line()})
				case lineAbort:
					offerLine(ri.lines, lineResult{abort: true})
				}
			}
		} else if n > 0 {
			fwd = fwd[:0]
			keys = answers.Filter(keys[:0], buf[:n])
			for _, b := range keys {
				if prefix {
					prefix = false
					switch b {
					case hotkeyTerminate:
						hb.terminate(p.user)
					case hotkeyLeave:
						ri.leaveOnce.Do(func() { close(ri.leave) })
					case hotkeyPrefix:
						fwd = append(fwd, b)
					default:
						hb.offerNotice(p, hotkeyHelp)
					}
					continue
				}
				if b == hotkeyPrefix {
					prefix = true
					continue
				}
				fwd = append(fwd, b)
			}
			if len(fwd) > 0 {
				if p.mode == modePeer {
					hb.writeInput(p.user, fwd)
					if len(fwd) >= pasteBytes {
						hb.rec.WaitInput(sess.ctx.Done()) // a paste waits; typing and hotkeys never do (throttle.go)
					}
				} else if !told {
					told = true
					hb.offerNotice(p, "observers cannot type; "+hotkeyHelp)
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// printableID returns id for messages: a UUID as is, anything else
// quoted, and cut after 40 bytes with a marker that says so.
func printableID(id string) string {
	if _, err := uuid.Parse(id); err == nil {
		return id
	}
	if len(id) <= 40 {
		return termsafe.Quote(id)
	}
	return fmt.Sprintf("%s… (%d bytes)", termsafe.Quote(id[:40]), len(id))
}
