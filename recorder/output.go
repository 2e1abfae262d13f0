package recorder

import "github.com/foureyes/foureyes/event"

// Output records bytes sent to the participants' terminals. It copies p
// into the pending chunk, which becomes one output event when it holds
// the chunk bound or ChunkInterval after its first byte, whichever comes
// first (and before any other event of the session). The bound is
// ChunkBytes and grows under bulk output (Config.BulkChunkBytes). The
// event's time is the time of the chunk's first byte. Output never waits
// for the disk or the network.
func (s *Session) Output(p []byte) {
	if len(p) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.usableLocked() {
		return
	}
	for len(p) > 0 {
		limit := s.chunkLimitLocked()
		if len(s.out) == 0 {
			if cap(s.out) < limit {
				s.out = make([]byte, 0, limit)
			}
			s.outStart = s.r.clock.Now()
			s.armTimerLocked()
		}
		n := min(len(p), limit-len(s.out))
		s.out = append(s.out, p[:n]...)
		p = p[n:]
		if len(s.out) >= limit {
			s.flushOutputLocked()
			if !s.usableLocked() {
				return
			}
			// Filled before the timer: bulk output. The next chunk may
			// be twice as large.
			s.outLimit = min(2*limit, s.r.cfg.BulkChunkBytes)
		}
	}
}

// chunkLimitLocked returns the bound of the pending chunk.
func (s *Session) chunkLimitLocked() int {
	if s.outLimit == 0 {
		s.outLimit = s.r.cfg.ChunkBytes
	}
	return s.outLimit
}

// shrinkChunkLocked returns the chunk bound to ChunkBytes after a chunk
// was cut by its timer or by another event (output is interactive again)
// and lets a bulk-sized buffer go, so that an idle session holds at most
// ChunkBytes.
func (s *Session) shrinkChunkLocked() {
	s.outLimit = s.r.cfg.ChunkBytes
	if cap(s.out) > s.r.cfg.ChunkBytes {
		s.out = nil
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
	s.shrinkChunkLocked()
}

// cutOutputLocked records the pending output before another event of
// the session (input, resize, a signal, ...): output is interleaved with
// other events again, so the chunk bound returns to ChunkBytes.
func (s *Session) cutOutputLocked() {
	s.flushOutputLocked()
	s.shrinkChunkLocked()
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
