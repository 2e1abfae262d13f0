package gateway

import (
	"strconv"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/guard"
	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// limitChannels wraps a channel handler: a connection may have at most
// limits.max_channels channels open at once; more are refused with
// "resource shortage". The first refusal of a connection is recorded
// (access.denied); the count is in its logout event.
func (s *Server) limitChannels(h ssh.ChannelHandler) ssh.ChannelHandler {
	return func(srv *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
		cs := stateOf(ctx)
		if cs == nil {
			h(srv, conn, nc, ctx)
			return
		}
		max := int64(s.cfg().Limits.MaxChannels)
		if cs.open.Add(1) > max {
			cs.open.Add(-1)
			nc.Reject(gossh.ResourceShortage, "foureyes: too many channels on this connection (at most "+strconv.FormatInt(max, 10)+")")
			if cs.channelsRefused.Add(1) == 1 {
				s.recordGateway(event.AccessDenied, personOf(conn.User()), map[string]string{
					"user": personOf(conn.User()), "host": "", "reason": "too many channels (limits.max_channels " + strconv.FormatInt(max, 10) + "); further refusals on this connection are counted in its logout",
					"channel": guard.SafeName(nc.ChannelType(), 64), "remote": cs.remote,
				})
			}
			return
		}
		defer cs.open.Add(-1)
		cs.channels.Add(1)
		h(srv, conn, nc, ctx)
	}
}
