package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/foureyes/foureyes/event"
)

// Recorder turns sessions into events, keeps them in a durable spool and
// publishes the spool to Kafka. One Recorder owns one spool directory.
type Recorder struct {
	cfg   Config
	log   *slog.Logger
	clock clock
	spool *spool

	mu       sync.Mutex
	sessions map[string]*Session // live sessions by id
	closed   bool

	closeCtx   context.Context // cancelled by Close: stops Publish
	closeStop  context.CancelFunc
	pubWG      sync.WaitGroup
	publishing atomic.Bool
	closeOnce  sync.Once
	closeErr   error

	exp expiry // spool expiry schedule and reports (expiry.go)

	// Backpressure counters (backpressure.go).
	throttled   atomic.Int64 // sessions held back now
	throttles   atomic.Int64 // throttle periods ended
	throttledNS atomic.Int64 // their total length

	seal     *sealer // nil without Config.Signer (seal.go)
	noteMu   sync.Mutex
	observer StreamObserver
	notes    []streamNote // kept until an observer is set
}

// options are test hooks.
type options struct {
	clock        clock
	segmentBytes int64
}

// New opens the spool in cfg.SpoolDir (creating it), recovers it and
// starts the syncer. Recovery truncates torn segment tails, queues every
// unacknowledged event for Publish again, and writes a session.end marked
// interrupted for every session that has no end in the spool (the
// previous process stopped without ending it). New returns once those
// ends are durable. It then drops events Kafka did not take within their
// retention class (see OnExpire), and repeats that every minute.
func New(cfg Config) (*Recorder, error) { return newRecorder(cfg, options{}) }

func newRecorder(cfg Config, o options) (*Recorder, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if o.clock == nil {
		o.clock = wallClock{}
	}
	if o.segmentBytes == 0 {
		o.segmentBytes = defaultSegmentBytes
	}
	// Only whole segments are deleted, so a segment must be small next to
	// the limit or acknowledged events could not free enough space.
	o.segmentBytes = min(o.segmentBytes, max(cfg.SpoolMaxBytes/8, minSegmentBytes))
	log := cfg.Logger.With("component", "recorder")
	sp, err := openSpool(cfg.SpoolDir, cfg.SpoolMaxBytes, o.segmentBytes, cfg.SyncInterval, log, o.clock.Now)
	if err != nil {
		return nil, err
	}
	sp.shareMin, sp.lowPct, sp.stall = cfg.SessionShareMin, int64(cfg.LowWaterPercent), cfg.StallTimeout
	r := &Recorder{
		cfg: cfg, log: log, clock: o.clock, spool: sp,
		sessions: make(map[string]*Session),
		seal:     newSealer(cfg),
	}
	r.closeCtx, r.closeStop = context.WithCancel(context.Background())
	sp.start()
	err = r.endInterrupted()
	if err == nil {
		err = sp.sync()
	}
	if err != nil {
		sp.close(false)
		return nil, err
	}
	sp.dropAcked()
	r.expire()
	r.startExpiry()
	r.startSealer()
	return r, nil
}

// endInterrupted writes a session.end for every session recovery found
// open, continuing its hash chain.
func (r *Recorder) endInterrupted() error {
	r.spool.mu.Lock()
	open := make([]*sessionState, 0, len(r.spool.open))
	for _, st := range r.spool.open {
		open = append(open, st)
	}
	r.spool.mu.Unlock()
	sort.Slice(open, func(i, j int) bool { return open[i].ID < open[j].ID })
	var enc encoder
	for _, st := range open {
		ev := event.Event{
			V: event.Version, Session: st.ID, Type: event.SessionEnd,
			Time:    max(r.clock.Now().UnixNano(), st.LastTime),
			Gateway: st.Gateway, Class: st.Class, Retention: st.Retention,
			Meta: endMeta(st.Fields, st.StartedNS, st.LastTime, -1, st.BytesIn, st.BytesOut, map[string]string{
				"interrupted":      "true",
				"interrupt_reason": "the gateway stopped without ending the session",
				"last_durable_seq": strconv.FormatUint(st.NextSeq-1, 10),
			}),
		}
		last := st.NextSeq - 1
		chain := event.Resume(last, st.LastHash)
		r.signEnd(&ev, &chain)
		fr, err := enc.seal(&chain, &ev)
		if err != nil {
			return err
		}
		if _, err := r.spool.append(fr, st, &ev, true); err != nil {
			return err
		}
		r.log.Warn("recorded the end of an interrupted session", "session", st.ID, "last_durable_seq", last)
		r.noteEnded(st.ID, st.Fields["kind"], ev.Seq, ev.Hash)
	}
	return nil
}

// forget removes a session from the live set.
func (r *Recorder) forget(s *Session) {
	r.mu.Lock()
	if r.sessions[s.id] == s {
		delete(r.sessions, s.id)
	}
	r.mu.Unlock()
}

// Drain waits until every event recorded before the call has been
// acknowledged by Kafka (a running Publish does the work), or ctx is done.
// Use it for a graceful shutdown: end sessions, Drain with a deadline,
// then cancel Publish and Close.
func (r *Recorder) Drain(ctx context.Context) error { return r.spool.waitAcked(ctx) }

// Close stops Publish, writes a session.end marked interrupted for every
// session not yet ended, makes everything durable and releases the spool.
// It is idempotent; later calls return the first result.
func (r *Recorder) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.shutdown(false) })
	return r.closeErr
}

// halt stops the recorder as a crash would: no session ends, no final
// sync. Tests use it.
func (r *Recorder) halt() {
	r.closeOnce.Do(func() { r.closeErr = r.shutdown(true) })
}

func (r *Recorder) shutdown(halt bool) error {
	r.mu.Lock()
	r.closed = true
	live := make([]*Session, 0, len(r.sessions))
	for _, s := range r.sessions {
		live = append(live, s)
	}
	r.mu.Unlock()
	r.closeStop()
	r.pubWG.Wait()
	r.stopExpiry()
	r.stopSealer()
	sort.Slice(live, func(i, j int) bool { return live[i].id < live[j].id })
	for _, s := range live {
		if halt {
			s.mu.Lock()
			s.ended = true
			s.stopTimerLocked()
			s.mu.Unlock()
			s.cancel(ErrClosed)
			continue
		}
		s.interrupt("the recorder was closed before the session ended")
	}
	err := r.spool.close(halt)
	if err != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("recorder: close: %w", err)
	}
	return nil
}

// Err reports why the spool can no longer record (a write or fsync
// error), or nil while it is healthy. Health checks use it.
func (r *Recorder) Err() error {
	r.spool.mu.Lock()
	defer r.spool.mu.Unlock()
	return r.spool.err
}
