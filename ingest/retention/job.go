package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Job enforces retention on the database that conn's default database
// holds (the one ingest.Migrate set up). It is safe for one goroutine;
// two jobs on one database do no harm (every step is idempotent) but
// duplicate the log.
type Job struct {
	conn driver.Conn
	cfg  Config
	log  *slog.Logger
	// now is the clock of RunOnce and Run; tests move it.
	now func() time.Time
	// chain is the head of the signed log chain during Apply.
	chain logChain
	// beforeDrop, set by tests, is called with the table's name right
	// before each DROP PARTITION.
	beforeDrop func(table string)
	// afterCopy, set by tests, is called with the table's name after a
	// partition's held rows were copied, before the check for sessions
	// held since (the re-copy).
	afterCopy func(table string)
}

// New returns a Job working through conn.
func New(conn driver.Conn, cfg Config) *Job {
	cfg = cfg.withDefaults()
	return &Job{conn: conn, cfg: cfg, log: cfg.Logger, now: time.Now}
}

// RunOnce plans and applies a run at the current time.
func (j *Job) RunOnce(ctx context.Context) (Report, error) {
	p, err := j.Plan(ctx, j.now())
	if err != nil {
		return Report{}, err
	}
	return j.Apply(ctx, p)
}

// Run runs the job at once and then every Config.Interval until ctx is
// done. A failed run is logged and retried at the next tick: the steps
// are idempotent and the next run completes what one left undone. It
// returns ctx's error.
func (j *Job) Run(ctx context.Context) error {
	t := time.NewTicker(j.cfg.Interval)
	defer t.Stop()
	for {
		rep, err := j.RunOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			j.log.ErrorContext(ctx, "retention run failed; retrying at the next interval", "err", err, "interval", j.cfg.Interval)
		default:
			j.log.InfoContext(ctx, "retention run done", "run", rep.Run, "partitions", len(rep.Plan.Drops),
				"rows", rep.Rows, "bytes", rep.Bytes, "held_rows", rep.HeldRows, "released", len(rep.Plan.Releases), "holds", len(rep.Plan.Holds))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
