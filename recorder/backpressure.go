package recorder

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/foureyes/foureyes/event"
)

// Backpressure: when Kafka takes events more slowly than sessions produce
// them, the spool grows. Instead of failing at its size limit, a session
// whose backlog (its events not yet acknowledged by Kafka) fills its fair
// share of the spool is held back: the gateway's copy loop calls
// WaitOutput (or WaitInput) after each read, which blocks, so the gateway
// stops reading from the host, the SSH window closes and the host's
// writes stall. It resumes at the low-water mark. Keystrokes of a session
// held back on output, resizes, signals, approvals and session ends are
// never held back: only the bulk directions wait, each in its own copier.
//
// Limits, with C = SpoolMaxBytes and N open sessions:
//
//	share           = max(SessionShareMin, C/2 / N)
//	output waits    while its backlog >= share     or the spool's backlog >= C/2
//	input waits     while its backlog >= 1.5×share or the spool's backlog >= 5/8 C
//	both resume     when both are at most LowWaterPercent of those
//
// A session's backlog counts all of its events; the spool's counts every
// byte after the ack position. The rest of the spool (at least a quarter,
// less a segment of acknowledged bytes not yet deleted) stays for the
// events that never wait, so one fast session cannot make another's
// keystroke or session.end fail. Input gets more room than output so that
// Ctrl-C still reaches the host of a session held back on its output.
//
// A held-back session fails with ErrSpoolFull (its Done closes, the
// gateway applies the strict or best-effort policy) only when the spool
// is exhausted by an outage: Kafka acknowledged nothing for StallTimeout
// while there were events to send, or nothing publishes at all. Each
// period a session was held back is recorded when it ends as a
// session.throttle event (meta ms, spool_bytes, reason, direction) and
// counted in Stats.

// flow is a direction of a session's bytes that backpressure holds back.
type flow int

const (
	flowOutput flow = iota // host → participants (Output)
	flowInput              // participants → host (Input)
	numFlows
)

// String returns "output" or "input".
func (f flow) String() string {
	if f == flowInput {
		return "input"
	}
	return "output"
}

// Why a session is held back (session.throttle meta reason).
const (
	reasonShare = "session_share" // its own backlog filled its fair share
	reasonSpool = "spool_budget"  // the spool's backlog filled the budget of its flow
)

// How a throttle period ended (session.throttle meta ended).
const (
	holdDrained = "drained" // Kafka caught up
	holdStopped = "stopped" // the gateway stopped waiting: the session is being ended
)

// markBytes bounds the bytes one spoolMark covers: a session's backlog is
// overestimated by at most this much until the ack passes the mark.
const markBytes = 64 << 10

// spoolMark says that a session's first cum spooled bytes end at or before
// spool position end.
type spoolMark struct{ end, cum int64 }

// backlog is a session's part of the spool: what it appended and how much
// of it Kafka acknowledged. Fields other than over are guarded by
// spool.mu.
type backlog struct {
	spooled int64       // bytes of the session's frames appended by this process
	acked   int64       // of them, those before the ack position
	marks   []spoolMark // oldest first
	// over has bit 1<<flow set when the flow was over its high water at
	// the session's last append: the lock-free fast path of Wait.
	over atomic.Uint32
}

// add counts a frame of n bytes ending at spool position end.
func (b *backlog) add(n, end int64) {
	b.spooled += n
	if k := len(b.marks); k > 0 {
		prev := b.acked
		if k > 1 {
			prev = b.marks[k-2].cum
		}
		if b.spooled-prev <= markBytes {
			b.marks[k-1] = spoolMark{end: end, cum: b.spooled}
			return
		}
	}
	b.marks = append(b.marks, spoolMark{end: end, cum: b.spooled})
}

// used returns the session's bytes after ack position ackPos.
func (b *backlog) used(ackPos int64) int64 {
	i := 0
	for i < len(b.marks) && b.marks[i].end <= ackPos {
		b.acked = b.marks[i].cum
		i++
	}
	if i > 0 {
		b.marks = b.marks[i:]
		if len(b.marks) == 0 {
			b.marks = nil // release the array of a drained session
		}
	}
	return b.spooled - b.acked
}

