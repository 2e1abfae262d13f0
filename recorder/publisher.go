package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/transport"
)

// PublisherConfig configures Publish. Zero fields take the defaults of
// config.Kafka.
type PublisherConfig struct {
	// Brokers are host:port seed addresses. Required.
	Brokers []string
	// Topic carries all session events, keyed by session id.
	// Default: foureyes.events.
	Topic string
	// Partitions and ReplicationFactor are used when Publish creates the
	// topic. Defaults: 6 and 1.
	Partitions, ReplicationFactor int
	// RetentionHours is the created topic's retention.ms. Default: 72.
	RetentionHours int
	// BatchTimeout is accepted for old configurations (kafka.batch_timeout)
	// and ignored: the publisher hands kafka-go a whole spool read per
	// call and never waits for a batch to fill (see writerLinger); once
	// it has sent everything durable it waits publishLinger, a constant.
	BatchTimeout time.Duration
	// TLS and SASL secure the connections to the brokers (kafka.tls,
	// kafka.sasl). Default: off.
	TLS  config.TLS
	SASL config.SASL
	// Compression is "lz4" (default), "none", "snappy", "gzip" or "zstd".
	// lz4 measured about 2.4x the events/s of none against kfake (see
	// BenchmarkPublish): the JSON compresses well.
	Compression string

	// linger is publishLinger; tests set another.
	linger time.Duration
}

// Publisher limits. One WriteMessages call carries at most
// publishMaxRecords events and about publishMaxBytes of keys and values,
// so that every partition gets a single record batch per call (all or
// nothing) that fits Kafka's default message.max.bytes (1 MB).
const (
	publishMaxRecords = 4096
	publishMaxBytes   = 900 << 10
	backoffMin        = 100 * time.Millisecond
	backoffMax        = 5 * time.Second
	kafkaTimeout      = 10 * time.Second
)

// writerLinger is the kafka-go Writer's BatchTimeout. A synchronous
// WriteMessages call returns only when each partition's batch is written,
// and kafka-go writes a batch that is not full (publishMaxRecords events,
// which a spool read of 900 KiB of output rarely reaches) only when this
// timer fires. With the old 5 ms every call waited 5 ms: at most about
// 180 MB/s of output, and 5 ms added to every keystroke's way to Kafka.
// The publisher already batches (one spool read per call), so the Writer
// must not linger. The timer cannot split a call's batch: kafka-go adds a
// call's messages for one partition under the lock the timer takes.
const writerLinger = time.Nanosecond

// publishLinger is how long the publisher waits, after a send that left
// nothing durable unread, before it reads the spool again. Without it a
// typing user's events went out in one Kafka request per spool sync (20
// a second), each waking the broker (an fsync per request when it is
// foureyes broker) and ingest: on a bastion whose cores also run them,
// that cost keystroke echo 100-150 µs at p99 (BENCHMARKS.md, "Echo and
// the publisher's linger"). A backlog is sent back to back, so bulk
// output is not slowed, and the events are durable in the spool
// meanwhile; they reach Kafka at most this much later. A constant, not
// a setting: nobody can hold events back from auditors by configuration.
const publishLinger = 200 * time.Millisecond

// withDefaults returns pc with zero fields set.
func (pc PublisherConfig) withDefaults() PublisherConfig {
	if pc.Topic == "" {
		pc.Topic = "foureyes.events"
	}
	if pc.Partitions == 0 {
		pc.Partitions = 6
	}
	if pc.ReplicationFactor == 0 {
		pc.ReplicationFactor = 1
	}
	if pc.RetentionHours == 0 {
		pc.RetentionHours = 72
	}
	if pc.BatchTimeout == 0 {
		pc.BatchTimeout = 5 * time.Millisecond
	}
	if pc.linger == 0 {
		pc.linger = publishLinger
	}
	return pc
}

