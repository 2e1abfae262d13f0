package gateway

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/anmitsu/go-shlex"
	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
	"github.com/foureyes/foureyes/termsafe"
	"github.com/google/uuid"
)

// ErrWindowRequest is a malformed or refused `request`.
var ErrWindowRequest = errors.New("gateway: bad window request")

// requestUsage is shown with every refusal of a malformed request.
const requestUsage = "usage: request HOST[,HOST…|GLOB|KEY=VALUE] --for DURATION [--no-wait] --reason TEXT; request --end ID [--reason TEXT]; request (lists yours)"

// maxWindowItems bounds the hosts a request names.
const maxWindowItems = 32

// maxWindowsPerUser bounds a user's pending and open windows: each holds
// a recorded stream and a timer.
const maxWindowsPerUser = 8

// windowArgs is a parsed `request` command line.
type windowArgs struct {
	spec   string        // hosts as named
	dur    time.Duration // --for
	reason string        // --reason (the rest of the line)
	noWait bool          // --no-wait
	end    string        // --end ID
}

// parseWindowArgs parses the words after "request". --reason takes the
// rest of the line (ssh joins the words of a command unquoted).
func parseWindowArgs(rest string) (windowArgs, error) {
	var a windowArgs
	words, err := shlex.Split(rest, true)
	if err != nil {
		return a, err
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--reason" || strings.HasPrefix(w, "--reason="):
			a.reason = strings.Join(append([]string{strings.TrimPrefix(strings.TrimPrefix(w, "--reason"), "=")}, words[i+1:]...), " ")
			a.reason = strings.Trim(a.reason, " ")
			i = len(words)
		case w == "--for" && i+1 < len(words), strings.HasPrefix(w, "--for="):
			v := strings.TrimPrefix(w, "--for=")
			if w == "--for" {
				v = words[i+1]
				i++
			}
			d, err := config.ParseDuration(v)
			if err != nil || d <= 0 {
				return a, fmt.Errorf("--for %s: give a duration such as 30m or 2h", printableID(v))
			}
			a.dur = d
		case w == "--end" && i+1 < len(words):
			a.end = words[i+1]
			i++
		case w == "--for" || w == "--end":
			return a, fmt.Errorf("%s needs a value", w)
		case w == "--no-wait":
			a.noWait = true
		case strings.HasPrefix(w, "-"):
			return a, fmt.Errorf("unknown option %s", printableID(w))
		case a.spec == "":
			a.spec = w
		default:
			return a, fmt.Errorf("unexpected %s: name the hosts as one word, separated by commas", printableID(w))
		}
	}
	return a, nil
}

