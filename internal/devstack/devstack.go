// Package devstack runs all of foureyes in one process for a laptop or a
// demo (`foureyes dev`): a private clickhouse-server child process, an
// embedded Kafka-protocol broker, ingest, the recorder with its publisher,
// the SSH gateway and two demo SSH hosts. Every part is the production
// component; only Kafka is embedded and the hosts are in-process.
//
// State lives under one directory:
//
//	DIR/foureyes.yaml      the generated configuration (a working example)
//	DIR/keys/NAME[.pub]    demo identities alice (admin), bob (reviewer), carol (auditor)
//	DIR/gateway/           gateway host key, upstream client key, spool
//	DIR/kafka/             broker data
//	DIR/clickhouse/        server config, data and logs
//	DIR/secrets/           the ClickHouse users' passwords (mode 0600)
//	DIR/targets/NAME/      demo host keys and home directories
//	DIR/ssh_config         a Host alias per demo user: ssh -F DIR/ssh_config alice demo-staging
//	DIR/known_hosts        the gateway's host key, pinned for ssh_config
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/gateway"
	"github.com/foureyes/foureyes/ingest"
	"github.com/foureyes/foureyes/ingest/retention"
	"github.com/foureyes/foureyes/internal/broker"
	"github.com/foureyes/foureyes/internal/chserver"
	"github.com/foureyes/foureyes/internal/sshtarget"
	"github.com/foureyes/foureyes/query"
	"github.com/foureyes/foureyes/recorder"
	gossh "golang.org/x/crypto/ssh"
)

// Options configure Start.
type Options struct {
	// Dir holds all state. Required.
	Dir string
	// SSHAddr is the gateway's listen address. Default: 127.0.0.1:2222.
	SSHAddr string
	// Logger receives the components' logs. Default: slog.Default().
	Logger *slog.Logger
}

// Stack is a running dev stack.
type Stack struct {
	// Config is the generated configuration.
	Config *config.Config
	// Dir is the state directory (absolute).
	Dir string
	// ClickHouse is the native-protocol connection ingest uses (the
	// ingest user: it may write).
	ClickHouse driver.Conn
	// Audit is the connection of the audit commands (the read-only audit
	// user); Store reads through it.
	Audit driver.Conn
	// Store answers audit queries.
	Store *query.Store
	// Recorder and Ingester expose their Stats.
	Recorder *recorder.Recorder
	Ingester *ingest.Ingester
	// Retention is the retention job, run every retention.interval.
	Retention *retention.Job
	// Service is the address of the demo service, a TCP echo server
	// that demo-staging's tunnels may reach (ssh -L).
	Service string

	log     *slog.Logger
	ch      *chserver.Server
	holds   driver.Conn // the holds user's, for audit hold/release
	retConn driver.Conn // the retention user's
	broker  *broker.Broker
	targets []*sshtarget.Target
	service net.Listener // the demo service (echo.go)
	gw      *gateway.Server
	gwAddr  net.Addr
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errs    chan error
	closeMu sync.Mutex
	closed  bool
}

