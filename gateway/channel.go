package gateway

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/sftp"
	"github.com/foureyes/foureyes/recorder"
	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// maxWindow bounds window sizes from clients: terminals use 16-bit sizes
// and a hostile client may send anything.
const maxWindow = 10000

// ptyRequest is the payload of "pty-req" (RFC 4254 6.2).
type ptyRequest struct {
	Term          string
	Cols, Rows    uint32
	Width, Height uint32
	Modes         string // encoded terminal modes, passed to the host verbatim
}

// windowChange is the payload of "window-change" (RFC 4254 6.7).
type windowChange struct {
	Cols, Rows    uint32
	Width, Height uint32
}

// clamp bounds a window dimension to 0..maxWindow.
func clamp(v uint32) uint32 { return min(v, maxWindow) }

// clientSession is one "session" channel opened by a client. Its request
// loop (serve) runs on the channel handler's goroutine; the command runs
// on a second goroutine (run) started by the shell or exec request.
type clientSession struct {
	s  *Server
	cs *connState
	// name is the person logged in, fixed for the channel: what other
	// goroutines (revocation, kill) read.
	name string
	// user is name's entry in the configuration in force when the
	// shell, exec or subsystem request came (beginStart), not when the
	// channel opened: a channel may wait for it across a reload.
	user   *config.User
	ch     gossh.Channel
	log    *slog.Logger
	remote string
	keyFP  string

	// ctx ends when the client closes the channel or the connection, or
	// the server shuts down; its cause says which.
	ctx    context.Context
	cancel context.CancelCauseFunc

	// Set by the request loop before run starts, read-only afterwards.
	pty        *ptyRequest
	env        []envVar
	envCount   int  // env requests counted against limits.max_env
	envBytes   int  // their payload bytes, against limits.max_env_bytes
	envRefused bool // a request was refused (logged once)
	command    string
	target     string // the host named in the SSH user name (target.go), or ""
	subsystem  string // "sftp" when the client asked for it instead of shell or exec
	reasonEnv  string // FOUREYES_REASON, the four-eyes reason given non-interactively

	// Request loop → run, after run started.
	winch chan windowChange // latest size wins
	sigs  chan string

	// Set by the command goroutine: the recording of a host or audit
	// session and the meta of its session.end.
	rec     *recorder.Session
	endMeta map[string]string
	hub     *hub      // the four-eyes session this client requested, if any
	sftp    *sftp.Tap // an SFTP session's parser, set before the copiers start (sftp_session.go)
	tap     *execTap  // what of a command without a terminal is stored (exectap.go); nil: all

	// Set by connect before the session starts: the host's recording
	// policy is best_effort (go on unrecorded when the recording fails).
	bestEffort bool
	rc         recCounts // bytes forwarded, and lost after a failure
	// outStop is closed when the session is being ended: an output
	// copier held back by the recorder stops waiting (throttle.go). Set
	// before the output copiers start.
	outStop <-chan struct{}
	// hostCh turns the output copiers to discarding when the host keeps
	// the channel open after the session ended (leftopen.go).
	hostCh hostChannel

	// Set by startChannel: the host closed the channel before it answered
	// the shell or exec request, so the command may have run.
	startUnconfirmed bool

	started atomic.Bool // shell or exec accepted
	// winMember is the session's place in its approval window
	// (underWindow), nil outside one.
	winMember *windowMember
	runDone   chan struct{} // closed when run returned
	inputDone chan struct{} // closed when the client input copier returned (nil if none)
}

// envVar is one "env" request kept for the host.
type envVar struct{ Name, Value string }

// Bounds of client-chosen strings that are recorded or passed to hosts.
const (
	maxTermName  = 64   // TERM of a pty-req ("xterm-256color")
	maxTermModes = 2048 // encoded terminal modes: 5 bytes per mode
	maxSignal    = 32   // signal names: "INT", "name@domain"
)

// saneTerm reports whether a pty-req's terminal name is short printable
// ASCII: it is recorded in session.start and set as TERM on the host.
func saneTerm(t string) bool {
	if len(t) > maxTermName {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return false
		}
	}
	return true
}

// saneSignal reports whether a signal name is short and made of the
// characters of RFC 4254 names (letters, digits, "-", "_", ".", "@").
func saneSignal(n string) bool {
	if n == "" || len(n) > maxSignal {
		return false
	}
	for _, r := range n {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '@') {
			return false
		}
	}
	return true
}

