package gateway

import (
	"errors"
	"strings"

	"github.com/anmitsu/go-shlex"
	"github.com/foureyes/foureyes/event"
)

// maxKillReason bounds the reason an admin gives to kill.
const maxKillReason = 200

// kill ends one live session, `kill SESSION_ID [--reason TEXT]`, for
// members of a role with kill: true. The session's user is told who
// ended it and why; its stream records session.terminate with the admin
// as actor, and the gateway's stream records the order. A refusal is
// recorded as access.denied.
func (sess *clientSession) kill(rest string) exitResult {
	s, user := sess.s, sess.user.Name
	id, reason, err := parseKillArgs(rest)
	if u, ok := s.cfg().User(user); !ok || !s.cfg().CanKill(u) {
		s.recordGateway(event.AccessDenied, user, map[string]string{"user": user, "host": "", "reason": "kill requires a role with kill: true", "command": "kill " + cleanLine(rest), "session": cleanLine(id), "remote": sess.remote})
		return sess.refuse(userErrorf(ErrAccessDenied, "kill denied for %s: no role with the kill permission", user))
	}
	if err != nil {
		return sess.refuse(userErrorf(err, "kill: %v; usage: kill SESSION_ID [--reason TEXT]", err))
	}
	o := &endOrder{by: user, reason: "killed by " + user, msg: "session terminated by " + user}
	if reason != "" {
		o.reason += ": " + reason
		o.msg += ": " + reason
	}
	meta := map[string]string{"session": id, "reason": o.reason, "remote": sess.remote}
	if hb, ok := s.hubs.get(id); ok {
		if !hb.endOn(o) {
			return sess.refuse(userErrorf(nil, "session %s is already ending", id))
		}
	} else if target, ok := s.live.byID(id); ok {
		s.endSession(target, o)
		meta["user"] = target.user.Name
	} else {
		return sess.refuse(userErrorf(nil, "no live session %s; `sessions` lists four-eyes ones, `audit sessions` all", printableID(id)))
	}
	s.recordGateway(event.SessionTerminate, user, meta)
	sess.say("session " + id + " terminated")
	return exitResult{}
}

// parseKillArgs splits "SESSION_ID [--reason TEXT]"; TEXT is the rest of
// the line.
func parseKillArgs(rest string) (id, reason string, err error) {
	args, err := shlex.Split(rest, true)
	if err != nil {
		return "", "", err
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--reason" || strings.HasPrefix(a, "--reason="):
			// The rest of the line: ssh joins the words unquoted.
			reason = strings.Join(append([]string{strings.TrimPrefix(strings.TrimPrefix(a, "--reason"), "=")}, args[i+1:]...), " ")
			i = len(args)
		case strings.HasPrefix(a, "-"):
			return "", "", errors.New("unknown option " + printableID(a))
		case id == "":
			id = a
		default:
			return "", "", errors.New("one session id at a time")
		}
	}
	if id == "" {
		return "", "", errors.New("give the session id")
	}
	reason = cleanLine(reason)
	if len(reason) > maxKillReason {
		reason = strings.ToValidUTF8(reason[:maxKillReason], "")
	}
	return id, reason, nil
}
