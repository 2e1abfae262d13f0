package gateway

import (
	"errors"
	"fmt"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
)

// statusLost is the exit status recorded and sent when a session ends
// without one from the host (client gone, shutdown, recording failure),
// as OpenSSH's client reports a lost connection.
const statusLost = 255

// connect runs a shell (remote == "") or a command on the named host:
// policy, recording, upstream login, then the byte pipes until one side
// ends.
func (sess *clientSession) connect(hostName, remote string) exitResult {
	s, user := sess.s, sess.user.Name
	h, ok := s.cfg().Host(hostName)
	if !ok {
		s.recordRefusal(sess.cs, event.AccessDenied, user, map[string]string{"user": user, "host": hostName, "reason": "unknown host", "remote": sess.remote})
		return sess.refuse(userErrorf(ErrUnknownHost, "unknown host %q", hostName))
	}
	if !s.cfg().CanConnect(sess.user, h) {
		s.recordRefusal(sess.cs, event.AccessDenied, user, map[string]string{"user": user, "host": hostName, "reason": "no role grants connect", "remote": sess.remote})
		return sess.refuse(userErrorf(ErrAccessDenied, "access to %q denied for %s", hostName, user))
	}
	defer sess.watchLimits(h)()           // idle timeout, maximum duration: timeouts.go
	sess.tap = sess.newExecTap(h, remote) // transfers and the output cap: exectap.go
	pol, four := s.cfg().ApprovalPolicy(h)
	win := s.windowOf(user, h, four) // an open approval window: window.go
	if four && win == nil && needsApproval(pol, remote, sess.pty != nil) {
		return sess.fourEyes(h, pol, remote)
	}
	kind := sess.kindOf(remote)
	info := recorder.StartInfo{
		Kind:           kind,
		User:           user,
		Host:           h.Name,
		Login:          h.Login,
		Remote:         sess.remote,
		KeyFingerprint: sess.keyFP,
		Command:        remote,
		Class:          h.Class,
		Retention:      s.cfg().RetentionDays(h.Class),
	}
	if sess.pty != nil {
		info.Term, info.Cols, info.Rows = sess.pty.Term, int(sess.pty.Cols), int(sess.pty.Rows)
	}
	if win != nil {
		info.Meta = win.startMeta()
	}
	rec, err := s.opts.Recorder.Start(info)
	if err != nil {
		sess.log.Error("start recording", "host", h.Name, "err", err)
		return sess.refuse(userErrorf(fmt.Errorf("%w: %w", ErrRecordingFailed, err), "recording unavailable (%v); session refused", err))
	}
	sess.rec = rec
	s.live.name(sess, rec.ID()) // for kill
	if win != nil {
		done, ok := sess.underWindow(win, h, pol, rec, remote)
		if !ok {
			return sess.endWith(sess.refuse(userErrorf(ErrAccessDenied, "approval window %s has ended; request a new one", win.id)), windowEndMeta(win, map[string]string{"error": "approval window ended"}))
		}
		defer done()
	}
	sess.bestEffort = s.policyOf(h) == config.OnFailureBestEffort
	log := sess.log.With("session", rec.ID(), "host", h.Name)
	log.Info("session start", "kind", kind)
	if sess.subsystem != "" {
		sess.startSFTP(rec, h)
	} else if remote != "" {
		// A best-effort session whose recording failed here goes on: the
		// proxy reports the failure at once.
		if err := rec.Record(event.Exec, user, []byte(remote), nil); err != nil && (!sess.bestEffort || rec.Err() == nil) {
			if rec.Err() != nil {
				sess.reportStrict(rec, h, remote)
			}
			return sess.endWith(sess.refuse(recordingFailed(err)), map[string]string{"error": err.Error()})
		}
	}
	up, err := s.leaseUpstream(sess.ctx, sess.cs, h) // a kept login of this client connection, or a new one
	if err != nil {
		log.Warn("upstream", "err", err)
		var mismatch *HostKeyMismatchError
		if errors.As(err, &mismatch) {
			if err := rec.Record(event.HostKeyMismatch, "", nil, map[string]string{"host": h.Name, "addr": h.Address, "want": mismatch.Want, "got": mismatch.Got}); err != nil {
				log.Error("record host key mismatch", "err", err)
			}
			return sess.endWith(sess.refuse(userErrorf(err, "%s", mismatch.Error())), map[string]string{"error": "host key mismatch"})
		}
		return sess.endWith(sess.refuse(userErrorf(err, "cannot reach %s (%s): %v", h.Name, h.Address, errors.Unwrap(err))), map[string]string{"error": err.Error()})
	}
	defer up.release()
	res, meta := sess.proxy(rec, up, h, remote)
	meta = windowEndMeta(win, meta)
	log.Info("session end", "status", res.status, "meta", meta)
	return sess.endWith(res, meta)
}

// kindOf returns the session.start kind of a session running remote:
// "sftp" for the subsystem, "exec" for a command, "shell".
func (sess *clientSession) kindOf(remote string) string {
	switch {
	case sess.subsystem != "":
		return "sftp"
	case remote != "":
		return "exec"
	}
	return "shell"
}

// needsApproval reports whether a session on a host under pol waits for
// a reviewer: a shell always; a command with a terminal always (`ssh -t
// HOST -- bash -i` is a shell by another name); a command without one
// unless the policy says exec: false.
func needsApproval(pol *config.ApprovalPolicy, remote string, pty bool) bool {
	return remote == "" || pty || pol.RequiresExecApproval()
}

// recordingFailed is the refusal when an event cannot be recorded.
func recordingFailed(err error) *UserError {
	return userErrorf(fmt.Errorf("%w: %w", ErrRecordingFailed, err), "recording failed (%v); session terminated", err)
}

// endWith notes the session.end meta of the recording; the recording
// ends (endRecording) after the client got its exit status, so that the
// wait for the spool does not delay the user.
func (sess *clientSession) endWith(res exitResult, meta map[string]string) exitResult {
	sess.endMeta = meta
	return res
}

// endRecording writes session.end of the session's recording, if any.
func (sess *clientSession) endRecording(res exitResult) {
	if sess.rec == nil {
		return
	}
	sess.tap.finish(sess, res)
	if err := sess.rec.End(res.status, sess.endMeta); err != nil {
		sess.log.Error("end recording", "session", sess.rec.ID(), "err", err)
	}
}
