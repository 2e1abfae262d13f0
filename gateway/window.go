package gateway

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
)

// Approval windows: four-eyes for automation. A requester asks for a
// set of four-eyes hosts for a duration with a reason (`request`,
// request_cmd.go); reviewers approve it as they approve a session
// (`join WINDOW_ID`, window_review.go). While it is open the requester's
// connections to those hosts — shells, commands, subsystems, tunnels —
// run without another prompt, each recorded with session.start meta
// "window" and "approvers", and watchable live by the reviewers. The
// window ends at its time, or when a reviewer, the requester, a
// revocation or the bastion's shutdown ends it; its live connections end
// with it, recorded.
//
// Windows live in this gateway's memory only: a restart ends them (the
// shutdown records window.end), and with several gateways each knows
// its own windows only.

// windowState is where an approval window is in its life.
type windowState int

const (
	windowPending windowState = iota // waiting for approvals
	windowOpen                       // approved, until its time
	windowEnded
)

// String returns the state as `sessions` and `request` show it.
func (s windowState) String() string {
	switch s {
	case windowPending:
		return "pending"
	case windowOpen:
		return "open"
	}
	return "ended"
}

// window is one approval window. Its fields above mu are set before it
// is registered and read-only after.
type window struct {
	s        *Server
	id       string
	owner    string
	ownerKey string
	remote   string // where the requester asked from
	local    net.Addr
	hosts    []string // host names, sorted
	spec     string   // what the requester named (names, globs, selectors)
	reason   string
	dur      time.Duration
	count    int           // approvals needed: the largest count of the hosts' policies
	pending  time.Duration // how long the request waits: the shortest pending_timeout
	since    time.Time
	rec      *recorder.Session
	eligible []string // who may approve, for display and webhooks

	mu      sync.Mutex
	state   windowState
	until   time.Time
	granted []string // reviewers whose approval counts, in order
	keys    []string // their key fingerprints
	members map[*windowMember]struct{}
	timer   *time.Timer
	changed chan struct{} // closed and replaced at every change of state
	endMsg  string
	ended   int // sessions ended with the window
}

// windowMember is a live connection under a window: stop ends it.
type windowMember struct {
	stop func(*endOrder)
}

// windowInfo is a snapshot for listings.
type windowInfo struct {
	id, owner, spec, reason string
	hosts, granted          []string
	state                   windowState
	since, until            time.Time
	dur                     time.Duration
	count, live             int
}

// info returns a snapshot.
func (w *window) info() windowInfo {
	w.mu.Lock()
	defer w.mu.Unlock()
	return windowInfo{
		id: w.id, owner: w.owner, spec: w.spec, reason: w.reason, hosts: w.hosts, granted: slices.Clone(w.granted),
		state: w.state, since: w.since, until: w.until, dur: w.dur, count: w.count, live: len(w.members),
	}
}

// changedLocked wakes everyone waiting for a change.
func (w *window) changedLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// watch returns a channel closed at the next change of state.
func (w *window) watch() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// covers reports whether the window is open for user on host now.
func (w *window) covers(user, host string, t time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.owner == user && w.state == windowOpen && t.Before(w.until) && slices.Contains(w.hosts, host)
}

// approvers returns who approved, joined by commas.
func (w *window) approvers() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.granted, ",")
}

// startMeta is the session.start (and session.end) meta of a
// connection under the window.
func (w *window) startMeta() map[string]string {
	return map[string]string{"window": w.id, "approvers": w.approvers(), "reason": w.reason, "approval": "window"}
}

// join adds a live connection; false when the window is no longer open
// (it ended between the decision and the start).
func (w *window) join(m *windowMember) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != windowOpen || !now().Before(w.until) {
		return false
	}
	w.members[m] = struct{}{}
	return true
}

// commit reports whether m, a member, may now have the host run what it
// asked for: the window is still open and m still in it. Under w.mu, as
// end is: an end either comes first (commit fails, nothing ran) or ends
// a started session.
func (w *window) commit(m *windowMember) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, member := w.members[m]
	return member && w.state == windowOpen && now().Before(w.until)
}

// leave removes a live connection.
func (w *window) leave(m *windowMember) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.members, m)
}

// grantResult is the answer to a reviewer's approval.
type grantResult int

const (
	granted      grantResult = iota // counted; the window may be open now
	grantNotOpen                    // decided or ended meanwhile
	grantSameKey                    // the key already approved under another name
	grantAlready                    // this reviewer already approved
)

