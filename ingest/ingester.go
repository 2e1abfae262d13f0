package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/event"
)

// Ingester consumes the event topic as a member of a consumer group and
// writes the events into ClickHouse in batches. Create it with New; Run
// does the work.
type Ingester struct {
	conn driver.Conn
	cfg  Config
	log  *slog.Logger

	// Retry and shutdown timing; tests shorten them.
	backoffMin, backoffMax time.Duration
	fetchBackoff           time.Duration
	commitTimeout          time.Duration
	shutdownTimeout        time.Duration

	// insertWorkers is how many batches are inserted at once
	// (defaultInsertWorkers; tests change it).
	insertWorkers int
	// insertFault, when set by a test, runs before every insert attempt
	// of a stage and fails it by returning an error.
	insertFault func(b *batch, stage insertStage) error

	// Set by detect before the first insert, under detectMu (the insert
	// workers share them).
	detectMu       sync.Mutex
	detected       bool
	insertSettings clickhouse.Settings

	// derive fills the search rows; a new one for each Run (derive.go).
	// spare receives a batch's columns as sortBySession reorders them.
	// Both are the Run goroutine's.
	derive *deriver
	spare  eventCols

	running  atomic.Bool
	reader   atomic.Pointer[kafka.Reader]
	budget   atomic.Pointer[budget] // set by Run; kept for Stats after it returns
	counters counters
}

// New returns an Ingester writing through conn, which must have been
// migrated (Migrate). Zero fields of cfg take their defaults; Run reports
// an invalid cfg.
func New(conn driver.Conn, cfg Config) *Ingester {
	cfg = cfg.withDefaults()
	in := &Ingester{
		conn:            conn,
		cfg:             cfg,
		log:             cfg.Logger.With("topic", cfg.Topic, "group", cfg.Group),
		backoffMin:      200 * time.Millisecond,
		backoffMax:      10 * time.Second,
		fetchBackoff:    time.Second,
		commitTimeout:   10 * time.Second,
		shutdownTimeout: 5 * time.Second,
		insertWorkers:   defaultInsertWorkers,
	}
	in.derive = in.newDeriver()
	return in
}

// newDeriver returns an empty search state that rebuilds from the store.
func (in *Ingester) newDeriver() *deriver {
	d := newDeriver(in.cfg.SearchSessions)
	d.rebuild = in.rebuildFromStore
	d.gaveUp = func(id string, err error) {
		in.counters.searchUnusable.Add(1)
		in.log.Warn("search rows not derived for a session: rebuilding it from its stored events fails on their content; its events are still stored",
			"session", id, "err", err)
	}
	return d
}

// Run consumes until ctx is done, then inserts and commits what it has
// already fetched (for at most a few seconds; the rest is redelivered to
// the next consumer) and returns nil. It returns an error only for an
// invalid Config or a concurrent call: ClickHouse and Kafka failures are
// logged, counted in Stats and retried.
func (in *Ingester) Run(ctx context.Context) error {
	if err := in.cfg.validate(); err != nil {
		return err
	}
	if !in.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer in.running.Store(false)

	if err := in.probe(ctx); err != nil {
		return err
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Dialer:   in.cfg.dialer(),
		Brokers:  in.cfg.Brokers,
		GroupID:  in.cfg.Group,
		Topic:    in.cfg.Topic,
		MinBytes: 1,
		MaxBytes: 1 << 20,
		MaxWait:  200 * time.Millisecond,
		// Messages queued ahead of the decoder: with 16 KiB output
		// chunks at most 4 MiB, whatever BatchBytes allows.
		QueueCapacity:  256,
		CommitInterval: 0, // commits are explicit, after the inserts
		StartOffset:    kafka.FirstOffset,
		// A topic created (or grown) after the group joined must still be
		// consumed: rebalance when its partitions change.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 2 * time.Second,
		// A dead ingest's partitions move to the survivors within seconds,
		// not kafka-go's default 30 s (the chaos suite measured that stall).
		SessionTimeout:    10 * time.Second,
		HeartbeatInterval: 2 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		ErrorLogger:       kafkaLogger(in.log, slog.LevelInfo),
	})
	in.reader.Store(r)
	defer func() {
		in.reader.Store(nil)
		if err := r.Close(); err != nil {
			in.log.Warn("close kafka reader", "err", err)
		}
	}()

	// The fetch goroutine decodes ahead while the Run goroutine fills,
	// sorts and derives the next batch and the pipeline inserts earlier
	// ones; the budget bounds the bytes of all of them together.
	recs := make(chan record, min(in.cfg.BatchRows, recordQueue))
	bud := newBudget(in.cfg.BatchBytes)
	in.budget.Store(bud)
	fetchCtx, stopFetch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(recs)
		in.fetch(fetchCtx, r, recs)
	}()
	defer wg.Wait()
	defer stopFetch()

	p := in.newPipeline(r, max(in.insertWorkers, 1))
	// A fresh search state: what a previous Run saw but did not commit
	// is delivered again. A session rebuilt from the store needs the rows
	// of the batches still in flight: wait for them first.
	in.derive = in.newDeriver()
	in.derive.rebuild = func(ctx context.Context, before map[string]uint64, feed func(e *event.Event)) error {
		if err := p.settle(ctx); err != nil {
			return err
		}
		return in.rebuildFromStore(ctx, before, feed)
	}
	in.log.Info("ingest started", "brokers", in.cfg.Brokers, "batch_rows", in.cfg.BatchRows, "batch_bytes", in.cfg.BatchBytes, "batch_interval", in.cfg.BatchInterval)
	b := in.consume(ctx, recs, p)

	// Shutdown: stop fetching, keep what was fetched, insert it and the
	// batches in flight with a bounded deadline, commit what was inserted
	// in order.
	stopFetch()
	deadline := time.AfterFunc(in.shutdownTimeout, p.stop)
	defer deadline.Stop()
	for rec := range recs {
		if b == nil {
			if b = p.take(p.ctx); b == nil {
				break // the deadline passed; Kafka redelivers the rest
			}
		}
		b.add(&rec)
	}
	if b != nil && b.n > 0 && in.prepare(p.ctx, b) {
		p.submit(p.ctx, b)
	}
	p.close()
	if n := in.counters.pending.Load(); n > 0 {
		in.log.Warn("stopping with uninserted messages; Kafka redelivers them", "messages", n)
	}
	in.counters.pending.Store(0) // what is left is Kafka's to redeliver
	in.log.Info("ingest stopped")
	return nil
}

