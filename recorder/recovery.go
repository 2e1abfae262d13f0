package recorder

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/foureyes/foureyes/event"
)

// openSpool opens (creating if needed) the spool in dir and recovers it:
// it truncates torn tails, finds the unacknowledged frames, rebuilds the
// state of sessions without a session.end, and prepares a new segment
// that starts with their checkpoint. The caller starts the syncer, closes
// the recovered sessions (see Recorder.endInterrupted), syncs and then
// calls dropAcked.
func openSpool(dir string, maxBytes, segMax int64, interval time.Duration, log *slog.Logger, now func() time.Time) (_ *spool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("recorder: spool: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.Close()
		}
	}()
	ack, ackNo, ackOff, ackOK, err := openAckFile(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			ack.close()
		}
	}()
	if err := removeCompactLeftovers(dir); err != nil {
		return nil, err
	}
	nos, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	s := &spool{
		dir: dir, maxBytes: maxBytes, segMax: segMax, interval: interval, log: log, now: now,
		lock: lock, ack: ack,
		open:     make(map[string]*sessionState),
		syncedCh: make(chan struct{}),
		ackedCh:  make(chan struct{}),
		kick:     make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if !ackOK {
		ackNo, ackOff = 0, 0
	}
	// Session state is rebuilt from the newest run of consecutive
	// segments: its first checkpoint plus every event after it. An older
	// segment separated by a gap (resurrected by a crash after its
	// deletion) does not feed the state; it is published again only if
	// the watermark does not cover it.
	tail := 0
	for i := len(nos) - 1; i > 0; i-- {
		if nos[i-1]+1 != nos[i] {
			tail = i
			break
		}
	}
	rc := recovery{s: s, ackNo: ackNo, ackOff: ackOff}
	for i, no := range nos {
		if err := rc.segment(no, i >= tail, i == len(nos)-1); err != nil {
			return nil, err
		}
	}
	last := ackNo
	if len(nos) > 0 {
		last = max(last, nos[len(nos)-1])
	}
	for _, x := range s.segs { // positions for backpressure (backpressure.go)
		x.base = s.pos
		s.pos += x.size
	}
	seg := &segment{no: last + 1, path: segPath(dir, last+1), base: s.pos, expiresAt: noExpiry, expKnown: true}
	s.segs = append(s.segs, seg)
	s.writeLocked(seg, appendCheckpoint(appendSegHeader(nil, seg.no), s.open))
	// Start reading at the stored position, or at the first segment after
	// it, then skip segments that are complete and fully read.
	if rc.ackSeg == nil && rc.ackSegFound != nil {
		s.log.Warn("ack watermark is not at a record boundary; resending its segment", "segment", rc.ackSegFound.path, "offset", ackOff)
		rc.ackSeg, rc.ackPos = rc.ackSegFound, 0
		rc.unacked += rc.ackedInSeg
		if rc.ackedInSeg > 0 {
			rc.oldest = rc.ackSegFirstTime
		}
	}
	s.ackSeg, s.ackOff = rc.ackSeg, rc.ackPos
	if s.ackSeg == nil {
		for _, x := range s.segs {
			if x.no > ackNo {
				s.ackSeg, s.ackOff = x, 0
				break
			}
		}
	}
	for i, x := range s.segs {
		if x == s.ackSeg && i+1 < len(s.segs) && s.ackOff >= x.size {
			s.ackSeg, s.ackOff = s.segs[i+1], 0
		}
	}
	s.appended, s.durable = rc.unacked, rc.unacked
	s.oldest = rc.oldest
	s.progressAt = now()
	if rc.unacked > 0 || len(s.open) > 0 {
		log.Info("spool recovered", "segments", len(nos), "unacked_events", rc.unacked, "interrupted_sessions", len(s.open),
			"undecodable_events", rc.undecodable, "events_without_start", rc.unknownEvents)
	}
	return s, nil
}

