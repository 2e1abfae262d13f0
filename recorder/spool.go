package recorder

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foureyes/foureyes/event"
)

// Write buffering. Appended bytes wait in blocks of blockBytes for the
// syncer; it is kicked early once kickBytes are waiting, and appends wait
// for it only when more than maxPendingBytes are (the disk is far behind).
const (
	blockBytes      = 1 << 20
	kickBytes       = 1 << 20
	maxPendingBytes = 32 << 20
	maxFreeBlocks   = 40
)

// spool is the durable, append-only event log between sessions and Kafka.
//
// Sessions append frames into memory under mu (no I/O on their path). The
// syncer goroutine, owned by the spool, swaps the pending bytes out, writes
// them to the segment files and fsyncs them (group commit), then advances
// durable. The publisher reads only durable bytes and calls ackTo after
// Kafka acknowledged them, which deletes fully acknowledged segments and
// stores the watermark.
//
// Positions are counted in event frames: appended, durable and acked are
// frame counts since the spool was opened (unacked frames found by
// recovery included), so "frame n is durable" is durable > n.
type spool struct {
	dir      string
	maxBytes int64
	segMax   int64
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time

	lock *os.File
	ack  *ackFile

	mu           sync.Mutex
	segs         []*segment // oldest first; the last one takes appends
	pending      []pendingWrite
	pendingBytes int64
	free         [][]byte  // write buffers to reuse
	bytes        int64     // sum of segment sizes
	pos          int64     // bytes appended since open (recovered segments included): the spool position of the end
	progressAt   time.Time // last ack, or when the spool stopped being empty (backpressure.go)
	appended     uint64
	durable      uint64
	acked        uint64
	ackSeg       *segment // position of the first unacknowledged frame
	ackOff       int64
	oldest       int64 // time of the oldest unacknowledged event (0: none known)
	open         map[string]*sessionState
	err          error // sticky write/fsync failure
	closed       bool  // no more appends
	stopped      bool  // syncer exited
	syncedCh     chan struct{}
	ackedCh      chan struct{}

	kick chan struct{} // wakes the syncer early
	wake chan struct{} // tells the publisher durable advanced
	stop chan struct{}
	halt bool // tests: exit the syncer without a final sync (a crash)
	done chan struct{}

	published atomic.Int64
	pubErrors atomic.Int64

	// moveMu is held by whoever moves the watermark from the reading
	// side: the publisher (while it reads, writes to Kafka and acks) and
	// the expiry pass (expiry.go). Taken before mu.
	moveMu sync.Mutex
	// expGen counts watermark moves made by expiry; a reader positioned
	// under an older value must restart at the ack position. Guarded by
	// moveMu.
	expGen       uint64
	expired      atomic.Int64 // events dropped by expiry
	expiredBytes atomic.Int64

	// Backpressure settings (backpressure.go), set before start.
	shareMin int64
	lowPct   int64
	stall    time.Duration
}

// pendingWrite is a block of bytes appended to seg but not yet written.
type pendingWrite struct {
	seg *segment
	buf []byte
	end int64 // seg offset after buf; 0 for blocks filled before the last one
}

// start runs the syncer.
func (s *spool) start() { go s.run() }

// append adds one event frame for the session with state st. With
// reserve the size limit does not apply (session.end records, so that a
// session refused for space can still be closed). It returns the frame's
// number for waitDurable.
func (s *spool) append(fr []byte, st *sessionState, ev *event.Event, reserve bool) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.pendingBytes > maxPendingBytes && s.err == nil && !s.closed {
		ch := s.syncedCh
		s.kickSync()
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
	if s.err != nil {
		return 0, s.err
	}
	if s.closed {
		return 0, ErrClosed
	}
	n := int64(len(fr))
	if !reserve && s.bytes+n > s.maxBytes {
		return 0, fmt.Errorf("%w: %d of %d bytes used", ErrSpoolFull, s.bytes, s.maxBytes)
	}
	if ev.Type == event.SessionStart {
		if _, dup := s.open[ev.Session]; dup {
			return 0, fmt.Errorf("%w: %s", ErrDuplicateSession, ev.Session)
		}
	}
	cur := s.segs[len(s.segs)-1]
	if cur.events > 0 && cur.size+n > s.segMax {
		var err error
		if cur, err = s.rotateLocked(); err != nil {
			return 0, err
		}
	}
	s.writeLocked(cur, fr)
	cur.events++
	if ev.Retention > 0 {
		cur.expiresAt = min(cur.expiresAt, ev.Time+int64(ev.Retention)*day)
	}
	switch ev.Type {
	case event.SessionStart:
		s.open[ev.Session] = st
	case event.SessionEnd:
		delete(s.open, ev.Session)
	}
	st.apply(ev)
	if s.appended == s.acked {
		s.oldest = ev.Time
		s.progressAt = s.now()
	}
	rec := s.appended
	s.appended++
	st.bp.add(n, s.pos)
	s.noteOverLocked(st)
	if s.pendingBytes >= kickBytes {
		s.kickSync()
	}
	return rec, nil
}

