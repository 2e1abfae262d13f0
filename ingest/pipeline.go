package ingest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// errNotInserted: an earlier batch was given up (Run is stopping), so
// the store lacks rows that later batches may depend on.
var errNotInserted = errors.New("ingest: an earlier batch was not inserted")

// defaultInsertWorkers is how many batches are inserted at once. While
// they are in flight the Run goroutine fills, sorts and derives the next
// batch, so the Go side of one batch overlaps ClickHouse's work on the
// previous ones (BENCHMARKS.md, "Ingest pipeline overlap").
const defaultInsertWorkers = 2

// pipeline inserts ready batches on up to workers ClickHouse connections
// at once and commits their offsets strictly in the order the batches
// were submitted, each only after it and every earlier batch are
// acknowledged: a commit never passes an uninserted row, whichever insert
// finishes first. Batches come from a pool of workers+1 (one being
// filled, the others in flight), so the rows in memory are bounded by the
// pool and the bytes by the budget, which a batch releases only after its
// insert.
//
// The Run goroutine owns submit, take and settle; the workers and the
// committer are the pipeline's goroutines, and close waits for them.
type pipeline struct {
	in *Ingester
	r  *kafka.Reader

	ready chan *batch // to the workers
	order chan *batch // to the committer, in submission order
	free  chan *batch // batches to reuse; nil entries are allocated on take

	// ctx bounds the inserts; cancelled by stop (shutdown deadline).
	ctx       context.Context
	stop      context.CancelFunc
	workers   sync.WaitGroup
	committer sync.WaitGroup

	mu        sync.Mutex
	submitted uint64        // batches submitted (Run goroutine)
	acked     uint64        // batches acknowledged in order (committer)
	failed    bool          // a batch was not inserted: nothing after it is committed
	progress  chan struct{} // closed and replaced when acked or failed changes
}

// newPipeline starts workers insert workers and the committer.
func (in *Ingester) newPipeline(r *kafka.Reader, workers int) *pipeline {
	ctx, stop := context.WithCancel(context.Background())
	p := &pipeline{
		in: in, r: r,
		ready:    make(chan *batch),
		order:    make(chan *batch, workers+1),
		free:     make(chan *batch, workers+1),
		ctx:      ctx,
		stop:     stop,
		progress: make(chan struct{}),
	}
	for range workers + 1 {
		p.free <- nil
	}
	p.workers.Add(workers)
	for range workers {
		go p.work()
	}
	p.committer.Add(1)
	go p.commit()
	return p
}

// take returns an empty batch, waiting for an in-flight one to be
// committed if the pool is empty; nil when ctx ended first.
func (p *pipeline) take(ctx context.Context) *batch {
	select {
	case b := <-p.free:
		if b == nil {
			b = newBatch(p.in.cfg.BatchRows)
		}
		return b
	case <-ctx.Done():
		return nil
	}
}

// submit hands b, derived, to a free worker; false (b still the
// caller's) when ctx ended first.
func (p *pipeline) submit(ctx context.Context, b *batch) bool {
	b.done = make(chan struct{})
	b.err = nil
	select {
	case p.ready <- b:
	case <-ctx.Done():
		return false
	}
	p.mu.Lock()
	p.submitted++
	p.mu.Unlock()
	p.order <- b // never blocks: at most workers+1 batches exist
	return true
}

// settle waits until every submitted batch is acknowledged, so that a
// read of the store sees their rows. It fails when ctx ended first or an
// earlier batch was not inserted.
func (p *pipeline) settle(ctx context.Context) error {
	for {
		p.mu.Lock()
		acked, submitted, failed, progress := p.acked, p.submitted, p.failed, p.progress
		p.mu.Unlock()
		switch {
		case failed:
			return errNotInserted
		case acked == submitted:
			return nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close lets the batches in flight finish (or fail, once stop is
// called), commits what may be committed and waits for the workers and
// the committer. No submit may follow.
func (p *pipeline) close() {
	close(p.ready)
	p.workers.Wait()
	close(p.order)
	p.committer.Wait()
	p.stop()
}

// work inserts batches until ready is closed.
func (p *pipeline) work() {
	defer p.workers.Done()
	for b := range p.ready {
		b.err = p.in.insert(p.ctx, b)
		close(b.done)
	}
}

// commit commits the offsets of the batches in submission order as each
// one is acknowledged, and recycles them.
func (p *pipeline) commit() {
	defer p.committer.Done()
	for b := range p.order {
		<-b.done
		p.mu.Lock()
		ok := b.err == nil && !p.failed
		if ok {
			p.acked++
		} else {
			p.failed = true
		}
		close(p.progress)
		p.progress = make(chan struct{})
		p.mu.Unlock()
		if ok {
			p.commitOffsets(b)
		}
		p.recycle(b, ok)
	}
}

// recycle releases b's bytes and returns it to the pool. committed
// tells whether its messages are done with; if not, Kafka redelivers
// them to the next consumer and they stay pending until Run returns.
func (p *pipeline) recycle(b *batch, committed bool) {
	if committed {
		p.in.counters.pending.Add(-int64(b.n))
	}
	p.in.budget.Load().release(b.bytes)
	b.reset()
	p.free <- b
}

// commitOffsets commits the highest offset per partition of b, whose
// rows ClickHouse has acknowledged (and those of every earlier batch).
func (p *pipeline) commitOffsets(b *batch) {
	in := p.in
	msgs := make([]kafka.Message, 0, len(b.offsets))
	for p, off := range b.offsets {
		msgs = append(msgs, kafka.Message{Topic: in.cfg.Topic, Partition: p, Offset: off})
	}
	// The rows are acknowledged: commit even while Run stops, so that a
	// clean stop does not cause redelivery.
	cctx, cancel := context.WithTimeout(context.Background(), in.commitTimeout)
	err := p.r.CommitMessages(cctx, msgs...)
	cancel()
	if err != nil {
		// The rows are in ClickHouse; the messages will be delivered again
		// and deduplicated by readers.
		in.counters.commitErrors.Add(1)
		in.log.Warn("commit offsets failed; the batch will be redelivered", "messages", b.n, "err", err)
		return
	}
	in.counters.lastCommit.Store(time.Now().UnixNano())
}
