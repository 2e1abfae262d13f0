package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
	"github.com/foureyes/foureyes/termsafe"
	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Tunnels: `ssh -L LPORT:ADDR:PORT alice+HOST@bastion -N` opens a
// direct-tcpip channel for ADDR:PORT. The destination is read relative
// to HOST: the gateway logs in to HOST as for a session and asks it, over
// that SSH connection, for a direct-tcpip channel to ADDR:PORT, so that
// "127.0.0.1:5432" is HOST's own PostgreSQL. Only the destinations the
// host lists in hosts[].tunnels are allowed, compared exactly; a
// four-eyes host needs an open approval window of the user (a tunnel has
// no terminal to ask for a reason on). Each tunnel connection is its own
// recorded stream (kind "tunnel"): session.start, tunnel.open,
// tunnel.close with the bytes each way, session.end; the bytes
// themselves are not recorded.
//
// Without a host in the user name (`ssh -J bastion HOST`, `ssh -W`), or
// to any other destination, the channel is refused with a message naming
// the supported way, and recorded as forward.denied: a jump through the
// bastion would carry an SSH session it cannot record.

// tunnel is a live tunnel connection, for revocation.
type tunnel struct {
	user, keyFP, remote, host, dest string
	win                             *window
	cancel                          context.CancelCauseFunc
	id                              string // its recording's id, once started; guarded by tunnelSet.mu
}

// tunnelSet lists the live tunnels. Its lock is a leaf.
type tunnelSet struct {
	mu sync.Mutex
	m  map[*tunnel]struct{}
}

func (ts *tunnelSet) add(t *tunnel) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil {
		ts.m = map[*tunnel]struct{}{}
	}
	ts.m[t] = struct{}{}
}

// name gives t its recording's id, for kill.
func (ts *tunnelSet) name(t *tunnel, id string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t.id = id
}

// byID returns the live tunnel recorded as id.
func (ts *tunnelSet) byID(id string) (*tunnel, bool) {
	t, ok := ts.named()[id]
	return t, ok
}

// named returns the live tunnels that have a recording, with their ids.
func (ts *tunnelSet) named() map[string]*tunnel {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := map[string]*tunnel{}
	for t := range ts.m {
		if t.id != "" {
			out[t.id] = t
		}
	}
	return out
}

func (ts *tunnelSet) remove(t *tunnel) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.m, t)
}

func (ts *tunnelSet) all() []*tunnel {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]*tunnel, 0, len(ts.m))
	for t := range ts.m {
		out = append(out, t)
	}
	return out
}

// tunnelRefusal says why pol no longer allows t, or "".
func (s *Server) tunnelRefusal(pol *policy, t *tunnel, at time.Time) string {
	if why := pol.keyRefusal(t.user, t.keyFP, t.remote, at); why != "" {
		return why
	}
	user, _ := pol.cfg.User(t.user)
	h, ok := pol.cfg.Host(t.host)
	switch {
	case !ok:
		return "host removed"
	case !pol.cfg.CanConnect(user, h):
		return "access to " + h.Name + " removed"
	case !h.AllowsTunnel(t.dest):
		return "tunnel to " + t.dest + " no longer allowed"
	}
	if _, four := pol.cfg.ApprovalPolicy(h); four && t.win == nil {
		return h.Name + " now requires four-eyes approval"
	}
	return ""
}

// sweepTunnels ends the tunnels pol no longer allows.
func (s *Server) sweepTunnels(pol *policy) {
	at := now()
	for _, t := range s.tunnels.all() {
		if why := s.tunnelRefusal(pol, t, at); why != "" {
			t.cancel(revokedOrder(why))
		}
	}
}

// supportedWay names how to reach a host through the bastion.
func supportedWay(person string) string {
	return fmt.Sprintf("use `ssh %s%sHOST@BASTION` (or `ssh BASTION HOST`); a tunnel is `ssh -L PORT:ADDR:PORT %s%sHOST@BASTION -N` to a destination the host allows",
		person, TargetSep, person, TargetSep)
}

