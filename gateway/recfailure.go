package gateway

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
)

// States of a recording.failed report.
const (
	lossContinuing = "continuing" // a best-effort session runs on unrecorded
	lossEnded      = "ended"      // the session is over; the counts are final
)

// lossCounts are the byte counts of a session whose recording failed.
type lossCounts struct {
	inLost, outLost int64 // passed to or from the host after the failure
	inFwd, outFwd   int64 // passed in the whole session
}

// recordingLoss is what one session lost when its recording failed; the
// lossReporter turns it into recording.failed events in the gateway
// stream (one while a best-effort session continues, one when it ended).
type recordingLoss struct {
	// Immutable.
	session, host, user, command, policy, reason string
	lostFrom                                     uint64
	counts                                       func() lossCounts

	mu       sync.Mutex // guards the fields below
	ended    bool
	final    lossCounts // set by end
	reported string     // the last state written, "" for none
	warned   bool       // a failed attempt to record it was logged
}

// end marks the session over with its final counts.
func (l *recordingLoss) end() {
	c := l.counts()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ended, l.final = true, c
}

// report returns the meta of the next recording.failed event and its
// state, or ok false when everything was reported.
func (l *recordingLoss) report() (meta map[string]string, state string, ok bool) {
	l.mu.Lock()
	ended, c := l.ended, l.final
	reported := l.reported
	l.mu.Unlock()
	state = lossContinuing
	if ended {
		state = lossEnded
	} else {
		c = l.counts()
	}
	if state == reported {
		return nil, "", false
	}
	meta = map[string]string{
		"session": l.session, "host": l.host, "user": l.user, "policy": l.policy, "reason": l.reason,
		"lost_from_seq": strconv.FormatUint(l.lostFrom, 10), "state": state,
		"bytes_in_lost": strconv.FormatInt(c.inLost, 10), "bytes_out_lost": strconv.FormatInt(c.outLost, 10),
		"bytes_in_forwarded": strconv.FormatInt(c.inFwd, 10), "bytes_out_forwarded": strconv.FormatInt(c.outFwd, 10),
	}
	if l.command != "" {
		meta["command"] = l.command
	}
	return meta, state, true
}

// settle notes that state was recorded.
func (l *recordingLoss) settle(state string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reported = state
}

// upToDate reports whether the latest state was recorded.
func (l *recordingLoss) upToDate() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reported == lossEnded || (!l.ended && l.reported == lossContinuing)
}

// lossReporter writes recording.failed events into the gateway stream as
// soon as it can record: at once when it can, otherwise retried every
// retry interval until the spool has room again. It also reopens a
// failed gateway stream that way. It runs on one
// goroutine owned by the Server, started by New and stopped by Shutdown
// or Close after the sessions ended; what it could not record by then is
// logged at error level.
type lossReporter struct {
	gw    *gatewayStream
	log   *slog.Logger
	retry time.Duration

	kick     chan struct{} // one slot: something new to report
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex // guards the fields below
	pending []*recordingLoss
	stopped bool
}

// lossRetry is how often the reporter retries while the gateway stream
// cannot record.
const lossRetry = time.Second

// newLossReporter returns a reporter; run starts it.
func newLossReporter(gw *gatewayStream, log *slog.Logger) *lossReporter {
	return &lossReporter{gw: gw, log: log, retry: lossRetry,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// poke makes the reporter look at the gateway stream: an event could not
// be recorded, the stream must be reopened once the spool has room.
func (r *lossReporter) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// add queues l, new or changed, for reporting.
func (r *lossReporter) add(l *recordingLoss) {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		meta, _, ok := l.report()
		if ok {
			r.log.Error("recording failure NOT recorded: the gateway is stopping", "meta", meta)
		}
		return
	}
	found := false
	for _, p := range r.pending {
		found = found || p == l
	}
	if !found {
		r.pending = append(r.pending, l)
	}
	r.mu.Unlock()
	r.poke()
}

// run reports until close.
func (r *lossReporter) run() {
	defer close(r.done)
	retry := time.NewTimer(r.retry)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-r.kick:
		case <-retry.C:
		case <-r.stop:
			r.flush()
			r.mu.Lock()
			r.stopped = true
			left := r.pending
			r.pending = nil
			r.mu.Unlock()
			for _, l := range left {
				if meta, _, ok := l.report(); ok {
					r.log.Error("recording failure NOT recorded: the gateway stream could not record it", "meta", meta)
				}
			}
			return
		}
		if !r.flush() {
			retry.Reset(r.retry)
		}
	}
}

// flush writes every pending report in order, stopping at the first the
// gateway stream refuses. It reports whether nothing is left.
func (r *lossReporter) flush() bool {
	r.mu.Lock()
	list := append([]*recordingLoss(nil), r.pending...)
	r.mu.Unlock()
	if err := r.gw.reopen(); err != nil {
		return false
	}
	for _, l := range list {
		meta, state, ok := l.report()
		if ok {
			if err := r.gw.record(event.RecordingFailed, "", meta); err != nil {
				l.mu.Lock()
				warned := l.warned
				l.warned = true
				l.mu.Unlock()
				if !warned {
					r.log.Error("recording failure not recorded yet; retrying until the gateway stream can record", "session", l.session, "err", err)
				}
				return false
			}
			r.log.Info("recording failure recorded", "meta", meta)
			l.settle(state)
		}
		// Under r.mu: an end after this check re-adds l (add waits).
		r.mu.Lock()
		if l.upToDate() {
			for i, p := range r.pending {
				if p == l {
					r.pending = append(r.pending[:i], r.pending[i+1:]...)
					break
				}
			}
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending) == 0
}

// close stops the reporter after a last attempt; it is idempotent.
func (r *lossReporter) close() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}

// policyOf returns the recording failure policy of host.
func (s *Server) policyOf(h *config.Host) string { return s.cfg().RecordingOnFailure(h) }