// writeLocked queues b for writing at the end of seg.
func (s *spool) writeLocked(seg *segment, b []byte) {
	s.pos += int64(len(b))
	seg.size += int64(len(b))
	s.bytes += int64(len(b))
	s.pendingBytes += int64(len(b))
	for len(b) > 0 {
		n := len(s.pending)
		if n == 0 || s.pending[n-1].seg != seg || len(s.pending[n-1].buf) == cap(s.pending[n-1].buf) {
			var buf []byte
			if k := len(s.free); k > 0 {
				buf, s.free = s.free[k-1][:0], s.free[:k-1]
			} else {
				buf = make([]byte, 0, blockBytes)
			}
			s.pending = append(s.pending, pendingWrite{seg: seg, buf: buf})
			n++
		}
		w := &s.pending[n-1]
		k := min(len(b), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, b[:k]...)
		b = b[k:]
	}
	s.pending[len(s.pending)-1].end = seg.size
}

// rotateLocked seals the current segment and starts the next one with a
// header and a checkpoint of the open sessions.
func (s *spool) rotateLocked() (*segment, error) {
	cur := s.segs[len(s.segs)-1]
	cur.sealed = true
	seg := &segment{no: cur.no + 1, path: segPath(s.dir, cur.no+1), base: s.pos, expiresAt: noExpiry, expKnown: true}
	s.segs = append(s.segs, seg)
	s.writeLocked(seg, appendCheckpoint(appendSegHeader(nil, seg.no), s.open))
	return seg, nil
}

// kickSync wakes the syncer without waiting.
func (s *spool) kickSync() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// run is the syncer goroutine: it writes and fsyncs at least every
// interval, and when kicked. It exits after a final sync when stop is
// closed.
func (s *spool) run() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	var files []*segment // segments whose write handle is open
	defer func() {
		for _, seg := range files {
			if seg.f != nil {
				if err := seg.f.Close(); err != nil {
					s.log.Warn("closing spool segment", "segment", seg.path, "err", err)
				}
				seg.f = nil
			}
		}
	}()
	for {
		select {
		case <-s.stop:
			if !s.halt {
				files = s.syncOnce(files)
			}
			return
		case <-t.C:
		case <-s.kick:
		}
		files = s.syncOnce(files)
	}
}

// syncOnce writes and fsyncs everything appended so far, then advances
// durable. It returns the updated list of open segment files.
func (s *spool) syncOnce(files []*segment) []*segment {
	s.mu.Lock()
	if s.err != nil || len(s.pending) == 0 {
		s.mu.Unlock()
		return files
	}
	writes := s.pending
	s.pending = nil
	s.pendingBytes = 0
	target := s.appended
	s.mu.Unlock()

	created := false
	for i := range writes {
		w := &writes[i]
		if w.seg.f == nil {
			f, err := os.OpenFile(w.seg.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				s.fail(fmt.Errorf("recorder: spool: create segment: %w", err))
				return files
			}
			w.seg.f = f
			files = append(files, w.seg)
			created = true
		}
		if _, err := w.seg.f.Write(w.buf); err != nil {
			s.fail(fmt.Errorf("recorder: spool: write %s: %w", w.seg.path, err))
			return files
		}
	}
	for i := range writes {
		if i > 0 && writes[i].seg == writes[i-1].seg {
			continue
		}
		if err := writes[i].seg.f.Sync(); err != nil {
			s.fail(fmt.Errorf("recorder: spool: fsync %s: %w", writes[i].seg.path, err))
			return files
		}
	}
	if created {
		if err := syncDir(s.dir); err != nil {
			s.fail(fmt.Errorf("recorder: spool: fsync directory: %w", err))
			return files
		}
	}

	var toClose []*os.File
	s.mu.Lock()
	for i := range writes {
		if writes[i].end > 0 {
			writes[i].seg.synced = writes[i].end
		}
		if len(s.free) < maxFreeBlocks {
			s.free = append(s.free, writes[i].buf[:0])
		}
	}
	s.durable = target
	close(s.syncedCh)
	s.syncedCh = make(chan struct{})
	keep := files[:0]
	for _, seg := range files {
		if seg.sealed && seg.synced == seg.size {
			toClose = append(toClose, seg.f)
			seg.f = nil
		} else {
			keep = append(keep, seg)
		}
	}
	s.mu.Unlock()
	for _, f := range toClose {
		if err := f.Close(); err != nil {
			s.log.Warn("closing spool segment", "segment", f.Name(), "err", err)
		}
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return keep
}

// fail makes err the spool's sticky error and ends every open session's
// recording with it: after a failed write or fsync nothing appended since
// the last sync is known to be on disk.
func (s *spool) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	s.err = err
	s.log.Error("spool failed; sessions can no longer be recorded", "err", err)
	for _, st := range s.open {
		if st.fail != nil {
			st.fail(err)
		}
	}
	close(s.syncedCh)
	s.syncedCh = make(chan struct{})
}

