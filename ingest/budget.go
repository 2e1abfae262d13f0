package ingest

import (
	"context"
	"sync"
)

// budget bounds the bytes of decoded records held in memory between the
// fetch goroutine and an acknowledged insert: fetch acquires a record's
// size before handing it on, and the pipeline releases a batch's bytes once
// ClickHouse has them. One record larger than the whole budget is let
// through alone, so nothing can wedge the pipeline.
type budget struct {
	max int64

	mu   sync.Mutex
	used int64
	peak int64
	free chan struct{} // closed and replaced on every release
}

func newBudget(max int64) *budget {
	return &budget{max: max, free: make(chan struct{})}
}

// acquire waits until n more bytes fit (or nothing is held) and takes
// them. It reports false when ctx ended first.
func (b *budget) acquire(ctx context.Context, n int64) bool {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.max {
			b.used += n
			b.peak = max(b.peak, b.used)
			b.mu.Unlock()
			return true
		}
		free := b.free
		b.mu.Unlock()
		select {
		case <-free:
		case <-ctx.Done():
			return false
		}
	}
}

// release gives n bytes back.
func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.free)
	b.free = make(chan struct{})
	b.mu.Unlock()
}

// peakBytes returns the most bytes held at once.
func (b *budget) peakBytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}
