package gateway

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/termsafe"
)

// reviewWindow is `join WINDOW_ID`: a reviewer sees the whole request
// and approves or denies it, with the rules of a session: not their own
// (nor one asked with their key), a role with approve for every host of
// the window under its policy, one approval per key. On an open window
// it lists the live sessions under it, to join one by one.
func (sess *clientSession) reviewWindow(w *window) exitResult {
	s, user := sess.s, sess.user.Name
	denied := func(reason string) {
		s.recordGateway(event.AccessDenied, user, map[string]string{"user": user, "host": "", "reason": reason, "command": "join " + w.id, "window": w.id, "remote": sess.remote})
		w.mu.Lock()
		w.recordLocked(event.ApprovalRefused, user, map[string]string{"reason": reason, "key": sess.keyFP, "remote": sess.remote})
		w.mu.Unlock()
	}
	if s.samePerson(user, w.owner) || (sess.keyFP != "" && sess.keyFP == w.ownerKey) {
		denied("self-approval")
		return sess.refuse(userErrorf(ErrAccessDenied, "you cannot review your own approval window %s: another person must approve it", w.id))
	}
	if !mayApproveWindow(s.cfg(), sess.user, w) {
		// As for an id that does not exist: a reviewer must not learn of
		// windows on hosts they may not review.
		denied("no reviewer role for every host of the window")
		return sess.refuse(userErrorf(nil, "no session %s is waiting for review or running", printableID(w.id)))
	}
	out := newTextWriter(sess.ch, sess.pty != nil)
	in := w.info()
	writeWindowRequest(out, in, w.ownerKey)
	if in.state != windowPending {
		sess.writeWindowSessions(out, w)
		return exitResult{}
	}
	w.mu.Lock()
	w.recordLocked(event.ApprovalView, user, map[string]string{"key": sess.keyFP, "remote": sess.remote})
	w.mu.Unlock()

	lines, inputDone := sess.readLines()
	ask := func(prompt string) (string, bool) {
		out.Write([]byte(prompt))
		select {
		case r, ok := <-lines:
			return r.line, ok && !r.abort
		case <-w.watch():
			out.Write([]byte("\n"))
			return "", false
		case <-inputDone:
			select { // the last line may have come with the end of the input
			case r := <-lines:
				return r.line, !r.abort
			default:
				return "", false
			}
		case <-sess.ctx.Done():
			return "", false
		}
	}
	answer, ok := ask("Approve this window? [y/n] ")
	for ok {
		answer = strings.ToLower(answer)
		if answer == "y" || answer == "yes" || answer == "n" || answer == "no" {
			break
		}
		answer, ok = ask("Please answer y or n: ")
	}
	if !ok {
		if w.info().state != windowPending {
			sess.say("the window was decided meanwhile: " + w.info().state.String())
			return exitResult{status: 1}
		}
		sess.say("you left without deciding; the window still waits for review")
		return exitResult{status: 1}
	}
	if answer == "n" || answer == "no" {
		note, ok := ask("Reason for denying (optional, shown to " + termsafe.Text(in.owner) + "; at most " + strconv.Itoa(maxLine) + " characters): ")
		if !ok {
			note = ""
		}
		if msg := badReason(note); msg != "" {
			note = termsafe.Text(note)
		}
		if !w.deny(user, sess.keyFP, note) {
			sess.say("approval window " + w.id + " was decided meanwhile; nothing changed")
			return exitResult{status: 1}
		}
		sess.say("you denied approval window " + w.id + "; " + in.owner + " has been told")
		return exitResult{}
	}
	// The roles may have changed while the reviewer read: decide on the
	// configuration in force now.
	if u, ok := s.cfg().User(user); !ok || !mayApproveWindow(s.cfg(), u, w) {
		denied("reviewer role removed before the approval")
		return sess.refuse(userErrorf(ErrAccessDenied, "approval refused: you may no longer approve window %s", w.id))
	}
	switch w.grant(user, sess.keyFP) {
	case grantNotOpen:
		sess.say("approval window " + w.id + " was decided meanwhile; nothing changed")
		return exitResult{status: 1}
	case grantSameKey:
		denied("key already approved under another name")
		return sess.refuse(userErrorf(ErrAccessDenied, "approval refused: your key already approved window %s under another name; a second person must approve", w.id))
	case grantAlready:
		sess.say("you approved window " + w.id + " already")
		return exitResult{}
	}
	now := w.info()
	if now.state == windowOpen {
		sess.say(fmt.Sprintf("you approved window %s: %s may reach %s until %s. `sessions` lists its live sessions; join them to watch.",
			w.id, in.owner, strings.Join(in.hosts, ", "), now.until.UTC().Format(time.RFC3339)))
	} else {
		sess.say(fmt.Sprintf("you approved window %s (%d of %d approvals)", w.id, len(now.granted), now.count))
	}
	return exitResult{}
}

