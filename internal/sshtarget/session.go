package sshtarget

import (
	"log/slog"
	"strings"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// session is one "session" channel: its requests, at most one process.
type session struct {
	t    *Target
	log  *slog.Logger
	ch   gossh.Channel
	user string

	// Set by the request loop before the process starts, read-only after.
	pty      *ptyRequest
	env      []string
	cols     uint16
	rows     uint16
	proc     *process // nil until shell/exec
	procDone chan struct{}
	// watching is set once the goroutine that reports the exit runs; it
	// starts only after the shell or exec request was answered.
	watching bool
}

// handleChannel serves one session channel until it closes.
func (t *Target) handleChannel(_ *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, _ ssh.Context) {
	s := &session{t: t, user: conn.User()}
	s.log = t.log.With("user", s.user, "remote", conn.RemoteAddr().String())
	if !t.enter() {
		nc.Reject(gossh.ResourceShortage, "server shutting down")
		return
	}
	defer t.wg.Done()
	ch, reqs, err := nc.Accept()
	if err != nil {
		s.log.Debug("accept channel", "err", err)
		return
	}
	s.ch = ch
	s.serve(reqs)
}

// serve answers requests until the channel closes, then ends the process
// (if the client went away first) and waits for it.
func (s *session) serve(reqs <-chan *gossh.Request) {
	for req := range reqs {
		ok := s.handle(req)
		if req.WantReply {
			req.Reply(ok, nil)
		}
		if s.proc != nil && !s.watching {
			// Only now: a command that exits at once must not close the
			// channel before the client heard that it started, or the
			// client takes the close for a refusal.
			s.watching = true
			go s.reportExit()
		}
	}
	if s.procDone != nil {
		s.proc.hangup(s.procDone) // the client closed the channel or the connection
		<-s.procDone
	}
	s.ch.Close()
}

// handle acts on one channel request and reports success.
func (s *session) handle(req *gossh.Request) bool {
	switch req.Type {
	case "pty-req":
		var p ptyRequest
		if s.proc != nil || s.pty != nil || gossh.Unmarshal(req.Payload, &p) != nil {
			return false
		}
		s.pty = &p
		s.cols, s.rows = clampWindow(p.Cols, p.Rows)
		return true
	case "env":
		var kv struct{ Name, Value string }
		if s.proc != nil || gossh.Unmarshal(req.Payload, &kv) != nil {
			return false
		}
		if kv.Name == "LANG" || strings.HasPrefix(kv.Name, "LC_") {
			s.env = append(s.env, kv.Name+"="+kv.Value)
			return true
		}
		return false
	case "window-change":
		var w windowChange
		if s.pty == nil || gossh.Unmarshal(req.Payload, &w) != nil {
			return false
		}
		s.cols, s.rows = clampWindow(w.Cols, w.Rows)
		if s.proc != nil {
			s.proc.resize(s.cols, s.rows)
		}
		return true
	case "signal":
		var sig struct{ Name string }
		if s.proc == nil || gossh.Unmarshal(req.Payload, &sig) != nil {
			return false
		}
		unix, ok := signals[sig.Name]
		if !ok {
			return false
		}
		s.proc.signal(unix)
		return true
	case "shell", "exec":
		if s.proc != nil {
			return false
		}
		var command string
		if req.Type == "exec" {
			var cmd struct{ Command string }
			if gossh.Unmarshal(req.Payload, &cmd) != nil {
				return false
			}
			command = cmd.Command
		}
		argv := []string{"/bin/sh", "-c", command}
		if req.Type == "shell" {
			argv = shellArgv()
		}
		return s.start(argv, true)
	case "subsystem":
		// sftp only, run as sshd's internal subsystem table would:
		// the real sftp-server on the channel, in Options.Dir.
		var sub struct{ Name string }
		if s.proc != nil || gossh.Unmarshal(req.Payload, &sub) != nil || sub.Name != "sftp" {
			return false
		}
		return s.start([]string{SFTPServer}, false)
	default:
		// Agent and X11 forwarding, other subsystems, keepalives: not offered.
		return false
	}
}

// start runs argv (with the session's pty if usePty); serve starts
// reportExit once the request is answered.
func (s *session) start(argv []string, usePty bool) bool {
	p, err := startProcess(s, argv, usePty)
	if err != nil {
		s.log.Warn("start command", "err", err)
		return false
	}
	s.proc = p
	s.procDone = make(chan struct{})
	s.log.Debug("started", "argv", argv, "pty", s.pty != nil && usePty)
	return true
}

// reportExit waits for the process, sends its exit status (or signal) and
// closes the channel.
func (s *session) reportExit() {
	defer close(s.procDone)
	name, code, core := s.proc.wait()
	if name != "" {
		s.ch.SendRequest("exit-signal", false, marshalExitSignal(name, core))
	} else {
		s.ch.SendRequest("exit-status", false, marshalExitStatus(code))
	}
	s.ch.Close()
}
