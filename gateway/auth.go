package gateway

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/guard"
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
// the current name. Only publickey and keyboard-interactive are offered:
// the keyboard-interactive handler asks nothing, shows the keys-only
// notice once and refuses, so OpenSSH never prompts for a password (a
// PasswordHandler would make x/crypto offer "password", and ssh would ask
// for one and send it here). AuthLogCallback records the other attempts
// with the right name.
//
// Limits (guard package, config limits:): the listener admits at most
// limits.max_unauthenticated connections not yet logged in, per source
// too; each has limits.login_grace to log in and limits.max_auth_tries
// attempts; user names longer than limits.max_user_name are refused
// unread; locked users and sources are refused exactly like a wrong key.

// extKeyFingerprint carries the login key's fingerprint in the
// connection's Permissions.
const extKeyFingerprint = "foureyes-key"

// kbdIntRetries is how many keyboard-interactive exchanges (the
// keys-only notice, no prompt) x/crypto allows beyond max_auth_tries.
const kbdIntRetries = 3

// errAuth is returned to x/crypto for every refused attempt.
var errAuth = errors.New("gateway: permission denied")

// connStateKey stores a connection's *connState in its ssh.Context.
var connStateKey = &struct{ name string }{"foureyes-conn"}

// connState is what the gateway knows about one client connection. It is
// created by connCallback before the handshake; the auth callbacks (which
// x/crypto runs one at a time on the connection's goroutine) fill it in.
type connState struct {
	raw    net.Conn // the TCP connection, closed to drop the client
	remote string
	source string        // guard.Source of remote: what per-source limits count
	ticket *guard.Ticket // place among unauthenticated connections; released at login
	key    string        // connKey, index of Server.conns
	grace  *time.Timer   // closes raw unless the login completes in time
	pool   *upstreamPool // upstream logins kept for this connection's channels; closed with it

	// Channel counts of a logged-in connection (limitChannels).
	open            atomic.Int64 // channels open now
	channels        atomic.Int64 // channels accepted for handling
	channelsRefused atomic.Int64 // channels refused over limits.max_channels
	refusals        atomic.Int64 // refusals of requests (recordRefusal)

	mu       sync.Mutex
	user     string          // last user name tried (raw: log it through guard.SafeName)
	offered  gossh.PublicKey // last key accepted before its signature was checked
	verified bool            // a key's signature verified: login complete
	loginFP  string          // fingerprint of the login key
	loggedIn time.Time       // when the login completed
	attempts int             // authentication attempts other than "none"
	failed   bool            // an attempt failed (a failed login, unless verified)
	notified bool            // the keys-only notice was shown
}

// isVerified reports whether the login completed.
func (cs *connState) isVerified() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.verified
}

// connKey identifies a TCP connection by its two addresses.
func connKey(c net.Conn) string { return c.RemoteAddr().String() + "|" + c.LocalAddr().String() }

// stateOf returns the connState of ctx's connection.
func stateOf(ctx ssh.Context) *connState {
	cs, _ := ctx.Value(connStateKey).(*connState)
	return cs
}