// waitDurable blocks until frame rec is fsync'd or the spool failed.
func (s *spool) waitDurable(rec uint64) error {
	for {
		s.mu.Lock()
		switch {
		case s.durable > rec:
			s.mu.Unlock()
			return nil
		case s.err != nil:
			err := s.err
			s.mu.Unlock()
			return err
		case s.stopped:
			s.mu.Unlock()
			return ErrClosed
		}
		ch := s.syncedCh
		s.mu.Unlock()
		s.kickSync()
		<-ch
	}
}

// sync makes everything appended so far durable.
func (s *spool) sync() error {
	s.mu.Lock()
	n := s.appended
	s.mu.Unlock()
	if n == 0 {
		return nil
	}
	return s.waitDurable(n - 1)
}

// waitAcked blocks until every event appended before the call has been
// acknowledged by Kafka, ctx is done, or the spool stopped.
func (s *spool) waitAcked(ctx context.Context) error {
	s.mu.Lock()
	target := s.appended
	s.mu.Unlock()
	for {
		s.mu.Lock()
		switch {
		case s.acked >= target:
			s.mu.Unlock()
			return nil
		case s.stopped:
			s.mu.Unlock()
			return ErrClosed
		}
		ch := s.ackedCh
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("recorder: drain: %w", context.Cause(ctx))
		}
	}
}

// readable reports how far seg can be read: its durable size, whether it
// is complete (sealed and fully durable) and the segment after it.
func (s *spool) readable(seg *segment) (synced int64, complete bool, next *segment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	complete = seg.sealed && seg.synced == seg.size
	if complete {
		for i, x := range s.segs {
			if x == seg && i+1 < len(s.segs) {
				next = s.segs[i+1]
			}
		}
	}
	return seg.synced, complete, next
}

// ackPosition returns where the publisher starts reading.
func (s *spool) ackPosition() (*segment, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ackSeg, s.ackOff
}

// ackTo records that every frame before (seg, off), events event frames
// more than before, was acknowledged by Kafka; nextTime is the time of
// the next unacknowledged event when known. Segments before seg are
// deleted.
func (s *spool) ackTo(seg *segment, off int64, events uint64, nextTime int64) error {
	err := s.advance(seg, off, events, nextTime)
	s.published.Add(int64(events))
	return err
}

// advance moves the watermark to (seg, off), events event frames further,
// deletes the segments before it and stores it. Acks and expiry use it.
func (s *spool) advance(seg *segment, off int64, events uint64, nextTime int64) error {
	s.mu.Lock()
	s.acked += events
	s.ackSeg, s.ackOff = seg, off
	s.progressAt = s.now()
	switch {
	case s.acked >= s.appended:
		s.oldest = 0
	case nextTime > 0:
		s.oldest = nextTime
	}
	dead := s.dropAckedLocked()
	close(s.ackedCh)
	s.ackedCh = make(chan struct{})
	s.mu.Unlock()
	s.remove(dead)
	return s.ack.store(seg.no, off)
}

// dropAckedLocked removes the segments before the ack position from segs.
func (s *spool) dropAckedLocked() []*segment {
	var dead []*segment
	for len(s.segs) > 1 && s.segs[0] != s.ackSeg {
		dead = append(dead, s.segs[0])
		s.bytes -= s.segs[0].size
		s.segs = s.segs[1:]
	}
	return dead
}

// remove deletes segment files.
func (s *spool) remove(dead []*segment) {
	for _, seg := range dead {
		if err := os.Remove(seg.path); err != nil && !os.IsNotExist(err) {
			s.log.Warn("deleting acknowledged spool segment", "segment", seg.path, "err", err)
		} else {
			s.log.Debug("deleted acknowledged spool segment", "segment", seg.path)
		}
	}
}

// setOldest records the time of the oldest unacknowledged event.
func (s *spool) setOldest(t int64) {
	s.mu.Lock()
	if s.acked < s.appended {
		s.oldest = t
	}
	s.mu.Unlock()
}

// close stops appends, makes everything durable, and releases the files.
// With halt it skips the final sync, as a crash would.
func (s *spool) close(halt bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.halt = halt
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.mu.Lock()
	s.stopped = true
	err := s.err
	close(s.syncedCh)
	s.syncedCh = make(chan struct{})
	close(s.ackedCh)
	s.ackedCh = make(chan struct{})
	s.mu.Unlock()
	if cerr := s.ack.close(); err == nil && cerr != nil {
		err = fmt.Errorf("recorder: ack file: %w", cerr)
	}
	if cerr := s.lock.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("recorder: spool lock: %w", cerr)
	}
	return err
}

// spoolStats is a snapshot of the spool's counters.
type spoolStats struct {
	events, bytes int64
	oldest        int64
	segments      int
	open          int
}

// stats returns a snapshot.
func (s *spool) stats() spoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return spoolStats{
		events:   int64(s.appended - s.acked),
		bytes:    s.bytes,
		oldest:   s.oldest,
		segments: len(s.segs),
		open:     len(s.open),
	}
}