// flowLimits are a flow's high-water marks in bytes.
type flowLimits struct{ session, total int64 }

// limitsLocked returns the high-water marks of flow f.
func (s *spool) limitsLocked(f flow) flowLimits {
	budget := s.maxBytes / 2
	share := max(s.shareMin, budget/int64(max(1, len(s.open))))
	if f == flowInput {
		return flowLimits{session: share + share/2, total: s.maxBytes / 8 * 5}
	}
	return flowLimits{session: share, total: budget}
}

// backlogLocked returns the bytes after the ack position.
func (s *spool) backlogLocked() int64 {
	if s.ackSeg == nil || s.acked >= s.appended {
		return 0 // a checkpoint alone is nothing to wait for
	}
	return s.pos - (s.ackSeg.base + s.ackOff)
}

// overLocked reports whether flow f of st is at or over its high water
// (resume false), or still over its low water (resume true); with the
// session's backlog and which limit holds it.
func (s *spool) overLocked(st *sessionState, f flow, resume bool) (over bool, used int64, reason string) {
	if s.ackSeg != nil {
		used = st.bp.used(s.ackSeg.base + s.ackOff)
	}
	if s.acked >= s.appended {
		return false, used, "" // everything is acknowledged
	}
	lim := s.limitsLocked(f)
	total := s.backlogLocked()
	if resume {
		lim.session = lim.session * s.lowPct / 100
		lim.total = lim.total * s.lowPct / 100
		switch {
		case used > lim.session:
			return true, used, reasonShare
		case total > lim.total:
			return true, used, reasonSpool
		}
		return false, used, ""
	}
	switch {
	case used >= lim.session:
		return true, used, reasonShare
	case total >= lim.total:
		return true, used, reasonSpool
	}
	return false, used, ""
}

// noteOverLocked refreshes st's fast-path hint after an append.
func (s *spool) noteOverLocked(st *sessionState) {
	var bits uint32
	for f := flowOutput; f < numFlows; f++ {
		if over, _, _ := s.overLocked(st, f, false); over {
			bits |= 1 << f
		}
	}
	if st.bp.over.Load() != bits {
		st.bp.over.Store(bits)
	}
}

// stalledLocked reports whether the backlog is not draining: nothing
// publishes, or Kafka acknowledged nothing for the stall timeout. When it
// is not, left is how long until it would be.
func (s *spool) stalledLocked(publishing bool) (stalled bool, left time.Duration) {
	if !publishing {
		return true, 0
	}
	left = s.stall - s.now().Sub(s.progressAt)
	return left <= 0, left
}

// WaitOutput blocks while the session's output is held back because its
// recording fell behind (see the backpressure notes in backpressure.go):
// call it after recording and forwarding each read from the host, so that
// the host is not read while the spool drains. It returns at once when
// the session is within its share, and otherwise when the spool drained
// below the low-water mark, stop is closed (the session is being ended),
// or the recording ended or failed. If Kafka acknowledges nothing for
// Config.StallTimeout meanwhile, the session's recording fails with
// ErrSpoolFull (Done closes). The period is recorded as session.throttle
// when it ends.
func (s *Session) WaitOutput(stop <-chan struct{}) { s.wait(flowOutput, stop) }

// WaitInput is WaitOutput for the bytes participants send to the host:
// bulk input (an upload through the terminal) is held back at one and a
// half times the session's share, so that keystrokes of a session whose
// output is held back still reach the host.
func (s *Session) WaitInput(stop <-chan struct{}) { s.wait(flowInput, stop) }

// hold is a throttle period of one flow of a session.
type hold struct {
	waiters int       // callers of wait in it
	since   time.Time // when it began
	used    int64     // the session's backlog then
	reason  string
}

