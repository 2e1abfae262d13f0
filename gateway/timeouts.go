package gateway

import (
	"time"

	"github.com/foureyes/foureyes/config"
)

// Session limits: a host's session policy (config session_policies) may
// end its sessions after an idle time or a maximum duration. The user is
// told why; the session records session.terminate with the reason and
// ends like a revoked one (endSession).

// watchLimits enforces the session policy of h on sess, as it stands
// when the session starts, until the returned stop is called.
func (sess *clientSession) watchLimits(h *config.Host) (stop func()) {
	sp := sess.s.cfg().SessionPolicy(h)
	if sp.IdleTimeout <= 0 && sp.MaxDuration <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	sess.s.goTracked(func() { sess.enforceLimits(sp, done) })
	return func() { close(done) }
}

// enforceLimits ends sess when it has been idle for sp.IdleTimeout or
// has run for sp.MaxDuration; it returns then, when done closes or when
// the session ends.
func (sess *clientSession) enforceLimits(sp config.SessionPolicy, done <-chan struct{}) {
	var maxC, tickC <-chan time.Time
	if sp.MaxDuration > 0 {
		t := time.NewTimer(sp.MaxDuration)
		defer t.Stop()
		maxC = t.C
	}
	if sp.IdleTimeout > 0 {
		t := time.NewTicker(min(sp.IdleTimeout/4, time.Second))
		defer t.Stop()
		tickC = t.C
	}
	activity := func() int64 { return sess.rc.inFwd.Load() + sess.rc.outFwd.Load() }
	last, since := activity(), now()
	for {
		select {
		case <-done:
			return
		case <-sess.ctx.Done():
			return
		case <-maxC:
			sess.s.endSession(sess, &endOrder{
				reason: "maximum session duration " + sp.MaxDuration.String() + " reached",
				msg:    "session ended: it reached the maximum duration of " + sp.MaxDuration.String() + " for this host",
			})
			return
		case <-tickC:
			if a := activity(); a != last || sess.waitingForApproval() {
				last, since = a, now()
				continue
			}
			if now().Sub(since) >= sp.IdleTimeout {
				sess.s.endSession(sess, &endOrder{
					reason: "idle timeout " + sp.IdleTimeout.String(),
					msg:    "session ended: idle for " + sp.IdleTimeout.String() + " (the limit for this host)",
				})
				return
			}
		}
	}
}

// waitingForApproval reports whether sess is a four-eyes request not yet
// approved: waiting is not idling (pending_timeout bounds it).
func (sess *clientSession) waitingForApproval() bool {
	hb := sess.s.live.hubOf(sess)
	if hb == nil {
		return false
	}
	st := hb.current()
	return st == stateAsking || st == statePending
}
