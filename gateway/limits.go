package gateway

import "github.com/foureyes/foureyes/gateway/guard"

// initLimits raises the open-file limit and creates the gate, the
// lockout and the failure reporter from the configuration. The cap on
// unauthenticated connections is lowered to half the open-file limit, so
// that a flood of idle connections cannot take every descriptor from
// logged-in sessions (each needs two: client and host).
func (s *Server) initLimits() {
	lim := s.cfg().Limits
	maxUnauth := lim.MaxUnauthenticated
	nofile, err := guard.RaiseOpenFiles()
	switch {
	case err != nil:
		s.log.Warn("cannot raise the open-file limit", "err", err)
	case nofile > 0 && uint64(maxUnauth) > nofile/2:
		maxUnauth = max(1, int(nofile/2))
		s.log.Warn("limits.max_unauthenticated lowered to half the open-file limit", "configured", lim.MaxUnauthenticated, "used", maxUnauth, "nofile", nofile)
	default:
		s.log.Debug("open-file limit", "nofile", nofile)
	}
	s.gate = guard.NewGate(maxUnauth, min(lim.MaxUnauthenticatedPerSource, maxUnauth), float64(lim.ConnectionRatePerSource), lim.ConnectionBurstPerSource)
	s.lockout = guard.NewLockout(guard.LockoutConfig{
		UserFailures:   lim.Lockout.UserFailures,
		SourceFailures: lim.Lockout.SourceFailures,
		Window:         lim.Lockout.Window,
		Duration:       lim.Lockout.Duration,
	})
	s.authFails = guard.NewFailureReporter(lim.FailureReportInterval)
}
