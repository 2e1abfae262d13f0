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

	// Set by detect on the Run goroutine before the first insert.
	detected       bool
	insertSettings clickhouse.Settings

	// derive fills the search rows; a new one for each Run (derive.go).
	derive *deriver

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
	}
	in.derive = in.newDeriver()
	return in
}

// newDeriver returns an empty search state that rebuilds from the store.
func (in *Ingester) newDeriver() *deriver {
	d := newDeriver(in.cfg.SearchSessions)
	d.rebuild = in.rebuildFromStore
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

	// The decoder prepares the next batch while the current one is being
	// inserted; the budget bounds the bytes of both together.
	recs := make(chan record, min(in.cfg.BatchRows, 100000))
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

	// A fresh search state: what a previous Run saw but did not commit
	// is delivered again.
	in.derive = in.newDeriver()
	in.log.Info("ingest started", "brokers", in.cfg.Brokers, "batch_rows", in.cfg.BatchRows, "batch_bytes", in.cfg.BatchBytes, "batch_interval", in.cfg.BatchInterval)
	b := newBatch(in.cfg.BatchRows)
	in.consume(ctx, r, recs, b)

	// Shutdown: stop fetching, keep what was fetched, insert it once more
	// with a bounded deadline.
	stopFetch()
	for rec := range recs {
		b.add(&rec)
	}
	if b.n > 0 {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.shutdownTimeout)
		defer cancel()
		if err := in.flush(sctx, r, b); err != nil {
			in.log.Warn("stopping with uninserted messages; Kafka redelivers them", "messages", b.n, "err", err)
		}
	}
	in.counters.pending.Store(0) // what is left is Kafka's to redeliver
	in.log.Info("ingest stopped")
	return nil
}

// consume batches records until ctx is done, inserting and committing each
// full or BatchInterval-old batch. On return, b holds the records not yet
// committed.
func (in *Ingester) consume(ctx context.Context, r *kafka.Reader, recs <-chan record, b *batch) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var due <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case rec, ok := <-recs:
			if !ok {
				return
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
		if err := in.flush(ctx, r, b); err != nil {
			return
		}
	}
}

// flush inserts b (retrying until acknowledged or ctx is done), commits
// the highest offset per partition and empties b. The only error is ctx's.
func (in *Ingester) flush(ctx context.Context, r *kafka.Reader, b *batch) error {
	if err := in.insert(ctx, b); err != nil {
		return err
	}
	msgs := make([]kafka.Message, 0, len(b.offsets))
	for p, off := range b.offsets {
		msgs = append(msgs, kafka.Message{Topic: in.cfg.Topic, Partition: p, Offset: off})
	}
	// The rows are acknowledged: commit even if ctx ends meanwhile, so a
	// clean stop does not cause redelivery.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.commitTimeout)
	err := r.CommitMessages(cctx, msgs...)
	cancel()
	if err != nil {
		// The rows are in ClickHouse; the messages will be delivered again
		// and deduplicated by readers.
		in.counters.commitErrors.Add(1)
		in.log.Warn("commit offsets failed; the batch will be redelivered", "messages", b.n, "err", err)
	} else {
		in.counters.lastCommit.Store(time.Now().UnixNano())
	}
	in.counters.pending.Add(-int64(b.n))
	in.budget.Load().release(b.bytes)
	b.reset()
	return nil
}

// fetch reads messages, decodes them and sends the records to out until
// ctx is done or the reader is closed.
func (in *Ingester) fetch(ctx context.Context, r *kafka.Reader, out chan<- record) {
	var d decoder
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
		rec := d.decode(m, time.Now())
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
