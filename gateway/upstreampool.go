package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/foureyes/foureyes/config"
	gossh "golang.org/x/crypto/ssh"
)

// Upstream login reuse. OpenSSH's ControlMaster and Ansible open many
// session channels over one client connection; logging in to the host
// again for each costs a TCP connect, a key exchange and a public-key
// login (about 100 ms against OpenSSH's sshd) where a channel on a kept
// connection costs about 2 ms. So each client connection keeps a pool of
// the upstream connections its channels opened:
//
//   - The pool belongs to one client connection (connState.pool) and is
//     closed when that connection ends; it is never shared with another
//     connection, so never with another user.
//   - An entry is keyed by everything that decides which host the bastion
//     logs in to and how: host name, login, address and pinned host key.
//     A reload that changes any of them makes the next channel dial anew;
//     a reload that removes the host or takes it from the user drops the
//     entry (prune).
//   - A channel takes a lease, opens its own upstream channel, closes
//     that channel (never the connection) when it ends, and releases the
//     lease. An entry without leases for upstreamIdle is closed.
//   - An upstream connection that ends (host gone, network) leaves the
//     pool at once; the next channel dials anew.
//   - A connection on which the host kept an ended session's channel
//     open is retired: it serves no new channel and closes with its
//     last lease (closeUpstream, leftopen.go).
//
// Each dial verifies the host key exactly as dialUpstream always did;
// approval, windows and recording stay per channel: pooling changes only
// the transport under them.

// upstreamIdle is how long a pooled upstream connection stays open with
// no channel on it. ControlPersist clients and Ansible open their next
// channel within seconds; 30 s keeps a playbook's gaps covered while an
// idle client connection holds no login on the host for long.
const upstreamIdle = 30 * time.Second

// channelCloseWait bounds how long ending a session waits for the host
// to confirm the close of the session's channel before the whole upstream
// connection is closed instead (a host that ignores the close must not
// keep a session, or the bastion's shutdown, waiting).
const channelCloseWait = 5 * time.Second

// errPoolClosed is returned for a lease asked after the client connection
// ended.
var errPoolClosed = errors.New("gateway: client connection closed")

// upstreamKey identifies what a pooled connection logged in to.
type upstreamKey struct {
	host, login, addr, hostKey string
}

// keyOf returns the pool key of h as configured now.
func keyOf(h *config.Host) upstreamKey {
	return upstreamKey{host: h.Name, login: h.Login, addr: h.Address, hostKey: h.HostKey}
}

// upstreamPool holds one client connection's upstream connections. The
// zero value is not usable; newUpstreamPool makes one.
type upstreamPool struct {
	s    *Server
	idle time.Duration // upstreamIdle; tests shorten it

	mu     sync.Mutex
	closed bool
	conns  map[upstreamKey]*pooledUpstream
	dials  map[upstreamKey]*pendingDial // dials in progress: others wait for them
	logins int                          // upstream logins made, for tests and logs
}

// pendingDial is a dial other channels of the same key wait for.
type pendingDial struct {
	done  chan struct{}
	err   error
	retry bool // the dialer's own channel went away: waiters dial themselves
}

// pooledUpstream is one logged-in upstream connection.
type pooledUpstream struct {
	pool *upstreamPool // nil: not pooled, closed at its only release
	key  upstreamKey
	c    *gossh.Client
	dead chan struct{} // closed when the connection has ended

	// Under pool.mu.
	leases  int
	gone    bool // left the pool (config changed, retired): closed at its last release
	idleGen int  // invalidates idle timers armed before the last lease
	idle    *time.Timer
}

// newUpstreamPool returns an empty pool for one client connection.
func newUpstreamPool(s *Server) *upstreamPool {
	idle := upstreamIdle
	if d := time.Duration(s.poolIdle.Load()); d > 0 {
		idle = d
	}
	return &upstreamPool{s: s, idle: idle, conns: map[upstreamKey]*pooledUpstream{}, dials: map[upstreamKey]*pendingDial{}}
}

// upstreamLease is one channel's use of an upstream connection.
type upstreamLease struct {
	pc     *pooledUpstream
	h      *config.Host
	reused bool // the connection was already open when leased
	once   sync.Once
}

// leaseUpstream returns a lease on a logged-in connection to h for a
// channel of the client connection cs: a pooled one when cs has one open
// for h as configured now, else a new login (dialUpstream). Without a
// pool (cs nil) the connection is the lease's own.
func (s *Server) leaseUpstream(ctx context.Context, cs *connState, h *config.Host) (*upstreamLease, error) {
	if cs == nil || cs.pool == nil || s.poolOff.Load() {
		c, err := s.dialUpstream(ctx, h)
		if err != nil {
			return nil, err
		}
		return &upstreamLease{pc: s.watchUpstream(nil, keyOf(h), c), h: h}, nil
	}
	return cs.pool.lease(ctx, h)
}