// readLines reads the client's input as prompt lines until it ends;
// done is closed then.
func (sess *clientSession) readLines() (<-chan lineResult, <-chan struct{}) {
	lines := make(chan lineResult, 4) // lines typed ahead (a script's answers) are kept
	done := make(chan struct{})
	sess.inputDone = done
	sess.s.goTracked(func() {
		defer close(done)
		ed := &lineEditor{}
		if sess.pty != nil {
			ed.echo = sess.ch
		}
		buf := make([]byte, smallBufSize)
		for {
			n, err := sess.ch.Read(buf)
			for _, b := range buf[:n] {
				switch ed.feed(b) {
				case lineDone:
					offerLine(lines, lineResult{line: ed.line()})
				case lineAbort:
					offerLine(lines, lineResult{abort: true})
				}
			}
			if err != nil {
				return
			}
		}
	})
	return lines, done
}

// writeWindowRequest shows what a reviewer decides on: who asks, for
// which hosts, how long and why. Everything the requester chose is
// shown escaped.
func writeWindowRequest(w interface{ Write([]byte) (int, error) }, in windowInfo, ownerKey string) {
	fmt.Fprintf(w, "Window     %s (approval window: the requester's sessions on these hosts run without another approval)\n", in.id)
	fmt.Fprintf(w, "Requested  by %s (key %s)\n", termsafe.Text(in.owner), termsafe.Text(ownerKey))
	fmt.Fprintf(w, "Hosts      %s (asked as %s)\n", strings.Join(in.hosts, ", "), termsafe.Quote(in.spec))
	fmt.Fprintf(w, "Duration   %s from approval\n", in.dur)
	fmt.Fprintf(w, "Reason     %s\n", termsafe.Text(in.reason))
	fmt.Fprintf(w, "Since      %s (%s ago)\n", in.since.UTC().Format(time.RFC3339), now().Sub(in.since).Round(time.Second))
	fmt.Fprintf(w, "State      %s; approvals %d of %d", in.state, len(in.granted), in.count)
	if len(in.granted) > 0 {
		fmt.Fprintf(w, " (%s)", joinList(in.granted))
	}
	fmt.Fprintln(w)
	if in.state == windowOpen {
		fmt.Fprintf(w, "Until      %s\n", in.until.UTC().Format(time.RFC3339))
	}
}

// writeWindowSessions lists the live sessions under w that the reviewer
// may join.
func (sess *clientSession) writeWindowSessions(out interface{ Write([]byte) (int, error) }, w *window) {
	n := 0
	local := sess.localAddr()
	for _, hb := range sess.s.hubs.all() {
		if hb.win != w || !sess.mayReview(hb) {
			continue
		}
		in := hb.info()
		what := "(shell)"
		if in.command != "" {
			what = termsafe.Quote(in.command)
		}
		fmt.Fprintf(out, "Live       %s on %s %s: %s\n", in.id, in.host, what, sess.s.joinCommand(sess.user.Name, in.id, local))
		n++
	}
	if n == 0 {
		fmt.Fprintln(out, "Live       no session under this window right now")
	}
	fmt.Fprintf(out, "End it with: request --end %s [--reason TEXT]\n", w.id)
}

// reviewableWindows returns the pending and open windows the user may
// review: not their own, and a reviewer role for every host.
func (sess *clientSession) reviewableWindows() []windowInfo {
	s := sess.s
	var out []windowInfo
	for _, w := range s.windows.all() {
		if s.samePerson(sess.user.Name, w.owner) || (sess.keyFP != "" && sess.keyFP == w.ownerKey) || !mayApproveWindow(s.cfg(), sess.user, w) {
			continue
		}
		if in := w.info(); in.state != windowEnded {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].state == windowPending) != (out[j].state == windowPending) {
			return out[i].state == windowPending
		}
		return out[i].since.Before(out[j].since)
	})
	return out
}

// writeWindowList prints approval windows for `sessions`.
func (sess *clientSession) writeWindowList(w interface{ Write([]byte) (int, error) }, wins []windowInfo) {
	fmt.Fprintln(w, "Approval windows:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tHOSTS\tSTATE\tFOR\tUNTIL\tAPPROVALS\tLIVE\tREASON")
	for _, in := range wins {
		until := "-"
		if in.state == windowOpen {
			until = in.until.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%d\t%s\n", in.id, termsafe.Text(in.owner), strings.Join(in.hosts, ","), in.state,
			in.dur, until, len(in.granted), in.count, in.live, termsafe.Text(in.reason))
	}
	tw.Flush()
	fmt.Fprintf(w, "Approve or deny one, or list its live sessions, with: %s\n\n", sess.s.joinCommand(sess.user.Name, "ID", sess.localAddr()))
}
