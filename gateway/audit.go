package gateway

import (
	"github.com/anmitsu/go-shlex"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
)

// audit runs `audit ARGS` for a user with an audit role. The command line
// is recorded as an audit.query event in a recording of kind "audit"
// before it runs; its output is not recorded (it can be huge and is
// reproducible from the store).
func (sess *clientSession) audit(rest string) exitResult {
	s, user := sess.s, sess.user.Name
	line := "audit"
	if rest != "" {
		line += " " + rest
	}
	if !s.cfg().CanAudit(sess.user) {
		s.recordGateway(event.AccessDenied, user, map[string]string{"user": user, "host": "", "reason": "audit requires a role with audit: true", "command": line, "remote": sess.remote})
		return sess.refuse(userErrorf(ErrAccessDenied, "audit denied for %s: no auditor role", user))
	}
	if s.opts.Audit == nil {
		return sess.refuse(userErrorf(nil, "audit is not available on this gateway"))
	}
	args, err := shlex.Split(rest, true)
	if err != nil {
		return sess.refuse(userErrorf(err, "audit: cannot parse arguments: %v", err))
	}
	class := s.cfg().Retention.Default
	info := recorder.StartInfo{
		Kind:           "audit",
		User:           user,
		Remote:         sess.remote,
		KeyFingerprint: sess.keyFP,
		Command:        line,
		Class:          class,
		Retention:      s.cfg().RetentionDays(class),
	}
	if sess.pty != nil {
		info.Term, info.Cols, info.Rows = sess.pty.Term, int(sess.pty.Cols), int(sess.pty.Rows)
	}
	rec, err := s.opts.Recorder.Start(info)
	if err != nil {
		sess.log.Error("start audit recording", "err", err)
		return sess.refuse(userErrorf(err, "recording unavailable (%v); audit refused", err))
	}
	sess.rec = rec
	if err := rec.Record(event.AuditQuery, user, []byte(line), nil); err != nil {
		return sess.endWith(sess.refuse(recordingFailed(err)), map[string]string{"error": err.Error()})
	}
	pty := sess.pty != nil
	status := s.opts.Audit(sess.ctx, user, args, newTextWriter(sess.ch, pty), newTextWriter(sess.ch.Stderr(), pty))
	return exitResult{status: status}
}