// watchUpstream wraps c and starts the goroutine that notices its end.
func (s *Server) watchUpstream(p *upstreamPool, key upstreamKey, c *gossh.Client) *pooledUpstream {
	pc := &pooledUpstream{pool: p, key: key, c: c, dead: make(chan struct{})}
	s.goTracked(func() {
		c.Wait()
		close(pc.dead)
		if p != nil {
			p.forget(pc)
		}
	})
	return pc
}

// lease returns a lease on the pool's connection for h, dialing one when
// there is none (one dial per key at a time: channels opened together
// wait for it).
func (p *upstreamPool) lease(ctx context.Context, h *config.Host) (*upstreamLease, error) {
	key := keyOf(h)
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errPoolClosed
		}
		if pc := p.conns[key]; pc != nil {
			select {
			case <-pc.dead:
				p.removeLocked(pc)
			default:
				pc.leases++
				pc.idleGen++
				if pc.idle != nil {
					pc.idle.Stop()
					pc.idle = nil
				}
				p.mu.Unlock()
				return &upstreamLease{pc: pc, h: h, reused: true}, nil
			}
		}
		if d := p.dials[key]; d != nil {
			p.mu.Unlock()
			select {
			case <-d.done:
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
			if d.err != nil && !d.retry {
				return nil, d.err
			}
			continue
		}
		// Idle logins to an older configuration of this host serve no
		// one any more.
		for k, pc := range p.conns {
			if k.host == key.host && pc.leases == 0 {
				p.removeLocked(pc)
				pc.c.Close()
			}
		}
		d := &pendingDial{done: make(chan struct{})}
		p.dials[key] = d
		p.mu.Unlock()

		c, err := p.s.dialUpstream(ctx, h)

		p.mu.Lock()
		delete(p.dials, key)
		if err != nil {
			d.err, d.retry = err, ctx.Err() != nil
			close(d.done)
			p.mu.Unlock()
			return nil, err
		}
		if p.closed {
			close(d.done)
			p.mu.Unlock()
			c.Close()
			return nil, errPoolClosed
		}
		p.logins++
		pc := p.s.watchUpstream(p, key, c)
		pc.leases = 1
		p.conns[key] = pc
		close(d.done)
		p.mu.Unlock()
		return &upstreamLease{pc: pc, h: h}, nil
	}
}

// removeLocked takes pc out of the pool (it serves no new lease).
func (p *upstreamPool) removeLocked(pc *pooledUpstream) {
	pc.gone = true
	if p.conns[pc.key] == pc {
		delete(p.conns, pc.key)
	}
	if pc.idle != nil {
		pc.idle.Stop()
		pc.idle = nil
	}
}

// forget drops pc, whose connection ended.
func (p *upstreamPool) forget(pc *pooledUpstream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(pc)
}

// release ends one lease on pc: the last one arms the idle timer, or
// closes a connection that left the pool.
func (p *upstreamPool) release(pc *pooledUpstream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc.leases--
	if pc.leases > 0 {
		return
	}
	if pc.gone || p.closed {
		pc.c.Close()
		return
	}
	pc.idleGen++
	gen := pc.idleGen
	pc.idle = time.AfterFunc(p.idle, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if pc.idleGen != gen || pc.leases > 0 {
			return
		}
		p.removeLocked(pc)
		pc.c.Close()
	})
}

// prune drops the entries that keep reports false for (a reload removed
// or changed the host, or took it from the user): idle ones close now,
// busy ones at their last release. Live sessions on them end only if
// the reload's sweep ends them.
func (p *upstreamPool) prune(keep func(upstreamKey) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, pc := range p.conns {
		if keep(k) {
			continue
		}
		p.removeLocked(pc)
		if pc.leases == 0 {
			pc.c.Close()
		}
	}
}

// close closes every upstream connection of the pool; later leases fail.
// It is called when the client connection ends, and is idempotent.
func (p *upstreamPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, pc := range p.conns {
		p.removeLocked(pc)
		pc.c.Close()
	}
}

// stats returns how many logins the pool made and how many connections
// it holds open now.
func (p *upstreamPool) stats() (logins, open int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logins, len(p.conns)
}

// client returns the leased connection.
func (l *upstreamLease) client() *gossh.Client { return l.pc.c }

// dead returns a channel closed when the leased connection has ended.
func (l *upstreamLease) dead() <-chan struct{} { return l.pc.dead }