// handleTunnel serves a direct-tcpip channel: a tunnel to an allowed
// destination of the host named in the user name, or a refusal.
func (s *Server) handleTunnel(_ *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	person, target := splitLogin(conn.User())
	cs := stateOf(ctx)
	var p directTCPIP
	if err := gossh.Unmarshal(nc.ExtraData(), &p); err != nil {
		nc.Reject(gossh.ConnectionFailed, "foureyes: malformed direct-tcpip request")
		s.forwardDenied(person, cs, "direct-tcpip", "malformed request")
		return
	}
	dest := hostPort(p.DestAddr, p.DestPort)
	refuse := func(msg, why string) {
		nc.Reject(gossh.Prohibited, "foureyes: "+msg)
		meta := map[string]string{"user": person, "kind": "direct-tcpip", "detail": fmt.Sprintf("to %s from %s", dest, hostPort(p.OrigAddr, p.OrigPort)),
			"host": target, "reason": why}
		if cs != nil {
			meta["remote"] = cs.remote
		}
		s.recordRefusal(cs, event.ForwardDenied, person, meta)
	}
	cfg := s.cfg()
	user, ok := cfg.User(person)
	if !ok || s.connRevoked(conn) {
		refuse("access revoked", "access revoked")
		return
	}
	if target == "" {
		refuse("this bastion does not forward connections (ssh -J, ssh -W): what passes through it is recorded; "+supportedWay(person),
			"no host in the user name (ssh -J or -W)")
		return
	}
	h, ok := cfg.Host(target)
	if !ok || !cfg.CanConnect(user, h) {
		// One answer for both: the refusal does not say which hosts exist.
		refuse(fmt.Sprintf("no host %s you may connect to", termsafe.Quote(target)), "unknown or forbidden host")
		return
	}
	if !h.AllowsTunnel(dest) {
		allowed := "none"
		if len(h.Tunnels) > 0 {
			allowed = strings.Join(h.Tunnels, ", ")
		}
		refuse(fmt.Sprintf("tunnel to %s is not allowed on %s (allowed: %s); to reach a host, %s", termsafe.Quote(dest), h.Name, allowed, supportedWay(person)),
			"destination not in hosts[].tunnels")
		return
	}
	_, four := cfg.ApprovalPolicy(h)
	win := s.windowOf(person, h, four)
	if four && win == nil {
		refuse(fmt.Sprintf("%s requires four-eyes approval, and a tunnel has no terminal to ask on: first run `ssh %s@BASTION request %s --for 1h --reason TEXT` and have it approved",
			h.Name, person, h.Name), "four-eyes host without an open approval window")
		return
	}
	if !s.enter(false) {
		nc.Reject(gossh.ResourceShortage, "foureyes: bastion shutting down")
		return
	}
	defer s.wg.Done()
	fp := ""
	if conn.Permissions != nil {
		fp = conn.Permissions.Extensions[extKeyFingerprint]
	}
	t := &tunnel{user: person, keyFP: fp, remote: conn.RemoteAddr().String(), host: h.Name, dest: dest, win: win}
	s.runTunnel(ctx, cs, nc, t, h, hostPort(p.OrigAddr, p.OrigPort))
}