// Start brings up every component and returns when the gateway accepts
// connections. Close stops everything; on error Start cleans up itself.
func Start(ctx context.Context, opt Options) (st *Stack, err error) {
	if opt.Dir == "" {
		return nil, errors.New("devstack: --data DIR is required")
	}
	if opt.SSHAddr == "" {
		opt.SSHAddr = "127.0.0.1:2222"
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	if err := checkDirName(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Stack{Dir: dir, log: opt.Logger, cancel: cancel, errs: make(chan error, 8)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	// Listen first: a busy port is the most likely failure and the cheapest to report.
	ln, err := net.Listen("tcp", opt.SSHAddr)
	if err != nil {
		return s, fmt.Errorf("devstack: SSH address %s: %w (pass --ssh-addr HOST:PORT to use another)", opt.SSHAddr, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()

	var keys [3]string
	for i, name := range DemoUsers {
		k, err := demoKey(filepath.Join(dir, "keys"), name)
		if err != nil {
			return s, err
		}
		keys[i] = authorizedLine(k)
	}

	s.log.Info("starting clickhouse-server", "dir", filepath.Join(dir, "clickhouse"))
	adminPassword, users, err := devUsers(dir, "foureyes")
	if err != nil {
		return s, err
	}
	if s.ch, err = chserver.Start(ctx, filepath.Join(dir, "clickhouse"), chserver.Options{Users: users, AdminPassword: adminPassword}); err != nil {
		return s, err
	}
	// The administrator ("default", loopback only) creates the database:
	// the parts' users may use only it.
	admin, err := ingest.Connect(ctx, config.ClickHouse{Addr: s.ch.Addr, Database: "foureyes", Password: adminPassword})
	if err != nil {
		return s, err
	}
	admin.Close()
	if s.broker, err = broker.Start("127.0.0.1:0", filepath.Join(dir, "kafka")); err != nil {
		return s, err
	}

	// The gateway's upstream client key must exist before the demo hosts
	// can authorize it.
	gwDir := filepath.Join(dir, "gateway")
	clientLine, err := gateway.ClientPublicKey(&config.Config{Gateway: config.Gateway{ID: "dev", ClientKeyFile: filepath.Join(gwDir, "upstream_ed25519")}})
	if err != nil {
		return s, err
	}
	clientPub, _, _, _, err := gossh.ParseAuthorizedKey([]byte(clientLine))
	if err != nil {
		return s, fmt.Errorf("devstack: client key: %w", err)
	}
	var addrs, hostKeys [2]string
	for i, name := range []string{"demo-prod", "demo-staging"} {
		tdir := filepath.Join(dir, "targets", name)
		home := filepath.Join(tdir, "home")
		if err := os.MkdirAll(home, 0o700); err != nil {
			return s, fmt.Errorf("devstack: %w", err)
		}
		t, err := sshtarget.Start(sshtarget.Options{
			Name:           name,
			HostKeyFile:    filepath.Join(tdir, "host_ed25519"),
			AuthorizedKeys: []gossh.PublicKey{clientPub},
			Dir:            home,
			Logger:         s.log, // the target adds component=sshtarget target=NAME
		})
		if err != nil {
			return s, err
		}
		s.targets = append(s.targets, t)
		addrs[i], hostKeys[i] = t.Addr(), authorizedLine(t.HostKey())
	}

	if s.service, err = startEcho(s.log); err != nil {
		return s, err
	}
	s.Service = s.service.Addr().String()

	s.Config, err = writeConfig(dir, configValues{
		Dir: dir, SSHAddr: ln.Addr().String(), Broker: s.broker.Addr(), ClickHouse: s.ch.Addr,
		Alice: keys[0], Bob: keys[1], Carol: keys[2],
		ProdAddr: addrs[0], ProdKey: hostKeys[0], StagingAddr: addrs[1], StagingKey: hostKeys[1],
		ServiceAddr: s.Service,
	})
	if err != nil {
		return s, err
	}
	cfg := s.Config

	if s.ClickHouse, err = ingest.Connect(ctx, cfg.ClickHouse.As(config.RoleIngest)); err != nil {
		return s, err
	}
	if err := ingest.Migrate(ctx, s.ClickHouse, cfg.ClickHouse.Database); err != nil {
		return s, err
	}
	s.Ingester = ingest.New(s.ClickHouse, ingest.FromConfig(cfg, s.log.With("component", "ingest")))
	// The recorder, the query store and the targets add their own
	// component attribute: narrowing here too would repeat it.
	rcfg := recorder.FromConfig(cfg, s.log)
	if rcfg.Signer, err = recorder.SignerFromConfig(cfg); err != nil {
		return s, err
	}
	s.Recorder, err = recorder.New(rcfg)
	if err != nil {
		return s, err
	}
	if s.Audit, err = ingest.Connect(ctx, cfg.ClickHouse.As(config.RoleAudit)); err != nil {
		return s, err
	}
	if s.holds, err = ingest.Connect(ctx, cfg.ClickHouse.As(config.RoleHolds)); err != nil {
		return s, err
	}
	if s.retConn, err = ingest.Connect(ctx, cfg.ClickHouse.As(config.RoleRetention)); err != nil {
		return s, err
	}
	// The retention job signs its log with a key of its own
	// (DIR/gateway/retention_ed25519); the dev stack trusts it.
	retCfg := retention.FromConfig(cfg, s.log.With("component", "retention"))
	if retCfg.Signer, err = retention.SignerFromConfig(cfg); err != nil {
		return s, err
	}
	s.Store = query.NewStore(s.Audit, query.WithLogger(s.log), query.WithRetention(cfg.Retention), query.WithHoldsConn(s.holds),
		query.WithTrustedKeys(append(cfg.Signing.TrustedPublicKeys(), rcfg.Signer.Public(), retCfg.Signer.Public())...),
		query.WithLocalAnchor(s.Recorder.GatewayAnchor))
	s.Retention = retention.New(s.retConn, retCfg)
	s.gw, err = gateway.New(cfg, gateway.Options{
		Recorder: s.Recorder,
		Audit:    s.audit,
		Logger:   s.log,
	})
	if err != nil {
		return s, err
	}

	// The topic must exist before ingest joins its group, or the consumer
	// starts with no partitions.
	if err := recorder.EnsureTopic(ctx, recorder.PublisherFromConfig(cfg), s.log.With("component", "recorder")); err != nil {
		return s, err
	}
	s.spawn("ingest", func() error { return s.Ingester.Run(runCtx) })
	s.spawn("retention", func() error { return s.Retention.Run(runCtx) })
	s.spawn("publisher", func() error { return s.Recorder.Publish(runCtx, recorder.PublisherFromConfig(cfg)) })
	s.gwAddr = ln.Addr()
	hostKey, err := hostPublicKey(cfg.Gateway.HostKeyFile)
	if err != nil {
		return s, err
	}
	if err := WriteSSHConfig(dir, s.SSHAddr(), hostKey); err != nil {
		return s, err
	}
	if err := WriteUserConfigs(dir, s.SSHAddr(), hostKey, cfg); err != nil {
		return s, err
	}
	s.spawn("gateway", func() error { return s.gw.Serve(ln) })
	return s, nil
}

func (s *Stack) audit(ctx context.Context, user string, args []string, stdout, stderr io.Writer) int {
	return query.RunAs(ctx, s.Store, user, args, stdout, stderr)
}

// spawn runs f in a goroutine owned by the stack; a failure is reported on Err.
func (s *Stack) spawn(name string, f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, gateway.ErrServerClosed) {
			s.log.Error("component stopped", "component", name, "err", err)
			select {
			case s.errs <- fmt.Errorf("%s: %w", name, err):
			default:
			}
		}
	}()
}

// Err receives the first failure of a component after Start.
func (s *Stack) Err() <-chan error { return s.errs }

// SSHAddr returns the gateway's address.
func (s *Stack) SSHAddr() string { return s.gwAddr.String() }

// Close stops the gateway (ending sessions cleanly), gives the publisher
// and ingest a moment to drain, then stops everything. It is idempotent.
func (s *Stack) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.gw != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.gw.Shutdown(ctx)
		cancel()
	}
	if s.Recorder != nil {
		// What is not published in time stays in the spool for the next start.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		s.Recorder.Drain(ctx)
		cancel()
	}
	s.cancel()
	s.wg.Wait()
	if s.Recorder != nil {
		s.Recorder.Close()
	}
	for _, t := range s.targets {
		t.Close()
	}
	if s.service != nil {
		s.service.Close()
	}
	for _, c := range []driver.Conn{s.ClickHouse, s.Audit, s.holds, s.retConn} {
		if c != nil {
			c.Close()
		}
	}
	if s.broker != nil {
		s.broker.Close()
	}
	if s.ch != nil {
		s.ch.Stop()
	}
	return nil
}