// open runs f (open a channel) on the leased connection. When a reused
// connection fails for a reason other than the host refusing the channel
// (it died before the pool noticed), the lease moves to a new login and f
// runs once more.
func (l *upstreamLease) open(ctx context.Context, s *Server, cs *connState, f func(*gossh.Client) error) error {
	err := f(l.pc.c)
	var refused *gossh.OpenChannelError
	if err == nil || !l.reused || errors.As(err, &refused) {
		return err
	}
	if p := l.pc.pool; p != nil {
		p.mu.Lock()
		p.removeLocked(l.pc)
		p.mu.Unlock()
	}
	l.pc.c.Close()
	l.release()
	next, lerr := s.leaseUpstream(ctx, cs, l.h)
	if lerr != nil {
		return lerr
	}
	l.pc, l.reused, l.once = next.pc, next.reused, sync.Once{}
	return f(l.pc.c)
}

// release ends the lease; it is idempotent. The connection stays open
// for the client connection's other channels.
func (l *upstreamLease) release() {
	l.once.Do(func() {
		if l.pc.pool == nil {
			l.pc.c.Close()
			return
		}
		l.pc.pool.release(l.pc)
	})
}

// drop closes the leased connection, for every channel on it: the last
// resort when the host does not close a channel no sibling shares (closeUpstream).
func (l *upstreamLease) drop() {
	if p := l.pc.pool; p != nil {
		p.mu.Lock()
		p.removeLocked(l.pc)
		p.mu.Unlock()
	}
	l.pc.c.Close()
}

// hangupSignal is sent to a session's remote command when the bastion
// ends the session (kill, revocation, a window's end, a recording
// failure, timeouts, the client gone) before its channel is closed.
// Closing a channel alone ends a terminal session (the host hangs up its
// pty: OpenSSH's sshd and the in-process hosts alike) but only closes the
// pipes of a command without a terminal, which runs on until it writes.
// The signal ends it where the host honours it (the in-process hosts;
// OpenSSH's sshd only for logins under privilege separation: it ignores
// it for root, as measured with sshd 9.2 in TestUpstreamPoolKillRealSSHD).
const hangupSignal = "HUP"

// closeUpstream ends the session's channel uch on the host: it sends
// hangupSignal, closes the channel (not the connection, which other
// channels of the client may use), calls stop (the output copiers'
// holdStop) and waits until the output copiers finished (outDone).
//
// A host may keep the channel open after our close: OpenSSH's sshd does,
// until a command without a terminal exits. After channelCloseWait the
// session ends anyway (leftopen.go): the copiers turn to discarding, the
// login serves no new channel, and it is closed now when no other channel
// uses it, else with the last of them. closeUpstream then returns what it
// did (hostChannelLoginClosed, hostChannelLoginRetired) for the session's
// session.end; "" when the host closed the channel in time.
func (sess *clientSession) closeUpstream(lease *upstreamLease, uch gossh.Channel, stop func(), outDone <-chan struct{}) string {
	uch.SendRequest("signal", false, gossh.Marshal(&struct{ Name string }{hangupSignal}))
	uch.Close()
	stop()
	t := time.NewTimer(sess.s.closeWaitOf())
	defer t.Stop()
	select {
	case <-outDone:
		return ""
	case <-t.C:
	}
	sess.hostCh.leave()
	sess.s.keptOpen.Add(1)
	id := ""
	if sess.rec != nil {
		id = sess.rec.ID()
	}
	shared := lease.retire()
	action, what := hostChannelLoginClosed, "its login is closed"
	if shared {
		action, what = hostChannelLoginRetired, "its login serves no new channel and closes with its other channels"
	}
	sess.log.Warn("host keeps the ended session's channel open; "+what,
		"session", id, "host", lease.h.Name, "waited", sess.s.closeWaitOf())
	sess.watchLeftOpen(lease.h.Name, outDone)
	if !shared {
		lease.drop()
		<-outDone
	}
	return action
}

// retire takes the leased connection out of the pool (it serves no new
// lease; its last release closes it) and reports whether other channels
// hold leases on it. Without a pool it reports false.
func (l *upstreamLease) retire() bool {
	p := l.pc.pool
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(l.pc)
	return l.pc.leases > 1
}

// prunePools applies a reload to every client connection's pool: a
// login to a host that pol removed or changed (address, login, host key),
// or that the connection's user may no longer reach, serves no new
// channel and is closed once no channel uses it.
func (s *Server) prunePools(pol *policy) {
	s.mu.Lock()
	conns := make([]*connState, 0, len(s.conns))
	for _, cs := range s.conns {
		conns = append(conns, cs)
	}
	s.mu.Unlock()
	cfg := pol.cfg
	for _, cs := range conns {
		if cs.pool == nil {
			continue
		}
		cs.mu.Lock()
		person := personOf(cs.user)
		cs.mu.Unlock()
		user, userOK := cfg.User(person)
		cs.pool.prune(func(k upstreamKey) bool {
			h, ok := cfg.Host(k.host)
			return ok && userOK && keyOf(h) == k && cfg.CanConnect(user, h)
		})
	}
}
