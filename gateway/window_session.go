package gateway

import (
	"strings"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/recorder"
)

// windowOf returns the open approval window under which user's
// connection to h runs, or nil: h has no approval policy (four is
// false), or user has no open window for it.
func (s *Server) windowOf(user string, h *config.Host, four bool) *window {
	if !four {
		return nil
	}
	return s.windows.openFor(user, h.Name)
}

// underWindow runs the session sess, whose recording rec just started,
// under the approval window w: it becomes one of the window's live
// connections (ended with it) and watchable by the window's reviewers
// (`sessions`, `join ID`, observers only) as a four-eyes session is. It
// reports false when w ended meanwhile; done undoes it as the session
// ends.
func (sess *clientSession) underWindow(w *window, h *config.Host, pol *config.ApprovalPolicy, rec *recorder.Session, remote string) (done func(), ok bool) {
	s := sess.s
	stop := func(o *endOrder) { sess.cancel(o) }
	m := &windowMember{stop: stop}
	if !w.join(m) {
		return nil, false
	}
	sess.winMember = m
	hb := newHub(s, sess.user.Name, sess.keyFP, h, pol, remote)
	hb.win, hb.stop = w, stop
	hb.id, hb.reason, hb.since, hb.rec = rec.ID(), w.reason, now(), rec
	hb.local = sess.localAddr()
	hb.log = hb.log.With("session", hb.id, "window", w.id)
	if a := w.approvers(); a != "" {
		hb.granted = strings.Split(a, ",") // shown to reviewers who join
	}
	if sess.pty != nil {
		hb.cols, hb.rows = sess.pty.Cols, sess.pty.Rows
	} else {
		for i := range hb.views {
			hb.views[i].crlf = true
		}
	}
	hb.state = stateActive
	sess.hub = hb
	s.live.underWindow(sess, w)
	s.hubs.add(hb)
	return func() {
		s.hubs.remove(hb)
		hb.finish("session ended")
		w.leave(m)
	}, true
}

// windowEndMeta adds the window's id, approvers and reason to a
// session.end meta, so that the sessions row says who approved.
func windowEndMeta(w *window, meta map[string]string) map[string]string {
	if w == nil {
		return meta
	}
	if meta == nil {
		meta = map[string]string{}
	}
	if r, ok := meta["reason"]; ok {
		meta["end_reason"] = r
	}
	for k, v := range w.startMeta() {
		meta[k] = v
	}
	return meta
}