// connCallback registers a new TCP connection, arms its login grace and
// starts its watcher (keepalive). Returning nil refuses it.
func (s *Server) connCallback(ctx ssh.Context, conn net.Conn) net.Conn {
	if !s.enter(false) {
		return nil
	}
	cs := &connState{raw: conn, remote: conn.RemoteAddr().String(), source: guard.Source(conn.RemoteAddr()), key: connKey(conn), pool: newUpstreamPool(s)}
	if gc, ok := conn.(*guard.Conn); ok {
		cs.ticket = gc.Ticket
	}
	s.mu.Lock()
	s.conns[cs.key] = cs
	s.mu.Unlock()
	ctx.SetValue(connStateKey, cs)
	cs.grace = time.AfterFunc(s.cfg().Limits.LoginGrace, func() {
		if !cs.isVerified() {
			s.log.Debug("login grace time exceeded", "remote", cs.remote)
			s.reportFailure(cs, "", "", "none", "login grace time exceeded ("+s.cfg().Limits.LoginGrace.String()+")")
			conn.Close()
		}
	})
	go func() {
		defer s.wg.Done()
		s.watchConn(ctx, cs)
		cs.grace.Stop()
		cs.pool.close() // the client is gone: so are its upstream logins
		// gliderlabs cancels ctx when a read fails, before it reports a
		// failed handshake: until the login completed, connectionFailed
		// still needs the entry and removes it itself.
		if cs.isVerified() {
			s.forgetConn(cs.key)
			s.logout(cs)
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
	lim := s.cfg().Limits
	return &gossh.ServerConfig{
		// admitKey counts keys and AuthLogCallback passwords against
		// limits.max_auth_tries. x/crypto's own count, which also
		// counts keyboard-interactive, gets room for the keys-only
		// notice: OpenSSH retries keyboard-interactive up to
		// NumberOfPasswordPrompts (3) times, and should end with
		// "Permission denied", not a dropped connection.
		MaxAuthTries: lim.MaxAuthTries + kbdIntRetries,
		PublicKeyCallback: func(conn gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			return s.admitKey(cs, conn.User(), key)
		},
		VerifiedPublicKeyCallback: func(conn gossh.ConnMetadata, key gossh.PublicKey, perms *gossh.Permissions, _ string) (*gossh.Permissions, error) {
			s.loggedIn(cs, personOf(conn.User()), perms)
			return perms, nil
		},
		AuthLogCallback: func(conn gossh.ConnMetadata, method string, err error) {
			switch {
			case err == nil, method == "none", method == "publickey":
				// "none" is every client's opening probe; publickey
				// failures are recorded by admitKey and checkKey, with
				// the key.
			default:
				if method != "keyboard-interactive" {
					s.countAttempt(cs)
				}
				s.authFailure(cs, personOf(conn.User()), "", method, method+" authentication is disabled; log in with a key")
			}
		},
	}
}

// admitKey applies the limits to a public key attempt, then checkKey.
// A refusal by a limit looks like a wrong key to the client; the event
// says which limit refused.
func (s *Server) admitKey(cs *connState, user string, key gossh.PublicKey) (*gossh.Permissions, error) {
	if over := s.countAttempt(cs); over {
		s.authFailure(cs, user, gossh.FingerprintSHA256(key), "publickey", "too many authentication attempts (limits.max_auth_tries)")
		return nil, errAuth
	}
	if len(user) > s.cfg().Limits.MaxUserName {
		cs.mu.Lock()
		cs.user = user
		cs.mu.Unlock()
		s.authFailure(cs, user, gossh.FingerprintSHA256(key), "publickey", "user name too long ("+strconv.Itoa(len(user))+" bytes; limits.max_user_name)")
		return nil, errAuth
	}
	// The person logs in; a target named in the user name (target.go)
	// changes nothing about authentication or lockout.
	user = personOf(user)
	if lk, locked := s.lockout.Locked(user, cs.source); locked {
		cs.mu.Lock()
		cs.user = user
		cs.mu.Unlock()
		s.authFailure(cs, user, gossh.FingerprintSHA256(key), "publickey",
			"locked out: "+string(lk.Scope)+" "+guard.SafeName(lk.Target, s.cfg().Limits.MaxUserName)+" until "+lk.Until.UTC().Format(time.RFC3339))
		return nil, errAuth
	}
	return s.checkKey(cs, user, key)
}

// countAttempt counts an authentication attempt and reports whether it
// is over limits.max_auth_tries; the connection is then closed.
func (s *Server) countAttempt(cs *connState) (over bool) {
	cs.mu.Lock()
	cs.attempts++
	over = cs.attempts > s.cfg().Limits.MaxAuthTries
	cs.mu.Unlock()
	if over {
		cs.raw.Close()
	}
	return over
}

// loggedIn completes a login: the connection leaves the unauthenticated
// count, its grace timer stops, the user's failures are forgotten and
// the login is recorded.
func (s *Server) loggedIn(cs *connState, user string, perms *gossh.Permissions) {
	fp := ""
	if perms != nil {
		fp = perms.Extensions[extKeyFingerprint]
	}
	cs.mu.Lock()
	cs.verified, cs.loginFP, cs.loggedIn = true, fp, now()
	cs.mu.Unlock()
	cs.grace.Stop()
	cs.ticket.Release()
	s.lockout.Succeeded(user)
	s.recordGateway(event.Login, user, map[string]string{"user": user, "key": fp, "method": "publickey", "remote": cs.remote})
}

// logout records the end of a logged-in connection.
func (s *Server) logout(cs *connState) {
	cs.mu.Lock()
	user, fp, since := cs.user, cs.loginFP, cs.loggedIn
	cs.mu.Unlock()
	s.recordGateway(event.Logout, user, map[string]string{
		"user": user, "key": fp, "remote": cs.remote,
		"duration_ms":         strconv.FormatInt(now().Sub(since).Milliseconds(), 10),
		"channels":            strconv.FormatInt(cs.channels.Load(), 10),
		"channels_refused":    strconv.FormatInt(cs.channelsRefused.Load(), 10),
		"refusals_unrecorded": strconv.FormatInt(cs.unrecordedRefusals(), 10),
	})
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

// refuseKeyboardInteractive says, without asking anything, that only keys
// are accepted, and refuses; AuthLogCallback records the attempt. OpenSSH
// retries keyboard-interactive (NumberOfPasswordPrompts), so the notice
// is shown on the first try of a connection only.
func refuseKeyboardInteractive(ctx ssh.Context, challenge gossh.KeyboardInteractiveChallenge) bool {
	msg := keysOnlyMessage
	if cs := stateOf(ctx); cs != nil {
		cs.mu.Lock()
		if cs.notified {
			msg = ""
		}
		cs.notified = true
		cs.mu.Unlock()
	}
	challenge("", msg, nil, nil)
	return false
}

// connectionFailed runs when a handshake fails. A key accepted by
// checkKey whose login did not complete (bad signature, client gave up)
// is an authentication failure too. A connection that made a failed
// attempt and closed without logging in is a failed login: it counts
// towards the lockout of its source and, when the name is a configured
// user, of that user.
func (s *Server) connectionFailed(conn net.Conn, err error) {
	key := connKey(conn)
	s.mu.Lock()
	cs := s.conns[key]
	s.mu.Unlock()
	if cs == nil {
		return
	}
	s.forgetConn(key)
	cs.grace.Stop()
	cs.mu.Lock()
	user, offered, verified := cs.user, cs.offered, cs.verified
	cs.mu.Unlock()
	if offered != nil && !verified {
		s.authFailure(cs, user, gossh.FingerprintSHA256(offered), "publickey", "key accepted but login not completed: "+err.Error())
	}
	cs.mu.Lock()
	failed := cs.failed && !cs.verified
	cs.mu.Unlock()
	if failed {
		s.failedLogin(cs, user)
		return
	}
	s.log.Debug("handshake failed", "remote", cs.remote, "user", guard.SafeName(user, s.cfg().Limits.MaxUserName), "err", err)
}

// failedLogin counts a failed login towards the lockouts and records
// the locks it starts.
func (s *Server) failedLogin(cs *connState, user string) {
	if _, ok := s.cfg().User(user); !ok {
		user = "" // unknown names lock nobody and are not tracked
	}
	for _, lk := range s.lockout.Fail(user, cs.source) {
		s.recordGateway(event.AuthLockout, "", map[string]string{
			"scope": string(lk.Scope), "target": lk.Target, "failures": strconv.Itoa(lk.Failures),
			"window": s.cfg().Limits.Lockout.Window.String(), "until": lk.Until.UTC().Format(time.RFC3339), "remote": cs.remote,
		})
	}
}

// forgetConn removes a connection from s.conns.
func (s *Server) forgetConn(key string) {
	s.mu.Lock()
	delete(s.conns, key)
	s.mu.Unlock()
}

// authFailure marks the connection's attempt failed and reports it.
func (s *Server) authFailure(cs *connState, user, fingerprint, method, reason string) {
	cs.mu.Lock()
	cs.failed = true
	cs.mu.Unlock()
	s.reportFailure(cs, user, fingerprint, method, reason)
}
