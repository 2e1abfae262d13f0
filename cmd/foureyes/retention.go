package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/ingest"
	"github.com/foureyes/foureyes/ingest/retention"
	"github.com/foureyes/foureyes/transport"
)

// runRetention is `foureyes retention run [--dry-run] --config FILE`: one
// run of the retention job, or with --dry-run the list of what would go.
func runRetention(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprintln(stderr, "usage: foureyes retention run [--dry-run] --config FILE")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	fs := newFlags("retention run", stderr)
	path := fs.String("config", "", "configuration `FILE` (required; see docs/config.md)")
	dry := fs.Bool("dry-run", false, "list the partitions and held copies that would be dropped; change nothing")
	level := logLevel(fs, slog.LevelInfo)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, *level).With("component", "retention")
	conn, err := ingest.Connect(ctx, cfg.ClickHouse.As(config.RoleRetention))
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := ingest.Migrate(ctx, conn, cfg.ClickHouse.Database); err != nil {
		return err
	}
	rcfg := retention.FromConfig(cfg, log)
	if !*dry {
		if rcfg.Signer, err = retention.SignerFromConfig(cfg); err != nil {
			return err
		}
	}
	job := retention.New(conn, rcfg)
	plan, err := job.Plan(ctx, time.Now())
	if err != nil {
		return err
	}
	printPlan(stdout, plan, *dry)
	if *dry {
		return nil
	}
	rep, err := job.Apply(ctx, plan)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run %s: dropped %d partitions (%d rows, %d bytes), copied %d held rows, deleted %d held copies\n",
		rep.Run, len(plan.Drops), rep.Rows, rep.Bytes, rep.HeldRows, len(plan.Releases))
	return nil
}

// printPlan lists what a run drops; a sentence instead of an empty table
// when no partition is due.
func printPlan(w io.Writer, p *retention.Plan, dry bool) {
	verb := "dropping"
	if dry {
		verb = "would drop"
	}
	if len(p.Drops) == 0 {
		fmt.Fprintln(w, "Nothing to drop: no partition is past its class.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "%s %d partitions:\nTABLE\tCLASS\tDAY\tDUE\tROWS\tBYTES\n", verb, len(p.Drops))
		for _, d := range p.Drops {
			fmt.Fprintf(tw, "%s\t%s (%dd)\t%s\t%s\t%d\t%d\n", d.Table, d.Class, d.RetentionDays, d.Day.Format(time.DateOnly), d.Due.Format(time.RFC3339), d.Rows, d.Bytes)
		}
		tw.Flush()
	}
	for _, r := range p.Releases {
		fmt.Fprintf(w, "%s held copy of session %s (class %s, %d rows): its hold ended\n", verb, r.Session, r.Class, r.Rows)
	}
	fmt.Fprintf(w, "active holds kept: %d\n", len(p.Holds))
}

// retentionLoop runs the retention job every retention.interval until ctx
// is done; `foureyes ingest` runs it beside the consumer, connected as the
// retention user (clickhouse.retention). log is not yet narrowed to a
// component; signer signs the retention_log rows.
func retentionLoop(ctx context.Context, cfg *config.Config, signer *event.Signer, log *slog.Logger) error {
	log = log.With("component", "retention")
	var conn driver.Conn
	var err error
	for backoff := 500 * time.Millisecond; ; backoff = min(2*backoff, 10*time.Second) {
		if conn, err = ingest.Connect(ctx, cfg.ClickHouse.As(config.RoleRetention)); err == nil {
			break
		}
		if refusedForGood(err) {
			return err
		}
		log.Warn("clickhouse not ready for retention; retrying", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
	defer conn.Close()
	rcfg := retention.FromConfig(cfg, log)
	rcfg.Signer = signer
	return retention.New(conn, rcfg).Run(ctx)
}

// refusedForGood reports whether a ClickHouse connect error will not go
// away by retrying: a refusal (wrong password, CA, grant), except a hang-up
// in the handshake. ClickHouse 18.16 hangs up on a database the user may
// not use, but so does a server that is restarting; the connect loops
// keep retrying that one, logging the refusal's advice each time.
func refusedForGood(err error) bool {
	return errors.Is(err, transport.ErrRefused) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF)
}
