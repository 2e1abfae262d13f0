package gateway

import (
	"errors"
	"fmt"
	"strings"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/sftp"
	"github.com/foureyes/foureyes/recorder"
)

// sftpSubsystem is the one subsystem the bastion serves.
const sftpSubsystem = "sftp"

// sftpCommand is the command of an SFTP session in session.start (kind
// "sftp"), the four-eyes request and the logs. No exec command is
// recorded for it: the session's kind says what it is.
const sftpCommand = "subsystem sftp"

// ErrNoTarget refuses a subsystem request without a host in the user name.
var ErrNoTarget = errors.New("gateway: no target host in the user name")

// sftpSession runs the "sftp" subsystem on the host named in the user
// name (`sftp alice+HOST@bastion`, modern `scp`), through the same
// checks, approval rules and recording as a command without a terminal:
// connect with the command sftpCommand.
func (sess *clientSession) sftpSession() exitResult {
	user := sess.user.Name
	if sess.target == "" {
		sess.s.recordRefusal(sess.cs, event.AccessDenied, user, map[string]string{
			"user": user, "host": "", "reason": "sftp without a host in the user name", "remote": sess.remote,
		})
		return sess.refuse(userErrorf(ErrNoTarget, "sftp and scp need the host in the user name: sftp %s%sHOST@BASTION", user, TargetSep))
	}
	return sess.connect(sess.target, sftpCommand)
}

// startSFTP starts the parser of an SFTP session on host h, recording
// into rec, and returns it.
func (sess *clientSession) startSFTP(rec *recorder.Session, h *config.Host) *sftp.Tap {
	user := sess.user.Name
	sess.sftp = sftp.New(sftp.Options{
		KeepContent: sess.s.cfg().KeepFileContent(h),
		Emit: func(r sftp.Record) {
			if err := rec.Record(r.Type, user, r.Data, r.Meta); err != nil {
				// The recorder's failure ends (strict) or degrades (best
				// effort) the session through the copiers.
				sess.log.Debug("record sftp", "type", r.Type, "err", err)
			}
			if sess.hub != nil {
				if line := describeSFTP(user, r); line != "" {
					sess.hub.broadcast(streamOut, []byte(line))
				}
			}
			if r.Err != nil {
				sess.sftpUnparsable(r)
			}
		},
	})
	return sess.sftp
}

// sftpUnparsable acts on a stream the parser gave up on. The bytes were
// relayed unchanged, but what follows could no longer be named: a
// strictly recorded session (the default, and every four-eyes session)
// ends, as when its recording fails; a best_effort one goes on, the
// file.op "unparsable" in its record saying from where it was not.
func (sess *clientSession) sftpUnparsable(r sftp.Record) {
	sess.log.Warn("SFTP stream could not be parsed", "err", r.Err)
	if sess.bestEffort {
		return
	}
	sess.s.endSession(sess, &endOrder{
		reason: "sftp stream could not be parsed: " + r.Meta["reason"],
		msg:    "the SFTP stream could not be parsed (" + r.Meta["reason"] + ") and this host is recorded strictly; session ended",
	})
}

// describeSFTP renders a record as the line reviewers of a four-eyes SFTP
// session see ("" for none). The hub's view sanitizes it.
func describeSFTP(user string, r sftp.Record) string {
	m := r.Meta
	switch r.Type {
	case event.Transfer:
		sha := m["sha256_up"]
		if m["direction"] == "download" {
			sha = m["sha256_down"]
		}
		size := m["bytes_up"]
		if m["direction"] == "download" {
			size = m["bytes_down"]
		}
		if len(sha) > 16 {
			sha = sha[:16] + "…"
		}
		return fmt.Sprintf("[sftp] %s %s %q: %s bytes, sha256 %s, %s\n", user, m["direction"], m["path"], size, sha, m["status"])
	case event.FileOp:
		if r.Err != nil {
			return fmt.Sprintf("[sftp] the SFTP stream could not be parsed: %s\n", m["reason"])
		}
		var b strings.Builder
		fmt.Fprintf(&b, "[sftp] %s %s %q", user, m["op"], m["path"])
		if t := m["target"]; t != "" {
			fmt.Fprintf(&b, " -> %q", t)
		}
		if c := m["count"]; c != "" {
			fmt.Fprintf(&b, " (%s entries)", c)
		}
		fmt.Fprintf(&b, ": %s\n", m["status"])
		return b.String()
	}
	return ""
}
