package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway"
	"github.com/foureyes/foureyes/ingest"
	"github.com/foureyes/foureyes/internal/metrics"
	"github.com/foureyes/foureyes/internal/reloadctl"
	"github.com/foureyes/foureyes/query"
	"github.com/foureyes/foureyes/recorder"
	"github.com/foureyes/foureyes/transport"
)

func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gateway", stderr)
	path := fs.String("config", "", "configuration `FILE` (required; see docs/config.md)")
	printKey := fs.Bool("print-client-key", false, "print the public key the bastion logs into hosts with, then exit")
	printSigning := fs.Bool("print-signing-key", false, "print the public key that signs recordings (for signing.trusted_keys of verifiers), then exit")
	level := logLevel(fs, slog.LevelInfo)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	if err := cfg.ValidateGateway(); err != nil {
		return err
	}
	if *printKey {
		line, err := gateway.ClientPublicKey(cfg)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, line)
		return nil
	}
	signer, err := recorder.SignerFromConfig(cfg)
	if err != nil {
		return err
	}
	if *printSigning {
		fmt.Fprintln(stdout, event.FormatPublicKey(signer.Public()))
		fmt.Fprintf(stderr, "key id %s of gateway %s: add the line above to signing.trusted_keys of every config that runs audit verify\n", signer.KeyID(), cfg.Gateway.ID)
		return nil
	}
	log := newLogger(stderr, *level).With("gateway", cfg.Gateway.ID)
	tuneGatewayGC(log)
	for _, w := range transport.PlaintextWarnings(cfg) {
		log.Warn(w)
	}
	if ch := cfg.ClickHouse; ch.Ingest.Password != "" || ch.Retention.Password != "" {
		log.Warn("this configuration holds the clickhouse ingest or retention password: the bastion needs only clickhouse.audit and clickhouse.holds; remove the others from this host (docs/operations.md)")
	}

	rcfg := recorder.FromConfig(cfg, log)
	rcfg.Signer = signer
	rec, err := recorder.New(rcfg)
	if err != nil {
		return err
	}
	defer rec.Close()
	store := &lazyStore{cfg: cfg.ClickHouse, retention: cfg.Retention, log: log,
		keys: append(cfg.Signing.TrustedPublicKeys(), signer.Public()), local: rec.GatewayAnchor}
	defer store.close()
	gw, err := gateway.New(cfg, gateway.Options{
		Recorder: rec,
		Audit: func(ctx context.Context, user string, args []string, stdout, stderr io.Writer) int {
			st, err := store.get(ctx)
			if err != nil {
				fmt.Fprintf(stderr, "audit: the audit store is unavailable (%v); try again later\n", err)
				return 1
			}
			return query.RunAs(ctx, st, user, args, stdout, stderr)
		},
		Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Gateway.Listen)
	if err != nil {
		return fmt.Errorf("gateway.listen %s: %w", cfg.Gateway.Listen, err)
	}

	hup, err := reloadctl.Listen(cfg.Gateway.DataDir) // SIGHUP, and the pid for `foureyes reload`
	if err != nil {
		ln.Close()
		return err
	}
	defer hup.Close()

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	goRun := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, gateway.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	goRun(func() error { return rec.Publish(runCtx, recorder.PublisherFromConfig(cfg)) })
	goRun(func() error { return gw.Serve(ln) })
	if cfg.Metrics.Listen != "" {
		reg := metrics.NewRegistry()
		registerRecorderMetrics(reg, rec)
		registerGatewayMetrics(reg, gw)
		goRun(func() error {
			return reg.Serve(runCtx, cfg.Metrics.Listen, rec.Err, log.With("component", "metrics"))
		})
	}
	// SIGHUP (or `foureyes reload`) re-reads the configuration file.
	goRun(func() error {
		hup.Serve(runCtx, func() reloadctl.Status { return reloadctl.Apply(gw, *path, "SIGHUP", log) })
		return nil
	})
	log.Info("gateway listening", "addr", ln.Addr().String(), "brokers", cfg.Kafka.Brokers, "topic", cfg.Kafka.Topic)

	select {
	case <-ctx.Done():
	case err = <-errc:
		log.Error("gateway failing", "err", err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	gw.Shutdown(sctx)
	scancel()
	// Give the publisher a moment to drain; what is left stays in the spool.
	dctx, dcancel := context.WithTimeout(context.Background(), 3*time.Second)
	rec.Drain(dctx)
	dcancel()
	cancel()
	wg.Wait()
	return err
}

func registerRecorderMetrics(reg *metrics.Registry, rec *recorder.Recorder) {
	reg.Gauge("spool_events", "Events in the spool not yet acknowledged by Kafka.", func() float64 { return float64(rec.Stats().SpoolEvents) })
	reg.Gauge("spool_bytes", "Bytes of the spool on disk.", func() float64 { return float64(rec.Stats().SpoolBytes) })
	reg.Gauge("spool_oldest_unsent_seconds", "Age of the oldest event not yet acknowledged by Kafka.", func() float64 { return rec.Stats().OldestUnsentAge.Seconds() })
	reg.Counter("publish_errors_total", "Failed attempts to publish to Kafka (each retried).", func() float64 { return float64(rec.Stats().PublishErrors) })
	reg.Counter("published_events_total", "Events acknowledged by Kafka.", func() float64 { return float64(rec.Stats().Published) })
	reg.Counter("spool_expired_events_total", "Events dropped from the spool undelivered because they outlived their retention class.", func() float64 { return float64(rec.Stats().ExpiredEvents) })
	reg.Gauge("sessions_throttled", "Sessions slowed down now because their recording fell behind (spool share full).", func() float64 { return float64(rec.Stats().Throttled) })
	reg.Counter("throttles_total", "Periods in which a session was slowed down because its recording fell behind.", func() float64 { return float64(rec.Stats().Throttles) })
	reg.Counter("throttled_seconds_total", "Total length of those periods.", func() float64 { return rec.Stats().ThrottledTime.Seconds() })
}

// registerGatewayMetrics registers the gateway's session gauges.
func registerGatewayMetrics(reg *metrics.Registry, gw *gateway.Server) {
	reg.Gauge("sessions_active", "Sessions connected to a host (ordinary and approved four-eyes ones).", func() float64 { return float64(gw.Stats().Active) })
	reg.Gauge("sessions_pending", "Four-eyes sessions waiting for approval.", func() float64 { return float64(gw.Stats().Pending) })
	reg.Gauge("sessions_participants", "Reviewers joined to four-eyes sessions.", func() float64 { return float64(gw.Stats().Participants) })
	reg.Gauge("sessions_unrecorded", "Best-effort sessions running on after their recording failed.", func() float64 { return float64(gw.Stats().Unrecorded) })
	reg.Counter("recording_failures_total", "Sessions whose recording failed (strict: ended; best_effort: continued unrecorded).", func() float64 { return float64(gw.Stats().RecordingFailures) })
	reg.Gauge("connections_unauthenticated", "Connections not logged in yet (limits.max_unauthenticated).", func() float64 { return float64(gw.Stats().Unauthenticated) })
	reg.Counter("connections_refused_total", "Connections closed at accept over the unauthenticated-connection limits.", func() float64 { return float64(gw.Stats().RefusedConnections) })
	reg.Gauge("lockouts", "Users and source addresses locked out after failed logins.", func() float64 { return float64(gw.Stats().Lockouts) })
	reg.Counter("host_channels_kept_open_total", "Ended sessions whose channel the host did not close (a process may have run on there).", func() float64 { return float64(gw.Stats().HostChannelsKeptOpen) })
	reg.Gauge("host_channels_open_after_end", "Channels of ended sessions the host still keeps open.", func() float64 { return float64(gw.Stats().HostChannelsOpenNow) })
	reg.Counter("after_end_output_bytes_total", "Output bytes such channels sent after their session ended (discarded, not recorded).", func() float64 { return float64(gw.Stats().AfterEndOutputBytes) })
}

// lazyStore connects to ClickHouse on the first audit command, so the
// gateway serves sessions even while ClickHouse is down. Questions go
// through the audit user (clickhouse.audit, read-only), holds through the
// holds user (clickhouse.holds) when it is another one.
type lazyStore struct {
	cfg       config.ClickHouse
	retention config.Retention
	log       *slog.Logger // not narrowed: the store adds component=query
	mu        sync.Mutex
	keys      []ed25519.PublicKey // trusted signing keys
	local     query.LocalAnchor   // this gateway's newest seal of its own stream
	conn      driver.Conn
	holds     driver.Conn
	st        *query.Store
}

func (l *lazyStore) get(ctx context.Context) (*query.Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st != nil {
		return l.st, nil
	}
	audit := l.cfg.As(config.RoleAudit)
	conn, err := ingest.Connect(ctx, audit)
	if err != nil {
		return nil, err
	}
	if ro, err := ingest.ReadOnly(ctx, conn); err == nil && !ro {
		l.log.Warn("the clickhouse audit user may write: a compromised bastion could rewrite history; give clickhouse.audit a read-only user (docs/operations.md)", "user", audit.Username)
	}
	opts := []query.Option{query.WithLogger(l.log), query.WithRetention(l.retention), query.WithTrustedKeys(l.keys...),
		query.WithLocalAnchor(l.local)}
	if hc := l.cfg.As(config.RoleHolds); hc.Username != audit.Username {
		if l.holds, err = ingest.Connect(ctx, hc); err != nil {
			conn.Close()
			return nil, err
		}
		opts = append(opts, query.WithHoldsConn(l.holds))
	}
	l.conn, l.st = conn, query.NewStore(conn, opts...)
	return l.st, nil
}

func (l *lazyStore) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		l.conn.Close()
	}
	if l.holds != nil {
		l.holds.Close()
	}
}
