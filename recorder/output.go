package recorder

import "github.com/foureyes/foureyes/event"

// Output records bytes sent to the participants' terminals. It copies p
// into the pending chunk, which becomes one output event when it holds
// ChunkBytes or ChunkInterval after its first byte, whichever comes
// first (and before any other event of the session). The event's time is
// the time of the chunk's first byte. Output never waits for the disk or
// the network.
func (s *Session) Output(p []byte) {
	if len(p) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.usableLocked() {
		return
	}
	max := s.r.cfg.ChunkBytes
	for len(p) > 0 {
		if len(s.out) == 0 {
			if s.out == nil {
				s.out = make([]byte, 0, max)
			}
			s.outStart = s.r.clock.Now()
			s.armTimerLocked()
		}
		n := min(len(p), max-len(s.out))
		s.out = append(s.out, p[:n]...)
		p = p[n:]
		if len(s.out) >= max {
			s.flushOutputLocked()
			if !s.usableLocked() {
				return
			}
		}
	}
}

// armTimerLocked starts the chunk timer.
func (s *Session) armTimerLocked() {
	if s.timer == nil {
		s.timer = s.r.clock.AfterFunc(s.r.cfg.ChunkInterval, s.onTimer)
	} else {
		s.timer.Reset(s.r.cfg.ChunkInterval)
	}
	s.armed = true
}

// stopTimerLocked stops the chunk timer.
func (s *Session) stopTimerLocked() {
	if s.armed {
		s.timer.Stop()
		s.armed = false
	}
}

// onTimer cuts the pending chunk once it is ChunkInterval old. A stale
// run (the chunk it was armed for was already cut and a newer one is
// younger) does nothing: the timer was re-armed for the newer chunk.
func (s *Session) onTimer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.usableLocked() || len(s.out) == 0 {
		return
	}
	if s.r.clock.Now().Sub(s.outStart) < s.r.cfg.ChunkInterval {
		return
	}
	s.armed = false
	s.flushOutputLocked()
}

// flushOutputLocked turns the pending output into an event.
func (s *Session) flushOutputLocked() {
	if len(s.out) == 0 {
		return
	}
	s.stopTimerLocked()
	s.ev = event.Event{Type: event.Output, Data: s.out, Time: s.outStart.UnixNano()}
	if _, err := s.appendLocked(&s.ev, false); err == nil {
		s.bytesOut += int64(len(s.out))
	}
	s.ev.Data = nil
	s.out = s.out[:0]
}
