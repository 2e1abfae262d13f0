package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/guard"
	"github.com/foureyes/foureyes/recorder"
	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Recorder starts recordings. *recorder.Recorder implements it.
type Recorder interface {
	// Start writes session.start and returns the session to record into.
	Start(info recorder.StartInfo) (*recorder.Session, error)
}

// AuditFunc runs an auditor's command (the words after "audit") with the
// given output streams and returns its exit status. ctx ends when the
// client goes away or the bastion shuts down.
type AuditFunc func(ctx context.Context, user string, args []string, stdout, stderr io.Writer) int

// Options are the gateway's dependencies.
type Options struct {
	// Recorder records every session and the gateway's own events.
	// Required.
	Recorder Recorder
	// Audit runs `audit …` commands for users with an audit role.
	// Nil: audit commands answer "not available".
	Audit AuditFunc
	// Logger receives operational logs. Default: slog.Default().
	Logger *slog.Logger
}

// Server is the SSH bastion: it authenticates users, applies policy,
// connects to hosts and records everything in between. Create it with
// New; it is safe for concurrent use.
type Server struct {
	pol          atomic.Pointer[policy] // the configuration in force; Reload swaps it
	live         liveSet                // sessions, for revocation and kill
	opts         Options
	log          *slog.Logger
	hostSigner   gossh.Signer
	clientSigner gossh.Signer
	srv          *ssh.Server
	gw           *gatewayStream // the gateway's own stream (kind "gateway")
	losses       *lossReporter  // writes recording.failed into gw
	hubs         registry       // four-eyes sessions, pending or running
	windows      windowSet      // approval windows, pending or open (window.go)
	tunnels      tunnelSet      // live ssh -L connections (tunnel.go)
	notifier     *notifier      // nil without notify.webhook_url

	// Limits before and after login (config limits:).
	gate      *guard.Gate            // unauthenticated connections
	lockout   *guard.Lockout         // failed logins per user and source
	authFails *guard.FailureReporter // aggregates auth.failure events

	// Counters for Stats.
	active     atomic.Int64 // ordinary sessions connected to a host
	unrecorded atomic.Int64 // best-effort sessions running on unrecorded
	failures   atomic.Int64 // sessions whose recording failed
	// Ended sessions whose channel the host kept open (leftopen.go).
	keptOpen    atomic.Int64 // since New
	keptOpenNow atomic.Int64 // still open now
	afterEndOut atomic.Int64 // output bytes they produced after their end (discarded)

	// poolIdle overrides upstreamIdle for pools created from now on
	// (nanoseconds; 0: upstreamIdle). Tests shorten it.
	poolIdle atomic.Int64
	// poolOff makes every channel log in anew, as before pooling
	// (benchmarks compare the two).
	poolOff atomic.Bool
	// closeWait overrides channelCloseWait (nanoseconds; 0:
	// channelCloseWait). Tests shorten it.
	closeWait atomic.Int64

	// base is the parent of every session context; Shutdown and Close
	// cancel it with ErrShuttingDown or ErrServerClosed.
	base       context.Context
	cancelBase context.CancelCauseFunc

	wg       sync.WaitGroup // connection watchers, session handlers and their copiers
	sessions sync.WaitGroup // session channel handlers only (Shutdown drains these first)

	mu        sync.Mutex // guards the fields below
	closing   bool       // no new connections, sessions or wg.Add once set
	listeners map[net.Listener]struct{}
	addr      net.Addr
	conns     map[string]*connState // by connKey, for ConnectionFailedCallback
}

