package gateway

import (
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

const (
	// keepaliveMisses is how many keepalive intervals a client may leave
	// a probe unanswered before it is disconnected.
	keepaliveMisses = 3
	// keepaliveRequest is OpenSSH's probe; clients answer it (usually
	// with a failure), which is all we need.
	keepaliveRequest = "keepalive@openssh.com"
)

// watchConn owns a logged-in connection's liveness until it closes:
// every KeepaliveInterval it sends a keepalive request; when
// keepaliveMisses intervals in a row pass without an answer, it closes
// the connection. Closing the connection ends its sessions (their
// contexts are children of ctx). The login grace is a timer of its own
// (connCallback), independent of the keepalive.
func (s *Server) watchConn(ctx ssh.Context, cs *connState) {
	interval := s.cfg().Gateway.KeepaliveInterval
	if interval <= 0 {
		<-ctx.Done()
		return
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var pending chan struct{} // closed when the outstanding probe is answered; nil when none
	missed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-pending:
			pending, missed = nil, 0
		case <-ticker.C:
			conn, _ := ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn)
			if conn == nil { // still in the handshake
				continue
			}
			if pending != nil {
				missed++
				if missed >= keepaliveMisses {
					s.log.Info("client stopped answering keepalives; disconnecting",
						"remote", cs.remote, "user", personOf(conn.User()), "missed", missed)
					conn.Close()
					return
				}
				continue
			}
			pending = make(chan struct{})
			// The probe goroutine ends with the answer or when the
			// connection closes (SendRequest then fails).
			s.goTracked(func() { probe(conn, pending) })
		}
	}
}

// probe sends one keepalive request and closes answered when a reply (of
// any kind) arrives.
func probe(conn *gossh.ServerConn, answered chan struct{}) {
	if _, _, err := conn.SendRequest(keepaliveRequest, true, nil); err == nil {
		close(answered)
	}
}
