package gateway

import (
	"fmt"
	"strings"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/guard"
)

// unlock lists the login lockouts in force (no argument) or lifts the
// ones on a user name or source address (`unlock alice`, `unlock
// 192.0.2.7`, `unlock 2001:db8::/64`). It needs a role with unlock: true.
// Lifting is recorded as auth.unlock by the admin.
func (sess *clientSession) unlock(args string) exitResult {
	s, user := sess.s, sess.user.Name
	line := strings.TrimSpace("unlock " + args)
	if !s.cfg().CanUnlock(sess.user) {
		s.recordGateway(event.AccessDenied, user, map[string]string{"user": user, "host": "", "reason": "unlock requires a role with unlock", "command": guard.SafeName(line, 256), "remote": sess.remote})
		return sess.refuse(userErrorf(ErrAccessDenied, "unlock denied for %s: no role with unlock", user))
	}
	w := newTextWriter(sess.ch, sess.pty != nil)
	fields := strings.Fields(args)
	switch len(fields) {
	case 0:
		locks := s.lockout.Locks()
		if len(locks) == 0 {
			fmt.Fprintln(w, "No lockouts.")
			return exitResult{}
		}
		for _, lk := range locks {
			fmt.Fprintf(w, "%-6s  %s  until %s  (%d failed logins)\n", lk.Scope, guard.SafeName(lk.Target, 64), lk.Until.UTC().Format(time.RFC3339), lk.Failures)
		}
		return exitResult{}
	case 1:
	default:
		return sess.refuse(userErrorf(nil, "unlock: give one user name or address; usage: unlock [USER|ADDRESS]"))
	}
	target := fields[0]
	lifted := s.lockout.Unlock(target)
	if len(lifted) == 0 {
		return sess.refuse(userErrorf(nil, "%s is not locked out; `unlock` lists the lockouts", guard.SafeName(target, 64)))
	}
	for _, lk := range lifted {
		s.recordGateway(event.AuthUnlock, user, map[string]string{
			"scope": string(lk.Scope), "target": lk.Target, "until": lk.Until.UTC().Format(time.RFC3339), "remote": sess.remote,
		})
		fmt.Fprintf(w, "Unlocked %s %s (locked until %s).\n", lk.Scope, lk.Target, lk.Until.UTC().Format(time.RFC3339))
	}
	return exitResult{}
}