// wait holds the caller back while flow f is over its limits.
func (s *Session) wait(f flow, stop <-chan struct{}) {
	if s.st.bp.over.Load()&(1<<f) == 0 {
		return
	}
	sp := s.r.spool
	sp.mu.Lock()
	over, used, reason := sp.overLocked(s.st, f, false)
	sp.mu.Unlock()
	if !over {
		return
	}
	select {
	case <-stop:
		return
	case <-s.ctx.Done():
		return
	default:
	}
	s.beginHold(f, used, reason)
	s.endHold(f, s.hold(f, stop))
}

// hold waits for flow f to drain below its low water. It returns
// holdDrained, holdStopped, or "" when the recording ended or failed.
func (s *Session) hold(f flow, stop <-chan struct{}) string {
	sp := s.r.spool
	wake := make(chan struct{}, 1)
	var t timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		sp.mu.Lock()
		if sp.stopped || sp.closed || sp.err != nil {
			sp.mu.Unlock()
			return ""
		}
		over, _, _ := sp.overLocked(s.st, f, true)
		if !over {
			sp.mu.Unlock()
			return holdDrained
		}
		stalled, left := sp.stalledLocked(s.r.publishing.Load())
		used, limit, acked := sp.bytes, sp.maxBytes, s.r.clock.Now().Sub(sp.progressAt)
		ch := sp.ackedCh
		sp.mu.Unlock()
		if stalled {
			why := "nothing publishes to Kafka"
			if s.r.publishing.Load() {
				why = "Kafka acknowledged nothing for " + acked.Round(time.Second).String()
			}
			s.failHeld(fmt.Errorf("%w: %d of %d bytes used, %s", ErrSpoolFull, used, limit, why))
			return ""
		}
		if t == nil {
			t = s.r.clock.AfterFunc(left, func() {
				select {
				case wake <- struct{}{}:
				default:
				}
			})
		} else {
			t.Reset(left)
		}
		select {
		case <-ch:
		case <-wake:
		case <-stop:
			return holdStopped
		case <-s.ctx.Done():
			return ""
		}
	}
}

// failHeld ends the recording of a session held back through an outage:
// its pending output (already forwarded) is recorded first if it fits.
func (s *Session) failHeld(err error) {
	s.mu.Lock()
	if s.usableLocked() {
		s.flushOutputLocked()
	}
	s.mu.Unlock()
	s.r.log.Error("recording stalled: kafka takes nothing and the session's share of the spool is full", "session", s.id, "err", err)
	s.fail(err)
}

// beginHold joins (or starts) the throttle period of flow f.
func (s *Session) beginHold(f flow, used int64, reason string) {
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	h := &s.holds[f]
	if h.waiters == 0 {
		*h = hold{since: s.r.clock.Now(), used: used, reason: reason}
		if s.holding == 0 {
			s.r.throttled.Add(1)
		}
		s.holding++
		s.r.log.Debug("recording fell behind; holding the session back", "session", s.id, "direction", f.String(), "reason", reason, "spool_bytes", used)
	}
	h.waiters++
}

// endHold leaves the throttle period of flow f; the last caller to leave
// records it (ended is holdDrained or holdStopped; "" when the recording
// ended or failed, and nothing can be recorded).
func (s *Session) endHold(f flow, ended string) {
	s.holdMu.Lock()
	h := &s.holds[f]
	h.waiters--
	if h.waiters > 0 {
		s.holdMu.Unlock()
		return
	}
	p := *h
	s.holding--
	if s.holding == 0 {
		s.r.throttled.Add(-1)
	}
	s.holdMu.Unlock()
	d := max(0, s.r.clock.Now().Sub(p.since))
	s.r.throttles.Add(1)
	s.r.throttledNS.Add(int64(d))
	if ended == "" {
		return
	}
	meta := map[string]string{
		"ms":          strconv.FormatInt(d.Milliseconds(), 10),
		"spool_bytes": strconv.FormatInt(p.used, 10),
		"reason":      p.reason,
		"direction":   f.String(),
		"ended":       ended,
	}
	if err := s.Record(event.SessionThrottle, "", nil, meta); err != nil {
		s.r.log.Debug("could not record a throttle period", "session", s.id, "err", err)
	}
}
