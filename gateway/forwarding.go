package gateway

import (
	"fmt"
	"strconv"

	"github.com/foureyes/foureyes/event"
	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// The bastion forwards terminals, nothing else: port forwarding in both
// directions, Unix socket forwarding, agent forwarding and X11 would each
// open a path past the recording. Every attempt is refused and recorded
// as forward.denied (Meta: user, kind, detail, remote). The one
// exception is `ssh -L` to a destination a host allows in
// hosts[].tunnels, recorded as a tunnel: tunnel.go.

// directTCPIP is the payload of a "direct-tcpip" channel open (RFC 4254 7.2).
type directTCPIP struct {
	DestAddr string
	DestPort uint32
	OrigAddr string
	OrigPort uint32
}

// tcpipForward is the payload of a "tcpip-forward" request (RFC 4254 7.1).
type tcpipForward struct {
	BindAddr string
	BindPort uint32
}

// denyChannel refuses every channel type other than "session"
// (direct-tcpip from `ssh -L`/`-D`, direct-streamlocal, anything unknown).
func (s *Server) denyChannel(_ *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	kind := nc.ChannelType()
	detail := ""
	switch kind {
	case "direct-tcpip":
		var p directTCPIP
		if gossh.Unmarshal(nc.ExtraData(), &p) == nil {
			detail = fmt.Sprintf("to %s from %s", hostPort(p.DestAddr, p.DestPort), hostPort(p.OrigAddr, p.OrigPort))
		}
	case "direct-streamlocal@openssh.com":
		var p struct {
			Path     string
			Reserved string
			Port     uint32
		}
		if gossh.Unmarshal(nc.ExtraData(), &p) == nil {
			detail = "to " + p.Path
		}
	}
	nc.Reject(gossh.Prohibited, "foureyes: forwarding is disabled on this bastion")
	s.forwardDenied(personOf(conn.User()), stateOf(ctx), kind, detail)
}

// denyForwardRequest refuses tcpip-forward (`ssh -R`) and
// streamlocal-forward global requests.
func (s *Server) denyForwardRequest(ctx ssh.Context, _ *ssh.Server, req *gossh.Request) (bool, []byte) {
	detail := ""
	if req.Type == "tcpip-forward" {
		var p tcpipForward
		if gossh.Unmarshal(req.Payload, &p) == nil {
			detail = "listen " + hostPort(p.BindAddr, p.BindPort)
		}
	}
	user := ""
	if conn, ok := ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn); ok {
		user = personOf(conn.User())
	}
	s.forwardDenied(user, stateOf(ctx), req.Type, detail)
	return false, nil
}

// forwardDenied records a forward.denied event in the gateway stream.
func (s *Server) forwardDenied(user string, cs *connState, kind, detail string) {
	meta := map[string]string{"user": user, "kind": kind, "detail": detail}
	if cs != nil {
		meta["remote"] = cs.remote
	}
	s.recordRefusal(cs, event.ForwardDenied, user, meta)
}

func hostPort(host string, port uint32) string {
	return host + ":" + strconv.FormatUint(uint64(port), 10)
}
