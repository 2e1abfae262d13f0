package gateway

import (
	"net/netip"
	"sync"
	"time"

	"github.com/foureyes/foureyes/event"
)

// Revocation: access is checked again whenever it may have been taken
// away, not only at login. A reload (Reload) or a key reaching its
// expiry-time (watchExpiry) sweeps every live session: one whose user,
// key, source address or role no longer allows what it does is ended
// with "access revoked" shown to its user and recorded. An admin's kill
// (kill.go) ends one session the same way.

// liveSet lists the gateway's live client sessions.
type liveSet struct {
	reloadMu sync.Mutex // serializes reloads (a SIGHUP and another at once)

	mu       sync.Mutex
	sessions map[*clientSession]liveInfo
}

// liveInfo is what the gateway learns about a live session as it runs.
type liveInfo struct {
	id  string  // recording id of an ordinary session, once started
	hub *hub    // the four-eyes session it requested, once created
	win *window // the approval window it runs under, if any
}

// underWindow records that sess runs under the approval window w.
func (l *liveSet) underWindow(sess *clientSession, w *window) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if info, ok := l.sessions[sess]; ok {
		info.win = w
		l.sessions[sess] = info
	}
}

// add registers sess until remove.
func (l *liveSet) add(sess *clientSession) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sessions == nil {
		l.sessions = map[*clientSession]liveInfo{}
	}
	l.sessions[sess] = liveInfo{}
}

// remove forgets sess.
func (l *liveSet) remove(sess *clientSession) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.sessions, sess)
}

// name records the id of sess's recording, for kill.
func (l *liveSet) name(sess *clientSession, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if info, ok := l.sessions[sess]; ok {
		info.id = id
		l.sessions[sess] = info
	}
}

// owns records that sess requested the four-eyes session hb.
func (l *liveSet) owns(sess *clientSession, hb *hub) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if info, ok := l.sessions[sess]; ok {
		info.hub = hb
		l.sessions[sess] = info
	}
}

// ordinary reports whether sess runs on a host without four-eyes
// approval (its recording started, no hub, no approval window).
func (l *liveSet) ordinary(sess *clientSession) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	info := l.sessions[sess]
	return info.id != "" && info.hub == nil && info.win == nil
}

// hubOf returns the four-eyes session sess requested, or nil.
func (l *liveSet) hubOf(sess *clientSession) *hub {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sessions[sess].hub
}

// all returns the live sessions.
func (l *liveSet) all() []*clientSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*clientSession, 0, len(l.sessions))
	for sess := range l.sessions {
		out = append(out, sess)
	}
	return out
}

// byID returns the live session recorded under id.
func (l *liveSet) byID(id string) (*clientSession, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for sess, info := range l.sessions {
		if info.id != "" && info.id == id {
			return sess, true
		}
	}
	return nil, false
}

// endOrder is the cause of a session the gateway ends on purpose: access
// revoked, an admin's kill, a session policy's limit.
type endOrder struct {
	by     string // who ordered it (kill); empty for policy
	reason string // recorded in session.terminate and session.end
	msg    string // shown to the user, after "foureyes: "
}

// Error returns the recorded reason.
func (e *endOrder) Error() string { return e.reason }

// revokedOrder is the order ending a session whose access was revoked.
func revokedOrder(why string) *endOrder {
	return &endOrder{reason: "access revoked: " + why, msg: "access revoked (" + why + "); session ended"}
}

// keyRefusal says why user's key fp, used from remote, is not allowed by
// pol at t ("" when it is). The first of the user's lines with that key
// whose options allow the login decides, as in sshd.
func (pol *policy) keyRefusal(user, fp, remote string, t time.Time) string {
	if _, ok := pol.cfg.User(user); !ok {
		return "user removed"
	}
	why := "key removed"
	for _, k := range pol.keys[user] {
		if k.fp != fp {
			continue
		}
		if w := k.refusal(remote, t); w != "" {
			why = w
			continue
		}
		return ""
	}
	return why
}

// refusal says why the key line refuses a client at remote at t, or "".
func (k *userKey) refusal(remote string, t time.Time) string {
	if k.Options.Expired(t) {
		return "key expired at " + k.Options.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if len(k.Options.From) > 0 {
		ap, err := netip.ParseAddrPort(remote)
		if err != nil || !k.Options.AllowsFrom(ap.Addr()) {
			return "key not allowed from " + hostOf(remote)
		}
	}
	return ""
}

// hostOf returns the address part of host:port.
func hostOf(remote string) string {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().String()
	}
	return remote
}

