package gateway

import (
	"github.com/foureyes/foureyes/event"
	gossh "golang.org/x/crypto/ssh"
)

// Key options: a users[].keys[] line may restrict its key (config
// ParseAuthorizedKey). from= and expiry-time= are checked at login
// (checkKey), on every new channel (connRevoked) and, for live sessions,
// on every reload and expiry (revoke.go); no-pty (or restrict) refuses
// terminals. Port, agent and X11 forwarding and user rc files are refused
// for every key, so no-port-forwarding, no-agent-forwarding,
// no-X11-forwarding and no-user-rc hold by construction.

// connRevoked reports whether the key conn logged in with no longer
// admits it: removed, expired or no longer allowed from its address.
func (s *Server) connRevoked(conn *gossh.ServerConn) bool {
	fp := ""
	if conn.Permissions != nil {
		fp = conn.Permissions.Extensions[extKeyFingerprint]
	}
	return s.pol.Load().keyRefusal(personOf(conn.User()), fp, conn.RemoteAddr().String(), now()) != ""
}

// ptyAllowed reports whether the session's key may have a terminal; a
// refusal is recorded as access.denied.
func (sess *clientSession) ptyAllowed() bool {
	pol := sess.s.pol.Load()
	for _, k := range pol.keys[sess.user.Name] {
		if k.fp == sess.keyFP && k.refusal(sess.remote, now()) == "" {
			if !k.Options.NoPTY {
				return true
			}
			break
		}
	}
	sess.s.recordGateway(event.AccessDenied, sess.user.Name, map[string]string{
		"user": sess.user.Name, "host": "", "reason": "pty refused: the key's options say no-pty", "remote": sess.remote, "key": sess.keyFP,
	})
	return false
}
