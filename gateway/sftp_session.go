package gateway

import (
	"errors"
	"fmt"
	"strings"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/sftp"
	"github.com/foureyes/foureyes/recorder"
	"github.com/foureyes/foureyes/termsafe"
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
// session see ("" for none). Every value in it is data, never terminal
// text: paths and targets are quoted in ASCII (%+q), every other field
// (the user, op, direction, flags, attributes, sizes, hashes, status)
// goes through termsafe.Quote. The live view lets a shell's cursor
// movement and erasing through, so a raw field (an unknown extension's
// name is the client's) could rewrite the lines before it.
func describeSFTP(user string, r sftp.Record) string {
	m := r.Meta
	switch r.Type {
	case event.Transfer:
		var b strings.Builder
		fmt.Fprintf(&b, "[sftp] %s %s %+q", termsafe.Quote(user), termsafe.Quote(m["direction"]), m["path"])
		if f := m["open_flags"]; f != "" {
			fmt.Fprintf(&b, " [%s]", termsafe.Quote(f))
		}
		describeAttrs(&b, m)
		b.WriteString(": ")
		// Both sides of a handle that read and wrote; one side else.
		switch m["direction"] {
		case "both":
			b.WriteString("up ")
			describeSide(&b, m, "up")
			b.WriteString("; down ")
			describeSide(&b, m, "down")
		case "download":
			describeSide(&b, m, "down")
		default:
			describeSide(&b, m, "up")
		}
		if o := m["out_of_order"]; o != "" {
			// The hash is of the bytes as they passed: a client can send
			// a known file's bytes to offsets that permute them.
			fmt.Fprintf(&b, ", OUT OF ORDER (%s): the hash is not the file's", termsafe.Quote(o))
		}
		fmt.Fprintf(&b, ", %s", termsafe.Quote(m["status"]))
		if e := m["error"]; e != "" {
			fmt.Fprintf(&b, " (%s)", termsafe.Quote(e))
		}
		b.WriteString("\n")
		return b.String()
	case event.FileOp:
		if r.Err != nil {
			return fmt.Sprintf("[sftp] the SFTP stream could not be parsed: %s\n", termsafe.Text(m["reason"]))
		}
		var b strings.Builder
		fmt.Fprintf(&b, "[sftp] %s %s %+q", termsafe.Quote(user), termsafe.Quote(m["op"]), m["path"])
		if t := m["target"]; t != "" {
			fmt.Fprintf(&b, " -> %+q", t)
		}
		if f := m["open_flags"]; f != "" {
			fmt.Fprintf(&b, " [%s]", termsafe.Quote(f))
		}
		describeAttrs(&b, m)
		if c := m["count"]; c != "" {
			fmt.Fprintf(&b, " (%s entries)", termsafe.Quote(c))
		}
		fmt.Fprintf(&b, ": %s\n", termsafe.Quote(m["status"]))
		return b.String()
	}
	return ""
}

// describeSide writes one side of a transfer: "93 bytes, sha256 0123…".
func describeSide(b *strings.Builder, m map[string]string, side string) {
	sha, more := m["sha256_"+side], ""
	if sha == "" {
		fmt.Fprintf(b, "%s bytes", termsafe.Quote(m["bytes_"+side]))
		return
	}
	if len(sha) > 16 {
		sha, more = sha[:16], "…"
	}
	fmt.Fprintf(b, "%s bytes, sha256 %s%s", termsafe.Quote(m["bytes_"+side]), termsafe.Quote(sha), more)
}

// sftpAttrs are the attributes a client set, in the order a reviewer
// reads them.
var sftpAttrs = [...]struct{ key, label string }{
	{"attr_size", "size"}, {"attr_mode", "mode"}, {"attr_uid", "uid"}, {"attr_gid", "gid"},
	{"attr_mtime", "mtime"}, {"attr_atime", "atime"}, {"attr_extended", "extended"},
}

// describeAttrs writes the attributes set, " (size 0, mode 0104755)",
// nothing when none were.
func describeAttrs(b *strings.Builder, m map[string]string) {
	sep := " ("
	for _, a := range sftpAttrs {
		if v, ok := m[a.key]; ok {
			fmt.Fprintf(b, "%s%s %s", sep, a.label, termsafe.Quote(v))
			sep = ", "
		}
	}
	if sep == ", " {
		b.WriteString(")")
	}
}