// resolveWindowHosts returns the hosts spec names that user may connect
// to and that need approval: each comma-separated item is a host name, a
// glob or a key=value label selector. A name that cannot be used, or an
// item matching no such host, is an error the requester is told.
func resolveWindowHosts(cfg *config.Config, user *config.User, spec string) ([]*config.Host, error) {
	items := strings.Split(spec, ",")
	if len(items) > maxWindowItems {
		return nil, fmt.Errorf("%d hosts named; at most %d (use a selector such as env=production)", len(items), maxWindowItems)
	}
	var out []*config.Host
	add := func(h *config.Host) {
		for _, o := range out {
			if o == h {
				return
			}
		}
		out = append(out, h)
	}
	for _, item := range items {
		if item == "" {
			return nil, fmt.Errorf("empty host name in %s", printableID(spec))
		}
		if h, ok := cfg.Host(item); ok {
			if !cfg.CanConnect(user, h) {
				return nil, fmt.Errorf("%w: access to %q denied for %s", ErrAccessDenied, h.Name, user.Name)
			}
			if _, ok := cfg.ApprovalPolicy(h); !ok {
				return nil, fmt.Errorf("%s needs no approval: connect to it directly", h.Name)
			}
			add(h)
			continue
		}
		k, v, isLabel := strings.Cut(item, "=")
		if !isLabel && !strings.ContainsAny(item, "*?[") {
			return nil, fmt.Errorf("%w: unknown host %s", ErrUnknownHost, printableID(item))
		}
		if _, err := path.Match(item, ""); !isLabel && err != nil {
			return nil, fmt.Errorf("bad pattern %s", printableID(item))
		}
		n := len(out)
		for i := range cfg.Hosts {
			h := &cfg.Hosts[i]
			match := false
			if isLabel {
				match = h.Labels[k] == v
			} else {
				match, _ = path.Match(item, h.Name)
			}
			if _, four := cfg.ApprovalPolicy(h); match && four && cfg.CanConnect(user, h) {
				add(h)
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("no four-eyes host you may connect to matches %s", printableID(item))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// request asks for an approval window, ends one (--end) or lists the
// user's own (no arguments).
func (sess *clientSession) request(rest string) exitResult {
	s, user := sess.s, sess.user.Name
	a, err := parseWindowArgs(rest)
	if err != nil {
		return sess.refuse(userErrorf(fmt.Errorf("%w: %w", ErrWindowRequest, err), "request: %v; %s", err, requestUsage))
	}
	switch {
	case a.end != "":
		return sess.endWindow(a.end, a.reason)
	case a.spec == "" && a.dur == 0 && a.reason == "":
		sess.listOwnWindows()
		return exitResult{}
	}
	denied := func(why string) {
		s.recordGateway(event.AccessDenied, user, map[string]string{"user": user, "host": "", "reason": "window request: " + why,
			"command": "request " + termsafe.Text(rest), "remote": sess.remote})
	}
	if a.spec == "" {
		return sess.refuse(userErrorf(ErrWindowRequest, "request: name the hosts; %s", requestUsage))
	}
	if a.reason == "" {
		a.reason = strings.Trim(sess.reasonEnv, " ")
	}
	if msg := badReason(a.reason); msg != "" {
		denied("bad reason")
		return sess.refuse(userErrorf(ErrReasonRequired, "request: the reason %s; give one line of at most %d visible characters", msg, maxLine))
	}
	if a.reason == "" {
		denied("no reason")
		return sess.refuse(userErrorf(ErrReasonRequired, "request: a reason is required (--reason TEXT, the last option); reviewers decide on it"))
	}
	if n := sess.ownWindows(); n >= maxWindowsPerUser {
		denied("too many windows")
		return sess.refuse(userErrorf(ErrWindowRequest, "request: you have %d approval windows pending or open (at most %d); end one with request --end ID", n, maxWindowsPerUser))
	}
	cfg := s.cfg()
	hosts, err := resolveWindowHosts(cfg, sess.user, a.spec)
	if err != nil {
		denied(err.Error())
		return sess.refuse(userErrorf(fmt.Errorf("%w: %w", ErrWindowRequest, err), "request: %v", err))
	}
	count, pending, maxDur := windowPolicies(cfg, hosts)
	if a.dur == 0 {
		return sess.refuse(userErrorf(ErrWindowRequest, "request: give the duration with --for (e.g. --for 30m; at most %s)", maxDur))
	}
	if a.dur > maxDur {
		denied("duration " + a.dur.String() + " over max_window " + maxDur.String())
		return sess.refuse(userErrorf(ErrWindowRequest, "request: --for %s is longer than the policy allows (max_window %s); ask for less", a.dur, maxDur))
	}
	names := make([]string, len(hosts))
	class, days := "", uint16(0)
	for i, h := range hosts {
		names[i] = h.Name
		if d := cfg.RetentionDays(h.Class); class == "" || d > days {
			class, days = h.Class, d // the window's record lives as long as its longest-kept host's
		}
	}
	approvers := windowApprovers(cfg, hosts, user)
	id := uuid.NewString()
	rec, err := s.opts.Recorder.Start(recorder.StartInfo{
		ID: id, Kind: "window", User: user, Host: strings.Join(names, ","), Remote: sess.remote, KeyFingerprint: sess.keyFP,
		Class: class, Retention: days,
		Meta: map[string]string{"reason": a.reason, "duration": a.dur.String(), "approval": "required"},
	})
	if err != nil {
		sess.log.Error("start window recording", "err", err)
		return sess.refuse(userErrorf(fmt.Errorf("%w: %w", ErrRecordingFailed, err), "recording unavailable (%v); request refused", err))
	}
	w := &window{
		s: s, id: id, owner: user, ownerKey: sess.keyFP, remote: sess.remote, local: sess.localAddr(),
		hosts: names, spec: a.spec, reason: a.reason, dur: a.dur, count: count, pending: pending, since: now(), rec: rec,
		members: map[*windowMember]struct{}{}, changed: make(chan struct{}), eligible: approvers,
	}
	w.mu.Lock()
	w.recordLocked(event.WindowRequest, user, map[string]string{
		"hosts": strings.Join(names, ","), "selector": a.spec, "duration": a.dur.String(), "reason": a.reason,
		"count": strconv.Itoa(count), "approvers": strings.Join(approvers, ","), "pending_timeout": pending.String(),
	})
	w.timer = time.AfterFunc(pending, func() {
		w.end("", "nobody approved within "+pending.String(), "approval window "+id+" expired: nobody approved within "+pending.String())
	})
	w.mu.Unlock()
	s.windows.add(w)
	sess.log.Info("approval window requested", "window", id, "hosts", names, "duration", a.dur)
	s.notifyWindow(w, event.WindowRequest, "", "")

	// The id alone on stdout, for scripts; the rest is for people.
	fmt.Fprintf(newTextWriter(sess.ch, sess.pty != nil), "%s\n", id)
	reviewer := "REVIEWER"
	if len(approvers) == 1 {
		reviewer = approvers[0]
	}
	need := "an approval"
	if count > 1 {
		need = strconv.Itoa(count) + " approvals"
	}
	sess.say(fmt.Sprintf("approval window %s for %s (%s) is waiting for %s.", id, strings.Join(names, ", "), a.dur, need))
	sess.say("who may approve: " + joinList(approvers))
	sess.say("a reviewer runs:  " + s.joinCommand(reviewer, id, w.local))
	if a.noWait {
		sess.say(fmt.Sprintf("the request expires in %v unless approved; `request` lists yours.", pending))
		return exitResult{}
	}
	cancel := ""
	if sess.pty != nil {
		cancel = "; Ctrl-C cancels"
	}
	sess.say(fmt.Sprintf("waiting (the request expires in %v%s).", pending, cancel))
	return sess.awaitWindow(w)
}

// awaitWindow waits until w is decided: 0 once open, 1 when it ended
// (denied, expired). The requester leaving (or Ctrl-C on a terminal)
// cancels a pending request.
func (sess *clientSession) awaitWindow(w *window) exitResult {
	abort := make(chan struct{})
	if sess.pty != nil {
		done := make(chan struct{})
		sess.inputDone = done
		sess.s.goTracked(func() {
			defer close(done)
			buf := make([]byte, 256)
			aborted := false
			for {
				n, err := sess.ch.Read(buf)
				if !aborted && strings.ContainsAny(string(buf[:n]), "\x03\x04") {
					aborted = true
					close(abort)
				}
				if err != nil {
					return
				}
			}
		})
	}
	for {
		changed := w.watch()
		in := w.info()
		switch in.state {
		case windowOpen:
			sess.say(fmt.Sprintf("approved by %s: %s open until %s (%s). Connect as usual; each session is recorded under window %s.",
				joinList(in.granted), strings.Join(in.hosts, ", "), in.until.UTC().Format(time.RFC3339), in.dur, in.id))
			return exitResult{}
		case windowEnded:
			w.mu.Lock()
			msg := w.endMsg
			w.mu.Unlock()
			sess.say(msg)
			return exitResult{status: 1}
		}
		if len(in.granted) > 0 {
			sess.say(fmt.Sprintf("approved by %s (%d of %d)", joinList(in.granted), len(in.granted), in.count))
		}
		select {
		case <-changed:
		case <-abort:
			w.cancelPending(sess.user.Name, "cancelled by "+sess.user.Name)
		case <-sess.ctx.Done():
			w.cancelPending(sess.user.Name, "requester disconnected while waiting: "+ctxReason(sess.ctx))
			return exitResult{status: statusLost}
		}
	}
}

// cancelPending ends w if it is still pending.
func (w *window) cancelPending(by, why string) {
	if w.info().state == windowPending {
		w.end(by, why, "approval window "+w.id+" "+why)
	}
}

// endWindow ends a window on its requester's or a reviewer's order
// (`request --end ID`). Anyone else is told there is no such window.
func (sess *clientSession) endWindow(id, reason string) exitResult {
	s, user := sess.s, sess.user.Name
	w, ok := s.windows.get(id)
	if !ok || (w.owner != user && !mayApproveWindow(s.cfg(), sess.user, w)) {
		s.recordGateway(event.AccessDenied, user, map[string]string{"user": user, "host": "", "reason": "end window: no such window or not allowed",
			"command": "request --end " + termsafe.Text(id), "window": termsafe.Text(id), "remote": sess.remote})
		return sess.refuse(userErrorf(ErrAccessDenied, "no approval window %s of yours or that you may review", printableID(id)))
	}
	if reason != "" {
		if msg := badReason(reason); msg != "" {
			return sess.refuse(userErrorf(ErrWindowRequest, "request --end: the reason %s", msg))
		}
	}
	why := "ended by " + user
	if reason != "" {
		why += ": " + reason
	}
	if !w.end(user, why, "approval window "+id+" "+why) {
		return sess.refuse(userErrorf(nil, "approval window %s has ended already", id))
	}
	sess.say("approval window " + id + " ended")
	return exitResult{}
}

// listOwnWindows prints the user's pending and open windows.
func (sess *clientSession) listOwnWindows() {
	var list []windowInfo
	for _, w := range sess.s.windows.all() {
		if w.owner == sess.user.Name {
			list = append(list, w.info())
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].since.Before(list[j].since) })
	w := newTextWriter(sess.ch, sess.pty != nil)
	if len(list) == 0 {
		fmt.Fprintln(w, "You have no approval windows. Ask for one with: request HOST --for 30m --reason TEXT")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOSTS\tSTATE\tUNTIL\tAPPROVED BY\tLIVE\tREASON")
	for _, in := range list {
		until := "-"
		if in.state == windowOpen {
			until = in.until.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", in.id, strings.Join(in.hosts, ","), in.state, until,
			joinList(in.granted), in.live, termsafe.Text(in.reason))
	}
	tw.Flush()
}

// ownWindows counts the user's pending and open windows.
func (sess *clientSession) ownWindows() int {
	n := 0
	for _, w := range sess.s.windows.all() {
		if w.owner == sess.user.Name {
			n++
		}
	}
	return n
}