// compression returns the kafka-go codec for pc.Compression.
func (pc PublisherConfig) compression() (kafka.Compression, error) {
	switch strings.ToLower(pc.Compression) {
	case "none":
		return 0, nil
	case "", "lz4":
		return kafka.Lz4, nil
	case "snappy":
		return kafka.Snappy, nil
	case "gzip":
		return kafka.Gzip, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("%w: compression %q; use none, lz4, snappy, gzip or zstd", ErrConfig, pc.Compression)
}

// validate reports the first invalid field of a defaulted config.
func (pc PublisherConfig) validate() error {
	switch {
	case len(pc.Brokers) == 0:
		return fmt.Errorf("%w: no Kafka brokers; set kafka.brokers", ErrConfig)
	case pc.Partitions < 1:
		return fmt.Errorf("%w: partitions is %d; use at least 1", ErrConfig, pc.Partitions)
	case pc.ReplicationFactor < 1:
		return fmt.Errorf("%w: replication factor is %d; use at least 1", ErrConfig, pc.ReplicationFactor)
	case pc.RetentionHours < 1:
		return fmt.Errorf("%w: retention hours is %d; use at least 1", ErrConfig, pc.RetentionHours)
	case pc.BatchTimeout < 0:
		return fmt.Errorf("%w: batch timeout is %v; use a positive duration", ErrConfig, pc.BatchTimeout)
	}
	if _, err := pc.compression(); err != nil {
		return err
	}
	if _, err := transport.KafkaSecurity(pc.TLS, pc.SASL); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// transport returns the connections' Transport, secured as configured
// (validate has checked that it can be).
func (pc PublisherConfig) transport(metadataTTL time.Duration) *kafka.Transport {
	sec, _ := transport.KafkaSecurity(pc.TLS, pc.SASL)
	return sec.Transport("foureyes-recorder", 5*time.Second, metadataTTL)
}

// Publish sends the spool to Kafka until ctx is done or the Recorder is
// closed: it creates the topic if missing, then publishes durable events
// in spool order (key = session id, value = the event JSON, acks=all),
// advancing the ack watermark and deleting acknowledged segments. Kafka
// errors are retried forever with capped exponential backoff (100ms..5s),
// keeping per-session order; events stay in the spool meanwhile. Only one
// Publish may run at a time. It returns nil when ctx is done, ErrClosed
// when the Recorder was closed, and an error for an invalid config.
func (r *Recorder) Publish(ctx context.Context, pc PublisherConfig) error {
	pc = pc.withDefaults()
	if err := pc.validate(); err != nil {
		return err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.pubWG.Add(1)
	r.mu.Unlock()
	defer r.pubWG.Done()
	if !r.publishing.CompareAndSwap(false, true) {
		return ErrPublishing
	}
	defer r.publishing.Store(false)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(r.closeCtx, cancel) // Close stops publishing
	defer stop()

	p := newPublisher(r, pc)
	defer p.close()
	p.run(ctx)
	if r.closeCtx.Err() != nil {
		return ErrClosed
	}
	return nil
}

// publisher is the state of one Publish call.
type publisher struct {
	s   *spool
	log *slog.Logger
	pc  PublisherConfig
	tr  *kafka.Transport
	w   *kafka.Writer
}

// newPublisher returns a publisher with its own connections: acks=all,
// keys balanced with murmur2 as the Java client does, and no retries
// inside kafka-go (send retries, keeping order).
func newPublisher(r *Recorder, pc PublisherConfig) *publisher {
	comp, _ := pc.compression() // validated
	tr := pc.transport(10 * time.Second)
	return &publisher{
		s:   r.spool,
		log: r.log.With("topic", pc.Topic),
		pc:  pc,
		tr:  tr,
		w: &kafka.Writer{
			Addr:         kafka.TCP(pc.Brokers...),
			Topic:        pc.Topic,
			Balancer:     &kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll,
			BatchTimeout: writerLinger,
			BatchSize:    publishMaxRecords,
			BatchBytes:   64 << 20, // never split a call's partition batch; publishMaxBytes bounds it
			MaxAttempts:  1,
			WriteTimeout: kafkaTimeout,
			ReadTimeout:  kafkaTimeout,
			Compression:  comp,
			Transport:    tr,
		},
	}
}

// close releases the writer and the connections.
func (p *publisher) close() {
	if err := p.w.Close(); err != nil {
		p.log.Debug("closing kafka writer", "err", err)
	}
	p.tr.CloseIdleConnections()
}

// run publishes until ctx is done.
func (p *publisher) run(ctx context.Context) {
	bo := backoff{}
	for {
		err := ensureTopic(ctx, p.tr, p.pc, p.log)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		p.s.pubErrors.Add(1)
		d := bo.next()
		if errors.Is(err, transport.ErrRefused) {
			// A wrong password or CA: say so loudly, but keep trying, as
			// the operator may fix the brokers' side without a restart.
			p.log.Error("kafka refused the gateway; fix the setting named in err, events wait in the spool", "backoff", d, "err", err)
		} else {
			p.log.Warn("cannot create or check the kafka topic; retrying", "backoff", d, "err", err)
		}
		if !sleep(ctx, d) {
			return
		}
	}
	rd := p.s.newReader()
	defer rd.closeFile()
	var b batch
	msgs := make([]kafka.Message, 0, publishMaxRecords)
	bo = backoff{}
	for {
		// Reading and acking hold moveMu so that an expiry pass cannot
		// move the watermark under the reader (see expiry.go).
		p.s.moveMu.Lock()
		rd.restartIfExpired()
		gen := p.s.expGen
		err := rd.next(&b, publishMaxRecords, publishMaxBytes)
		if err == nil && len(b.recs) == 0 && b.moved {
			p.ack(&b)
		}
		p.s.moveMu.Unlock()
		if err != nil {
			p.s.pubErrors.Add(1)
			d := bo.next()
			p.log.Error("cannot read the spool; retrying", "backoff", d, "err", err)
			if !sleep(ctx, d) {
				return
			}
			continue
		}
		bo = backoff{}
		if len(b.recs) == 0 {
			select {
			case <-p.s.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		p.s.setOldest(b.first)
		msgs = msgs[:0]
		for _, rec := range b.recs {
			msgs = append(msgs, kafka.Message{Key: rec.session, Value: rec.value, Time: time.Unix(0, rec.time)})
		}
		if !p.send(ctx, msgs, &b, gen) {
			return
		}
		// Caught up: the next send waits out the linger, so that
		// interactive sessions make a few larger requests instead of one
		// per spool sync. A backlog is sent without pause.
		if rd.caughtUp() && !sleep(ctx, p.pc.linger) {
			return
		}
	}
}

// ack advances the watermark past b.
func (p *publisher) ack(b *batch) {
	if err := p.s.ackTo(b.seg, b.off, uint64(len(b.recs)), 0); err != nil {
		p.log.Warn("cannot store the ack watermark; a restart will resend more", "err", err)
	}
}

// send writes msgs, the events of b read under expiry generation gen,
// retrying the failed ones until all are acknowledged, then acks b. It
// gives b up (unacknowledged) when an expiry pass moved the watermark
// meanwhile: the expired events are not sent late, and the reader
// restarts at the new watermark. It reports false when ctx ended first.
func (p *publisher) send(ctx context.Context, msgs []kafka.Message, b *batch, gen uint64) bool {
	bo := backoff{}
	pending := msgs
	for attempt := 1; ; attempt++ {
		p.s.moveMu.Lock()
		if p.s.expGen != gen {
			p.s.moveMu.Unlock()
			p.log.Info("expired spool events were dropped while kafka was unreachable; resuming after them")
			return true
		}
		err := p.w.WriteMessages(ctx, pending...)
		if err == nil {
			p.ack(b)
		}
		p.s.moveMu.Unlock()
		if err == nil {
			if attempt > 1 {
				p.log.Info("kafka accepts events again", "attempts", attempt)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		p.s.pubErrors.Add(1)
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(pending) {
			// Each partition's messages went in one record batch, so
			// the failed ones are whole sessions' tails: resending just
			// them keeps every session in order.
			failed := make([]kafka.Message, 0, werrs.Count())
			for i, e := range werrs {
				if e != nil {
					failed = append(failed, pending[i])
				}
			}
			pending = failed
		}
		d := bo.next()
		p.log.Warn("publishing to kafka failed; retrying", "attempt", attempt, "events", len(pending), "backoff", d, "err", transport.ExplainKafka(firstError(err)))
		if !sleep(ctx, d) {
			return false
		}
	}
}

// firstError shortens kafka.WriteErrors (one entry per message) to its
// first error for logging.
func firstError(err error) error {
	var werrs kafka.WriteErrors
	if !errors.As(err, &werrs) {
		return err
	}
	for _, e := range werrs {
		if e != nil {
			return fmt.Errorf("%d of %d messages failed, first: %w", werrs.Count(), len(werrs), e)
		}
	}
	return err
}

// backoff is capped exponential backoff from backoffMin to backoffMax.
type backoff struct{ d time.Duration }

// next returns the next delay.
func (b *backoff) next() time.Duration {
	if b.d == 0 {
		b.d = backoffMin
	} else {
		b.d = min(2*b.d, backoffMax)
	}
	return b.d
}

// sleep waits d and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