// grant counts reviewer's approval with key; the window opens when
// enough approved.
func (w *window) grant(reviewer, key string) grantResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.state != windowPending:
		return grantNotOpen
	case slices.Contains(w.granted, reviewer):
		return grantAlready
	case key != "" && slices.Contains(w.keys, key):
		return grantSameKey
	}
	w.granted = append(w.granted, reviewer)
	w.keys = append(w.keys, key)
	meta := map[string]string{"key": key, "approvals": strconv.Itoa(len(w.granted)), "count": strconv.Itoa(w.count)}
	if len(w.granted) >= w.count {
		w.state = windowOpen
		w.until = now().Add(w.dur)
		meta["until"] = strconv.FormatInt(w.until.UnixNano(), 10)
		if w.timer != nil {
			w.timer.Stop()
		}
		w.timer = time.AfterFunc(w.dur, func() { w.end("", "its time ran out", "approval window "+w.id+" ended: its time ran out") })
	}
	w.recordLocked(event.WindowGrant, reviewer, meta)
	w.changedLocked()
	if w.state == windowOpen {
		w.s.notifyWindow(w, event.WindowGrant, strings.Join(w.granted, ","), "")
	}
	return granted
}

// deny ends a pending window on a reviewer's decision; false when it is
// no longer pending.
func (w *window) deny(reviewer, key, note string) bool {
	w.mu.Lock()
	if w.state != windowPending {
		w.mu.Unlock()
		return false
	}
	w.recordLocked(event.WindowDeny, reviewer, map[string]string{"reason": note, "key": key})
	w.mu.Unlock()
	w.s.notifyWindow(w, event.WindowDeny, reviewer, note)
	msg := "approval window " + w.id + " denied by " + reviewer
	if note != "" {
		msg += ": " + note
	}
	w.end(reviewer, "denied by "+reviewer, msg)
	return true
}

// end ends the window (pending or open) and every live connection under
// it, recording window.end (actor by, empty for the clock) and the end
// of the window's stream. msg is what its people are told. It reports
// false when the window had ended already.
func (w *window) end(by, reason, msg string) bool {
	w.mu.Lock()
	if w.state == windowEnded {
		w.mu.Unlock()
		return false
	}
	wasOpen := w.state == windowOpen
	w.state = windowEnded
	w.endMsg = msg
	if w.timer != nil {
		w.timer.Stop()
	}
	members := make([]*windowMember, 0, len(w.members))
	for m := range w.members {
		members = append(members, m)
	}
	w.members = map[*windowMember]struct{}{}
	w.ended = len(members)
	w.recordLocked(event.WindowEnd, by, map[string]string{"reason": reason, "sessions": strconv.Itoa(len(members))})
	w.changedLocked()
	approvers := strings.Join(w.granted, ",")
	w.mu.Unlock()
	o := &endOrder{by: by, reason: "approval window ended: " + reason, msg: msg + "; session ended"}
	for _, m := range members {
		m.stop(o)
	}
	w.s.windows.remove(w)
	w.s.notifyWindow(w, event.WindowEnd, by, reason)
	status := 0
	if !wasOpen {
		status = 1 // never opened: denied, expired, cancelled
	}
	if err := w.rec.End(status, map[string]string{"reason": w.reason, "end_reason": reason, "approvers": approvers}); err != nil {
		w.s.log.Error("end window recording", "window", w.id, "err", err)
	}
	w.s.log.Info("approval window end", "window", w.id, "user", w.owner, "by", by, "reason", reason, "sessions", len(members))
	return true
}

// recordLocked records an event in the window's stream; a failure is
// logged (the window's connections record into their own streams).
func (w *window) recordLocked(t event.Type, actor string, meta map[string]string) {
	if err := w.rec.Record(t, actor, nil, meta); err != nil {
		w.s.log.Warn("record window event", "window", w.id, "type", t, "err", err)
	}
}

// windowSet holds the gateway's pending and open windows. Its lock is a
// leaf: never held while taking a window's.
type windowSet struct {
	mu sync.Mutex
	m  map[string]*window
}

// add registers w.
func (ws *windowSet) add(w *window) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.m == nil {
		ws.m = map[string]*window{}
	}
	ws.m[w.id] = w
}

// remove forgets w.
func (ws *windowSet) remove(w *window) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	delete(ws.m, w.id)
}

// get returns the window with id.
func (ws *windowSet) get(id string) (*window, bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	w, ok := ws.m[id]
	return w, ok
}

// all returns every registered window.
func (ws *windowSet) all() []*window {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	out := make([]*window, 0, len(ws.m))
	for _, w := range ws.m {
		out = append(out, w)
	}
	return out
}

// openFor returns the open window that lets user reach host now, or
// nil. Only the requester's own windows count: another user, even one
// sharing a key, never uses it.
func (ws *windowSet) openFor(user, host string) *window {
	t := now()
	for _, w := range ws.all() {
		if w.covers(user, host, t) {
			return w
		}
	}
	return nil
}

// endAll ends every window, as the bastion stops.
func (ws *windowSet) endAll(reason string) {
	for _, w := range ws.all() {
		w.end("", reason, "approval window "+w.id+" ended: "+reason)
	}
}