// sessionRefusal says why pol no longer allows what sess does at t, or
// "". What it does is read from its command line: a host, a verb.
func (s *Server) sessionRefusal(pol *policy, sess *clientSession, t time.Time) string {
	if why := pol.keyRefusal(sess.name, sess.keyFP, sess.remote, t); why != "" {
		return why
	}
	if !sess.started.Load() {
		return ""
	}
	cfg := pol.cfg
	user, _ := cfg.User(sess.name)
	first, rest := sess.route()
	switch first {
	case "":
		return ""
	case "join":
		id, _ := parseCommand(rest)
		if w, ok := s.windows.get(id); ok {
			if !mayApproveWindow(cfg, user, w) {
				return "reviewer role for a host of window " + w.id + " removed"
			}
			return ""
		}
		hb, ok := s.hubs.get(id)
		if !ok {
			return ""
		}
		h, ok := cfg.Host(hb.host.Name)
		if !ok {
			return "host removed"
		}
		if !cfg.CanApproveSession(user, h, hb.pol) {
			return "reviewer role for " + h.Name + " removed"
		}
	default:
		// A bastion verb: the same rule that lists it in the help.
		if _, isVerb := lookupVerb(first); isVerb {
			if mayUse(cfg, user, first) {
				return ""
			}
			switch first {
			case "audit":
				return "audit role removed"
			case "sessions":
				return "reviewer role removed"
			}
			return first + " permission removed"
		}
		h, ok := cfg.Host(first)
		if !ok {
			return "host removed"
		}
		if !cfg.CanConnect(user, h) {
			return "access to " + h.Name + " removed"
		}
		if sess.subsystem != "" {
			rest = sftpCommand // as connect was given it
		}
		// The rule a new session meets (connect): a terminal, even
		// through a command, always waits for a reviewer.
		if pol, ok := cfg.ApprovalPolicy(h); ok && s.live.ordinary(sess) && needsApproval(pol, rest, sess.pty != nil) {
			return h.Name + " now requires four-eyes approval"
		}
	}
	return ""
}

// sweep ends every live session pol no longer allows, and returns how
// many it ended.
func (s *Server) sweep(pol *policy) int {
	s.sweepWindows(pol)
	s.sweepTunnels(pol)
	t := now()
	n := 0
	for _, sess := range s.live.all() {
		if why := s.sessionRefusal(pol, sess, t); why != "" {
			sess.log.Warn("access revoked", "reason", why)
			s.endSession(sess, revokedOrder(why))
			n++
		}
	}
	return n
}

// endSession ends sess on order o: a four-eyes session it requested ends
// for everyone (session.terminate in its stream); a reviewer or a verb's
// user is told; an ordinary session's proxy tells its user and records
// session.terminate. Sessions still waiting for their shell or exec
// request are closed.
func (s *Server) endSession(sess *clientSession, o *endOrder) {
	if sess.started.Load() {
		// A hub still asking for the reason has no recording yet: its
		// context ends it.
		if hb := s.live.hubOf(sess); hb != nil && hb.current() != stateAsking && hb.endOn(o) {
			return // the requester's loop ends the session and says why
		}
		first, _ := sess.route()
		if _, isVerb := lookupVerb(first); (isVerb && sess.target == "") || first == "" {
			sess.say(o.msg)
		}
	}
	sess.cancel(o)
}

// endOn ends the four-eyes session for everyone on order o, recording
// session.terminate (or approval.cancel while pending) in its stream.
func (h *hub) endOn(o *endOrder) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state == stateEnded || h.end != nil {
		return false
	}
	h.end = &ending{kind: event.SessionTerminate, by: o.by, msg: o.msg}
	if h.stop != nil { // under a window: its proxy records the termination
		h.stop(o)
		return true
	}
	meta := map[string]string{"reason": o.reason}
	h.recordLocked(event.SessionTerminate, o.by, meta)
	h.signal()
	return true
}

// watchExpiry sweeps the live sessions every second while some key has
// an expiry-time, so that a session ends when its key expires. It
// returns when the server shuts down.
func (s *Server) watchExpiry() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.base.Done():
			return
		case <-tick.C:
		}
		pol := s.pol.Load()
		if pol.expiring() {
			s.sweep(pol)
		}
	}
}

// expiring reports whether some key of pol has an expiry-time.
func (pol *policy) expiring() bool {
	for _, keys := range pol.keys {
		for _, k := range keys {
			if !k.Options.ExpiresAt.IsZero() {
				return true
			}
		}
	}
	return false
}

// record writes session.terminate into the recording of sess; only the
// goroutine that owns the recording (the proxy) calls it.
func (o *endOrder) record(sess *clientSession) {
	if sess.rec == nil {
		return
	}
	if err := sess.rec.Record(event.SessionTerminate, o.by, nil, map[string]string{"reason": o.reason}); err != nil {
		sess.log.Warn("record session.terminate", "err", err)
	}
}