// envAllowed counts an "env" request of n payload bytes and reports
// whether it is within limits.max_env and limits.max_env_bytes. Every
// request counts, kept or not, so that neither memory nor the request
// loop can be flooded; the first refusal of a channel is logged.
func (sess *clientSession) envAllowed(n int) bool {
	lim := sess.s.cfg().Limits
	sess.envCount++
	if sess.envCount > lim.MaxEnv || sess.envBytes+n > lim.MaxEnvBytes {
		if !sess.envRefused {
			sess.envRefused = true
			sess.log.Warn("environment variables refused over limits", "count", sess.envCount, "bytes", sess.envBytes+n)
		}
		return false
	}
	sess.envBytes += n
	return true
}

// forwardedEnv reports whether an environment variable from the client is
// passed to the host: the locale only, as OpenSSH's default AcceptEnv.
func forwardedEnv(name string) bool { return name == "LANG" || strings.HasPrefix(name, "LC_") }

// handleSession serves a "session" channel until it closes.
func (s *Server) handleSession(_ *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	if !s.enter(true) {
		nc.Reject(gossh.ResourceShortage, "foureyes: bastion shutting down")
		return
	}
	defer s.wg.Done()
	defer s.sessions.Done()
	person, target := splitLogin(conn.User())
	user, ok := s.cfg().User(person)
	if !ok || s.connRevoked(conn) { // removed or expired since login: revoke.go
		nc.Reject(gossh.Prohibited, "foureyes: access revoked")
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		s.log.Debug("accept session channel", "err", err)
		return
	}
	sess := &clientSession{
		s:       s,
		cs:      stateOf(ctx),
		name:    user.Name,
		user:    user,
		target:  target,
		ch:      ch,
		remote:  conn.RemoteAddr().String(),
		winch:   make(chan windowChange, 1),
		sigs:    make(chan string, 16),
		runDone: make(chan struct{}),
	}
	if conn.Permissions != nil {
		sess.keyFP = conn.Permissions.Extensions[extKeyFingerprint]
	}
	sess.log = s.log.With("user", user.Name, "remote", sess.remote)
	sess.ctx, sess.cancel = context.WithCancelCause(s.base)
	s.live.add(sess) // for revocation and kill
	defer s.live.remove(sess)
	stop := context.AfterFunc(ctx, func() { sess.cancel(errClientGone) })
	defer stop()
	// A channel still waiting for its shell or exec request when the
	// server shuts down is closed; a started one ends through run.
	stopIdle := context.AfterFunc(sess.ctx, func() {
		if !sess.started.Load() {
			ch.Close()
		}
	})
	defer stopIdle()
	sess.serve(reqs)
}

// serve answers the channel's requests until the channel closes, then
// waits for the command goroutine.
func (sess *clientSession) serve(reqs <-chan *gossh.Request) {
	started, running, refused := false, false, false
	for req := range reqs {
		ok := false
		switch req.Type {
		case "pty-req":
			var p ptyRequest
			if !started && sess.pty == nil && sess.ptyAllowed() && gossh.Unmarshal(req.Payload, &p) == nil && saneTerm(p.Term) && len(p.Modes) <= maxTermModes {
				p.Cols, p.Rows = clamp(p.Cols), clamp(p.Rows)
				sess.pty, ok = &p, true
			}
		case "env":
			var kv envVar
			switch {
			case started || !sess.envAllowed(len(req.Payload)) || gossh.Unmarshal(req.Payload, &kv) != nil:
			case kv.Name == reasonEnv: // for the bastion, never passed to the host
				sess.reasonEnv, ok = kv.Value, true
			case forwardedEnv(kv.Name):
				sess.env, ok = append(sess.env, kv), true
			}
		case "window-change":
			var w windowChange
			if sess.pty != nil && gossh.Unmarshal(req.Payload, &w) == nil {
				w.Cols, w.Rows = clamp(w.Cols), clamp(w.Rows)
				ok = true
				if !started {
					sess.pty.Cols, sess.pty.Rows = w.Cols, w.Rows
				} else {
					sess.sendWinch(w)
				}
			}
		case "signal":
			var sig struct{ Name string }
			if started && gossh.Unmarshal(req.Payload, &sig) == nil && saneSignal(sig.Name) {
				select {
				case sess.sigs <- sig.Name:
					ok = true
				default:
					sess.log.Warn("signal dropped: too many pending", "signal", sig.Name)
				}
			}
		case "shell", "exec":
			if started {
				break
			}
			if req.Type == "exec" {
				var p struct{ Command string }
				if gossh.Unmarshal(req.Payload, &p) != nil {
					break
				}
				sess.command = p.Command
			}
			ok = sess.beginStart()
			started, refused = ok, !ok
		case "auth-agent-req@openssh.com":
			sess.s.forwardDenied(sess.user.Name, sess.cs, "agent", "auth-agent-req@openssh.com")
		case "x11-req":
			var x struct {
				Single   bool
				Protocol string
				Cookie   string
				Screen   uint32
			}
			detail := ""
			if gossh.Unmarshal(req.Payload, &x) == nil {
				detail = x.Protocol
			}
			sess.s.forwardDenied(sess.user.Name, sess.cs, "x11", detail)
		case "subsystem":
			var p struct{ Name string }
			gossh.Unmarshal(req.Payload, &p)
			if !started && p.Name == sftpSubsystem {
				// Checked like any session once it runs (sftp_session.go).
				sess.subsystem, sess.pty = p.Name, nil // a binary stream: no terminal
				ok = sess.beginStart()
				started, refused = ok, !ok
				break
			}
			sess.s.recordRefusal(sess.cs, event.AccessDenied, sess.user.Name, map[string]string{
				"user": sess.user.Name, "host": "", "reason": "subsystem " + p.Name + " is not supported", "remote": sess.remote,
			})
		}
		if req.WantReply {
			req.Reply(ok, nil)
		}
		if refused {
			sess.ch.Stderr().Write([]byte("foureyes: access revoked\r\n"))
			sess.ch.Close()
			break
		}
		if started && !running {
			// Only after the reply: a command that ends at once (help,
			// a refusal) must not close the channel before the client
			// heard that it started, or the client reports a failure
			// to start for a command that ran and was recorded.
			running = true
			go sess.run()
		}
	}
	// The channel is closed: by the client, or by finish after the
	// command ended.
	sess.cancel(errClientGone)
	if started {
		<-sess.runDone
	}
	if sess.inputDone != nil {
		<-sess.inputDone
	}
}