// windowRefusal says why cfg no longer allows the window w (its
// requester's key, user or access to one of its hosts was taken away),
// or "".
func (s *Server) windowRefusal(pol *policy, w *window, t time.Time) string {
	if why := pol.keyRefusal(w.owner, w.ownerKey, w.remote, t); why != "" {
		return why
	}
	user, _ := pol.cfg.User(w.owner)
	for _, name := range w.hosts {
		h, ok := pol.cfg.Host(name)
		if !ok {
			return "host " + name + " removed"
		}
		if !pol.cfg.CanConnect(user, h) {
			return "access to " + name + " removed"
		}
	}
	w.mu.Lock()
	granted := slices.Clone(w.granted)
	w.mu.Unlock()
	// The window holds as many approvals, for as long, as the policies
	// allowed when it was asked; a policy that now asks for more
	// approvals (a pending window would open on the old count) or
	// allows shorter windows no longer allows it.
	for _, name := range w.hosts {
		h, _ := pol.cfg.Host(name)
		ap, ok := pol.cfg.ApprovalPolicy(h)
		switch {
		case !ok:
		case ap.Count > w.count:
			return fmt.Sprintf("the approval policy of %s now needs %d approvals", name, ap.Count)
		case w.dur > ap.MaxWindow:
			return fmt.Sprintf("the approval policy of %s now allows windows of at most %s", name, ap.MaxWindow)
		}
	}
	// An approval stands only while its reviewer may still give it.
	for _, r := range granted {
		if u, ok := pol.cfg.User(r); !ok || !mayApproveWindow(pol.cfg, u, w) {
			return "approver " + r + " may no longer approve"
		}
	}
	return ""
}

// sweepWindows ends the windows pol no longer allows.
func (s *Server) sweepWindows(pol *policy) {
	t := now()
	for _, w := range s.windows.all() {
		if why := s.windowRefusal(pol, w, t); why != "" {
			w.end("", "access revoked: "+why, "approval window "+w.id+" ended: access revoked ("+why+")")
		}
	}
}

// windowPolicies returns the approval policy of each host, and the
// window's count and pending timeout: the strictest of them.
func windowPolicies(cfg *config.Config, hosts []*config.Host) (count int, pending, maxDur time.Duration) {
	for _, h := range hosts {
		pol, ok := cfg.ApprovalPolicy(h)
		if !ok {
			continue
		}
		count = max(count, pol.Count)
		if pending == 0 || pol.PendingTimeout < pending {
			pending = pol.PendingTimeout
		}
		if maxDur == 0 || pol.MaxWindow < maxDur {
			maxDur = pol.MaxWindow
		}
	}
	return count, pending, maxDur
}

// mayApproveWindow reports whether u may approve w: a role grants
// approve for every one of its hosts under that host's policy.
func mayApproveWindow(cfg *config.Config, u *config.User, w *window) bool {
	for _, name := range w.hosts {
		h, ok := cfg.Host(name)
		if !ok {
			return false
		}
		pol, _ := cfg.ApprovalPolicy(h)
		if !cfg.CanApproveSession(u, h, pol) {
			return false
		}
	}
	return len(w.hosts) > 0
}

// windowApprovers returns who may approve a window on hosts, except the
// requester.
func windowApprovers(cfg *config.Config, hosts []*config.Host, requester string) []string {
	var out []string
	for i := range cfg.Users {
		u := &cfg.Users[i]
		if u.Name == requester {
			continue
		}
		ok := true
		for _, h := range hosts {
			pol, _ := cfg.ApprovalPolicy(h)
			if !cfg.CanApproveSession(u, h, pol) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, u.Name)
		}
	}
	return out
}

// mayRequestWindow reports whether u may connect to some host that needs
// approval: the only hosts a window is for.
func mayRequestWindow(cfg *config.Config, u *config.User) bool {
	for i := range cfg.Hosts {
		if _, four := cfg.ApprovalPolicy(&cfg.Hosts[i]); four && cfg.CanConnect(u, &cfg.Hosts[i]) {
			return true
		}
	}
	return false
}

// notifyWindow queues a webhook notification about w, if a webhook is
// configured: Session is the window id, Host its hosts (comma-separated),
// Note the denial's or the end's reason.
func (s *Server) notifyWindow(w *window, t event.Type, by, note string) {
	if s.notifier == nil {
		return
	}
	v := Notification{
		Event: string(t), Session: w.id, User: w.owner, Host: strings.Join(w.hosts, ","), Reason: w.reason,
		Since: w.since, Approvers: w.eligible, By: by, Note: note, Time: now(),
	}
	if t == event.WindowRequest {
		v.Join = s.joinCommand("REVIEWER", w.id, w.local)
	}
	s.notifier.send(v)
}