// recovery is the scan state of openSpool.
type recovery struct {
	s               *spool
	ackNo           uint32
	ackOff          int64
	ackSeg          *segment // the stored ack position, when it is a frame boundary
	ackPos          int64
	ackSegFound     *segment // the segment of the stored ack position
	ackedInSeg      uint64   // events before the stored position in it
	ackSegFirstTime int64
	unacked         uint64
	oldest          int64
	undecodable     int
	unknownEvents   int
	stateStarted    bool // a segment of the newest run was read
}

// segment recovers segment no. With state its events update the open
// sessions, and the first such segment's checkpoint sets them.
func (rc *recovery) segment(no uint32, state, last bool) error {
	s := rc.s
	path := segPath(s.dir, no)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("recorder: spool: %w", err)
	}
	if err := parseSegHeader(b, no); err != nil {
		if last && len(b) < segHeaderSize {
			s.log.Warn("removing spool segment torn at creation", "segment", path, "bytes", len(b))
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("recorder: spool: %w", err)
			}
			return nil
		}
		s.log.Error("setting aside unreadable spool segment", "segment", path, "err", err)
		if err := os.Rename(path, path+".corrupt"); err != nil {
			return fmt.Errorf("recorder: spool: %w", err)
		}
		return nil
	}
	seg := &segment{no: no, path: path, sealed: true}
	if no == rc.ackNo {
		rc.ackSegFound = seg
		if rc.ackOff <= segHeaderSize {
			rc.ackSeg, rc.ackPos = seg, 0
		}
	}
	checkpoint := state && !rc.stateStarted
	if state {
		rc.stateStarted = true
	}
	head := true // still in the checkpoint frames at the segment's head
	var cp checkpointRead
	valid, scanErr := scanFrames(b[segHeaderSize:], func(off int, f frame) error {
		pos := int64(segHeaderSize + off)
		if no == rc.ackNo && pos == rc.ackOff {
			rc.ackSeg, rc.ackPos = seg, pos
		}
		if f.kind != kindCheckpoint && f.kind != kindCheckpointPart && head {
			head = false
			if checkpoint {
				cp.finish(s, path)
			}
		}
		switch f.kind {
		case kindPad:
			return nil
		case kindTomb:
			if state {
				delete(s.open, string(f.session))
			}
			return nil
		case kindCheckpoint, kindCheckpointPart:
			if checkpoint && head {
				cp.add(f, s.log, path)
			}
			return nil
		}
		seg.events++
		if no > rc.ackNo || (no == rc.ackNo && pos >= rc.ackOff) {
			rc.unacked++
			if rc.oldest == 0 {
				rc.oldest = f.time
			}
		} else if no == rc.ackNo {
			if rc.ackedInSeg == 0 {
				rc.ackSegFirstTime = f.time
			}
			rc.ackedInSeg++
		}
		if state {
			rc.apply(f.payload)
		}
		return nil
	})
	if head && checkpoint {
		cp.finish(s, path)
	}
	end := int64(segHeaderSize + valid)
	if no == rc.ackNo && rc.ackOff == end {
		rc.ackSeg, rc.ackPos = seg, end
	}
	if scanErr != nil {
		if err := s.setAsideTail(path, b, end, last, scanErr); err != nil {
			return err
		}
	}
	seg.size, seg.synced = end, end
	s.segs = append(s.segs, seg)
	s.bytes += end
	return nil
}

// checkpointRead collects the checkpoint frames at the head of the
// segment that starts the recovered state.
type checkpointRead struct {
	open  map[string]*sessionState
	parts map[uint32]bool
	total uint32
	bad   bool
}