// beginStart marks the channel started and takes the user's entry from
// the configuration in force now: every decision of the command (which
// hosts, which verbs, whether it may approve, audit or kill) is made on
// the roles the user has when it starts, not when the channel opened.
// The order closes the race with a reload (Reload stores the new
// configuration, then sweeps started sessions): either the sweep sees
// this channel started and checks it against the new configuration, or
// the load below sees the new configuration. It reports false, and the
// start fails, when the user is gone.
func (sess *clientSession) beginStart() bool {
	sess.started.Store(true)
	user, ok := sess.s.cfg().User(sess.name)
	if !ok {
		return false
	}
	sess.user = user
	return true
}

// run runs the shell or exec request, records its end and tells the
// client.
func (sess *clientSession) run() {
	defer close(sess.runDone)
	res := sess.dispatch()
	if sess.sftp != nil {
		sess.sftp.Close() // handles left open end as incomplete transfers
	}
	// session.end is durable before the client learns the exit status:
	// once ssh returns, its record is whole.
	sess.endRecording(res)
	sess.finish(res)
}

// sendWinch hands the latest window size to the command goroutine,
// replacing a size it has not picked up yet.
func (sess *clientSession) sendWinch(w windowChange) {
	for {
		select {
		case sess.winch <- w:
			return
		default:
		}
		select {
		case <-sess.winch:
		default:
		}
	}
}

// exitResult is how a command ended, as sent to the client.
type exitResult struct {
	status int            // exit status, also recorded
	signal *exitSignalMsg // non-nil: the host reported a signal instead
}

// exitSignalMsg is the payload of "exit-signal" (RFC 4254 6.10).
type exitSignalMsg struct {
	Signal     string
	CoreDumped bool
	Error      string
	Lang       string
}

// finish sends the exit status (or signal) and closes the channel.
func (sess *clientSession) finish(res exitResult) {
	if res.signal != nil {
		sess.ch.SendRequest("exit-signal", false, gossh.Marshal(res.signal))
	} else {
		sess.ch.SendRequest("exit-status", false, gossh.Marshal(&struct{ Status uint32 }{uint32(res.status)}))
	}
	sess.ch.Close()
}

// say writes "foureyes: MSG" as one line on the client's stderr (on the
// terminal, with a pty).
func (sess *clientSession) say(msg string) []byte {
	nl := "\n"
	if sess.pty != nil {
		nl = "\r\n"
	}
	line := []byte("foureyes: " + msg + nl)
	if sess.pty != nil {
		// One stream on a terminal, as with a pty on any SSH server: the
		// message must not overtake or trail a prompt written to stdout.
		sess.ch.Write(line)
		return line
	}
	sess.ch.Stderr().Write(line)
	return line
}

// refuse tells the user why and returns the exit result.
func (sess *clientSession) refuse(e *UserError) exitResult {
	sess.say(e.Message)
	return exitResult{status: e.exitStatus()}
}
