package gateway

// Stats is a snapshot of the gateway's sessions, for metrics.
type Stats struct {
	// Active counts sessions connected to a host: ordinary ones and
	// approved four-eyes ones (watched or paused).
	Active int
	// Pending counts four-eyes requests waiting for approval.
	Pending int
	// Participants counts reviewers joined to four-eyes sessions.
	Participants int
	// Unrecorded counts best-effort sessions running on after their
	// recording failed.
	Unrecorded int
	// RecordingFailures counts sessions whose recording failed since New.
	RecordingFailures int64
	// Unauthenticated counts connections not logged in yet.
	Unauthenticated int
	// RefusedConnections counts connections closed at accept since New,
	// over limits.max_unauthenticated or its per-source cap.
	RefusedConnections int64
	// Lockouts counts users and sources locked out now.
	Lockouts int
	// HostChannelsKeptOpen counts sessions since New whose channel the
	// host did not close after the bastion ended the session (a process
	// may have run on there: leftopen.go).
	HostChannelsKeptOpen int64
	// HostChannelsOpenNow counts those channels still open now.
	HostChannelsOpenNow int
	// AfterEndOutputBytes counts the output such channels sent after
	// their session ended: discarded, neither recorded nor forwarded.
	AfterEndOutputBytes int64
}

// Stats returns a snapshot of the gateway's sessions.
func (s *Server) Stats() Stats {
	st := Stats{
		Active:            int(s.active.Load()),
		Unrecorded:        int(s.unrecorded.Load()),
		RecordingFailures: s.failures.Load(),

		Unauthenticated:    s.gate.Unauthenticated(),
		RefusedConnections: s.gate.Refused(),
		Lockouts:           len(s.lockout.Locks()),

		HostChannelsKeptOpen: s.keptOpen.Load(),
		HostChannelsOpenNow:  int(s.keptOpenNow.Load()),
		AfterEndOutputBytes:  s.afterEndOut.Load(),
	}
	for _, h := range s.hubs.all() {
		h.mu.Lock()
		switch h.state {
		case statePending:
			st.Pending++
		case stateStarting, stateActive, statePaused:
			st.Active++
		}
		st.Participants += len(h.parts)
		h.mu.Unlock()
	}
	return st
}