// add takes one checkpoint frame.
func (c *checkpointRead) add(f frame, log *slog.Logger, path string) {
	if c.open == nil {
		c.open, c.parts = map[string]*sessionState{}, map[uint32]bool{}
	}
	if f.kind == kindCheckpoint { // an earlier build's single JSON frame
		open, err := decodeLegacyCheckpoint(f.payload)
		if err != nil {
			log.Warn("ignoring unreadable spool checkpoint", "segment", path, "err", err)
			c.bad = true
			return
		}
		c.open, c.total, c.parts[0] = open, 1, true
		return
	}
	p, err := decodeCheckpointPart(f.payload)
	if err != nil {
		log.Warn("ignoring unreadable spool checkpoint part", "segment", path, "err", err)
		c.bad = true
		return
	}
	c.total, c.parts[p.part] = p.parts, true
	for _, st := range p.open {
		c.open[st.ID] = st
	}
}

// finish makes the collected checkpoint the spool's open sessions. An
// incomplete one is used for what it holds, with a warning: the sessions
// it lacks are rebuilt from their later events where there are any.
func (c *checkpointRead) finish(s *spool, path string) {
	if c.open == nil {
		return
	}
	if c.bad || uint32(len(c.parts)) != c.total {
		s.log.Warn("spool checkpoint is incomplete; open sessions it lacks get no interrupted end unless later events name them",
			"segment", path, "parts", len(c.parts), "want", c.total)
	}
	s.open = c.open
}

// setAsideTail handles the invalid tail of a segment found at recovery.
// The newest segment's tail is a write the crash cut short: it was never
// fsync'd, so it is truncated. Anywhere else, or when the tail is a
// complete frame that fails its checksum, the bytes are copied to
// PATH.tail-OFFSET before the segment is truncated, and logged at ERROR:
// recovery never silently discards what may have been fsync'd.
func (s *spool) setAsideTail(path string, b []byte, end int64, last bool, why error) error {
	dropped := int64(len(b)) - end
	if !last || !errors.Is(why, errFrameShort) {
		aside := fmt.Sprintf("%s.tail-%d", path, end)
		if err := os.WriteFile(aside, b[end:], 0o600); err != nil {
			return fmt.Errorf("recorder: spool: keeping the unreadable tail of %s: %w", path, err)
		}
		s.log.Error("spool segment has an unreadable tail; kept aside for inspection", "segment", path,
			"valid_bytes", end, "kept_bytes", dropped, "kept_in", aside, "err", why)
	} else {
		s.log.Warn("truncating torn spool segment", "segment", path, "valid_bytes", end, "dropped_bytes", dropped, "err", why)
	}
	return truncateFile(path, end)
}

// apply updates the open sessions with one recovered event.
func (rc *recovery) apply(payload []byte) {
	s := rc.s
	var e event.Event
	if err := event.Unmarshal(payload, &e); err != nil {
		rc.undecodable++
		s.log.Warn("spool event does not decode; it is published as is but not tracked", "err", err)
		return
	}
	st := s.open[e.Session]
	switch {
	case e.Type == event.SessionStart:
		if st != nil {
			s.log.Warn("spool holds a second session.start for a session", "session", e.Session)
		}
		st = newState(&e)
		s.open[e.Session] = st
	case st == nil && e.Type == event.SessionEnd:
		return
	case st == nil:
		rc.unknownEvents++
		s.log.Warn("spool event of a session without start or checkpoint entry", "session", e.Session, "seq", e.Seq)
		st = &sessionState{ID: e.Session, Gateway: e.Gateway, Class: e.Class, Retention: e.Retention, StartedNS: e.Time}
		s.open[e.Session] = st
	}
	st.apply(&e)
	if e.Type == event.SessionEnd {
		delete(s.open, e.Session)
	}
}

// dropAcked deletes the segments before the ack position; called once the
// new segment (whose checkpoint supersedes theirs) is durable.
func (s *spool) dropAcked() {
	s.mu.Lock()
	dead := s.dropAckedLocked()
	s.mu.Unlock()
	s.remove(dead)
}

// truncateFile cuts path to size and fsyncs it.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("recorder: spool: %w", err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err != nil {
		return fmt.Errorf("recorder: spool: truncate %s: %w", path, err)
	}
	return nil
}
