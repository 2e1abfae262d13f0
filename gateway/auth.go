package gateway

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Authentication: public keys only.
//
// The public key callbacks are installed through ServerConfigCallback
// rather than gliderlabs' PublicKeyHandler: gliderlabs freezes the user
// name in its Context at the first attempt, while SSH lets a client change
// it between attempts; checking a key against a stale name would let a key
// accepted for one user log in as another. x/crypto gives the callbacks
// the current name. Password and keyboard-interactive handlers are
// installed (so that gliderlabs does not switch to "no authentication")
// and refuse; AuthLogCallback records those attempts with the right name.

// extKeyFingerprint carries the login key's fingerprint in the
// connection's Permissions.
const extKeyFingerprint = "foureyes-key"

// errAuth is returned to x/crypto for every refused attempt.
var errAuth = errors.New("gateway: permission denied")

// connStateKey stores a connection's *connState in its ssh.Context.
var connStateKey = &struct{ name string }{"foureyes-conn"}

// connState is what the gateway knows about one client connection. It is
// created by connCallback before the handshake; the auth callbacks (which
// x/crypto runs one at a time on the connection's goroutine) fill it in.
type connState struct {
	raw     net.Conn // the TCP connection, closed to drop the client
	remote  string
	key     string    // connKey, index of Server.conns
	started time.Time // accepted at

	mu       sync.Mutex
	user     string          // last user name tried
	offered  gossh.PublicKey // last key accepted before its signature was checked
	verified bool            // a key's signature verified: login complete
}

// connKey identifies a TCP connection by its two addresses.
func connKey(c net.Conn) string { return c.RemoteAddr().String() + "|" + c.LocalAddr().String() }

// stateOf returns the connState of ctx's connection.
func stateOf(ctx ssh.Context) *connState {
	cs, _ := ctx.Value(connStateKey).(*connState)
	return cs
}

// connCallback registers a new TCP connection and starts its watcher
// (keepalive, login grace). Returning nil refuses it.
func (s *Server) connCallback(ctx ssh.Context, conn net.Conn) net.Conn {
	if !s.enter(false) {
		return nil
	}
	cs := &connState{raw: conn, remote: conn.RemoteAddr().String(), key: connKey(conn), started: now()}
	s.mu.Lock()
	s.conns[cs.key] = cs
	s.mu.Unlock()
	ctx.SetValue(connStateKey, cs)
	go func() {
		defer s.wg.Done()
		s.watchConn(ctx, cs)
		// gliderlabs cancels ctx when a read fails, before it reports a
		// failed handshake: until the login completed, connectionFailed
		// still needs the entry and removes it itself.
		cs.mu.Lock()
		verified := cs.verified
		cs.mu.Unlock()
		if verified {
			s.forgetConn(cs.key)
		}
	}()
	return conn
}

// serverConfig returns the x/crypto configuration of ctx's connection.
func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	return s.connConfig(stateOf(ctx))
}

// connConfig returns the x/crypto configuration of the connection cs.
func (s *Server) connConfig(cs *connState) *gossh.ServerConfig {
	return &gossh.ServerConfig{
		PublicKeyCallback: func(conn gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			return s.checkKey(cs, conn.User(), key)
		},
		VerifiedPublicKeyCallback: func(conn gossh.ConnMetadata, key gossh.PublicKey, perms *gossh.Permissions, _ string) (*gossh.Permissions, error) {
			cs.mu.Lock()
			cs.verified = true
			cs.mu.Unlock()
			return perms, nil
		},
		AuthLogCallback: func(conn gossh.ConnMetadata, method string, err error) {
			switch {
			case err == nil, method == "none", method == "publickey":
				// "none" is every client's opening probe; publickey
				// failures are recorded by checkKey, with the key.
			default:
				s.authFailure(cs, conn.User(), "", method, method+" authentication is disabled; log in with a key")
			}
		},
	}
}

// checkKey admits a configured user's configured keys, as their key
// lines' options allow: from= (the client's address) and expiry-time=.
// x/crypto caches the answer per (user, key) on a connection, so
// OpenSSH's "query" and the signed attempt that follows cause one call
// and at most one auth.failure; a key accepted here whose login then does
// not complete is reported by connectionFailed.
func (s *Server) checkKey(cs *connState, user string, key gossh.PublicKey) (*gossh.Permissions, error) {
	cs.mu.Lock()
	cs.user = user
	cs.mu.Unlock()
	fp := gossh.FingerprintSHA256(key)
	reason := "unknown user"
	if keys, ok := s.pol.Load().keys[user]; ok {
		reason = "key not authorized for user"
		for _, k := range keys {
			if !ssh.KeysEqual(k.Key, key) {
				continue
			}
			if why := k.refusal(cs.remote, now()); why != "" {
				reason = why // another line with this key may allow it
				continue
			}
			cs.mu.Lock()
			cs.offered = key
			cs.mu.Unlock()
			return &gossh.Permissions{Extensions: map[string]string{extKeyFingerprint: fp}}, nil
		}
	}
	s.authFailure(cs, user, fp, "publickey", reason)
	return nil, errAuth
}

// keysOnlyMessage is shown to clients that try keyboard-interactive (what
// OpenSSH tries without a usable key).
const keysOnlyMessage = "foureyes: this bastion accepts public keys only; log in with your key (ssh -i KEY). Passwords are refused."

// refusePassword refuses every password; AuthLogCallback records the
// attempt (never the password).
func refusePassword(ssh.Context, string) bool { return false }

// refuseKeyboardInteractive says, without asking anything, that only keys
// are accepted, and refuses; AuthLogCallback records the attempt. OpenSSH
// tries keyboard-interactive before password, so a user without a usable
// key reads this before any password prompt.
func refuseKeyboardInteractive(_ ssh.Context, challenge gossh.KeyboardInteractiveChallenge) bool {
	challenge("", keysOnlyMessage, nil, nil)
	return false
}

// connectionFailed runs when a handshake fails. A key accepted by
// checkKey whose login did not complete (bad signature, client gave up)
// is an authentication failure too.
func (s *Server) connectionFailed(conn net.Conn, err error) {
	key := connKey(conn)
	s.mu.Lock()
	cs := s.conns[key]
	s.mu.Unlock()
	if cs == nil {
		return
	}
	s.forgetConn(key)
	cs.mu.Lock()
	user, offered, verified := cs.user, cs.offered, cs.verified
	cs.mu.Unlock()
	if offered != nil && !verified {
		s.authFailure(cs, user, gossh.FingerprintSHA256(offered), "publickey", "key accepted but login not completed: "+err.Error())
		return
	}
	s.log.Debug("handshake failed", "remote", cs.remote, "user", user, "err", err)
}

// forgetConn removes a connection from s.conns.
func (s *Server) forgetConn(key string) {
	s.mu.Lock()
	delete(s.conns, key)
	s.mu.Unlock()
}

// authFailure records an auth.failure event in the gateway stream.
func (s *Server) authFailure(cs *connState, user, fingerprint, method, reason string) {
	meta := map[string]string{"user": user, "method": method, "reason": reason, "remote": cs.remote}
	if fingerprint != "" {
		meta["key"] = fingerprint
	}
	s.recordGateway(event.AuthFailure, "", meta)
}
