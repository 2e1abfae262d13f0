package sshtarget

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// ErrNoAuthorizedKeys is returned by Start when Options.AuthorizedKeys is
// empty: nobody could log in.
var ErrNoAuthorizedKeys = errors.New("sshtarget: no authorized keys")

// Options configure a Target.
type Options struct {
	// Addr is the TCP listen address. Default: 127.0.0.1:0 (a free port).
	Addr string
	// Listener, when set, is used instead of listening on Addr. The Target
	// closes it.
	Listener net.Listener
	// Name appears in the shell prompt ("NAME$ ") and in logs.
	// Default: "target".
	Name string
	// HostKeyFile persists the ed25519 host key (created with mode 0600 on
	// first start). Empty: a new key in memory at every start.
	HostKeyFile string
	// AuthorizedKeys are the public keys allowed to log in, as any user.
	// Required.
	AuthorizedKeys []gossh.PublicKey
	// Dir is the working and home directory of commands. It must exist.
	// Default: the process's working directory.
	Dir string
	// Logger receives connection and session logs. Default: slog.Default().
	Logger *slog.Logger
}

// Target is a running in-process SSH server.
type Target struct {
	opts    Options
	log     *slog.Logger
	ln      net.Listener
	srv     *ssh.Server
	hostKey gossh.Signer

	wg sync.WaitGroup // Serve, session handlers and their copiers

	mu     sync.Mutex
	closed bool // no new sessions once set
}

// Start listens and serves in the background until Close.
func Start(opts Options) (*Target, error) {
	if len(opts.AuthorizedKeys) == 0 {
		return nil, ErrNoAuthorizedKeys
	}
	if opts.Name == "" {
		opts.Name = "target"
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("sshtarget: %w", err)
		}
		opts.Dir = wd
	}
	if fi, err := os.Stat(opts.Dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("sshtarget: dir %q is not a directory", opts.Dir)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	signer, err := loadOrCreateHostKey(opts.HostKeyFile)
	if err != nil {
		return nil, err
	}
	ln := opts.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", opts.Addr)
		if err != nil {
			return nil, fmt.Errorf("sshtarget: %w", err)
		}
	}
	t := &Target{
		opts:    opts,
		log:     opts.Logger.With("component", "sshtarget", "target", opts.Name),
		ln:      ln,
		hostKey: signer,
	}
	t.srv = &ssh.Server{
		HostSigners:      []ssh.Signer{signer},
		PublicKeyHandler: t.authorize,
		ChannelHandlers:  map[string]ssh.ChannelHandler{"session": t.handleChannel, "direct-tcpip": ssh.DirectTCPIPHandler},
		// Tunnels to this machine's loopback addresses: forward.go.
		LocalPortForwardingCallback: allowLoopbackForward,
		RequestHandlers:             map[string]ssh.RequestHandler{}, // refuse forwarding and other global requests
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		err := t.srv.Serve(ln)
		t.mu.Lock()
		closed := t.closed
		t.mu.Unlock()
		if !closed {
			t.log.Error("serve stopped", "err", err)
		}
	}()
	t.log.Debug("listening", "addr", ln.Addr().String())
	return t, nil
}

// Addr returns the listening address as host:port.
func (t *Target) Addr() string { return t.ln.Addr().String() }

// HostKey returns the public host key clients should pin.
func (t *Target) HostKey() gossh.PublicKey { return t.hostKey.PublicKey() }

// Close stops listening, closes every connection, hangs up running
// commands and waits for all goroutines. It is safe to call more than once.
func (t *Target) Close() error {
	t.mu.Lock()
	already := t.closed
	t.closed = true
	t.mu.Unlock()
	var err error
	if !already {
		// Closing the connections closes their channels: each session
		// then hangs up its command and exits.
		err = t.srv.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		// Serve may not have registered the listener yet, in which case
		// srv.Close did not close it.
		t.ln.Close()
	}
	t.wg.Wait()
	return err
}

// authorize admits the configured keys, whatever the user name.
func (t *Target) authorize(_ ssh.Context, key ssh.PublicKey) bool {
	for _, k := range t.opts.AuthorizedKeys {
		if ssh.KeysEqual(k, key) {
			return true
		}
	}
	return false
}

// enter counts a new session in t.wg; it reports false once the target
// is closing, so that no Add races with Close's Wait.
func (t *Target) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}
