package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/ingest"
	"github.com/foureyes/foureyes/ingest/retention"
	"github.com/foureyes/foureyes/internal/metrics"
	"github.com/foureyes/foureyes/transport"
)

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ingest", stderr)
	path := fs.String("config", "", "configuration `FILE` (required; see docs/config.md)")
	printSigning := fs.Bool("print-signing-key", false, "print the public key that signs the retention log (for signing.trusted_keys of verifiers), then exit")
	backfill := fs.Bool("backfill-search", false, "fill the search tables (commands, participants) from the events already stored, then exit")
	level := logLevel(fs, slog.LevelInfo)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	if err := cfg.ValidateIngest(); err != nil {
		return err
	}
	signer, err := retention.SignerFromConfig(cfg)
	if err != nil {
		return err
	}
	if *printSigning {
		fmt.Fprintln(stdout, event.FormatPublicKey(signer.Public()))
		fmt.Fprintf(stderr, "key id %s of the retention job: add the line above to signing.trusted_keys of every config that runs audit verify\n", signer.KeyID())
		return nil
	}
	base := newLogger(stderr, *level)
	log := base.With("component", "ingest")

	for _, w := range transport.PlaintextWarnings(cfg) {
		log.Warn(w)
	}
	// ClickHouse may still be starting (or down): keep trying, loudly.
	var conn driver.Conn
	for backoff := 500 * time.Millisecond; ; backoff = min(2*backoff, 10*time.Second) {
		if conn, err = ingest.Connect(ctx, cfg.ClickHouse.As(config.RoleIngest)); err == nil {
			if err = ingest.Migrate(ctx, conn, cfg.ClickHouse.Database); err == nil {
				break
			}
			conn.Close()
		}
		if refusedForGood(err) {
			// A wrong password, CA or grant: retrying will not help.
			return err
		}
		log.Warn("clickhouse not ready; retrying", "addr", cfg.ClickHouse.Addr, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
	defer conn.Close()
	if v, err := ingest.ServerVersion(ctx, conn); err == nil {
		log.Info("connected to clickhouse", "addr", cfg.ClickHouse.Addr, "version", v)
	}
	tuneIngestGC(cfg.Ingest.BatchBytes, log)
	in := ingest.New(conn, ingest.FromConfig(cfg, log))
	if *backfill {
		n, err := in.BackfillSearch(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "search tables filled from %d stored sessions\n", n)
		return nil
	}
	if cfg.Metrics.Listen != "" {
		reg := metrics.NewRegistry()
		reg.Counter("ingest_events_total", "Event rows ClickHouse acknowledged.", func() float64 { return float64(in.Stats().Events) })
		reg.Counter("ingest_batches_total", "Batches fully inserted.", func() float64 { return float64(in.Stats().Batches) })
		reg.Counter("ingest_insert_errors_total", "Failed insert attempts (each retried).", func() float64 { return float64(in.Stats().InsertErrors) })
		reg.Counter("ingest_rejected_total", "Messages that did not decode (kept in the rejected table).", func() float64 { return float64(in.Stats().Rejected) })
		reg.Gauge("ingest_consumer_lag", "Messages between the consumer position and the high-water mark.", func() float64 { return float64(in.Stats().Lag) })
		reg.Gauge("ingest_pending", "Fetched messages not yet committed.", func() float64 { return float64(in.Stats().Pending) })
		go func() {
			if err := reg.Serve(ctx, cfg.Metrics.Listen, func() error { return conn.Ping(ctx) }, base.With("component", "metrics")); err != nil {
				log.Error("metrics endpoint failed", "err", err)
			}
		}()
	}
	log.Info("ingest running", "brokers", cfg.Kafka.Brokers, "topic", cfg.Kafka.Topic, "group", cfg.Ingest.Group)
	// The retention job runs beside the consumer, every retention.interval.
	// Several ingest processes may run it; drops and copies are idempotent.
	// A retention job that cannot run (its ClickHouse user is refused)
	// stops the process, as a refused ingest user does: an ingest that
	// quietly keeps data past its retention is the failure to avoid.
	runCtx, stop := context.WithCancelCause(ctx)
	retCtx, stopRetention := context.WithCancel(runCtx)
	retDone := make(chan error, 1)
	go func() {
		rerr := retentionLoop(retCtx, cfg, signer, base)
		if rerr != nil && !errors.Is(rerr, context.Canceled) {
			stop(rerr)
		}
		retDone <- rerr
	}()
	err = in.Run(runCtx)
	stopRetention()
	<-retDone
	if rerr := context.Cause(runCtx); ctx.Err() == nil && rerr != nil {
		return fmt.Errorf("retention job stopped: %w", rerr)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}
