package gateway

import (
	"errors"
	"strconv"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
)

// ErrCommandTooLong refuses an exec command longer than
// gateway.max_command_bytes: nobody can review what they cannot read.
var ErrCommandTooLong = errors.New("gateway: command too long")

// longCommandPrefix is how much of an over-long command the refusal
// records: enough to recognise it, not enough to fill the spool.
const longCommandPrefix = 256

// maxCommandBytes is gateway.max_command_bytes, or its default for a
// configuration built in code without defaults.
func (s *Server) maxCommandBytes() int {
	if n := s.cfg().Gateway.MaxCommandBytes; n > 0 {
		return n
	}
	return config.DefaultMaxCommandBytes
}

// refuseLongCommand refuses an exec command longer than limit before
// anything else happens (no host lookup, no recording, no reviewer is
// asked to read it), and records the refusal with the command's length
// and first bytes.
func (sess *clientSession) refuseLongCommand(limit int) exitResult {
	user, cmd := sess.user.Name, sess.command
	sess.s.recordGateway(event.AccessDenied, user, map[string]string{
		"user": user, "host": "", "reason": "command too long", "remote": sess.remote,
		"command": cmd[:longCommandPrefix], "command_bytes": strconv.Itoa(len(cmd)), "command_truncated": "true",
	})
	return sess.refuse(userErrorf(ErrCommandTooLong,
		"command refused: it is %d bytes, this bastion accepts at most %d; copy a long script to the host and run the file", len(cmd), limit))
}