// New returns a server for cfg. It loads the host key and the upstream
// client key (creating them on first start), parses users' keys and the
// pinned host keys, and opens the gateway's own recording.
func New(cfg *config.Config, opts Options) (*Server, error) {
	if opts.Recorder == nil {
		return nil, ErrNoRecorder
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger.With("component", "gateway"),
		listeners: map[net.Listener]struct{}{},
		conns:     map[string]*connState{},
	}
	pol, err := newPolicy(cfg)
	if err != nil {
		return nil, err
	}
	s.pol.Store(pol)
	if s.hostSigner, err = loadOrCreateKey(cfg.Gateway.HostKeyFile, "host key"); err != nil {
		return nil, err
	}
	if s.clientSigner, err = loadOrCreateKey(cfg.Gateway.ClientKeyFile, "client key"); err != nil {
		return nil, err
	}
	s.initLimits()
	s.srv = &ssh.Server{
		Version:     "foureyes",
		HostSigners: []ssh.Signer{s.hostSigner},
		// No PasswordHandler: x/crypto would offer "password" and ssh
		// would prompt for one.
		KeyboardInteractiveHandler: refuseKeyboardInteractive,
		ServerConfigCallback:       s.serverConfig,
		ConnCallback:               s.connCallback,
		ConnectionFailedCallback:   s.connectionFailed,
		ChannelHandlers: map[string]ssh.ChannelHandler{
			"session":      s.limitChannels(s.handleSession),
			"direct-tcpip": s.limitChannels(s.handleTunnel), // ssh -L to a host's allowed destinations; ssh -J refused: tunnel.go
			"default":      s.limitChannels(s.denyChannel),  // direct-streamlocal, anything else
		},
		RequestHandlers: map[string]ssh.RequestHandler{
			"tcpip-forward":                   s.denyForwardRequest,
			"streamlocal-forward@openssh.com": s.denyForwardRequest,
		},
	}
	class := cfg.Retention.Default
	s.gw, err = openGatewayStream(opts.Recorder, recorder.StartInfo{
		Kind:      "gateway",
		Class:     class,
		Retention: cfg.RetentionDays(class),
		Meta:      map[string]string{"listen": cfg.Gateway.Listen, "host_key": gossh.FingerprintSHA256(s.hostSigner.PublicKey())},
	}, s.log)
	if err != nil {
		return nil, fmt.Errorf("gateway: open gateway recording: %w", err)
	}
	s.losses = newLossReporter(s.gw, s.log)
	go s.losses.run() // stopped by Shutdown or Close, after the sessions
	// Spool data that expired undelivered (Kafka away longer than its
	// class) is reported in the gateway's own stream.
	if ex, ok := opts.Recorder.(interface {
		OnExpire(func(recorder.ExpiryReport))
	}); ok {
		ex.OnExpire(func(rep recorder.ExpiryReport) { s.recordGateway(event.SpoolExpired, "", rep.Meta()) })
	}
	// The gateway stream records every other stream's start and end, so
	// that a deleted session or a cut-off tail is detected (docs/storage.md).
	if ob, ok := opts.Recorder.(interface {
		ObserveStreams(recorder.StreamObserver)
	}); ok {
		ob.ObserveStreams(func(t event.Type, meta map[string]string) { s.recordGateway(t, "", meta) })
	}
	s.base, s.cancelBase = context.WithCancelCause(context.Background())
	s.wg.Add(1) // no Wait can run yet: New has not returned
	go func() {
		defer s.wg.Done()
		s.reportFailures()
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.watchExpiry()
	}()
	if cfg.Notify.WebhookURL != "" {
		// opts.Logger, not s.log: the notifier adds its own component.
		s.notifier = newNotifier(cfg.Notify, opts.Logger)
		s.wg.Add(1) // no Wait can run yet: New has not returned
		go func() {
			defer s.wg.Done()
			s.notifier.run(s.base)
		}()
	}
	return s, nil
}

// Serve accepts connections on l until Shutdown or Close, then returns
// ErrServerClosed. Serve may be called for several listeners.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.addr = l.Addr()
	s.mu.Unlock()
	s.log.Info("listening", "addr", l.Addr().String(), "host_key", gossh.FingerprintSHA256(s.hostSigner.PublicKey()))
	err := s.srv.Serve(&guard.Listener{Listener: l, Gate: s.gate, Refused: s.refusedConn})
	s.mu.Lock()
	delete(s.listeners, l)
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return ErrServerClosed
	}
	return fmt.Errorf("gateway: serve: %w", err)
}

// ListenAndServe listens on cfg.Gateway.Listen and calls Serve.
func (s *Server) ListenAndServe() error {
	l, err := net.Listen("tcp", s.cfg().Gateway.Listen)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return s.Serve(l)
}

// Addr returns the address of the latest listener given to Serve, or nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Shutdown stops accepting connections, ends every session with the
// message "bastion shutting down" (closing its upstream connection and
// ending its recording), closes the remaining connections, waits for all
// goroutines and ends the gateway's recording. If ctx ends first,
// Shutdown closes everything at once as Close does and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	s.windows.endAll("bastion shutting down") // windows live in memory only
	s.cancelBase(ErrShuttingDown)
	err := waitCtx(ctx, &s.sessions)
	s.srv.Close() // connections without sessions, and the ones a client kept open
	if err2 := waitCtx(ctx, &s.wg); err == nil {
		err = err2
	}
	s.losses.close()
	s.endGatewayStream()
	return err
}

// Close closes listeners and connections now; sessions end without a
// message. It waits for the goroutines, which exit promptly once their
// connections are closed. It is safe to call more than once.
func (s *Server) Close() error {
	s.stopAccepting()
	s.windows.endAll("bastion closed")
	s.cancelBase(ErrServerClosed)
	s.srv.Close()
	s.wg.Wait()
	s.losses.close()
	s.endGatewayStream()
	return nil
}

// stopAccepting marks the server closing and closes its listeners.
func (s *Server) stopAccepting() {
	s.mu.Lock()
	s.closing = true
	ls := make([]net.Listener, 0, len(s.listeners))
	for l := range s.listeners {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
}

// enter counts a new goroutine in s.wg (and in s.sessions for session
// handlers); it reports false once the server is closing, so that no Add
// races with a Wait in Shutdown or Close.
func (s *Server) enter(session bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	if session {
		s.sessions.Add(1)
	}
	return true
}

// goTracked runs f in a goroutine counted in s.wg. Callers hold a count
// already (they run inside a tracked goroutine), so Add cannot race with
// Wait.
func (s *Server) goTracked(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// endGatewayStream ends the gateway's own recording once.
func (s *Server) endGatewayStream() { s.gw.end() }

// recordGateway writes a gateway-level event (auth.failure,
// access.denied, forward.denied) into the gateway's own stream.
func (s *Server) recordGateway(t event.Type, actor string, meta map[string]string) {
	meta = boundMeta(meta)
	s.log.Info(string(t), "actor", actor, "meta", meta)
	if err := s.gw.record(t, actor, meta); err != nil {
		s.losses.poke() // reopen the stream once the spool has room
		s.log.Error("record gateway event", "type", t, "err", err)
	}
}

// waitCtx waits for wg or ctx, whichever comes first.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		wg.Wait()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway: shutdown: %w", ctx.Err())
	}
}

// now is the clock; tests in this package may replace it.
var now = time.Now