// runTunnel records and runs one allowed tunnel connection until either
// side closes it, its window ends, access is revoked, the recording
// fails or the bastion shuts down.
func (s *Server) runTunnel(connCtx context.Context, cs *connState, nc gossh.NewChannel, t *tunnel, h *config.Host, orig string) {
	log := s.log.With("user", t.user, "host", h.Name, "dest", t.dest)
	ctx, cancel := context.WithCancelCause(s.base)
	defer cancel(nil)
	t.cancel = cancel
	stop := context.AfterFunc(connCtx, func() { cancel(errClientGone) })
	defer stop()
	// Registered before anything else: a reload's sweep either finds it
	// here or stored its configuration before the check before the dial.
	s.tunnels.add(t)
	defer s.tunnels.remove(t)
	info := recorder.StartInfo{
		Kind: "tunnel", User: t.user, Host: h.Name, Login: h.Login, Remote: t.remote, KeyFingerprint: t.keyFP,
		Class: h.Class, Retention: s.cfg().RetentionDays(h.Class), Meta: map[string]string{"dest": t.dest},
	}
	if t.win != nil {
		for k, v := range t.win.startMeta() {
			info.Meta[k] = v
		}
	}
	rec, err := s.opts.Recorder.Start(info)
	if err != nil {
		log.Error("start tunnel recording", "err", err)
		nc.Reject(gossh.ResourceShortage, "foureyes: recording unavailable; tunnel refused")
		return
	}
	s.tunnels.name(t, rec.ID())
	endMeta := map[string]string{}
	status := 1
	defer func() {
		if err := rec.End(status, windowEndMeta(t.win, endMeta)); err != nil {
			log.Error("end tunnel recording", "err", err)
		}
	}()
	var m *windowMember
	if t.win != nil {
		m = &windowMember{stop: func(o *endOrder) { cancel(o) }}
		if !t.win.join(m) {
			endMeta["error"] = "approval window ended"
			nc.Reject(gossh.Prohibited, "foureyes: approval window "+t.win.id+" has ended; request a new one")
			return
		}
		defer t.win.leave(m)
	}

	up, err := s.leaseUpstream(ctx, cs, h) // the client connection's login to h, kept or new
	if err != nil {
		log.Warn("upstream", "err", err)
		endMeta["error"] = err.Error()
		nc.Reject(gossh.ConnectionFailed, fmt.Sprintf("foureyes: cannot reach %s", h.Name))
		return
	}
	defer up.release()
	// The last check before the host connects to the destination, after
	// the upstream login's round trips (see commitStart).
	var w *window
	if m != nil {
		w = t.win
	}
	if why := lastCheck(ctx, "tunnel", w, m, func() string { return s.tunnelRefusal(s.pol.Load(), t, now()) }); why != "" {
		endMeta["error"] = why
		nc.Reject(gossh.Prohibited, "foureyes: "+why)
		return
	}
	var dst net.Conn
	err = up.open(ctx, s, cs, func(c *gossh.Client) (err error) {
		dst, err = c.Dial("tcp", t.dest)
		return err
	})
	if err != nil {
		log.Warn("tunnel dial", "err", err)
		endMeta["error"] = err.Error()
		nc.Reject(gossh.ConnectionFailed, fmt.Sprintf("foureyes: %s could not connect to %s", h.Name, t.dest))
		return
	}
	defer dst.Close()
	ch, reqs, err := nc.Accept()
	if err != nil {
		endMeta["error"] = err.Error()
		return
	}
	defer ch.Close()
	s.goTracked(func() { gossh.DiscardRequests(reqs) })
	openMeta := map[string]string{"dest": t.dest, "via": h.Name, "orig": orig}
	if t.win != nil {
		openMeta["window"] = t.win.id
	}
	if err := rec.Record(event.TunnelOpen, t.user, nil, openMeta); err != nil {
		endMeta["error"] = "recording failed"
		return // strict: no unrecorded tunnel
	}
	log.Info("tunnel open", "session", rec.ID())
	started := now()
	var bytesUp, bytesDown atomic.Int64
	upDone, downDone := make(chan struct{}), make(chan struct{})
	s.goTracked(func() {
		defer close(upDone)
		n, _ := io.Copy(dst, ch)
		bytesUp.Add(n)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	})
	s.goTracked(func() {
		defer close(downDone)
		n, _ := io.Copy(ch, dst)
		bytesDown.Add(n)
		ch.CloseWrite()
	})
	reason := "closed"
	select {
	case <-downDone: // the destination closed: the tunnel is over
		select {
		case <-upDone:
		case <-time.After(tunnelLinger):
		case <-ctx.Done():
		}
	case <-ctx.Done():
		reason = ctxReason(ctx)
		var o *endOrder
		if errors.As(context.Cause(ctx), &o) {
			reason = o.reason
			if err := rec.Record(event.SessionTerminate, o.by, nil, map[string]string{"reason": o.reason}); err != nil {
				log.Warn("record session.terminate", "err", err)
			}
		}
	case <-rec.Done():
		reason = "recording failed"
	}
	ch.Close()
	dst.Close()
	<-upDone
	<-downDone
	closeMeta := map[string]string{
		"dest": t.dest, "bytes_up": strconv.FormatInt(bytesUp.Load(), 10), "bytes_down": strconv.FormatInt(bytesDown.Load(), 10),
		"duration_ms": strconv.FormatInt(now().Sub(started).Milliseconds(), 10), "reason": reason,
	}
	if err := rec.Record(event.TunnelClose, t.user, nil, closeMeta); err != nil {
		log.Warn("record tunnel.close", "err", err)
	}
	endMeta["reason"] = reason
	endMeta["bytes_in"], endMeta["bytes_out"] = closeMeta["bytes_up"], closeMeta["bytes_down"]
	status = 0
	log.Info("tunnel close", "session", rec.ID(), "reason", reason)
}

// tunnelLinger is how long a tunnel whose destination closed waits for
// the client's side to finish sending.
const tunnelLinger = 5 * time.Second