// recordQueue bounds the decoded records queued between the fetch
// goroutine and the Run goroutine: enough to keep decoding while a batch
// is sorted and derived (tens of milliseconds), few enough that the
// queue's slots (about 220 bytes each, allocated up front) stay small.
const recordQueue = 16384

// consume fills batches from recs until ctx is done, submitting each
// full or BatchInterval-old one to p once sorted and derived. It returns
// the batch being filled (nil if it had none), whose records are not yet
// submitted.
func (in *Ingester) consume(ctx context.Context, recs <-chan record, p *pipeline) *batch {
	b := p.take(ctx)
	if b == nil {
		return nil
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var due <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return b
		case rec, ok := <-recs:
			if !ok {
				return b
			}
			b.add(&rec)
			if b.n == 1 {
				timer.Reset(in.cfg.BatchInterval)
				due = timer.C
			}
			if b.n < in.cfg.BatchRows && b.bytes < in.cfg.BatchBytes/2 {
				continue
			}
		case <-due:
		}
		timer.Stop()
		due = nil
		if !in.prepare(ctx, b) || !p.submit(ctx, b) {
			return b
		}
		if b = p.take(ctx); b == nil {
			return nil
		}
	}
}

// prepare sorts b by session and derives its search rows, retrying a
// failed rebuild of search state until it succeeds or ctx is done. The
// deriver skips events it has seen, so preparing a batch again after
// more records were added derives only those.
func (in *Ingester) prepare(ctx context.Context, b *batch) bool {
	b.events.sortBySession(&in.spare)
	in.spare.reset() // drop the references to the messages
	wait := in.backoffMin
	for {
		skipped := in.derive.skipped
		err := in.derive.derive(ctx, b)
		in.counters.searchSkipped.Add(in.derive.skipped - skipped)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		in.counters.insertErrors.Add(1)
		in.log.Warn("rebuilding search state failed; retrying", "rows", b.n, "retry_in", wait, "err", err)
		if !sleep(ctx, jitter(wait)) {
			return false
		}
		wait = min(2*wait, in.backoffMax)
	}
}

// fetch reads messages, decodes them and sends the records to out until
// ctx is done or the reader is closed.
func (in *Ingester) fetch(ctx context.Context, r *kafka.Reader, out chan<- record) {
	d := decoder{limits: newLimits(in.cfg.Classes, time.Now)}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			in.counters.fetchErrors.Add(1)
			in.log.Warn("kafka fetch failed; retrying", "retry_in", in.fetchBackoff, "err", err)
			if !sleep(ctx, in.fetchBackoff) {
				return
			}
			continue
		}
		in.counters.fetched.Add(1)
		in.counters.pending.Add(1)
		// The clock is read only for a reject's row: per message, it was
		// about 1.5% of ingest's CPU.
		rec := d.decode(m, time.Time{})
		if rec.rejected != nil {
			rec.rejected.at = time.Now()
		}
		if !in.budget.Load().acquire(ctx, rec.size) {
			return
		}
		select {
		case out <- rec:
		case <-ctx.Done():
			return
		}
	}
}

// kafkaLogger adapts kafka-go's printf-style logger to slog.
func kafkaLogger(log *slog.Logger, level slog.Level) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		log.Log(context.Background(), level, "kafka: "+fmt.Sprintf(msg, args...))
	})
}
